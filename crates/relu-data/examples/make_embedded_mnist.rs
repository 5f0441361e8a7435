//! Regenerates the embedded MNIST subset in `crates/relu-data/data/` from a full MNIST directory:
//! the first 20,000 training images and every fifth test image (2,000) with their labels,
//! unchanged, as gzip IDX files.
//!
//! ```text
//! cargo run -p relu-data --no-default-features --example make_embedded_mnist -- ../shared/data/mnist
//! ```
//! (`--no-default-features` so the example builds even before the files exist.)

use std::path::{Path, PathBuf};

use relu_data::DataError;
use relu_data::idx::{IdxArray, read_idx};

/// Writes the examples `0, step, 2·step, …` (`n` of them) of the IDX file `src` to `out`.
fn pick(src: &Path, n: usize, step: usize, out: &Path) -> Result<(), DataError> {
    let a = read_idx(src)?;
    let bytes = a.as_u8().ok_or_else(|| DataError::Inconsistent { what: format!("{}: expected unsigned bytes", src.display()) })?;
    let per: usize = a.dims()[1..].iter().product();
    if a.dims()[0] < (n - 1) * step + 1 {
        return Err(DataError::Inconsistent { what: format!("{}: fewer than {} examples", src.display(), (n - 1) * step + 1) });
    }
    let mut dims = a.dims().to_vec();
    dims[0] = n;
    let picked: Vec<u8> = (0..n).flat_map(|i| bytes[i * step * per..(i * step + 1) * per].iter().copied()).collect();
    IdxArray::from_u8(dims, picked)?.write(out, true)?;
    println!("{} ({} bytes)", out.display(), std::fs::metadata(out).map(|m| m.len()).unwrap_or(0));
    Ok(())
}

fn main() -> Result<(), DataError> {
    let src = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/data/mnist".into()));
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
    let [tri, trl, tei, tel] = relu_data::mnist::files(&src)?;
    pick(&tri, 20_000, 1, &out.join("train-images-idx3-ubyte-20k.gz"))?;
    pick(&trl, 20_000, 1, &out.join("train-labels-idx1-ubyte-20k.gz"))?;
    pick(&tei, 2_000, 5, &out.join("t10k-images-idx3-ubyte-every5th.gz"))?;
    pick(&tel, 2_000, 5, &out.join("t10k-labels-idx1-ubyte-every5th.gz"))?;
    Ok(())
}
