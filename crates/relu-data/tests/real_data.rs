//! Checks against the real data in `../shared/data` (relative to the repository root). Each test
//! returns early with a message when the data is absent, so the suite still passes elsewhere;
//! with `RELU_REQUIRE_SHARED_DATA=1` (set it where the data must exist, e.g. CI) an absent folder
//! fails the test instead.

mod common;

use common::{labels, pixels};
use relu_data::mnist;
use relu_data::text::{Targets, Vectorizer, VectorizerConfig, read_tsv};

const TRAIN_COUNTS: [usize; 10] = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

#[test]
fn real_mnist_counts_histogram_and_first_labels() {
    let Some(data) = common::shared_data("mnist") else { return };
    let tt = mnist::load_dir(&data).unwrap();
    assert_eq!(pixels(&tt.train).shape(), (784, 60_000));
    assert_eq!(pixels(&tt.test).shape(), (784, 10_000));
    assert_eq!(tt.train.targets.class_counts(tt.num_classes).unwrap(), TRAIN_COUNTS);
    assert_eq!(tt.test.targets.class_counts(tt.num_classes).unwrap(), TEST_COUNTS);
    assert_eq!(labels(&tt.train)[..5], [5, 0, 4, 1, 9]);
    assert!(pixels(&tt.train).iter().all(|&x| (0.0..=1.0).contains(&x)));
    let s = tt.hold_out_last(mnist::PAPER_VALID_LEN).unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (50_000, 10_000, 10_000));
}

#[cfg(feature = "embedded-mnist")]
#[test]
fn embedded_labels_match_real_files() {
    let s = relu_data::mnist_embedded().unwrap();
    assert_eq!((s.train.len(), s.valid.len(), s.test.len()), (18_000, 2_000, 2_000));
    assert_eq!(labels(&s.train)[..5], [5, 0, 4, 1, 9]);
    let Some(data) = common::shared_data("mnist") else { return };
    let [tri, trl, tei, tel] = mnist::files(&data).unwrap();
    let train = mnist::load_pair(&tri, &trl).unwrap().data;
    let test = mnist::load_pair(&tei, &tel).unwrap().data;
    assert_eq!(labels(&s.train), &labels(&train)[..18_000]);
    assert_eq!(labels(&s.valid), &labels(&train)[18_000..20_000]);
    assert_eq!(*pixels(&s.train), pixels(&train).columns(0, 18_000));
    assert_eq!(*pixels(&s.valid), pixels(&train).columns(18_000, 2_000));
    for (i, j) in (0..2_000).map(|i| (i, 5 * i)) {
        assert_eq!(labels(&s.test)[i], labels(&test)[j], "embedded test example {i} is MNIST test image {j}");
        assert_eq!(pixels(&s.test).column(i), pixels(&test).column(j), "embedded test example {i} is MNIST test image {j}");
    }
}

#[test]
fn real_reviews_build_a_full_vocabulary_and_every_review_is_active() {
    let Some(dir) = common::shared_data("reviews") else { return };
    let docs = read_tsv(&dir.join("pang_lee_polarity.tsv.gz"), Targets::Polarity).unwrap();
    assert_eq!(docs.len(), 1500);
    assert_eq!(docs.iter().filter(|d| d.label == Some(1)).count(), 750);
    let v = Vectorizer::fit(&docs, &VectorizerConfig::default()).unwrap();
    assert_eq!(v.dim(), 5000);
    let x = v.transform(&docs).unwrap();
    assert!((0..x.batch_size()).all(|e| !x.example(e).0.is_empty()));
    let rt = read_tsv(&dir.join("rotten_tomatoes_snippets.tsv.gz"), Targets::Polarity).unwrap();
    assert_eq!(rt.len(), 12_808);
    assert_eq!(rt.iter().filter(|d| d.label == Some(1)).count(), 7403);
}

#[test]
fn absent_data_skips_unless_required() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(common::locate_shared(root.path(), "mnist", false), Ok(None));
    let e = common::locate_shared(root.path(), "mnist", true).unwrap_err();
    assert!(e.contains("mnist") && e.contains("RELU_REQUIRE_SHARED_DATA=1"), "{e}");
    std::fs::create_dir(root.path().join("mnist")).unwrap();
    assert_eq!(common::locate_shared(root.path(), "mnist", true), Ok(Some(root.path().join("mnist"))));
}
