//! Readers for review corpora: TSV `label<TAB>text`, JSON Lines, Blitzer et al.'s
//! `processed_acl` feature-count files, and plain unlabeled text. All accept plain or gzip input
//! (detected from the first bytes) and report bad lines by file and line number.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::io::{self, Source};

/// What a document holds: raw text to tokenise, or pre-extracted term counts (`processed_acl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Content {
    /// Raw text.
    Text(String),
    /// Terms with their counts, as given by the file.
    Counts(Vec<(String, u32)>),
}

/// One review: its content and, for labelled data, its class index (see [`Targets`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// The text or term counts.
    pub content: Content,
    /// The class index, `None` for unlabeled text.
    pub label: Option<u32>,
}

impl Document {
    /// A document from raw text.
    pub fn text(text: impl Into<String>, label: Option<u32>) -> Self {
        Self { content: Content::Text(text.into()), label }
    }
}

/// How a label field in the file maps to a class index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Targets {
    /// Polarity: `0`/`1` (also `neg`/`pos`, `negative`/`positive`) → classes 0 and 1.
    Polarity,
    /// Star ratings `1`–`5` → classes 0–4 (see [`crate::text::expected_rating`]).
    Stars,
    /// Integer labels `0..k` → the same classes.
    Classes(usize),
    /// No labels: a label column, if the format has one, is read but ignored.
    Unlabeled,
}

impl Targets {
    /// The number of classes (0 for [`Targets::Unlabeled`]).
    pub fn num_classes(self) -> usize {
        match self {
            Self::Polarity => 2,
            Self::Stars => 5,
            Self::Classes(k) => k,
            Self::Unlabeled => 0,
        }
    }

    /// The class of a label field, or a description of what was expected.
    fn class(self, raw: &str) -> std::result::Result<Option<u32>, String> {
        let raw = raw.trim();
        let int = || -> Option<i64> {
            raw.parse::<i64>().ok().or_else(|| raw.parse::<f64>().ok().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
        };
        match self {
            Self::Unlabeled => Ok(None),
            Self::Polarity => match raw.to_lowercase().as_str() {
                "neg" | "negative" => Ok(Some(0)),
                "pos" | "positive" => Ok(Some(1)),
                _ => match int() {
                    Some(v @ 0..=1) => Ok(Some(v as u32)),
                    _ => Err(format!("a polarity label 0, 1, neg or pos, found `{raw}`")),
                },
            },
            Self::Stars => match int() {
                Some(v @ 1..=5) => Ok(Some(v as u32 - 1)),
                _ => Err(format!("a star rating 1–5, found `{raw}`")),
            },
            Self::Classes(k) => match int() {
                // Class indices are u32 everywhere else; a label beyond that is refused, not wrapped.
                Some(v) if v >= 0 && (v as u64) < k as u64 => {
                    u32::try_from(v).map(Some).map_err(|_| format!("a class label below 2^32, found `{raw}`"))
                }
                _ => Err(format!("a class label in 0..{k}, found `{raw}`")),
            },
        }
    }
}

/// The largest number of classes [`Targets::Classes`] accepts from text: class indices are `u32`.
const MAX_CLASSES: u64 = 1 << 32;

impl std::str::FromStr for Targets {
    type Err = DataError;

    /// Parses `polarity`, `rating` or `stars` ([`Targets::Stars`]), `classes:K` and `unlabeled`
    /// (also `unlabelled`), ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || DataError::InvalidParameter {
            name: "targets",
            value: s.into(),
            expected: format!("polarity, rating (or stars), classes:K with K from 1 to {MAX_CLASSES}, or unlabeled"),
        };
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "polarity" => Ok(Self::Polarity),
            "rating" | "ratings" | "stars" => Ok(Self::Stars),
            "unlabeled" | "unlabelled" => Ok(Self::Unlabeled),
            _ => {
                let k: u64 = lower.strip_prefix("classes:").and_then(|k| k.trim().parse().ok()).ok_or_else(bad)?;
                if !(1..=MAX_CLASSES).contains(&k) {
                    return Err(bad());
                }
                usize::try_from(k).map(Self::Classes).map_err(|_| bad())
            }
        }
    }
}

/// Runs `f` over the UTF-8 lines of `src`, skipping blank lines, collecting the documents; at
/// most [`io::MAX_TEXT_BYTES`] of text in all.
fn collect(src: Source<'_>, path: &Path, mut f: impl FnMut(usize, &str) -> Result<Option<Document>>) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    let (limit, mut total) = (io::text_limit(), 0u64);
    io::for_each_line(src, path, |line, bytes| {
        let text = io::utf8(bytes, path, line)?;
        if !text.trim().is_empty() {
            total += text.len() as u64;
            if total > limit {
                return Err(DataError::TooLarge {
                    path: path.to_path_buf(),
                    what: format!("review text (line {line} takes it past the limit)"),
                    bytes: total,
                    limit,
                });
            }
            docs.extend(f(line, text)?);
        }
        Ok(())
    })?;
    Ok(docs)
}

/// Maps a label field to a class (or `None`), or describes what was expected.
type LabelMap<'a> = &'a mut dyn FnMut(&str) -> std::result::Result<Option<u32>, String>;

fn tsv(src: Source<'_>, path: &Path, label_of: LabelMap<'_>) -> Result<Vec<Document>> {
    collect(src, path, |line, text| {
        let (label, body) = text
            .split_once('\t')
            .ok_or_else(|| DataError::parse(path, line, "a `label<TAB>text` line, but the line has no tab (missing label column)"))?;
        let label = label_of(label).map_err(|e| DataError::parse(path, line, e))?;
        Ok(Some(Document::text(body, label)))
    })
}

/// Reads a TSV file of `label<TAB>text` lines (blank lines skipped).
///
/// # Errors
/// [`DataError::Io`]; [`DataError::Parse`] naming the line for bad UTF-8, a missing tab, or a
/// label that `targets` does not accept.
pub fn read_tsv(path: &Path, targets: Targets) -> Result<Vec<Document>> {
    tsv(io::open(path)?, path, &mut |raw| targets.class(raw))
}

/// [`read_tsv`] on bytes held in memory (plain or gzip); `source` names them in errors.
///
/// # Errors
/// As [`read_tsv`].
pub fn parse_tsv(bytes: &[u8], source: &Path, targets: Targets) -> Result<Vec<Document>> {
    tsv(io::from_slice(bytes), source, &mut |raw| targets.class(raw))
}

#[derive(Deserialize)]
struct JsonDoc {
    text: Option<String>,
    label: Option<serde_json::Value>,
    rating: Option<serde_json::Value>,
}

fn jsonl(src: Source<'_>, path: &Path, labelled: bool, label_of: LabelMap<'_>) -> Result<Vec<Document>> {
    collect(src, path, |line, text| {
        let doc: JsonDoc =
            serde_json::from_str(text).map_err(|e| DataError::parse(path, line, format!("a JSON object with a \"text\" string ({e})")))?;
        let body = doc.text.ok_or_else(|| DataError::parse(path, line, "a \"text\" field"))?;
        let label = match labelled {
            false => None,
            true => {
                let value = doc
                    .label
                    .or(doc.rating)
                    .ok_or_else(|| DataError::parse(path, line, "a \"label\" or \"rating\" field (missing label)"))?;
                let raw = match value {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Number(n) => n.to_string(),
                    other => return Err(DataError::parse(path, line, format!("a number or string label, found {other}"))),
                };
                label_of(&raw).map_err(|e| DataError::parse(path, line, e))?
            }
        };
        Ok(Some(Document::text(body, label)))
    })
}

/// Reads JSON Lines: one object per line with a `"text"` string and a `"label"` or `"rating"`
/// (number or string; `"label"` wins when both are present). With [`Targets::Unlabeled`] the label
/// may be absent.
///
/// # Errors
/// [`DataError::Io`]; [`DataError::Parse`] naming the line for bad UTF-8, invalid JSON, a missing
/// field, or a label that `targets` does not accept.
pub fn read_jsonl(path: &Path, targets: Targets) -> Result<Vec<Document>> {
    jsonl(io::open(path)?, path, targets != Targets::Unlabeled, &mut |raw| targets.class(raw))
}

/// [`read_jsonl`] on bytes held in memory; `source` names them in errors.
///
/// # Errors
/// As [`read_jsonl`].
pub fn parse_jsonl(bytes: &[u8], source: &Path, targets: Targets) -> Result<Vec<Document>> {
    jsonl(io::from_slice(bytes), source, targets != Targets::Unlabeled, &mut |raw| targets.class(raw))
}

/// The review file formats [`read_reviews`] recognises from a file name.
const REVIEW_FORMATS: &str =
    "a file name ending in .tsv, .tsv.gz, .txt or .txt.gz (label<TAB>text lines) or in .jsonl, .jsonl.gz, .json or .json.gz (JSON Lines)";

/// Reads a review file, choosing the format from its name (ASCII case ignored): `.tsv`,
/// `.tsv.gz`, `.txt` and `.txt.gz` are read with [`read_tsv`]; `.jsonl`, `.jsonl.gz`, `.json`
/// and `.json.gz` with [`read_jsonl`]. Whether the bytes are gzip-compressed is still detected
/// from the content, so the `.gz` suffix is only part of the name.
///
/// # Errors
/// [`DataError::InvalidParameter`] for any other name, listing the accepted ones; otherwise the
/// errors of the chosen reader.
pub fn read_reviews(path: &Path, targets: Targets) -> Result<Vec<Document>> {
    let labelled = targets != Targets::Unlabeled;
    read_review_file(path, labelled, &mut |raw| targets.class(raw))
}

/// A text file's format, from its name (case-insensitive, an optional `.gz` ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextFormat {
    /// `.tsv`
    Tsv,
    /// `.txt`: TSV for labelled reviews, one document per line for unlabeled text.
    Txt,
    /// `.jsonl` or `.json`
    Jsonl,
    /// Anything else.
    Other,
}

impl TextFormat {
    fn of(path: &Path) -> Self {
        let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        let stem = name.strip_suffix(".gz").unwrap_or(&name);
        if stem.ends_with(".tsv") {
            Self::Tsv
        } else if stem.ends_with(".txt") {
            Self::Txt
        } else if stem.ends_with(".jsonl") || stem.ends_with(".json") {
            Self::Jsonl
        } else {
            Self::Other
        }
    }
}

fn read_review_file(path: &Path, labelled: bool, label_of: LabelMap<'_>) -> Result<Vec<Document>> {
    match TextFormat::of(path) {
        TextFormat::Tsv | TextFormat::Txt => tsv(io::open(path)?, path, label_of),
        TextFormat::Jsonl => jsonl(io::open(path)?, path, labelled, label_of),
        TextFormat::Other => {
            Err(DataError::InvalidParameter { name: "review file", value: path.display().to_string(), expected: REVIEW_FORMATS.into() })
        }
    }
}

/// The most distinct labels [`read_reviews_as_classes`] accepts: beyond this a label column is
/// more likely an id or free text than a class, and the softmax would dwarf the network.
pub const MAX_LABEL_CLASSES: usize = 10_000;

/// Labelled documents whose classes are the file's own distinct labels (see
/// [`read_reviews_as_classes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassedDocuments {
    /// The documents; each label is an index into `classes`.
    pub documents: Vec<Document>,
    /// The distinct label strings (trimmed), in class order: numeric order when every label is an
    /// integer, otherwise byte order.
    pub classes: Vec<String>,
}

impl ClassedDocuments {
    /// The documents with their class names mapped through `targets` (for example: are these
    /// polarity labels?), or a description of the first name `targets` refuses.
    ///
    /// # Errors
    /// The first class name that `targets` does not accept, with what it expects.
    pub fn relabel(&self, targets: Targets) -> std::result::Result<Vec<Document>, String> {
        let map = self.class_map(targets)?;
        Ok(self.documents.iter().map(|d| Document { content: d.content.clone(), label: d.label.and_then(|l| map[l as usize]) }).collect())
    }

    /// What each class name is under `targets`, or the first name it refuses.
    fn class_map(&self, targets: Targets) -> std::result::Result<Vec<Option<u32>>, String> {
        self.classes.iter().map(|c| targets.class(c)).collect()
    }
}

/// What a review file's labels are to be read as: a request, which [`read_labelled_reviews`]
/// resolves when it reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LabelKind {
    /// Polarity when every label is 0, 1, neg or pos; otherwise one class per distinct label.
    #[default]
    Auto,
    /// 0/1 (or neg/pos): two classes.
    Polarity,
    /// 1–5 stars: five ordered levels ([`Targets::Stars`]).
    Rating,
    /// Any K distinct strings or integers: K classes.
    Class,
}

impl LabelKind {
    /// Every kind, in the order of its documentation.
    pub const ALL: [LabelKind; 4] = [LabelKind::Auto, LabelKind::Polarity, LabelKind::Rating, LabelKind::Class];

    /// The name [`FromStr`](std::str::FromStr) parses and [`Display`](std::fmt::Display) prints:
    /// `auto`, `polarity`, `rating` or `class`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Polarity => "polarity",
            Self::Rating => "rating",
            Self::Class => "class",
        }
    }
}

named_option!(LabelKind);

impl std::str::FromStr for LabelKind {
    type Err = DataError;

    /// Parses the [`LabelKind::name`]s, ignoring ASCII case and surrounding space.
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| k.name() == t).ok_or_else(|| DataError::InvalidParameter {
            name: "label kind",
            value: s.into(),
            expected: "auto, polarity, rating or class".into(),
        })
    }
}

/// Labelled reviews with what their labels turned out to mean ([`read_labelled_reviews`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledReviews {
    /// The documents; each label is a class index.
    pub documents: Vec<Document>,
    /// [`LabelKind::Polarity`], [`LabelKind::Rating`] or [`LabelKind::Class`]: never `Auto`.
    pub kind: LabelKind,
    /// For [`LabelKind::Class`]: the label string of each class index, in class order.
    pub classes: Option<Vec<String>>,
}

impl LabelledReviews {
    /// Polarity-labelled documents (e.g. an ACL domain's).
    pub fn polarity(documents: Vec<Document>) -> Self {
        Self { documents, kind: LabelKind::Polarity, classes: None }
    }

    /// The number of classes the labels index: 2 for polarity, 5 for ratings, K for classes.
    pub fn num_classes(&self) -> usize {
        match (self.kind, &self.classes) {
            (LabelKind::Rating, _) => Targets::Stars.num_classes(),
            (_, Some(names)) => names.len(),
            _ => Targets::Polarity.num_classes(),
        }
    }
}

/// Reads a labelled review file (as [`read_reviews`]) with its labels read as `kind`:
/// [`LabelKind::Auto`] reads a file whose labels are all 0, 1, neg or pos as polarity and any
/// other file as one class per distinct label ([`read_reviews_as_classes`]).
///
/// # Errors
/// As [`read_reviews`] and [`read_reviews_as_classes`]: unreadable files, bad lines (named by
/// file and line), or labels `kind` does not accept.
pub fn read_labelled_reviews(path: &Path, kind: LabelKind) -> Result<LabelledReviews> {
    match kind {
        LabelKind::Polarity => Ok(LabelledReviews::polarity(read_reviews(path, Targets::Polarity)?)),
        LabelKind::Rating => Ok(LabelledReviews { documents: read_reviews(path, Targets::Stars)?, kind, classes: None }),
        LabelKind::Auto | LabelKind::Class => {
            let mut classed = read_reviews_as_classes(path)?;
            if kind == LabelKind::Auto
                && let Ok(map) = classed.class_map(Targets::Polarity)
            {
                // Relabelled in place: the documents are not copied.
                for d in &mut classed.documents {
                    d.label = d.label.and_then(|l| map[l as usize]);
                }
                return Ok(LabelledReviews::polarity(classed.documents));
            }
            Ok(LabelledReviews { documents: classed.documents, kind: LabelKind::Class, classes: Some(classed.classes) })
        }
    }
}

/// Numbers labels in the order they are first seen, then renumbers them in class order.
#[derive(Default)]
struct Interner {
    ids: std::collections::HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn class(&mut self, raw: &str) -> std::result::Result<Option<u32>, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("a label, found an empty label field".into());
        }
        if let Some(&id) = self.ids.get(raw) {
            return Ok(Some(id));
        }
        if self.names.len() == MAX_LABEL_CLASSES {
            return Err(format!(
                "at most {MAX_LABEL_CLASSES} distinct labels, found another one, `{raw}` (is this column an id or free text?)"
            ));
        }
        let id = self.names.len() as u32;
        self.ids.insert(raw.to_owned(), id);
        self.names.push(raw.to_owned());
        Ok(Some(id))
    }

    /// Sorts the names (numerically if all are integers) and renumbers `docs` to match.
    fn finish(self, mut docs: Vec<Document>) -> ClassedDocuments {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        let ints: Option<Vec<i128>> = self.names.iter().map(|n| n.parse::<i128>().ok()).collect();
        match ints {
            Some(v) => order.sort_by_key(|&i| v[i as usize]),
            None => order.sort_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize])),
        }
        let mut rank = vec![0u32; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i as usize] = r as u32;
        }
        for d in &mut docs {
            d.label = d.label.map(|l| rank[l as usize]);
        }
        let classes = order.iter().map(|&i| self.names[i as usize].clone()).collect();
        ClassedDocuments { documents: docs, classes }
    }
}

/// Reads a review file (format from its name, as [`read_reviews`]) whose labels are any `K`
/// distinct strings or integers, numbered `0..K` in class order (numeric when every label is an
/// integer, e.g. `-1 < 0 < 2 < 10`; otherwise byte order, e.g. `books < dvd < kitchen`).
///
/// # Errors
/// As [`read_reviews`]; [`DataError::Parse`] naming the line of an empty label or of the label
/// that goes past [`MAX_LABEL_CLASSES`].
pub fn read_reviews_as_classes(path: &Path) -> Result<ClassedDocuments> {
    let mut interner = Interner::default();
    let docs = read_review_file(path, true, &mut |raw| interner.class(raw))?;
    Ok(interner.finish(docs))
}

/// [`read_reviews_as_classes`] on TSV bytes held in memory; `source` names them in errors.
///
/// # Errors
/// As [`read_reviews_as_classes`].
pub fn parse_tsv_as_classes(bytes: &[u8], source: &Path) -> Result<ClassedDocuments> {
    let mut interner = Interner::default();
    let docs = tsv(io::from_slice(bytes), source, &mut |raw| interner.class(raw))?;
    Ok(interner.finish(docs))
}

/// Reads unlabeled text, one document per non-blank line (for unsupervised pre-training).
///
/// # Errors
/// [`DataError::Io`]; [`DataError::Parse`] naming the line for bad UTF-8.
pub fn read_lines(path: &Path) -> Result<Vec<Document>> {
    collect(io::open(path)?, path, |_, text| Ok(Some(Document::text(text, None))))
}

/// Reads the texts of a file for unsupervised pre-training, dropping any labels: a review file
/// (`.tsv` or `.jsonl`, optionally gzipped, as [`read_reviews`]) gives its text column or field;
/// any other file one document per non-blank line, as [`read_lines`].
///
/// # Errors
/// As the chosen reader.
pub fn read_unlabeled(path: &Path) -> Result<Vec<Document>> {
    match TextFormat::of(path) {
        TextFormat::Tsv => tsv(io::open(path)?, path, &mut |_| Ok(None)),
        TextFormat::Jsonl => jsonl(io::open(path)?, path, false, &mut |_| Ok(None)),
        TextFormat::Txt | TextFormat::Other => read_lines(path),
    }
}

fn acl(src: Source<'_>, path: &Path, labelled: bool) -> Result<Vec<Document>> {
    collect(src, path, |line, text| {
        let mut counts = Vec::new();
        let mut label = None;
        for item in text.split_ascii_whitespace() {
            let (term, value) =
                item.rsplit_once(':').ok_or_else(|| DataError::parse(path, line, format!("`feature:count` items, found `{item}`")))?;
            if term == "#label#" {
                label = Some(match value {
                    "positive" => 1,
                    "negative" => 0,
                    _ => return Err(DataError::parse(path, line, format!("`#label#:positive` or `#label#:negative`, found `{item}`"))),
                });
                continue;
            }
            let count: u32 = value
                .parse()
                .ok()
                .filter(|&c| c > 0)
                .ok_or_else(|| DataError::parse(path, line, format!("a positive integer count in `{item}`")))?;
            counts.push((term.to_string(), count));
        }
        if labelled && label.is_none() {
            return Err(DataError::parse(path, line, "a `#label#:positive` or `#label#:negative` item (missing label)"));
        }
        Ok(Some(Document { content: Content::Counts(counts), label: if labelled { label } else { None } }))
    })
}

/// Reads one `processed_acl` file: per line, `feature:count` items (bigrams are features joined
/// by `_`) and a `#label#:positive|negative` item (positive → class 1). With `labelled == false`
/// (for `unlabeled.review`) the label item is optional and ignored.
///
/// # Errors
/// [`DataError::Io`]; [`DataError::Parse`] naming the line for bad UTF-8, an item without `:`, a
/// count that is not a positive integer, or a missing/unknown label.
pub fn read_acl(path: &Path, labelled: bool) -> Result<Vec<Document>> {
    acl(io::open(path)?, path, labelled)
}

/// [`read_acl`] on bytes held in memory; `source` names them in errors.
///
/// # Errors
/// As [`read_acl`].
pub fn parse_acl(bytes: &[u8], source: &Path, labelled: bool) -> Result<Vec<Document>> {
    acl(io::from_slice(bytes), source, labelled)
}

/// The reviews of one `processed_acl` domain folder (`books`, `dvd`, `electronics`, `kitchen`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclDomain {
    /// `positive.review` then `negative.review`, labelled 1 and 0.
    pub labeled: Vec<Document>,
    /// `unlabeled.review` (empty if the file is absent), without labels.
    pub unlabeled: Vec<Document>,
}

fn review_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [dir.join(name), dir.join(format!("{name}.gz"))].into_iter().find(|p| p.is_file())
}

/// Reads a `processed_acl` domain folder.
///
/// # Errors
/// [`DataError::MissingFile`] if `positive.review` or `negative.review` is absent, and the
/// errors of [`read_acl`].
pub fn read_acl_domain(dir: &Path) -> Result<AclDomain> {
    let mut labeled = Vec::new();
    for name in ["positive.review", "negative.review"] {
        let path = review_file(dir, name)
            .ok_or_else(|| DataError::MissingFile { dir: dir.to_path_buf(), candidates: vec![name.into(), format!("{name}.gz")] })?;
        labeled.extend(read_acl(&path, true)?);
    }
    let unlabeled = match review_file(dir, "unlabeled.review") {
        Some(path) => read_acl(&path, false)?,
        None => Vec::new(),
    };
    Ok(AclDomain { labeled, unlabeled })
}
