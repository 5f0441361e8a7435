//! The bag-of-words pipeline: tokeniser, readers (with bad input), vocabulary, features, targets
//! and k-fold splits.

mod common;

use std::path::Path;

use common::{gz, write};
use relu_data::DataError;
use relu_data::split::{shuffled_indices, stratified_k_fold};
use relu_data::text::{
    Content, Document, ENGLISH_STOP_WORDS, Targets, Tokenizer, Vectorizer, VectorizerConfig, Vocabulary, Weighting, expected_rating,
    labels, parse_acl, parse_jsonl, parse_tsv, read_acl_domain, read_lines, read_tsv, rmse, stars_of_class,
};

fn msg(e: DataError) -> String {
    e.to_string()
}

#[test]
fn tokenizer_is_unicode_aware() {
    let t = Tokenizer::new();
    assert_eq!(t.tokenize("Café Über naïve"), ["café", "über", "naïve"]);
    assert_eq!(t.tokenize("Ça été GROß, très-bien! Één ÉCOLE"), ["ça", "été", "groß", "très", "bien", "één", "école"]);
    assert_eq!(t.tokenize("it's 10/10 -- don't"), ["it", "s", "10", "10", "don", "t"]);
    let t = Tokenizer::new().keep_apostrophes(true);
    assert_eq!(t.tokenize("It’s 'quoted' don't"), ["it's", "quoted", "don't"]);
    let t = Tokenizer::new().stop_words(ENGLISH_STOP_WORDS).bigrams(true);
    assert_eq!(t.tokenize("The film is not good"), ["film", "not", "good", "film_not", "not_good"]);
    assert_eq!(Tokenizer::new().lowercase(false).tokenize("Über"), ["Über"]);
    assert!(Tokenizer::new().tokenize(" ,;. ").is_empty());
}

#[test]
fn tsv_reader_and_its_errors() {
    let p = Path::new("reviews.tsv");
    let docs = parse_tsv(b"1\tGreat fun\n\n0\tBoring\r\n", p, Targets::Polarity).unwrap();
    assert_eq!(docs, vec![Document::text("Great fun", Some(1)), Document::text("Boring", Some(0))]);
    assert_eq!(parse_tsv(&gz(b"pos\ta\nneg\tb\n"), p, Targets::Polarity).unwrap()[1].label, Some(0));
    assert_eq!(parse_tsv(b"5\ta\n1\tb\n", p, Targets::Stars).unwrap().iter().map(|d| d.label).collect::<Vec<_>>(), [Some(4), Some(0)]);
    assert_eq!(parse_tsv(b"7\ta\n", p, Targets::Classes(8)).unwrap()[0].label, Some(7));
    assert_eq!(parse_tsv(b"x\ta\n", p, Targets::Unlabeled).unwrap()[0].label, None);

    let e = msg(parse_tsv(b"1\tok\nno tab here\n", p, Targets::Polarity).unwrap_err());
    assert!(e.contains("reviews.tsv") && e.contains("line 2") && e.contains("no tab"), "{e}");
    let e = msg(parse_tsv(b"1\tok\n\n2\tbad\n", p, Targets::Polarity).unwrap_err());
    assert!(e.contains("line 3") && e.contains("polarity") && e.contains("`2`"), "{e}");
    let e = msg(parse_tsv(b"6\tx\n", p, Targets::Stars).unwrap_err());
    assert!(e.contains("line 1") && e.contains("star rating 1–5"), "{e}");
    let e = msg(parse_tsv(b"3\tx\n", p, Targets::Classes(3)).unwrap_err());
    assert!(e.contains("0..3"), "{e}");
    let e = msg(parse_tsv(b"1\tfine\n1\tbad \xff\xfe byte\n", p, Targets::Polarity).unwrap_err());
    assert!(e.contains("line 2") && e.contains("UTF-8") && e.contains("byte 7"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "r.tsv.gz", &gz("1\tÉté\n".as_bytes()));
    assert_eq!(read_tsv(&f, Targets::Polarity).unwrap()[0].content, Content::Text("Été".into()));
    let f = write(dir.path(), "plain.txt", b"first text\n\nsecond\n");
    assert_eq!(read_lines(&f).unwrap().len(), 2);
}

#[test]
fn jsonl_reader_and_its_errors() {
    let p = Path::new("r.jsonl");
    let input = br#"{"text": "good", "label": 1}
{"text": "bad", "rating": "0"}
{"text": "meh", "label": 0, "rating": 1}
"#;
    let docs = parse_jsonl(input, p, Targets::Polarity).unwrap();
    assert_eq!(docs.iter().map(|d| d.label.unwrap()).collect::<Vec<_>>(), [1, 0, 0]);
    let docs = parse_jsonl(br#"{"text": "x", "rating": 4.0}"#, p, Targets::Stars).unwrap();
    assert_eq!(docs[0].label, Some(3));
    assert_eq!(parse_jsonl(br#"{"text": "x"}"#, p, Targets::Unlabeled).unwrap()[0].label, None);

    let e = msg(parse_jsonl(b"{\"text\": \"x\", \"label\": 1}\n{not json\n", p, Targets::Polarity).unwrap_err());
    assert!(e.contains("r.jsonl") && e.contains("line 2") && e.contains("JSON object"), "{e}");
    let e = msg(parse_jsonl(br#"{"text": "x"}"#, p, Targets::Polarity).unwrap_err());
    assert!(e.contains("line 1") && e.contains("missing label"), "{e}");
    let e = msg(parse_jsonl(br#"{"label": 1}"#, p, Targets::Polarity).unwrap_err());
    assert!(e.contains("\"text\""), "{e}");
    let e = msg(parse_jsonl(br#"{"text": "x", "rating": 4.5}"#, p, Targets::Stars).unwrap_err());
    assert!(e.contains("star rating"), "{e}");
    let e = msg(parse_jsonl(br#"{"text": "x", "label": [1]}"#, p, Targets::Polarity).unwrap_err());
    assert!(e.contains("number or string label"), "{e}");
}

#[test]
fn processed_acl_domain_folder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "positive.review", b"great:2 great_book:1 #label#:positive\nfun:1 #label#:positive\n");
    write(d, "negative.review.gz", &gz(b"boring:3 not_great:1 #label#:negative\n"));
    write(d, "unlabeled.review", b"okay:1 #label#:negative\nstuff:2\n");
    let dom = read_acl_domain(d).unwrap();
    assert_eq!(dom.labeled.len(), 3);
    assert_eq!(dom.labeled[0].content, Content::Counts(vec![("great".into(), 2), ("great_book".into(), 1)]));
    assert_eq!(dom.labeled.iter().map(|x| x.label).collect::<Vec<_>>(), [Some(1), Some(1), Some(0)]);
    assert!(dom.unlabeled.iter().all(|x| x.label.is_none()) && dom.unlabeled.len() == 2);

    let v = Vectorizer::fit(&dom.labeled, &VectorizerConfig { weighting: Weighting::Counts, ..Default::default() }).unwrap();
    let x = v.transform(&dom.labeled).unwrap().to_dense();
    let great = v.vocabulary().get("great").unwrap() as usize;
    assert_eq!(x[(great, 0)], 2.0);

    let p = Path::new("positive.review");
    let e = msg(parse_acl(b"a:1 #label#:positive\nb:x #label#:positive\n", p, true).unwrap_err());
    assert!(e.contains("positive.review") && e.contains("line 2") && e.contains("positive integer count"), "{e}");
    let e = msg(parse_acl(b"a:1\n", p, true).unwrap_err());
    assert!(e.contains("line 1") && e.contains("missing label"), "{e}");
    let e = msg(parse_acl(b"a:1 #label#:meh\n", p, true).unwrap_err());
    assert!(e.contains("#label#:meh"), "{e}");
    let e = msg(parse_acl(b"nocolon #label#:positive\n", p, true).unwrap_err());
    assert!(e.contains("`nocolon`"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(read_acl_domain(empty.path()), Err(DataError::MissingFile { .. })));
}

#[test]
fn vocabulary_top_n_by_document_frequency_ties_by_term() {
    let docs = [vec!["b", "a", "a"], vec!["c", "a"], vec!["b", "d"], vec!["c"]];
    let v = Vocabulary::fit(docs.iter().map(|d| d.iter().copied()), 3, 1).unwrap();
    // a, b, c each occur in 2 documents (a's repeat does not count); d in 1.
    assert_eq!(v.terms(), ["a", "b", "c"]);
    assert_eq!(v.doc_freqs(), [2, 2, 2]);
    assert_eq!((v.get("c"), v.get("d"), v.num_docs()), (Some(2), None, 4));
    // Input order does not matter.
    let rev = Vocabulary::fit(docs.iter().rev().map(|d| d.iter().rev().copied()), 3, 1).unwrap();
    assert_eq!(rev, v);
    let v2 = Vocabulary::fit(docs.iter().map(|d| d.iter().copied()), 10, 2).unwrap();
    assert_eq!(v2.len(), 3, "min_df drops d");
    assert!(Vocabulary::fit(docs.iter().map(|d| d.iter().copied()), 0, 1).is_err());
    let json = serde_json::to_string(&v).unwrap();
    let back: Vocabulary = serde_json::from_str(&json).unwrap();
    assert_eq!((back.get("b"), &back), (Some(1), &v));
    assert!(serde_json::from_str::<Vocabulary>(r#"{"terms":["a","a"],"doc_freq":[1,1],"num_docs":1}"#).is_err());
}

#[test]
fn features_binary_counts_tfidf_on_train_vocabulary() {
    let train = vec![
        Document::text("good good film", Some(1)),
        Document::text("bad film", Some(0)),
        Document::text("good plot", Some(1)),
        Document::text("plot", None),
    ];
    let test = vec![Document::text("unseen words only", None), Document::text("Good, GOOD plot!", None)];
    let cfg = VectorizerConfig::default();
    let v = Vectorizer::fit(&train, &cfg).unwrap();
    assert_eq!(v.vocabulary().terms(), ["film", "good", "plot", "bad"]);
    let x = v.transform(&test).unwrap();
    assert_eq!((x.units(), x.batch_size()), (4, 2));
    assert_eq!(x.example(0).0.len(), 0, "out-of-vocabulary words are dropped");
    assert_eq!(x.example(1), (&[1u32, 2][..], &[1.0f32, 1.0][..]));

    let v = Vectorizer::fit(&train, &VectorizerConfig { weighting: Weighting::Counts, ..cfg.clone() }).unwrap();
    assert_eq!(v.transform(&test).unwrap().example(1).1, &[2.0, 1.0]);

    let v = Vectorizer::fit(&train, &VectorizerConfig { weighting: Weighting::TfIdf, ..cfg.clone() }).unwrap();
    let x = v.transform(&test).unwrap();
    let vals = x.example(1).1;
    let norm: f32 = vals.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-6);
    // good: tf 2, df 2 of 4; plot: tf 1, df 2 → same idf, so the ratio is the tf ratio.
    assert!((vals[0] / vals[1] - 2.0).abs() < 1e-5);

    let v = Vectorizer::fit(&train, &VectorizerConfig { max_terms: 2, ..cfg.clone() }).unwrap();
    assert_eq!(v.dim(), 2);
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(serde_json::from_str::<Vectorizer>(&json).unwrap(), v);

    assert_eq!(labels(&train[..3]).unwrap(), [1, 0, 1]);
    assert!(labels(&train).is_err());
}

#[test]
fn star_rating_readout_and_rmse() {
    assert_eq!(expected_rating(&[0.0, 0.0, 0.0, 0.0, 1.0]), 5.0);
    assert!((expected_rating(&[0.5, 0.0, 0.0, 0.0, 0.5]) - 3.0).abs() < 1e-6);
    assert!((expected_rating(&[1.0, 1.0, 0.0, 0.0, 0.0]) - 1.5).abs() < 1e-6);
    assert_eq!(stars_of_class(4), 5.0);
    assert!((rmse(&[1.0, 3.0], &[2.0, 3.0]) - (0.5f32).sqrt()).abs() < 1e-6);
}

#[test]
fn stratified_k_fold_is_balanced_seeded_and_partitions() {
    let labels: Vec<u32> = (0..103).map(|i| if i % 4 == 0 { 1 } else { 0 }).collect();
    let folds = stratified_k_fold(&labels, 10, 7).unwrap();
    assert_eq!(folds.len(), 10);
    let mut seen = vec![0; labels.len()];
    for f in &folds {
        assert_eq!(f.train.len() + f.test.len(), labels.len());
        for &i in &f.test {
            seen[i] += 1;
            assert!(f.train.binary_search(&i).is_err());
        }
        assert!((10..=11).contains(&f.test.len()), "fold size {}", f.test.len());
        let pos = f.test.iter().filter(|&&i| labels[i] == 1).count();
        assert!((2..=3).contains(&pos), "26 positives over 10 folds: {pos}");
    }
    assert!(seen.iter().all(|&c| c == 1));
    assert_eq!(stratified_k_fold(&labels, 10, 7).unwrap(), folds);
    assert_ne!(stratified_k_fold(&labels, 10, 8).unwrap(), folds);
    assert!(stratified_k_fold(&labels, 1, 0).is_err());
    assert!(stratified_k_fold(&labels[..3], 4, 0).is_err());
    let s = shuffled_indices(50, 3);
    let mut sorted = s.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..50).collect::<Vec<_>>());
    assert_eq!(s, shuffled_indices(50, 3));
}
