//! Opening plain or gzip-compressed inputs, and reading header-sized payloads from them without
//! trusting the header.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with.
pub(crate) const GZ_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Payloads larger than this are refused before any allocation, whatever the header says: no
/// dataset this crate reads comes close (full MNIST is 47 MB, small NORB 448 MB per image file).
pub(crate) const MAX_PAYLOAD: u64 = 4 << 30;

/// The largest buffer reserved up front for a gzip payload whose real length is unknown; the
/// buffer then grows only as decompressed bytes actually arrive.
const MAX_RESERVE: u64 = 64 << 20;

/// A byte source that knows whether it is compressed and, if not, how long it is.
pub(crate) struct Source<'a> {
    pub(crate) reader: Box<dyn BufRead + 'a>,
    /// The exact number of bytes for an uncompressed source; `None` for gzip, whose decompressed
    /// length is only known once read.
    pub(crate) len: Option<u64>,
    /// Bytes consumed so far (decompressed bytes for gzip).
    pub(crate) pos: u64,
}

/// Opens `path`, transparently decompressing it when it starts with the gzip magic (whatever its
/// extension).
pub(crate) fn open(path: &Path) -> Result<Source<'static>> {
    let file = File::open(path).map_err(|e| DataError::io(path, "open", e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, "stat", e))?.len();
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| DataError::io(path, "read", e))?;
    if head.starts_with(&GZ_MAGIC) {
        Ok(Source { reader: Box::new(BufReader::new(MultiGzDecoder::new(reader))), len: None, pos: 0 })
    } else {
        Ok(Source { reader: Box::new(reader), len: Some(len), pos: 0 })
    }
}

/// Wraps in-memory bytes (embedded data, fuzz inputs) the same way [`open`] wraps a file.
pub(crate) fn from_slice(bytes: &[u8]) -> Source<'_> {
    if bytes.starts_with(&GZ_MAGIC) {
        Source { reader: Box::new(BufReader::new(MultiGzDecoder::new(bytes))), len: None, pos: 0 }
    } else {
        Source { reader: Box::new(bytes), len: Some(bytes.len() as u64), pos: 0 }
    }
}

impl Source<'_> {
    /// Reads exactly `n` header bytes (`n` is a small constant chosen by the caller), or reports
    /// where the input ended and what it was expected to hold.
    pub(crate) fn header(&mut self, n: usize, path: &Path, what: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(n);
        let got = (&mut self.reader).take(n as u64).read_to_end(&mut buf).map_err(|e| DataError::io(path, "read", e))?;
        let start = self.pos;
        self.pos += got as u64;
        if got < n {
            return Err(DataError::malformed(path, self.pos, format!("{n} bytes of {what} at offset {start}, but the input ends")));
        }
        Ok(buf)
    }

    /// Reads the `len`-byte payload announced by a header, checking `len` against the real input
    /// length (plain files) or reading through a bounded reader and verifying the count (gzip), so
    /// a lying header never causes a large allocation.
    pub(crate) fn payload(&mut self, len: u64, path: &Path, what: &str) -> Result<Vec<u8>> {
        let start = self.pos;
        if len > MAX_PAYLOAD {
            return Err(DataError::malformed(
                path,
                start,
                format!("a payload of at most {MAX_PAYLOAD} bytes, but the header announces {len} bytes of {what}"),
            ));
        }
        if let Some(total) = self.len {
            let available = total.saturating_sub(start);
            if available != len {
                return Err(DataError::malformed(
                    path,
                    start,
                    format!("{len} bytes of {what} after the header (as its dimensions say), but {available} bytes follow"),
                ));
            }
        }
        let mut buf = Vec::with_capacity(len.min(MAX_RESERVE) as usize);
        // One byte more than announced, to detect trailing data without reading it all.
        let got = (&mut self.reader).take(len + 1).read_to_end(&mut buf).map_err(|e| DataError::io(path, "read", e))? as u64;
        self.pos += got;
        if got < len {
            return Err(DataError::malformed(
                path,
                self.pos,
                format!("{len} bytes of {what} from offset {start} (as the header says), but the input ends after {got}"),
            ));
        }
        if got > len {
            return Err(DataError::malformed(
                path,
                start + len,
                format!("the end of the input after {len} bytes of {what}, but more data follows"),
            ));
        }
        Ok(buf)
    }
}

impl Source<'_> {
    /// Like [`Source::payload`] but discards the bytes, only checking their number; used to verify
    /// large downloads without holding them in memory.
    pub(crate) fn skip_payload(&mut self, len: u64, path: &Path, what: &str) -> Result<()> {
        let start = self.pos;
        if let Some(total) = self.len {
            let available = total.saturating_sub(start);
            if available != len {
                return Err(DataError::malformed(
                    path,
                    start,
                    format!("{len} bytes of {what} after the header (as its dimensions say), but {available} bytes follow"),
                ));
            }
            return Ok(());
        }
        let got = std::io::copy(&mut (&mut self.reader).take(len.saturating_add(1)), &mut std::io::sink())
            .map_err(|e| DataError::io(path, "read", e))?;
        self.pos += got;
        if got != len {
            return Err(DataError::malformed(
                path,
                self.pos,
                format!(
                    "exactly {len} bytes of {what} from offset {start} (as the header says), found {}",
                    if got > len { "more".to_string() } else { got.to_string() }
                ),
            ));
        }
        Ok(())
    }
}

/// Reads a whole text input (plain or gzip) into lines of bytes, calling `f` with the 1-based line
/// number and the line without its terminator (`\n` or `\r\n`).
pub(crate) fn for_each_line(mut src: Source<'_>, path: &Path, mut f: impl FnMut(usize, &[u8]) -> Result<()>) -> Result<()> {
    let mut buf = Vec::new();
    let mut line = 0usize;
    loop {
        buf.clear();
        let n = src.reader.read_until(b'\n', &mut buf).map_err(|e| DataError::io(path, "read", e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        let mut s = buf.as_slice();
        if let Some(rest) = s.strip_suffix(b"\n") {
            s = rest;
        }
        if let Some(rest) = s.strip_suffix(b"\r") {
            s = rest;
        }
        f(line, s)?;
    }
}

/// Decodes a line as UTF-8, naming the line and the byte column of the first invalid byte.
pub(crate) fn utf8<'a>(bytes: &'a [u8], path: &Path, line: usize) -> Result<&'a str> {
    std::str::from_utf8(bytes)
        .map_err(|e| DataError::parse(path, line, format!("valid UTF-8 text, but byte {} of the line is not", e.valid_up_to() + 1)))
}
