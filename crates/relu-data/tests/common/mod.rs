//! Fixture writers shared by this crate's integration tests.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

/// The dense pixels of a loaded set.
pub fn pixels(d: &relu_data::Dataset) -> &nalgebra::DMatrix<f32> {
    d.inputs.as_dense().expect("image sets are dense")
}

/// The class labels of a loaded set.
pub fn labels(d: &relu_data::Dataset) -> &[u32] {
    d.targets.classes().expect("class targets")
}

/// Gzip-compresses bytes.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX file: magic, dims (big-endian), then `payload` as given.
pub fn idx_bytes(code: u8, dims: &[u32], payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// A NORB binary matrix: magic, rank, max(rank, 3) dims (little-endian), then `payload`.
pub fn norb_bytes(magic: u32, dims: &[i32], payload: &[u8]) -> Vec<u8> {
    let mut v = magic.to_le_bytes().to_vec();
    v.extend_from_slice(&(dims.len() as i32).to_le_bytes());
    for i in 0..dims.len().max(3) {
        v.extend_from_slice(&dims.get(i).copied().unwrap_or(1).to_le_bytes());
    }
    v.extend_from_slice(payload);
    v
}

/// Writes `bytes` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `n` deterministic 28×28 byte images: pixel `k` of image `i` is `(i·7 + k) mod 256`.
pub fn mnist_images(n: usize) -> Vec<u8> {
    (0..n * 784).map(|j| ((j / 784) * 7 + j % 784) as u8).collect()
}

/// The environment variable that turns "real data absent, test skipped" into a test failure, for
/// machines (CI) that are meant to have `../shared/data`.
pub const REQUIRE_SHARED_DATA: &str = "RELU_REQUIRE_SHARED_DATA";

/// `../shared/data/<sub>` (from the repository root) if it is a directory. When it is absent the
/// calling test should skip, unless `RELU_REQUIRE_SHARED_DATA=1`, in which case this panics so a
/// machine that should have the data cannot pass by skipping.
///
/// # Panics
/// If the folder is absent and `RELU_REQUIRE_SHARED_DATA=1`.
#[track_caller]
pub fn shared_data(sub: &str) -> Option<PathBuf> {
    let required = std::env::var(REQUIRE_SHARED_DATA).is_ok_and(|v| v == "1");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    match locate_shared(&root, sub, required) {
        Ok(found) => {
            if found.is_none() {
                // Straight to the process's stderr: eprintln! is captured and hidden for passing
                // tests, and a skip must show in `cargo test`'s output.
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED real-data test: {} is absent (set {REQUIRE_SHARED_DATA}=1 to fail instead)",
                    root.join(sub).display()
                );
            }
            found
        }
        Err(e) => panic!("{e}"),
    }
}

/// `root/sub` if it is a directory; otherwise `Ok(None)`, or an error when the data is required.
pub fn locate_shared(root: &Path, sub: &str, required: bool) -> Result<Option<PathBuf>, String> {
    let p = root.join(sub);
    if p.is_dir() {
        Ok(Some(p))
    } else if required {
        Err(format!("{} is absent but {REQUIRE_SHARED_DATA}=1 requires the real data", p.display()))
    } else {
        Ok(None)
    }
}
