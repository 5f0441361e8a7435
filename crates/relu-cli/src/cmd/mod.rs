//! One module per subcommand.

pub mod data;
pub mod encode;
pub mod eval;
pub mod inspect;
pub mod predict;
pub mod pretrain;
pub mod reproduce;
pub mod sweep;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result, bail};
use relu_nn::checkpoint::{self, DirLock};

/// Takes the `--out` folder for this process before anything is written to it: locks it
/// (creating it if needed), so that a second `relu` writing there is refused with the owner's pid
/// instead of mixing its files with this one's; removes temporary files a killed run left; then
/// refuses a folder that already holds `finished` — a complete earlier run — with `what` it holds
/// and `hint` on what to do. The checks follow the lock, so a live run is always reported as busy.
pub(crate) fn claim_out(out: &Path, finished: &[&str], what: &str, hint: &str) -> Result<DirLock> {
    if out.exists() && !out.is_dir() {
        bail!("--out {}: exists and is not a folder", out.display());
    }
    let lock = DirLock::acquire(out).with_context(|| format!("--out {}", out.display()))?;
    checkpoint::remove_stale_temp_files(out).with_context(|| format!("--out {}", out.display()))?;
    if let Some(marker) = finished.iter().find(|m| out.join(m).exists()) {
        bail!("--out {}: the folder already holds {what} ({marker}); {hint}", out.display());
    }
    Ok(lock)
}
