//! Helpers and fixtures shared by the CLI tests: the binary, tiny seeded datasets written by the
//! tests themselves, and checks for the files `relu` writes.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `relu` binary.
pub fn relu() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_relu"));
    // Two threads keep runs on a shared machine polite; results do not depend on it.
    c.env_remove("RELU_DATA");
    c
}

/// A quick MNIST training run into `out` (tiny net, one epoch, 500 examples).
pub fn quick_train(out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    relu().args(["train", "--hidden", "32", "--epochs", "1", "--limit", "500", "--threads", "2", "--out"]).arg(out).args(extra).assert()
}

/// A tiny deterministic generator (64-bit LCG) so fixtures need no RNG crate.
pub struct Lcg(u64);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407))
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const POSITIVE: [&str; 6] = ["great", "wonderful", "excellent", "moving", "superb", "delightful"];
const NEGATIVE: [&str; 6] = ["dull", "boring", "awful", "terrible", "weak", "tedious"];
const FILLER: [&str; 8] = ["film", "the", "plot", "actors", "story", "a", "scenes", "music"];

const MIXED: [&str; 6] = ["average", "okay", "mixed", "middling", "passable", "uneven"];

/// A review whose sentiment words match `positive`.
fn review(rng: &mut Lcg, positive: bool) -> String {
    review_with(rng, if positive { &POSITIVE } else { &NEGATIVE })
}

/// A review of filler words and words drawn from `words`.
fn review_with(rng: &mut Lcg, words: &[&str]) -> String {
    let mut out = Vec::new();
    for _ in 0..8 {
        out.push(FILLER[rng.below(FILLER.len() as u64) as usize]);
        if rng.below(2) == 0 {
            out.push(words[rng.below(words.len() as u64) as usize]);
        }
    }
    out.push(words[rng.below(words.len() as u64) as usize]);
    out.join(" ")
}

/// `n` reviews in three classes named by `labels`: negative, positive and mixed words, in turn.
pub fn write_three_class_tsv(dir: &Path, n: usize, labels: [&str; 3]) -> PathBuf {
    let mut rng = Lcg::new(13);
    let words: [&[&str]; 3] = [&NEGATIVE, &POSITIVE, &MIXED];
    let mut text = String::new();
    for i in 0..n {
        text += &format!("{}\t{}\n", labels[i % 3], review_with(&mut rng, words[i % 3]));
    }
    let path = dir.join("three.tsv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` polarity-labelled reviews as `label<TAB>text` lines.
pub fn write_reviews_tsv(dir: &Path, n: usize) -> PathBuf {
    let mut rng = Lcg::new(7);
    let mut text = String::new();
    for i in 0..n {
        let pos = i % 2 == 0;
        text += &format!("{}\t{}\n", u8::from(pos), review(&mut rng, pos));
    }
    let path = dir.join("reviews.tsv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `n` star-rated reviews (1–5; 4 and 5 use positive words).
pub fn write_ratings_tsv(dir: &Path, n: usize) -> PathBuf {
    let mut rng = Lcg::new(11);
    let mut text = String::new();
    for i in 0..n {
        let stars = i % 5 + 1;
        text += &format!("{stars}\t{}\n", review(&mut rng, stars >= 4));
    }
    let path = dir.join("ratings.tsv");
    std::fs::write(&path, text).unwrap();
    path
}

/// A `processed_acl` domain folder with `n` reviews per polarity.
pub fn write_acl_dir(dir: &Path, n: usize) -> PathBuf {
    let domain = dir.join("books");
    std::fs::create_dir_all(&domain).unwrap();
    let mut rng = Lcg::new(3);
    for (file, pos) in [("positive.review", true), ("negative.review", false)] {
        let mut text = String::new();
        for _ in 0..n {
            let r = review(&mut rng, pos);
            let items: Vec<String> = r.split(' ').map(|w| format!("{w}:1")).collect();
            text += &format!("{} #label#:{}\n", items.join(" "), if pos { "positive" } else { "negative" });
        }
        std::fs::write(domain.join(file), text).unwrap();
    }
    domain
}

fn idx_bytes(magic: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 0x08, magic];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

/// `n` images of `side × side` pixels, three classes drawn as a bright row, column or diagonal.
pub fn images(n: usize, side: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Lcg::new(seed);
    let mut pixels = vec![0u8; n * side * side];
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 3) as u8;
        let img = &mut pixels[i * side * side..(i + 1) * side * side];
        let k = rng.below(side as u64) as usize;
        for t in 0..side {
            let (r, c) = match class {
                0 => (k, t),
                1 => (t, k),
                _ => (t, t),
            };
            img[r * side + c] = 200 + rng.below(56) as u8;
        }
        labels.push(class);
    }
    (pixels, labels)
}

/// Writes an IDX image file of `n` images.
pub fn write_idx_images(path: &Path, n: usize, side: usize, seed: u64) {
    let (pixels, _) = images(n, side, seed);
    std::fs::write(path, idx_bytes(3, &[n as u32, side as u32, side as u32], &pixels)).unwrap();
}

/// An MNIST-style folder (`train-images-idx3-ubyte`, …, the images `gz`-compressed to exercise
/// that path) with `train` and `test` images of `side × side` pixels in three classes.
pub fn write_idx_dir(dir: &Path, train: usize, test: usize, side: usize) -> PathBuf {
    let d = dir.join("idx");
    std::fs::create_dir_all(&d).unwrap();
    for (stem, n, seed) in [("train", train, 1), ("t10k", test, 2)] {
        let (pixels, labels) = images(n, side, seed);
        let img = idx_bytes(3, &[n as u32, side as u32, side as u32], &pixels);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&img).unwrap();
        std::fs::write(d.join(format!("{stem}-images-idx3-ubyte.gz")), gz.finish().unwrap()).unwrap();
        std::fs::write(d.join(format!("{stem}-labels-idx1-ubyte")), idx_bytes(1, &[n as u32], &labels)).unwrap();
    }
    d
}

/// Parses an SVG file as XML and returns the number of elements named `tag`.
pub fn svg_elements(path: &Path, tag: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not well-formed XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg", "{}", path.display());
    doc.descendants().filter(|n| n.tag_name().name() == tag).count()
}

/// All the text inside an SVG's `<text>` elements.
pub fn svg_text(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    doc.descendants().filter(|n| n.tag_name().name() == "text").filter_map(|n| n.text()).collect::<Vec<_>>().join(" ")
}

/// The JSON file at `path`.
pub fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Asserts a failed run: exit code 2, no panic, and a message containing every `needle`.
pub fn assert_usage_error(a: assert_cmd::assert::Assert, needles: &[&str]) {
    let out = a.get_output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "expected exit code 2, stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "stderr does not mention `{n}`: {stderr}");
    }
}
