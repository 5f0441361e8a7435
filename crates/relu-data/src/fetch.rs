//! Downloading datasets into a local cache, verified against checksums written in this file.
//!
//! Files go to `$RELU_DATA/<dataset>/` or, if `RELU_DATA` is unset, to the user cache directory
//! (`~/.cache/relu/<dataset>/` on Linux). A download is written to `<name>.part`, resumed with an
//! HTTP `Range` request when a partial file is left from an interrupted run, verified, and only
//! then atomically renamed to `<name>`; a file that fails verification is deleted, so a bad
//! download never leaves a file behind. Each file has a list of mirrors tried in order, and when
//! all fail the error lists every URL with its reason (a machine without network gets "cannot
//! connect" for each).
//!
//! Checksums: MNIST's four `.gz` files and the CIFAR-10 binary tarball have their widely published
//! MD5 sums; the six small NORB `.mat.gz` files have the SHA-256 sums of the compressed files
//! recorded by TensorFlow Datasets (its `smallnorb` checksum list). No checksum in this file is
//! made up.
//!
//! Every file also has an upper bound on its download size, well above its real size, so a
//! broken or hostile mirror cannot fill the disk: a response announcing more is refused, and a
//! body that runs past the bound is cut off and deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// How a downloaded file is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// The lower-case hex MD5 of the file.
    Md5(String),
    /// The lower-case hex SHA-256 of the file.
    Sha256(String),
    /// No checksum: the file must parse as a (possibly gzip) NORB binary matrix. For NORB files
    /// from other sources (e.g. a mirror holding other versions); [`Known::SmallNorb`] uses
    /// [`Verify::Sha256`].
    NorbFormat,
}

/// The download size bound of a [`FileSpec::new`] (1 GiB).
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

/// One file to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// The local file name.
    pub name: String,
    /// Full URLs, tried in order.
    pub urls: Vec<String>,
    /// How the bytes are verified.
    pub verify: Verify,
    /// The most bytes the file may have: a server announcing or sending more is cut off and the
    /// partial file deleted. An upper bound, not the exact size.
    pub max_bytes: u64,
}

impl FileSpec {
    /// A file with the default size bound [`DEFAULT_MAX_BYTES`].
    pub fn new(name: impl Into<String>, urls: Vec<String>, verify: Verify) -> Self {
        Self { name: name.into(), urls, verify, max_bytes: DEFAULT_MAX_BYTES }
    }

    /// Sets the size bound. Default [`DEFAULT_MAX_BYTES`].
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

/// A dataset `fetch` knows how to download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// MNIST: the four `.gz` IDX files, loadable with [`crate::mnist::load_dir`].
    Mnist,
    /// CIFAR-10 binary version: the tarball, unpacked for [`crate::cifar::load_dir`].
    Cifar10,
    /// small NORB: the six `.mat.gz` files, loadable with [`crate::norb::load_part`].
    SmallNorb,
}

const MNIST_BASES: &[&str] = &[
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
];
const MNIST_FILES: &[(&str, &str)] = &[
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
];
const CIFAR_BASES: &[&str] = &["https://www.cs.toronto.edu/~kriz/"];
/// Download bound for each MNIST file (the largest is 9.9 MB).
const MNIST_MAX_BYTES: u64 = 64 << 20;
const CIFAR_FILE: (&str, &str) = ("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530");
/// Download bound for the CIFAR-10 tarball (170 MB).
const CIFAR_MAX_BYTES: u64 = 256 << 20;
/// The folder the CIFAR-10 binary tarball unpacks to.
const CIFAR_TOP: &str = "cifar-10-batches-bin";
const NORB_BASES: &[&str] = &["https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/", "http://www.cs.nyu.edu/~ylclab/data/norb-v1.0-small/"];
/// The small NORB files with the SHA-256 of each **`.gz` file as downloaded** (not of the
/// decompressed matrix), as recorded in TensorFlow Datasets' checksum list for `smallnorb`.
const NORB_FILES: &[(&str, &str)] = &[
    ("smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz", "5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873"),
    ("smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat.gz", "2784e542c1922060691090952b6cd6278879a216c90f81476f0f00256d42cdaa"),
    ("smallnorb-5x46789x9x18x6x2x96x96-training-info.mat.gz", "de7eb932ebe7a4ee16217fead60660d0eb3d23632c2f4d1c51f88c501c17bf32"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat.gz", "cf7104eed3e51174d2f65b66d1e5878b9da233b886f161b0d88f4510ba2c7474"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat.gz", "ecaf6d5bb8c3bc5eab9cf0258f6d2198dd474e016e374836fc097f2e5ff509ff"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat.gz", "16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2"),
];
/// Download bound for each small NORB file: a gzip file is at most a few bytes longer than its
/// content, and the largest decompressed file (the image pairs) is 448 MB.
const NORB_MAX_BYTES: u64 = 512 << 20;

impl Known {
    /// The dataset's folder name under the data directory.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Mnist => "mnist",
            Self::Cifar10 => "cifar10",
            Self::SmallNorb => "smallnorb",
        }
    }

    /// The official base URL and mirrors, in the order tried.
    pub fn default_bases(self) -> &'static [&'static str] {
        match self {
            Self::Mnist => MNIST_BASES,
            Self::Cifar10 => CIFAR_BASES,
            Self::SmallNorb => NORB_BASES,
        }
    }

    /// The files of the dataset, each with one URL per base (`base` + file name).
    pub fn files<S: AsRef<str>>(self, bases: &[S]) -> Vec<FileSpec> {
        let spec = |name: &str, verify: Verify, max_bytes: u64| {
            let urls = bases.iter().map(|b| format!("{}/{name}", b.as_ref().trim_end_matches('/'))).collect();
            FileSpec::new(name, urls, verify).with_max_bytes(max_bytes)
        };
        match self {
            Self::Mnist => MNIST_FILES.iter().map(|(n, md5)| spec(n, Verify::Md5((*md5).into()), MNIST_MAX_BYTES)).collect(),
            Self::Cifar10 => vec![spec(CIFAR_FILE.0, Verify::Md5(CIFAR_FILE.1.into()), CIFAR_MAX_BYTES)],
            Self::SmallNorb => NORB_FILES.iter().map(|(n, sha)| spec(n, Verify::Sha256((*sha).into()), NORB_MAX_BYTES)).collect(),
        }
    }
}

impl std::str::FromStr for Known {
    type Err = DataError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Ok(Self::Mnist),
            "cifar10" | "cifar-10" => Ok(Self::Cifar10),
            "smallnorb" | "small-norb" | "norb" => Ok(Self::SmallNorb),
            _ => Err(DataError::InvalidParameter { name: "dataset", value: s.into(), expected: "mnist, cifar10 or smallnorb".into() }),
        }
    }
}

/// The data directory: `$RELU_DATA` if set, else `relu` in the user cache directory.
///
/// # Errors
/// [`DataError::InvalidParameter`] if `RELU_DATA` is unset and the platform has no cache directory.
pub fn data_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("RELU_DATA").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    dirs::cache_dir().map(|d| d.join("relu")).ok_or_else(|| DataError::InvalidParameter {
        name: "data directory",
        value: "(none)".into(),
        expected: "RELU_DATA to be set, as this platform has no user cache directory".into(),
    })
}

/// Downloads and verifies dataset files.
#[derive(Debug)]
pub struct Fetcher {
    root: PathBuf,
    bases: Option<Vec<String>>,
    agent: ureq::Agent,
}

impl Fetcher {
    /// A fetcher storing datasets under `root/<dataset>/`, with the official URLs, a 15 s connect
    /// timeout and a 60 s read timeout.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into(), bases: None, agent: agent(Duration::from_secs(15)) }
    }

    /// A fetcher storing datasets under [`data_dir`].
    ///
    /// # Errors
    /// As [`data_dir`].
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(data_dir()?))
    }

    /// Replaces the official base URLs and mirrors of every dataset (e.g. a local mirror, or a
    /// test server). Default: [`Known::default_bases`].
    pub fn with_base_urls(mut self, bases: Vec<String>) -> Self {
        self.bases = Some(bases);
        self
    }

    /// Sets the connect timeout. Default 15 s.
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.agent = agent(t);
        self
    }

    /// The folder a dataset is stored in.
    pub fn dataset_dir(&self, ds: Known) -> PathBuf {
        self.root.join(ds.dir_name())
    }

    /// Downloads (or finds already verified) every file of `ds`, unpacks the CIFAR-10 tarball,
    /// and returns the folder to hand to the dataset's loader.
    ///
    /// # Errors
    /// As [`Fetcher::fetch_file`], and [`DataError::Io`] when unpacking fails.
    pub fn fetch(&self, ds: Known) -> Result<PathBuf> {
        let dir = self.dataset_dir(ds);
        let files = match &self.bases {
            Some(b) => ds.files(b),
            None => ds.files(ds.default_bases()),
        };
        for f in &files {
            let path = self.fetch_file(&dir, f)?;
            // The folder only ever appears complete (see `unpack_tar_gz`), so its presence means
            // a finished earlier unpacking.
            if ds == Known::Cifar10 && !dir.join(CIFAR_TOP).join("test_batch.bin").is_file() {
                unpack_tar_gz(&path, &dir, CIFAR_TOP)?;
            }
        }
        Ok(dir)
    }

    /// Makes `dir/<spec.name>` a verified copy of the file: keeps an existing file that verifies,
    /// otherwise downloads into `<name>.part` (resuming a partial one), verifies, and renames.
    ///
    /// # Errors
    /// [`DataError::Checksum`] when every URL delivered bytes that failed verification (nothing is
    /// left on disk); [`DataError::Download`] listing each URL and its failure otherwise (e.g.
    /// "cannot connect" when offline); [`DataError::Io`] for local file-system failures.
    pub fn fetch_file(&self, dir: &Path, spec: &FileSpec) -> Result<PathBuf> {
        // The folders this call creates, deepest first.
        let created: Vec<&Path> = dir.ancestors().take_while(|p| !p.as_os_str().is_empty() && !p.exists()).collect();
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, "create directory", e))?;
        let result = self.fetch_into(dir, spec);
        if result.is_err() {
            // A failed first download leaves no empty cache folders behind (remove_dir only
            // removes empty ones; a resumable `.part` file keeps its folder).
            for p in created {
                let _ = fs::remove_dir(p);
            }
        }
        result
    }

    fn fetch_into(&self, dir: &Path, spec: &FileSpec) -> Result<PathBuf> {
        let target = dir.join(&spec.name);
        if target.is_file() {
            match verify(&target, &spec.verify) {
                Ok(()) => return Ok(target),
                // A corrupt cached copy is replaced rather than trusted.
                Err(_) => fs::remove_file(&target).map_err(|e| DataError::io(&target, "remove", e))?,
            }
        }
        let part = dir.join(format!("{}.part", spec.name));
        let mut attempts = Vec::new();
        let mut last_checksum = None;
        let mut checksum_failures = 0;
        for url in &spec.urls {
            if let Err(reason) = self.download(url, &part, spec.max_bytes) {
                attempts.push(format!("{url}: {reason}"));
                continue;
            }
            match verify(&part, &spec.verify) {
                Ok(()) => {
                    fs::rename(&part, &target).map_err(|e| DataError::io(&target, "rename", e))?;
                    return Ok(target);
                }
                Err(e) => {
                    fs::remove_file(&part).map_err(|e| DataError::io(&part, "remove", e))?;
                    attempts.push(format!("{url}: {e}"));
                    if let DataError::Checksum { algorithm, expected, actual, .. } = e {
                        checksum_failures += 1;
                        last_checksum = Some(DataError::Checksum { path: PathBuf::from(url), algorithm, expected, actual });
                    }
                }
            }
        }
        match last_checksum {
            Some(e) if checksum_failures == attempts.len() => Err(e),
            _ => Err(DataError::Download { name: spec.name.clone(), attempts }),
        }
    }

    /// Downloads `url` into `part`, resuming from its current length, keeping the file at most
    /// `max_bytes` long; returns a reason on failure. An interrupted transfer keeps the partial
    /// file for resuming; one that breaks the size bound deletes it.
    fn download(&self, url: &str, part: &Path, max_bytes: u64) -> std::result::Result<(), String> {
        let mut offset = fs::metadata(part).map(|m| m.len()).unwrap_or(0);
        let too_large = |what: String| {
            // Best effort: the error below is what matters, and a leftover `.part` would only be
            // resumed from and cut off again.
            let _ = fs::remove_file(part);
            format!("{what}, more than the at most {max_bytes} bytes expected for this file (download discarded)")
        };
        if offset > max_bytes {
            fs::remove_file(part).map_err(|e| format!("cannot remove {}: {e}", part.display()))?;
            offset = 0;
        }
        for _ in 0..2 {
            let mut req = self.agent.get(url);
            if offset > 0 {
                req = req.set("Range", &format!("bytes={offset}-"));
            }
            let resp = match req.call() {
                Ok(r) => r,
                Err(ureq::Error::Status(416, _)) if offset > 0 => {
                    // The partial file is no prefix the server recognises: start over.
                    fs::remove_file(part).map_err(|e| format!("cannot remove {}: {e}", part.display()))?;
                    offset = 0;
                    continue;
                }
                Err(ureq::Error::Status(code, r)) => return Err(format!("HTTP status {code} {}", r.status_text())),
                Err(ureq::Error::Transport(t)) => return Err(format!("cannot connect (offline or host unreachable?): {t}")),
            };
            let append = offset > 0 && resp.status() == 206;
            let start = if append { offset } else { 0 };
            if let Some(len) = resp.header("Content-Length").and_then(|v| v.trim().parse::<u64>().ok())
                && start.saturating_add(len) > max_bytes
            {
                return Err(too_large(format!("the server announces {} bytes", start.saturating_add(len))));
            }
            let mut file = OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(part)
                .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
            // One byte more than allowed, to tell "exactly at the bound" from "past it".
            let mut body = resp.into_reader().take((max_bytes - start).saturating_add(1));
            let got = io::copy(&mut body, &mut file).map_err(|e| format!("download interrupted (partial file kept for resuming): {e}"))?;
            file.flush().and_then(|()| file.sync_all()).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
            if got > max_bytes - start {
                drop(file);
                return Err(too_large("the server sent more".into()));
            }
            return Ok(());
        }
        Err("the server rejected resuming twice".into())
    }
}

/// Unpacks the gzip-compressed tar archive `archive` into `dir`, where its top-level folder
/// `top` appears complete or not at all: the archive is unpacked into a temporary folder
/// `dir/.<top>.unpacking` (removed first if an earlier run left it), checked to contain `top`,
/// and only then renamed to `dir/top`, replacing any earlier `dir/top`. An interrupted or failed
/// unpacking therefore never leaves a partial `dir/top` that a later run would take as done.
/// Returns `dir/top`.
///
/// # Errors
/// [`DataError::Io`] naming the archive when it cannot be read or unpacked (e.g. truncated), or
/// the folder that cannot be created, removed or renamed; [`DataError::Malformed`] if the archive
/// has no folder `top`. The temporary folder is removed in both cases.
pub fn unpack_tar_gz(archive: &Path, dir: &Path, top: &str) -> Result<PathBuf> {
    let tmp = dir.join(format!(".{top}.unpacking"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| DataError::io(&tmp, "remove", e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| DataError::io(&tmp, "create directory", e))?;
    let unpacked = (|| {
        let file = File::open(archive).map_err(|e| DataError::io(archive, "open", e))?;
        let gz = flate2::read::GzDecoder::new(io::BufReader::new(file));
        tar::Archive::new(gz).unpack(&tmp).map_err(|e| DataError::io(archive, "unpack", e))?;
        let src = tmp.join(top);
        if !src.is_dir() {
            return Err(DataError::malformed(archive, 0, format!("a tar archive holding the folder {top}")));
        }
        let dest = dir.join(top);
        if dest.exists() {
            fs::remove_dir_all(&dest).map_err(|e| DataError::io(&dest, "remove", e))?;
        }
        fs::rename(&src, &dest).map_err(|e| DataError::io(&dest, "rename", e))?;
        Ok(dest)
    })();
    let cleaned = fs::remove_dir_all(&tmp).map_err(|e| DataError::io(&tmp, "remove", e));
    let dest = unpacked?;
    cleaned?;
    Ok(dest)
}

fn agent(connect: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new().timeout_connect(connect).timeout_read(Duration::from_secs(60)).build()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn digest<D: Digest>(path: &Path) -> Result<String> {
    let mut file = File::open(path).map_err(|e| DataError::io(path, "open", e))?;
    let mut hasher = D::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, "read", e))?;
        if n == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// Checks a file against `how`.
///
/// # Errors
/// [`DataError::Checksum`] on a mismatch; the parser's error for [`Verify::NorbFormat`];
/// [`DataError::Io`] if the file cannot be read.
pub fn verify(path: &Path, how: &Verify) -> Result<()> {
    let (algorithm, expected, actual) = match how {
        Verify::Md5(e) => ("md5", e, digest::<Md5>(path)?),
        Verify::Sha256(e) => ("sha256", e, digest::<Sha256>(path)?),
        Verify::NorbFormat => return crate::norb::check_file(path),
    };
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::Checksum { path: path.to_path_buf(), algorithm, expected: expected.clone(), actual })
    }
}
