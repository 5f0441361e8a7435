//! Regenerates the embedded MNIST subset in `crates/relu-data/data/` from a full MNIST directory:
//! the first 10,000 training and first 2,000 test images and labels, unchanged, as gzip IDX files.
//!
//! ```text
//! cargo run -p relu-data --no-default-features --example make_embedded_mnist -- ../shared/data/mnist
//! ```
//! (`--no-default-features` so the example builds even before the files exist.)

use std::path::{Path, PathBuf};

use relu_data::DataError;
use relu_data::idx::{IdxArray, read_idx};

fn head(src: &Path, n: usize, out: &Path) -> Result<(), DataError> {
    let a = read_idx(src)?;
    let bytes = a.as_u8().ok_or_else(|| DataError::Inconsistent { what: format!("{}: expected unsigned bytes", src.display()) })?;
    let per: usize = a.dims()[1..].iter().product();
    let mut dims = a.dims().to_vec();
    dims[0] = n;
    IdxArray::from_u8(dims, bytes[..n * per].to_vec())?.write(out, true)?;
    println!("{} ({} bytes)", out.display(), std::fs::metadata(out).map(|m| m.len()).unwrap_or(0));
    Ok(())
}

fn main() -> Result<(), DataError> {
    let src = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/data/mnist".into()));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let [tri, trl, tei, tel] = relu_data::mnist::files(&src)?;
    head(&tri, 10_000, &out.join("train-images-idx3-ubyte-10k.gz"))?;
    head(&trl, 10_000, &out.join("train-labels-idx1-ubyte-10k.gz"))?;
    head(&tei, 2_000, &out.join("t10k-images-idx3-ubyte-2k.gz"))?;
    head(&tel, 2_000, &out.join("t10k-labels-idx1-ubyte-2k.gz"))?;
    Ok(())
}
