//! Data specs (`--data mnist`, `reviews:FILE`, …) and loading them into train / validation / test
//! sets the network can consume.
//!
//! | spec | what | validation set | test set |
//! | --- | --- | --- | --- |
//! | `mnist` | the 22,000-image MNIST subset compiled into relu | images 18,000–19,999 of the training file | every fifth test image (2,000) |
//! | `mnist:DIR` | any four IDX files with MNIST's names | the last 10,000 training images (the paper's), or the last sixth below 20,000 images | the test file |
//! | `cifar10:DIR` | CIFAR-10 binary batches | the first half of the test file | the second half |
//! | `norb:DIR` | small NORB, downsampled to 2×32×32 | the last 4,300 training pairs | the test files |
//! | `reviews:FILE` | TSV `label<TAB>text` or JSON Lines (`.tsv`, `.txt`, `.jsonl`, `.json`, optionally `.gz`) | 10 % of the rest | a stratified 20 % |
//! | `acl:DIR` | a `processed_acl` domain folder (`positive.review`, `negative.review`) | 10 % of the rest | a stratified 20 % |
//!
//! Pixels are in `[0, 1]`. Review splits are stratified and seeded with `--seed`; the vocabulary is
//! learned on the training and validation documents only, never on the test documents, and the
//! bag-of-words inputs stay sparse (`Features::Sparse`) all the way into the first layer's kernels.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use relu_core::SparseBatch;
use relu_data::Splits;
use relu_data::text::{self, Document, LabelKind, LabelledReviews, Vectorizer, VectorizerConfig};
use relu_nn::{Dataset, Features, OutputKind};
use serde::{Deserialize, Serialize};

/// Fraction of the labelled reviews held out as test set.
pub const TEXT_TEST_FRACTION: f64 = 0.2;
/// Fraction of the remaining reviews held out as validation set.
pub const TEXT_VALID_FRACTION: f64 = 0.1;

/// Where the data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSpec {
    /// The embedded MNIST subset.
    MnistEmbedded,
    /// An MNIST-style IDX folder.
    Mnist(PathBuf),
    /// A CIFAR-10 binary folder.
    Cifar10(PathBuf),
    /// A small NORB folder.
    Norb(PathBuf),
    /// A TSV or JSON Lines review file.
    Reviews(PathBuf),
    /// A `processed_acl` domain folder.
    Acl(PathBuf),
}

/// The accepted spellings, for error messages.
pub const SPEC_FORMS: &str = "mnist, mnist:DIR, cifar10:DIR, norb:DIR, reviews:FILE or acl:DIR";

impl FromStr for DataSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let path = |what: &str| match arg {
            Some(a) if !a.is_empty() => expand_home(a, std::env::var_os("HOME")),
            _ => Err(format!("`{s}` needs a {what} after the colon, e.g. {kind}:{}", if what == "file" { "reviews.tsv" } else { "data/" })),
        };
        match kind.to_ascii_lowercase().as_str() {
            "mnist" if arg.is_none() => Ok(DataSpec::MnistEmbedded),
            "mnist" => path("folder").map(DataSpec::Mnist),
            "cifar10" | "cifar-10" => path("folder").map(DataSpec::Cifar10),
            "norb" | "smallnorb" => path("folder").map(DataSpec::Norb),
            "reviews" => path("file").map(DataSpec::Reviews),
            "acl" => path("folder").map(DataSpec::Acl),
            _ => Err(format!("unknown data spec `{s}`: expected {SPEC_FORMS}")),
        }
    }
}

/// `a` as a path, with a leading `~` or `~/` replaced by the home folder: the shell expands `~`
/// only at the start of a word, so in `mnist:~/mnist` it reaches relu unexpanded.
fn expand_home(a: &str, home: Option<std::ffi::OsString>) -> Result<PathBuf, String> {
    let rest = match a.strip_prefix('~') {
        Some("") => "",
        Some(r) if r.starts_with('/') => &r[1..],
        _ => return Ok(PathBuf::from(a)),
    };
    match home {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h).join(rest)),
        _ => Err(format!("`{a}`: cannot expand `~` because $HOME is not set; give the full path")),
    }
}

impl fmt::Display for DataSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSpec::MnistEmbedded => f.write_str("mnist"),
            DataSpec::Mnist(p) => write!(f, "mnist:{}", p.display()),
            DataSpec::Cifar10(p) => write!(f, "cifar10:{}", p.display()),
            DataSpec::Norb(p) => write!(f, "norb:{}", p.display()),
            DataSpec::Reviews(p) => write!(f, "reviews:{}", p.display()),
            DataSpec::Acl(p) => write!(f, "acl:{}", p.display()),
        }
    }
}

impl DataSpec {
    /// Parses the value of a `--data` flag (errors name the flag).
    ///
    /// # Errors
    /// An unknown kind or a malformed spec.
    pub fn from_flag(value: &str) -> Result<DataSpec> {
        value.parse().map_err(|e| anyhow::anyhow!("--data: {e}"))
    }

    /// The dataset's name for plot titles: the kind and, for files and folders, only the last
    /// path component (`mnist:/data/mnist` is `MNIST`, `reviews:/x/pang_lee.tsv.gz` is
    /// `reviews pang_lee.tsv.gz`), so a figure never carries the path of the machine it was made on.
    pub fn title(&self) -> String {
        let last = |p: &std::path::Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
        match self {
            DataSpec::MnistEmbedded => "MNIST, embedded subset".into(),
            DataSpec::Mnist(_) => "MNIST".into(),
            DataSpec::Cifar10(_) => "CIFAR-10".into(),
            DataSpec::Norb(_) => "small NORB".into(),
            DataSpec::Reviews(p) => format!("reviews {}", last(p)),
            DataSpec::Acl(p) => format!("processed_acl {}", last(p)),
        }
    }

    /// Whether the spec names review text.
    pub fn is_text(&self) -> bool {
        matches!(self, DataSpec::Reviews(_) | DataSpec::Acl(_))
    }
}

/// Text pipeline options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextOptions {
    /// Vocabulary size.
    pub vocab: usize,
    /// Feature values.
    pub bow: relu_data::text::Weighting,
    /// Label meaning.
    pub target: LabelKind,
    /// Seed of the splits.
    pub seed: u64,
}

impl TextOptions {
    fn vectorizer_config(&self) -> VectorizerConfig {
        VectorizerConfig { max_terms: self.vocab, weighting: self.bow, ..Default::default() }
    }
}

/// How a model's inputs were built; stored as JSON (`input`) in `model.safetensors`' metadata so
/// `eval`, `inspect` and `predict` build the same inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputInfo {
    /// `image` or `text`.
    pub kind: InputKind,
    /// The data spec trained on.
    pub data: String,
    /// Shape of one image (`[28, 28]`, `[3, 32, 32]`, …); `None` for text.
    pub shape: Option<Vec<usize>>,
    /// Label meaning, for text (`polarity`, `rating` or `class`, never `auto`).
    pub target: Option<LabelKind>,
    /// For `class` text models: the label each output unit stands for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    /// Seed of the text splits.
    pub seed: u64,
}

/// Image or text input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputKind {
    /// Pixels in `[0, 1]`, dense.
    Image,
    /// Bag-of-words, sparse.
    Text,
}

/// Data ready for the network.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The spec as given.
    pub name: String,
    /// Training set.
    pub train: Dataset,
    /// Validation set.
    pub valid: Dataset,
    /// Test set.
    pub test: Dataset,
    /// The output layer the targets call for.
    pub output: OutputKind,
    /// How inputs were built.
    pub input: InputInfo,
    /// The fitted bag-of-words transformation (text only).
    pub vectorizer: Option<Vectorizer>,
}

impl Loaded {
    /// Input dimension.
    pub fn dim(&self) -> usize {
        self.train.inputs.dim()
    }
}

/// Loads `spec` for training: images with their standard split, reviews with a fresh vectorizer
/// fitted on the training part. `limit` keeps the first examples of the training set.
///
/// # Errors
/// Unreadable or malformed files (named in the message), or splits that leave a set empty.
pub fn load(spec: &DataSpec, text: TextOptions, limit: Option<usize>) -> Result<Loaded> {
    let mut loaded = if spec.is_text() { load_text(spec, text)? } else { load_images(spec)? };
    if let Some(n) = limit {
        let n = n.min(loaded.train.len());
        loaded.train = loaded.train.select(&(0..n).collect::<Vec<_>>());
    }
    for (name, set) in [("training", &loaded.train), ("validation", &loaded.valid), ("test", &loaded.test)] {
        if set.is_empty() {
            bail!("--data {spec}: the {name} set is empty");
        }
    }
    Ok(loaded)
}

/// Loads an image spec's train / validation / test splits (pixels in `[0, 1]`).
///
/// # Errors
/// Unreadable or malformed files, named in the message.
pub fn image_splits(spec: &DataSpec) -> Result<Splits> {
    let ctx = || format!("--data {spec}");
    let splits = match spec {
        DataSpec::MnistEmbedded => relu_data::mnist_embedded().with_context(ctx)?,
        DataSpec::Mnist(dir) => {
            let tt = relu_data::mnist::load_dir(dir).with_context(ctx)?;
            let n = tt.train.len();
            let valid = if n >= 20_000 { relu_data::mnist::PAPER_VALID_LEN } else { n / 6 };
            tt.hold_out_last(valid).with_context(ctx)?
        }
        DataSpec::Cifar10(dir) => relu_data::cifar::paper_splits(dir).with_context(ctx)?,
        DataSpec::Norb(dir) => relu_data::norb::paper_splits(dir, &relu_data::norb::NorbOptions::default()).with_context(ctx)?,
        DataSpec::Reviews(_) | DataSpec::Acl(_) => bail!("--data {spec}: not an image dataset"),
    };
    Ok(splits)
}

fn load_images(spec: &DataSpec) -> Result<Loaded> {
    let splits = image_splits(spec)?;
    let classes = splits.num_classes;
    if classes < 2 {
        bail!("--data {spec}: the labels name {classes} class; a classifier needs at least 2");
    }
    let Splits { train, valid, test, shape, .. } = splits;
    Ok(Loaded {
        name: spec.to_string(),
        train,
        valid,
        test,
        output: OutputKind::Softmax { classes },
        input: InputInfo { kind: InputKind::Image, data: spec.to_string(), shape: Some(shape), target: None, classes: None, seed: 0 },
        vectorizer: None,
    })
}

/// The output layer labelled reviews call for: ratings for 1–5 stars, else a softmax over
/// their classes.
pub fn output_for(read: &LabelledReviews) -> OutputKind {
    match read.kind {
        LabelKind::Rating => OutputKind::Ratings { levels: read.num_classes() },
        _ => OutputKind::Softmax { classes: read.num_classes() },
    }
}

/// Reads the labelled documents of a text spec ([`text::read_labelled_reviews`]); when `auto`
/// turns a file's labels into classes it says so in one line on stderr. `acl:DIR` folders are
/// polarity whatever `target` says, except that `rating` is refused.
///
/// # Errors
/// Unreadable files, bad lines (named by file and line), or labels `target` does not accept.
pub fn read_documents(spec: &DataSpec, target: LabelKind) -> Result<LabelledReviews> {
    let ctx = || format!("--data {spec}");
    let docs = match (spec, target) {
        (DataSpec::Acl(_), LabelKind::Rating) => bail!("--target rating: acl:DIR folders have polarity labels only; use --target polarity"),
        (DataSpec::Acl(dir), _) => LabelledReviews::polarity(text::read_acl_domain(dir).with_context(ctx)?.labeled),
        (DataSpec::Reviews(file), _) => {
            let read = text::read_labelled_reviews(file, target).with_context(ctx)?;
            if let (LabelKind::Auto, Some(classes)) = (target, &read.classes) {
                eprintln!("{}", auto_class_note(classes));
            }
            read
        }
        _ => bail!("--data {spec}: not a review dataset"),
    };
    if docs.documents.is_empty() {
        bail!("--data {spec}: no labelled documents");
    }
    Ok(docs)
}

/// The one line `--target auto` prints when a file's labels are not polarity labels.
fn auto_class_note(classes: &[String]) -> String {
    const SHOWN: usize = 6;
    let mut names = classes.iter().take(SHOWN).map(String::as_str).collect::<Vec<_>>().join(", ");
    if classes.len() > SHOWN {
        names.push_str(&format!(", … {} more", classes.len() - SHOWN));
    }
    let stars = classes.iter().all(|c| matches!(c.as_str(), "1" | "2" | "3" | "4" | "5"));
    let hint = if stars { "; --target rating reads 1–5 stars as ratings scored by RMSE" } else { "" };
    format!(
        "note: the labels are not polarity labels (0/1/neg/pos), so they are {} class{} ({names}){hint}",
        classes.len(),
        if classes.len() == 1 { "" } else { "es" }
    )
}

/// Training needs at least two classes: with one, every prediction is right and the error
/// reads 0 %.
fn require_two_classes(spec: &DataSpec, read: &LabelledReviews) -> Result<()> {
    let mut labels = read.documents.iter().filter_map(|d| d.label);
    if let Some(first) = labels.next()
        && labels.all(|l| l == first)
    {
        let name = match &read.classes {
            Some(names) => format!("`{}`", names[first as usize]),
            None => first.to_string(),
        };
        bail!("--data {spec}: every labelled review has label {name}; training needs reviews of at least two classes");
    }
    Ok(())
}

fn load_text(spec: &DataSpec, opts: TextOptions) -> Result<Loaded> {
    let ctx = || format!("--data {spec}");
    let read = read_documents(spec, opts.target)?;
    let docs = &read.documents;
    require_two_classes(spec, &read)?;
    let split = text::holdout(docs, read.num_classes(), TEXT_TEST_FRACTION, opts.seed, &opts.vectorizer_config()).with_context(ctx)?;
    // The validation set comes out of the training part, after the vocabulary was fitted on it:
    // the test documents never influence the features.
    let labels = split.train.targets.classes().context("internal: review sets have class targets")?;
    let inner = relu_data::split::stratified_holdout(labels, TEXT_VALID_FRACTION, opts.seed.wrapping_add(1))
        .with_context(|| format!("--data {spec}: too few reviews for a validation split"))?;
    Ok(Loaded {
        name: spec.to_string(),
        train: split.train.select(&inner.train),
        valid: split.train.select(&inner.test),
        test: split.test,
        output: output_for(&read),
        input: InputInfo {
            kind: InputKind::Text,
            data: spec.to_string(),
            shape: None,
            target: Some(read.kind),
            classes: read.classes,
            seed: opts.seed,
        },
        vectorizer: Some(split.vectorizer),
    })
}

/// One cross-validation fold, ready for the network.
#[derive(Debug, Clone)]
pub struct TextFold {
    /// The fold's training documents.
    pub train: Dataset,
    /// The fold's held-out documents.
    pub test: Dataset,
    /// The bag-of-words transformation fitted on the fold's training documents.
    pub vectorizer: Vectorizer,
}

impl TextFold {
    /// Inputs for unsupervised pre-training: the fold's training documents, then the `extra`
    /// documents (see [`read_unlabeled`]) that contain at least one of the fold's vocabulary
    /// terms.
    ///
    /// # Errors
    /// If the extra documents cannot be transformed.
    pub fn pretraining_inputs(&self, extra: &[Document]) -> Result<Features> {
        with_unlabeled(&self.train.inputs, extra, &self.vectorizer)
    }
}

/// Reads `--unlabeled FILE`: its texts, labels dropped (see [`text::read_unlabeled`]).
///
/// # Errors
/// Unreadable or malformed files, named with the flag.
pub fn read_unlabeled(path: &Path) -> Result<Vec<Document>> {
    let docs = text::read_unlabeled(path).with_context(|| format!("--unlabeled {}", path.display()))?;
    if docs.is_empty() {
        bail!("--unlabeled {}: no documents in the file", path.display());
    }
    Ok(docs)
}

/// `inputs` (sparse bags of words) followed by those of the `extra` documents under `v` that
/// have at least one term.
///
/// # Errors
/// If the documents cannot be transformed or `inputs` are not `v`'s sparse features.
pub fn with_unlabeled(inputs: &Features, extra: &[Document], v: &Vectorizer) -> Result<Features> {
    let Features::Sparse(own) = inputs else { bail!("--unlabeled: only review text can be pre-trained on extra text") };
    if extra.is_empty() {
        return Ok(inputs.clone());
    }
    let x = v.transform(extra).context("--unlabeled: cannot build bag-of-words features")?;
    let keep: Vec<usize> = (0..x.batch_size()).filter(|&e| !x.example(e).0.is_empty()).collect();
    Ok(Features::Sparse(SparseBatch::concat(own.units(), &[own, &x.select_examples(&keep)])?))
}

/// The `k` stratified folds of a text spec, each with its own vectorizer fitted on the fold's
/// training documents. Also returns the output kind.
///
/// # Errors
/// As [`read_documents`], and for a `k` larger than the number of documents.
pub fn text_folds(spec: &DataSpec, opts: TextOptions, k: usize, limit: Option<usize>) -> Result<(Vec<TextFold>, OutputKind)> {
    let read = read_documents(spec, opts.target)?;
    require_two_classes(spec, &read)?;
    let folds = text::folds(&read.documents, read.num_classes(), k, opts.seed, &opts.vectorizer_config())
        .with_context(|| format!("--folds {k}"))?;
    let folds = folds
        .into_iter()
        .map(|f| {
            let mut train = f.train;
            if let Some(n) = limit {
                train = train.select(&(0..n.min(train.len())).collect::<Vec<_>>());
            }
            TextFold { train, test: f.test, vectorizer: f.vectorizer }
        })
        .collect();
    Ok((folds, output_for(&read)))
}

/// The test set of `spec` built the way a trained model's inputs were (`info`, and for text its
/// `vectorizer`): for images the spec's test split; for reviews the held-out test documents of
/// the model's split (same seed and fraction), transformed with the model's vocabulary.
///
/// # Errors
/// Unreadable data, or a model whose metadata does not describe its inputs.
pub fn test_set_for_model(spec: &DataSpec, info: &InputInfo, vectorizer: Option<&Vectorizer>) -> Result<Dataset> {
    Ok(sets_for_model(spec, info, vectorizer)?.1)
}

/// The training and test sets of `spec` for a trained model (see [`test_set_for_model`]); for
/// reviews the training set is the model's training part (validation included).
///
/// # Errors
/// As [`test_set_for_model`].
pub fn sets_for_model(spec: &DataSpec, info: &InputInfo, vectorizer: Option<&Vectorizer>) -> Result<(Dataset, Dataset)> {
    match (spec.is_text(), info.kind) {
        (false, InputKind::Image) => {
            let s = image_splits(spec)?;
            Ok((s.train, s.test))
        }
        (true, InputKind::Text) => {
            let Some(v) = vectorizer else { bail!("the model has no `vectorizer` metadata, so its text inputs cannot be rebuilt") };
            let docs = model_documents(spec, info)?;
            // Labels are class indices; the model's own class count is checked against them later.
            let classes = text::labels(&docs).with_context(|| format!("--data {spec}"))?.into_iter().max().map_or(1, |m| m as usize + 1);
            let (train, test) = text::holdout_with(&docs, classes, TEXT_TEST_FRACTION, info.seed, v)
                .with_context(|| format!("--data {spec}: cannot rebuild the model's held-out split"))?;
            Ok((train, test))
        }
        (true, InputKind::Image) => bail!("--data {spec}: the model was trained on images ({}), not on review text", info.data),
        (false, InputKind::Text) => bail!("--data {spec}: the model was trained on review text ({}), not on images", info.data),
    }
}

/// The labelled documents of `spec` numbered the way the model's output units are: for a
/// `class` model by its stored class names (a label the model never saw is an error).
fn model_documents(spec: &DataSpec, info: &InputInfo) -> Result<Vec<Document>> {
    // Models written before `auto` existed always stored polarity or rating.
    let target = info.target.filter(|&t| t != LabelKind::Auto).unwrap_or(LabelKind::Polarity);
    let read = read_documents(spec, target)?;
    let (LabelKind::Class, Some(model), Some(file)) = (target, &info.classes, &read.classes) else {
        return Ok(read.documents);
    };
    let map = file
        .iter()
        .map(|name| {
            model.iter().position(|m| m == name).map(|i| i as u32).with_context(|| {
                format!("--data {spec}: label `{name}` is not one of the model's {} classes ({})", model.len(), model.join(", "))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(read.documents.into_iter().map(|d| Document { label: d.label.map(|l| map[l as usize]), ..d }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_display() {
        for s in ["mnist", "mnist:/d", "cifar10:x", "norb:y", "reviews:r.tsv", "acl:books"] {
            assert_eq!(s.parse::<DataSpec>().unwrap().to_string(), s);
        }
        assert!("mnist:".parse::<DataSpec>().unwrap_err().contains("needs a folder"));
        assert!("imagenet".parse::<DataSpec>().unwrap_err().contains("expected mnist"));
        assert!("reviews".parse::<DataSpec>().is_err());
    }

    #[test]
    fn titles_name_the_dataset_not_its_path() {
        let title = |s: &str| s.parse::<DataSpec>().unwrap().title();
        assert_eq!(title("mnist:/some/where/mnist"), "MNIST");
        assert_eq!(title("mnist"), "MNIST, embedded subset");
        assert_eq!(title("reviews:/some/where/pang_lee.tsv.gz"), "reviews pang_lee.tsv.gz");
        assert_eq!(title("acl:data/processed_acl/books"), "processed_acl books");
    }

    #[test]
    fn a_leading_tilde_is_the_home_folder() {
        let home = || Some(std::ffi::OsString::from("home-of-u"));
        assert_eq!(expand_home("~/mnist", home()).unwrap(), PathBuf::from("home-of-u").join("mnist"));
        assert_eq!(expand_home("~", home()).unwrap(), PathBuf::from("home-of-u"));
        assert_eq!(expand_home("~other/x", home()).unwrap(), PathBuf::from("~other/x"));
        assert_eq!(expand_home("data/~/x", home()).unwrap(), PathBuf::from("data/~/x"));
        assert!(expand_home("~/mnist", None).unwrap_err().contains("$HOME"));
        if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            let DataSpec::Mnist(p) = "mnist:~/mnist".parse::<DataSpec>().unwrap() else { panic!("not an mnist:DIR spec") };
            assert_eq!(p, PathBuf::from(h).join("mnist"));
        }
    }
}
