//! The crate's one error type.

use std::path::{Path, PathBuf};

/// Everything in `relu-data` that can fail on outside input (files, downloads, parameters)
/// reports one of these. Every message names the file (or URL), the byte offset or line where
/// the problem was found, and what was expected there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The operating system refused to read or write a file.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// What was being done (`open`, `read`, `write`, `rename`, …).
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A binary file whose bytes do not match its format.
    #[error("{}: at byte offset {offset}: expected {expected}", path.display())]
    Malformed {
        /// The file concerned (for gz files, offsets count decompressed bytes).
        path: PathBuf,
        /// Where the problem was found.
        offset: u64,
        /// What the format requires there.
        expected: String,
    },
    /// A text file with a line that cannot be parsed.
    #[error("{}: line {line}: expected {expected}", path.display())]
    Parse {
        /// The file concerned.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What the format requires on that line.
        expected: String,
    },
    /// None of the accepted file names exists in a dataset directory.
    #[error("{}: no file named {}", dir.display(), candidates.join(" or "))]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The names tried.
        candidates: Vec<String>,
    },
    /// Files of one dataset that disagree with each other (e.g. image and label counts).
    #[error("{what}")]
    Inconsistent {
        /// A full description naming both files.
        what: String,
    },
    /// A parameter outside its valid range.
    #[error("invalid {name} `{value}`: expected {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// The value as given.
        value: String,
        /// What would have been accepted.
        expected: String,
    },
    /// A download that failed on every URL tried.
    #[error("cannot download {name}; every URL failed (offline? copy the file into the data folder instead):\n  {}", attempts.join("\n  "))]
    Download {
        /// The file being downloaded.
        name: String,
        /// One `url: reason` entry per URL tried.
        attempts: Vec<String>,
    },
    /// A downloaded or cached file whose checksum is not the one written in the code.
    #[error("{}: {algorithm} checksum {actual} does not match the expected {expected}", path.display())]
    Checksum {
        /// The file (or URL) checked.
        path: PathBuf,
        /// `md5` or `sha256`.
        algorithm: &'static str,
        /// The checksum recorded in the code.
        expected: String,
        /// The checksum of the bytes received.
        actual: String,
    },
    /// An input that would need more memory than this crate allows for its kind (see the limits
    /// documented on the loaders), refused before allocating.
    #[error("{}: {what} would take {bytes} bytes, more than the limit of at most {limit} bytes", path.display())]
    TooLarge {
        /// The file concerned.
        path: PathBuf,
        /// What would have been allocated.
        what: String,
        /// The bytes it would take.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// An error from `relu-core` (e.g. building a sparse batch).
    #[error(transparent)]
    Core(#[from] relu_core::CoreError),
}

impl DataError {
    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> Self {
        Self::Io { path: path.to_path_buf(), op, source }
    }

    pub(crate) fn malformed(path: &Path, offset: u64, expected: impl Into<String>) -> Self {
        Self::Malformed { path: path.to_path_buf(), offset, expected: expected.into() }
    }

    pub(crate) fn parse(path: &Path, line: usize, expected: impl Into<String>) -> Self {
        Self::Parse { path: path.to_path_buf(), line, expected: expected.into() }
    }
}

/// The crate's result type.
pub type Result<T, E = DataError> = std::result::Result<T, E>;
