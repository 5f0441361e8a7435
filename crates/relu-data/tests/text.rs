//! The bag-of-words pipeline: tokeniser, readers (with bad input), vocabulary, features, targets
//! and k-fold splits.

mod common;

use std::path::Path;

use common::{gz, write};
use relu_core::{Features, Targets as CoreTargets};
use relu_data::split::{shuffled_indices, stratified_holdout, stratified_k_fold};
use relu_data::text::{
    Content, Document, ENGLISH_STOP_WORDS, MAX_LABEL_CLASSES, Targets, Tokenizer, Vectorizer, VectorizerConfig, Vocabulary, Weighting,
    expected_rating, folds, holdout, holdout_with, labels, parse_acl, parse_jsonl, parse_tsv, parse_tsv_as_classes, read_acl_domain,
    read_lines, read_reviews, read_reviews_as_classes, read_tsv, read_unlabeled, rmse, stars_of_class,
};
use relu_data::{DataError, Dataset};

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
fn decomposed_accents_stay_in_their_word_and_match_precomposed_text() {
    let t = Tokenizer::new();
    // French, decomposed (base letter + U+0301 acute, U+0300 grave, U+0302 circumflex, U+0327 cedilla).
    let fr = "Re\u{301}sume\u{301} : un e\u{301}te\u{301} tre\u{300}s re\u{301}ussi, c\u{327}a ne\u{301}anmoins ! Franc\u{327}ais";
    assert_eq!(t.tokenize(fr), ["résumé", "un", "été", "très", "réussi", "ça", "néanmoins", "français"]);
    // German, decomposed umlauts (U+0308), against the precomposed spelling.
    let de = "Gru\u{308}ße aus Ko\u{308}ln, scho\u{308}ne U\u{308}bung";
    assert_eq!(t.tokenize(de), ["grüße", "aus", "köln", "schöne", "übung"]);
    assert_eq!(t.tokenize(de), t.tokenize("Grüße aus Köln, schöne Übung"));
    // Stacked marks in canonical order compose step by step (Vietnamese); without a precomposed
    // letter the mark stays in the word; a mark with no letter before it is a separator.
    assert_eq!(t.tokenize("tie\u{302}\u{301}ng Vie\u{323}\u{302}t"), ["tiếng", "việt"]);
    assert_eq!(t.tokenize("q\u{301}x \u{301}abc x\u{20D7}"), ["q\u{301}x", "abc", "x\u{20D7}"]);
    assert_eq!(Tokenizer::new().lowercase(false).tokenize("E\u{301}te\u{301}"), ["Été"]);
    let t = Tokenizer::new().keep_apostrophes(true);
    assert_eq!(t.tokenize("l'e\u{301}te\u{301}"), ["l'été"]);
    // A vocabulary learned on precomposed text finds decomposed text's terms.
    let v = Vectorizer::fit(&[Document::text("café très réussi", None)], &VectorizerConfig::default()).unwrap();
    let x = v.transform(&[Document::text("cafe\u{301} TRE\u{300}S re\u{301}ussi", None)]).unwrap();
    assert_eq!(x.example(0).0.len(), 3);
}

#[test]
fn byte_order_mark_on_line_one_is_stripped_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(dir.path(), "bom.tsv", "\u{feff}1\tBonjour\n0\tnon\n".as_bytes());
    assert_eq!(read_tsv(&f, Targets::Polarity).unwrap().iter().map(|d| d.label).collect::<Vec<_>>(), [Some(1), Some(0)]);
    let f = write(dir.path(), "bom.tsv.gz", &gz("\u{feff}5\tSehr gut\n".as_bytes()));
    assert_eq!(read_tsv(&f, Targets::Stars).unwrap()[0].label, Some(4));
    let p = Path::new("bom.jsonl");
    assert_eq!(parse_jsonl("\u{feff}{\"text\": \"x\", \"label\": 1}".as_bytes(), p, Targets::Polarity).unwrap()[0].label, Some(1));
    assert_eq!(parse_acl("\u{feff}a:1 #label#:positive\n".as_bytes(), p, true).unwrap()[0].content, Content::Counts(vec![("a".into(), 1)]));
    let f = write(dir.path(), "bom.txt", "\u{feff}first\n".as_bytes());
    assert_eq!(read_lines(&f).unwrap()[0].content, Content::Text("first".into()));
    // Only a leading BOM is removed: one on a later line is the text's business.
    let e = msg(parse_tsv("1\tok\n\u{feff}0\tno\n".as_bytes(), p, Targets::Polarity).unwrap_err());
    assert!(e.contains("line 2"), "{e}");
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
fn unlabeled_text_drops_labels_whatever_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let texts = |docs: Vec<Document>| docs.into_iter().map(|d| (d.content, d.label)).collect::<Vec<_>>();
    let want = vec![(Content::Text("a fine film".into()), None), (Content::Text("dull".into()), None)];
    // Any label, even one no --target accepts, is ignored.
    let f = write(dir.path(), "r.tsv.gz", &gz(b"1\ta fine film\nwhatever\tdull\n"));
    assert_eq!(texts(read_unlabeled(&f).unwrap()), want);
    let f = write(dir.path(), "r.jsonl", b"{\"text\": \"a fine film\", \"label\": 9}\n{\"text\": \"dull\"}\n");
    assert_eq!(texts(read_unlabeled(&f).unwrap()), want);
    let f = write(dir.path(), "notes.txt", b"a fine film\n\ndull\n");
    assert_eq!(texts(read_unlabeled(&f).unwrap()), want);
    let e = msg(read_unlabeled(&write(dir.path(), "bad.tsv", b"no tab\n")).unwrap_err());
    assert!(e.contains("bad.tsv") && e.contains("line 1") && e.contains("tab"), "{e}");
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

    // Literal tf-idf with different document frequencies. Training: "a b", "a c", "a": N = 3,
    // df(a) = 3, df(b) = df(c) = 1, so idf(a) = ln(4/4) + 1 = 1 and idf(b) = ln(4/2) + 1 =
    // 1.6931472. "a a b" → (2·1, 1·1.6931472), norm √(4 + 2.8667473) = 2.6204484 →
    // (0.7632283, 0.6461289). "b c c" → (1, 2)·1.6931472, normalised → (1, 2)/√5.
    let idf_train = [Document::text("a b", None), Document::text("a c", None), Document::text("a", None)];
    let v = Vectorizer::fit(&idf_train, &VectorizerConfig { weighting: Weighting::TfIdf, ..cfg.clone() }).unwrap();
    assert_eq!(v.vocabulary().terms(), ["a", "b", "c"]);
    let x = v.transform(&[Document::text("a a b", None), Document::text("b c c", None)]).unwrap();
    let close = |got: &[f32], want: &[f32]| got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6);
    assert_eq!(x.example(0).0, [0, 1]);
    assert!(close(x.example(0).1, &[0.763_228_3, 0.646_128_9]), "{:?}", x.example(0).1);
    assert_eq!(x.example(1).0, [1, 2]);
    assert!(close(x.example(1).1, &[0.447_213_6, 0.894_427_2]), "{:?}", x.example(1).1);

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

#[test]
fn weighting_and_targets_parse_from_strings() {
    assert_eq!("binary".parse::<Weighting>().unwrap(), Weighting::Binary);
    assert_eq!("Counts".parse::<Weighting>().unwrap(), Weighting::Counts);
    assert_eq!("tfidf".parse::<Weighting>().unwrap(), Weighting::TfIdf);
    assert_eq!("tf-idf".parse::<Weighting>().unwrap(), Weighting::TfIdf);
    let e = msg("bm25".parse::<Weighting>().unwrap_err());
    assert!(e.contains("`bm25`") && e.contains("binary, counts or tfidf"), "{e}");
    for w in Weighting::ALL {
        assert_eq!(w.to_string().parse::<Weighting>().unwrap(), w);
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(json, format!("\"{}\"", w.name()));
        assert_eq!(serde_json::from_str::<Weighting>(&json).unwrap(), w);
    }
    // Models saved before the names were lower case.
    assert_eq!(serde_json::from_str::<Weighting>("\"TfIdf\"").unwrap(), Weighting::TfIdf);

    assert_eq!("polarity".parse::<Targets>().unwrap(), Targets::Polarity);
    assert_eq!("rating".parse::<Targets>().unwrap(), Targets::Stars);
    assert_eq!("stars".parse::<Targets>().unwrap(), Targets::Stars);
    assert_eq!("classes:7".parse::<Targets>().unwrap(), Targets::Classes(7));
    assert_eq!("unlabeled".parse::<Targets>().unwrap(), Targets::Unlabeled);
    for bad in ["classes", "classes:0", "classes:x", "classes:4294967297", "sentiment"] {
        let e = msg(bad.parse::<Targets>().unwrap_err());
        assert!(e.contains(&format!("`{bad}`")) && e.contains("polarity, rating (or stars), classes:K") && e.contains("unlabeled"), "{e}");
    }
}

#[test]
fn any_distinct_labels_become_classes_in_a_fixed_order() {
    let p = Path::new("topics.tsv");
    // Strings: byte order, whatever order the file has.
    let c = parse_tsv_as_classes(b"kitchen\ta\nbooks\tb\ndvd\tc\n books \td\n", p).unwrap();
    assert_eq!(c.classes, ["books", "dvd", "kitchen"]);
    assert_eq!(c.documents.iter().map(|d| d.label.unwrap()).collect::<Vec<_>>(), [2, 0, 1, 0]);
    // Integers: numeric order (10 after 2), negative labels allowed.
    let c = parse_tsv_as_classes(b"10\ta\n2\tb\n-1\tc\n2\td\n", p).unwrap();
    assert_eq!(c.classes, ["-1", "2", "10"]);
    assert_eq!(c.documents.iter().map(|d| d.label.unwrap()).collect::<Vec<_>>(), [2, 1, 0, 1]);
    // Polarity names map through Targets::Polarity; three classes do not.
    let pol = parse_tsv_as_classes(b"pos\ta\n0\tb\n1\tc\n", p).unwrap();
    assert_eq!(pol.relabel(Targets::Polarity).unwrap().iter().map(|d| d.label.unwrap()).collect::<Vec<_>>(), [1, 0, 1]);
    let e = parse_tsv_as_classes(b"0\ta\n1\tb\n2\tc\n", p).unwrap().relabel(Targets::Polarity).unwrap_err();
    assert!(e.contains("`2`"), "{e}");
    // An empty label is named by line.
    let e = msg(parse_tsv_as_classes(b"a\tx\n \ty\n", p).unwrap_err());
    assert!(e.contains("line 2") && e.contains("empty label"), "{e}");
}

#[test]
fn too_many_distinct_labels_are_refused_at_the_line_that_exceeds_the_cap() {
    let p = Path::new("ids.tsv");
    let mut tsv = String::new();
    for i in 0..=MAX_LABEL_CLASSES {
        tsv += &format!("id{i}\tx\n");
    }
    let e = msg(parse_tsv_as_classes(tsv.as_bytes(), p).unwrap_err());
    assert!(e.contains(&format!("line {}", MAX_LABEL_CLASSES + 1)) && e.contains("distinct labels"), "{e}");
    let ok = tsv.lines().take(MAX_LABEL_CLASSES).collect::<Vec<_>>().join("\n");
    assert_eq!(parse_tsv_as_classes(ok.as_bytes(), p).unwrap().classes.len(), MAX_LABEL_CLASSES);
}

#[test]
fn read_reviews_as_classes_reads_jsonl_labels_too() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.jsonl");
    std::fs::write(&f, "{\"text\": \"a\", \"label\": \"sports\"}\n{\"text\": \"b\", \"label\": 3}\n").unwrap();
    let c = read_reviews_as_classes(&f).unwrap();
    assert_eq!(c.classes, ["3", "sports"]);
    assert_eq!(c.documents[0].label, Some(1));
}

#[test]
fn label_kinds_resolve_when_the_file_is_read() {
    use relu_data::text::{LabelKind, read_labelled_reviews};
    let dir = tempfile::tempdir().unwrap();
    let polar = write(dir.path(), "p.tsv", b"pos\tgood\n0\tbad\nneg\tdull\n");
    let stars = write(dir.path(), "s.tsv", b"5\tgreat\n1\tawful\n3\tok\n");
    let three = write(dir.path(), "t.tsv", b"positive\tgood\nneutral\tmeh\nnegative\tbad\n");
    let labels = |r: &relu_data::text::LabelledReviews| r.documents.iter().map(|d| d.label.unwrap()).collect::<Vec<_>>();

    // auto: polarity labels stay polarity, anything else becomes classes.
    let r = read_labelled_reviews(&polar, LabelKind::Auto).unwrap();
    assert_eq!((r.kind, r.num_classes(), labels(&r), r.classes.as_ref()), (LabelKind::Polarity, 2, vec![1, 0, 0], None));
    let r = read_labelled_reviews(&stars, LabelKind::Auto).unwrap();
    assert_eq!((r.kind, r.num_classes(), labels(&r)), (LabelKind::Class, 3, vec![2, 0, 1]));
    assert_eq!(r.classes.unwrap(), ["1", "3", "5"]);
    let r = read_labelled_reviews(&three, LabelKind::Auto).unwrap();
    assert_eq!((r.kind, r.classes.unwrap()), (LabelKind::Class, vec!["negative".to_owned(), "neutral".into(), "positive".into()]));
    // Asked for explicitly.
    let r = read_labelled_reviews(&stars, LabelKind::Rating).unwrap();
    assert_eq!((r.kind, r.num_classes(), labels(&r)), (LabelKind::Rating, 5, vec![4, 0, 2]));
    let r = read_labelled_reviews(&polar, LabelKind::Class).unwrap();
    assert_eq!((r.kind, r.classes.unwrap()), (LabelKind::Class, vec!["0".to_owned(), "neg".into(), "pos".into()]));
    let e = msg(read_labelled_reviews(&three, LabelKind::Polarity).unwrap_err());
    assert!(e.contains("t.tsv") && e.contains("line 2") && e.contains("`neutral`"), "{e}");
    assert!(msg(read_labelled_reviews(&three, LabelKind::Rating).unwrap_err()).contains("star rating"));

    for k in LabelKind::ALL {
        assert_eq!(k.to_string().parse::<LabelKind>().unwrap(), k);
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, format!("\"{k}\""));
        assert_eq!(serde_json::from_str::<LabelKind>(&json).unwrap(), k);
    }
    assert!(serde_json::from_str::<LabelKind>("\"stars\"").is_err());
    assert_eq!(" Rating ".parse::<LabelKind>().unwrap(), LabelKind::Rating);
    let e = msg("stars5".parse::<LabelKind>().unwrap_err());
    assert!(e.contains("`stars5`") && e.contains("auto, polarity, rating or class"), "{e}");
}

#[test]
fn class_labels_beyond_u32_are_refused_not_wrapped() {
    let p = Path::new("big.tsv");
    let e = msg(parse_tsv(b"4294967296\tx\n", p, Targets::Classes(usize::MAX)).unwrap_err());
    assert!(e.contains("line 1") && e.contains("below 2^32") && e.contains("4294967296"), "{e}");
    assert_eq!(parse_tsv(b"4294967295\tx\n", p, Targets::Classes(usize::MAX)).unwrap()[0].label, Some(u32::MAX));
}

#[test]
fn read_reviews_chooses_the_reader_from_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tsv = b"1\tgood\n0\tbad\n";
    let jsonl = b"{\"text\": \"good\", \"label\": 1}\n{\"text\": \"bad\", \"label\": 0}\n";
    let want = vec![Document::text("good", Some(1)), Document::text("bad", Some(0))];
    for (name, bytes) in [
        ("r.tsv", tsv.to_vec()),
        ("r.TSV.gz", gz(tsv)),
        ("r.txt", tsv.to_vec()),
        ("r.jsonl", jsonl.to_vec()),
        ("r.jsonl.gz", gz(jsonl)),
        ("r.json", jsonl.to_vec()),
    ] {
        let f = write(d, name, &bytes);
        assert_eq!(read_reviews(&f, Targets::Polarity).unwrap(), want, "{name}");
    }
    // The name decides: JSON in a .tsv file is a TSV error on line 1.
    let f = write(d, "wrong.tsv", jsonl);
    assert!(msg(read_reviews(&f, Targets::Polarity).unwrap_err()).contains("no tab"));
    for name in ["r.csv", "reviews", "r.gz"] {
        let f = write(d, name, tsv);
        let e = msg(read_reviews(&f, Targets::Polarity).unwrap_err());
        assert!(e.contains(name) && e.contains(".tsv, .tsv.gz, .txt") && e.contains(".jsonl, .jsonl.gz, .json"), "{e}");
    }
}

fn corpus() -> Vec<Document> {
    // 20 documents, 8 positive; each has a word of its own (`uN`) besides the shared ones.
    (0..20).map(|i| Document::text(format!("{} film u{i}", if i % 5 < 2 { "great" } else { "dull" }), Some(u32::from(i % 5 < 2)))).collect()
}

#[test]
fn k_fold_refits_the_vectorizer_on_each_training_part_only() {
    let docs = corpus();
    let cfg = VectorizerConfig::default();
    let fs = folds(&docs, 2, 4, 11, &cfg).unwrap();
    assert_eq!(fs.len(), 4);
    let mut tested = vec![0; docs.len()];
    for f in &fs {
        for &i in &f.test_indices {
            tested[i] += 1;
            // No leakage: a test document's own word is not in this fold's vocabulary.
            assert_eq!(f.vectorizer.vocabulary().get(&format!("u{i}")), None);
        }
        for &i in &f.train_indices {
            assert!(f.vectorizer.vocabulary().get(&format!("u{i}")).is_some());
        }
        assert_eq!(f.vectorizer.vocabulary().num_docs(), f.train_indices.len() as u64);
        assert_eq!((f.train.len(), f.test.len()), (15, 5));
        assert_eq!(f.test.targets.class_counts(2).unwrap(), [3, 2]);
        assert_eq!(f.test.targets.classes().unwrap(), f.test_indices.iter().map(|&i| docs[i].label.unwrap()).collect::<Vec<_>>());
        // The features are exactly those of a vectorizer fitted on the training documents alone.
        let train_docs: Vec<Document> = f.train_indices.iter().map(|&i| docs[i].clone()).collect();
        let test_docs: Vec<Document> = f.test_indices.iter().map(|&i| docs[i].clone()).collect();
        let v = Vectorizer::fit(&train_docs, &cfg).unwrap();
        assert_eq!(v, f.vectorizer);
        assert_eq!(Features::Sparse(v.transform(&test_docs).unwrap()), f.test.inputs);
        assert_eq!(Features::Sparse(v.transform(&train_docs).unwrap()), f.train.inputs);
    }
    assert!(tested.iter().all(|&c| c == 1));
    assert_eq!(folds(&docs, 2, 4, 11, &cfg).unwrap(), fs, "seeded");

    let e = msg(folds(&docs, 1, 4, 11, &cfg).unwrap_err());
    assert!(e.contains("1 of document 0") && e.contains("below the 1 classes"), "{e}");
    let mut unlabelled = docs.clone();
    unlabelled[3].label = None;
    assert!(msg(folds(&unlabelled, 2, 4, 11, &cfg).unwrap_err()).contains("no label"));
    assert!(folds(&docs, 2, 21, 11, &cfg).is_err());
}

#[test]
fn holdout_is_stratified_seeded_and_fits_on_train_only() {
    let docs = corpus();
    let cfg = VectorizerConfig { weighting: Weighting::TfIdf, ..Default::default() };
    let h = holdout(&docs, 5, 0.25, 3, &cfg).unwrap();
    // 25 % of 8 positives and of 12 negatives.
    assert_eq!((h.test.len(), h.test.targets.class_counts(5).unwrap()), (5, vec![3, 2, 0, 0, 0]));
    assert_eq!(h.train.len(), 15);
    assert_eq!(h.vectorizer.vocabulary().num_docs(), 15);
    assert!(h.test_indices.iter().all(|&i| h.vectorizer.vocabulary().get(&format!("u{i}")).is_none()));
    assert_eq!(h.vectorizer.weighting(), Weighting::TfIdf);
    assert_eq!(holdout(&docs, 5, 0.25, 3, &cfg).unwrap(), h);
    assert_ne!(holdout(&docs, 5, 0.25, 4, &cfg).unwrap().test_indices, h.test_indices);
    for bad in [0.0, 1.0, f64::NAN, 0.01] {
        let e = msg(holdout(&docs, 2, bad, 3, &cfg).unwrap_err());
        assert!(e.contains("test fraction"), "{e}");
    }
    let labels: Vec<u32> = docs.iter().map(|d| d.label.unwrap()).collect();
    assert_eq!(stratified_holdout(&labels, 0.25, 3).unwrap().test, h.test_indices);
    // A model's stored vectorizer rebuilds exactly the split it was trained on.
    let (train, test) = holdout_with(&docs, 5, 0.25, 3, &h.vectorizer).unwrap();
    assert_eq!((train, test), (h.train.clone(), h.test.clone()));
    let (_, other) = holdout_with(&docs, 5, 0.25, 4, &h.vectorizer).unwrap();
    assert_ne!(other, h.test);
}

#[test]
fn vectorised_documents_make_a_core_dataset() {
    let docs = [Document::text("a b", Some(0)), Document::text("c", Some(2)), Document::text("a", Some(2))];
    let v = Vectorizer::fit(&docs, &VectorizerConfig::default()).unwrap();
    let features = || Features::Sparse(v.transform(&docs).unwrap());
    let ds = Dataset::new(features(), CoreTargets::Classes(labels(&docs).unwrap())).unwrap();
    assert_eq!((ds.len(), ds.inputs.dim(), ds.targets.class_counts(3).unwrap()), (3, 3, vec![1, 0, 2]));
    // 4 active of 3 terms × 3 documents.
    assert!((f64::from(ds.inputs.density()) - 4.0 / 9.0).abs() < 1e-6);
    assert_eq!(ds.select(&[2, 0]).targets.classes().unwrap(), [2, 0]);
    let e = Dataset::new(features(), CoreTargets::Classes(vec![0, 1])).unwrap_err().to_string();
    assert!(e.contains("3 inputs but 2 targets"), "{e}");
}

#[test]
fn documents_without_any_term_are_an_empty_vocabulary_error() {
    let docs = vec![Document::text("!!! ... ???", Some(0)), Document::text("   ", Some(1))];
    let e = relu_data::text::Vectorizer::fit(&docs, &relu_data::text::VectorizerConfig::default()).unwrap_err().to_string();
    assert!(e.contains("vocabulary") && e.contains("0 terms") && e.contains("none of the 2 training documents"), "{e}");
}
