//! Opening plain or gzip-compressed inputs, and reading header-sized payloads from them without
//! trusting the header.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use crate::error::{DataError, Result};

/// The two bytes every gzip member starts with.
pub(crate) const GZ_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Payloads (decompressed) larger than this are refused before any allocation, whatever the
/// header says: no dataset this crate reads comes close (full MNIST is 47 MB, a CIFAR-10 batch
/// 31 MB, the largest small NORB file 448 MB), and a few-kilobyte gzip bomb must not be able to
/// claim gigabytes.
pub(crate) const MAX_PAYLOAD: u64 = 1 << 30;

/// The largest `f32` feature matrix (in bytes) built from one file or one set of files. Byte
/// pixels grow fourfold when converted, so this is checked separately from [`MAX_PAYLOAD`]; it
/// is large enough for full-resolution small NORB (24,300 pairs × 18,432 pixels × 4 bytes ≈
/// 1.8 GB), the largest matrix any loader here builds.
pub(crate) const MAX_F32_BYTES: u64 = 2 << 30;

/// The longest text line accepted (16 MiB): far beyond any review, but a bound, so a binary or
/// newline-free file cannot make a reader buffer the whole input as one line.
pub(crate) const MAX_LINE: usize = 16 << 20;

/// The most text (bytes of non-blank lines) one review file may hold: 1 GiB, a hundred times the
/// largest review corpus the paper used, so a small gzip of gigabytes of text is refused while it
/// is read instead of filling memory.
pub(crate) const MAX_TEXT_BYTES: u64 = 1 << 30;

/// [`MAX_TEXT_BYTES`] (lowered by unit tests).
pub(crate) fn text_limit() -> u64 {
    #[cfg(test)]
    let limit = TEST_MAX_TEXT_BYTES.with(|c| c.get()).unwrap_or(MAX_TEXT_BYTES);
    #[cfg(not(test))]
    let limit = MAX_TEXT_BYTES;
    limit
}

#[cfg(test)]
thread_local! {
    /// Lets unit tests lower [`MAX_TEXT_BYTES`].
    pub(crate) static TEST_MAX_TEXT_BYTES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// The UTF-8 byte order mark some editors put at the start of text files.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

#[cfg(test)]
thread_local! {
    /// Lets unit tests lower [`MAX_F32_BYTES`] so the check can be exercised on tiny fixtures.
    pub(crate) static TEST_MAX_F32_BYTES: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}

/// [`MAX_F32_BYTES`] (lowered by unit tests).
pub(crate) fn f32_limit() -> u64 {
    #[cfg(test)]
    let limit = TEST_MAX_F32_BYTES.with(|c| c.get()).unwrap_or(MAX_F32_BYTES);
    #[cfg(not(test))]
    let limit = MAX_F32_BYTES;
    limit
}

/// Checks that `elements` `f32` values (the features of `what`) stay within [`MAX_F32_BYTES`]
/// before they are allocated.
pub(crate) fn check_f32_len(path: &Path, elements: u64, what: &str) -> Result<()> {
    check_f32_within(path, elements, what, f32_limit())
}

/// As [`check_f32_len`] against `limit` bytes: what is left of a dataset's budget when several
/// files share it.
pub(crate) fn check_f32_within(path: &Path, elements: u64, what: &str, limit: u64) -> Result<()> {
    let bytes = elements.saturating_mul(4);
    if bytes > limit {
        return Err(DataError::TooLarge { path: path.to_path_buf(), what: format!("{elements} f32 values of {what}"), bytes, limit });
    }
    Ok(())
}

/// The largest buffer reserved up front for a gzip payload whose real length is unknown; the
/// buffer then grows only as decompressed bytes actually arrive.
const MAX_RESERVE: u64 = 64 << 20;

/// DEFLATE's largest expansion: a gzip stream of `n` bytes decompresses to at most `1032·n`.
const GZIP_MAX_RATIO: u64 = 1032;

/// A byte source that knows whether it is compressed and, if not, how long it is.
pub(crate) struct Source<'a> {
    pub(crate) reader: Box<dyn BufRead + 'a>,
    /// The exact number of bytes for an uncompressed source; `None` for gzip, whose decompressed
    /// length is only known once read.
    pub(crate) len: Option<u64>,
    /// Bytes consumed so far (decompressed bytes for gzip).
    pub(crate) pos: u64,
    /// The most bytes the source can hold: its length, or for gzip [`GZIP_MAX_RATIO`] times the
    /// compressed length. Buffers reserved up front never exceed it, so a tiny file whose header
    /// claims a large payload gets a tiny buffer.
    pub(crate) max_len: u64,
}

/// Opens `path`, transparently decompressing it when it starts with the gzip magic (whatever its
/// extension).
pub(crate) fn open(path: &Path) -> Result<Source<'static>> {
    let file = File::open(path).map_err(|e| DataError::io(path, "open", e))?;
    let len = file.metadata().map_err(|e| DataError::io(path, "stat", e))?.len();
    let mut reader = BufReader::new(file);
    let head = reader.fill_buf().map_err(|e| DataError::io(path, "read", e))?;
    if head.starts_with(&GZ_MAGIC) {
        let max_len = len.saturating_mul(GZIP_MAX_RATIO);
        Ok(Source { reader: Box::new(BufReader::new(MultiGzDecoder::new(reader))), len: None, pos: 0, max_len })
    } else {
        Ok(Source { reader: Box::new(reader), len: Some(len), pos: 0, max_len: len })
    }
}

/// Wraps in-memory bytes (embedded data, fuzz inputs) the same way [`open`] wraps a file.
pub(crate) fn from_slice(bytes: &[u8]) -> Source<'_> {
    if bytes.starts_with(&GZ_MAGIC) {
        let max_len = (bytes.len() as u64).saturating_mul(GZIP_MAX_RATIO);
        Source { reader: Box::new(BufReader::new(MultiGzDecoder::new(bytes))), len: None, pos: 0, max_len }
    } else {
        Source { reader: Box::new(bytes), len: Some(bytes.len() as u64), pos: 0, max_len: bytes.len() as u64 }
    }
}

impl Source<'_> {
    /// The capacity to reserve for reading `n` announced bytes: never more than
    /// [`MAX_RESERVE`] nor than what is left of the source ([`Source::max_len`]), so a header's
    /// claim alone cannot cause a large allocation; reading grows the buffer as bytes arrive.
    fn reservation(&self, n: u64) -> usize {
        n.min(MAX_RESERVE).min(self.max_len.saturating_sub(self.pos)) as usize
    }

    /// Reads exactly `n` bytes (a header, or a block of a streamed payload), or reports where the
    /// input ended and what it was expected to hold. Reserves no more than the input can hold.
    pub(crate) fn header(&mut self, n: usize, path: &Path, what: &str) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(self.reservation(n as u64));
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
        self.check_known_length(len, path, what)?;
        let mut buf = Vec::with_capacity(self.reservation(len));
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
    /// When the input's length is known (plain files), checks that exactly `len` bytes follow the
    /// current position.
    pub(crate) fn check_known_length(&self, len: u64, path: &Path, what: &str) -> Result<()> {
        if let Some(total) = self.len {
            let available = total.saturating_sub(self.pos);
            if available != len {
                return Err(DataError::malformed(
                    path,
                    self.pos,
                    format!("{len} bytes of {what} after the header (as its dimensions say), but {available} bytes follow"),
                ));
            }
        }
        Ok(())
    }

    /// Like [`Source::payload`] but discards the bytes, only checking their number; used to verify
    /// large downloads without holding them in memory.
    pub(crate) fn skip_payload(&mut self, len: u64, path: &Path, what: &str) -> Result<()> {
        let start = self.pos;
        if self.len.is_some() {
            return self.check_known_length(len, path, what);
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

/// Reads a whole text input (plain or gzip) line by line, calling `f` with the 1-based line
/// number and the line without its terminator (`\n` or `\r\n`) and, on line 1, without a UTF-8
/// byte order mark.
///
/// # Errors
/// [`DataError::Parse`] for a line longer than [`MAX_LINE`] bytes; [`DataError::Io`]; and the
/// errors of `f`.
pub(crate) fn for_each_line(src: Source<'_>, path: &Path, f: impl FnMut(usize, &[u8]) -> Result<()>) -> Result<()> {
    for_each_line_capped(src, path, MAX_LINE, f)
}

/// [`for_each_line`] with the line length bound as a parameter (so tests need not write 16 MiB).
pub(crate) fn for_each_line_capped(
    mut src: Source<'_>,
    path: &Path,
    max_line: usize,
    mut f: impl FnMut(usize, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut buf = Vec::new();
    let mut line = 0usize;
    // The bound counts the terminating `\n`, so a line of exactly `max_line` bytes is accepted.
    let limit = max_line as u64 + 1;
    loop {
        buf.clear();
        let n = (&mut src.reader).take(limit).read_until(b'\n', &mut buf).map_err(|e| DataError::io(path, "read", e))?;
        if n == 0 {
            return Ok(());
        }
        line += 1;
        if n as u64 == limit && !buf.ends_with(b"\n") {
            return Err(DataError::parse(
                path,
                line,
                format!("a line of at most {max_line} bytes, but the line is longer (is this a text file?)"),
            ));
        }
        let mut s = buf.as_slice();
        if line == 1 {
            s = s.strip_prefix(UTF8_BOM).unwrap_or(s);
        }
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

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn lines_capped(path: &Path, max_line: usize) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for_each_line_capped(open(path)?, path, max_line, |n, l| {
            out.push(format!("{n}:{}", String::from_utf8_lossy(l)));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn long_line_without_newline_in_gzip_is_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("long.tsv.gz");
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"1\tshort\n").unwrap();
        gz.write_all(&vec![b'x'; 5_000]).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let e = lines_capped(&path, 100).unwrap_err().to_string();
        assert!(e.contains("long.tsv.gz") && e.contains("line 2") && e.contains("at most 100 bytes"), "{e}");
        // Lines up to the bound are accepted, with or without a final newline.
        std::fs::write(&path, [vec![b'a'; 100], b"\n".to_vec(), vec![b'b'; 100]].concat()).unwrap();
        let got = lines_capped(&path, 100).unwrap();
        assert_eq!(got, [format!("1:{}", "a".repeat(100)), format!("2:{}", "b".repeat(100))]);
        std::fs::write(&path, vec![b'a'; 101]).unwrap();
        assert!(lines_capped(&path, 100).is_err());
    }

    #[test]
    fn bom_is_stripped_on_line_one_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bom.txt");
        std::fs::write(&path, "\u{feff}first\r\n\u{feff}second\n").unwrap();
        assert_eq!(lines_capped(&path, MAX_LINE).unwrap(), ["1:first", "2:\u{feff}second"]);
    }

    #[test]
    fn f32_limit_names_the_file_and_sizes() {
        let p = Path::new("images.gz");
        assert!(check_f32_len(p, MAX_F32_BYTES / 4, "x").is_ok());
        let e = check_f32_len(p, MAX_F32_BYTES / 4 + 1, "MNIST images").unwrap_err().to_string();
        assert!(e.contains("images.gz") && e.contains("MNIST images") && e.contains(&format!("at most {MAX_F32_BYTES}")), "{e}");
        assert!(check_f32_len(p, u64::MAX, "x").is_err(), "no overflow");
    }

    #[test]
    fn loaders_check_the_f32_limit_before_converting() {
        TEST_MAX_F32_BYTES.with(|c| c.set(Some(10_000)));
        // One CIFAR-10 record: 3,072 pixels = 12,288 bytes of f32.
        let rec = [vec![3u8], vec![5u8; 3072]].concat();
        let e = crate::cifar::parse_batch(&rec, Path::new("data_batch_1.bin")).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { bytes: 12_288, limit: 10_000, .. }), "{e}");
        // Four 28×28 MNIST images: 12,544 bytes of f32; two fit.
        let idx = |code: u8, dims: &[u8], payload: Vec<u8>| {
            let mut v = vec![0, 0, code, dims.len() as u8];
            for &d in dims {
                v.extend_from_slice(&u32::from(d).to_be_bytes());
            }
            v.extend(payload);
            v
        };
        let (ip, lp) = (Path::new("train-images"), Path::new("train-labels"));
        let load = |n: u8| {
            let images = crate::idx::parse_idx(&idx(8, &[n, 28, 28], vec![0; usize::from(n) * 784]), ip).unwrap();
            let labels = crate::idx::parse_idx(&idx(8, &[n], vec![0; usize::from(n)]), lp).unwrap();
            crate::mnist::from_arrays(images, ip, labels, lp, 65_536.0)
        };
        assert!(load(2).is_ok());
        let e = load(4).unwrap_err().to_string();
        assert!(e.contains("train-images") && e.contains("12544 bytes"), "{e}");
        // One NORB pair of 2 × 48 × 48 pixels: 18,432 bytes of f32 at full size; 4,608 downsampled.
        use crate::norb::{NorbArray, NorbDtype, from_arrays};
        let dat = NorbArray::from_parts(NorbDtype::U8, vec![1, 2, 48, 48], vec![0; 2 * 48 * 48]).unwrap();
        let cat = NorbArray::from_parts(NorbDtype::I32, vec![1], vec![0; 4]).unwrap();
        let (dp, cp) = (Path::new("x-dat.mat"), Path::new("x-cat.mat"));
        assert!(matches!(from_arrays(&dat, dp, &cat, cp, None), Err(DataError::TooLarge { bytes: 18_432, .. })));
        assert!(from_arrays(&dat, dp, &cat, cp, Some(24)).is_ok());
        TEST_MAX_F32_BYTES.with(|c| c.set(None));
    }

    #[test]
    fn cifar_batches_share_one_budget_and_a_bomb_is_stopped_before_it_is_decoded() {
        // Each batch: two records = 24,576 bytes of f32; a budget of 60,000 holds two batches.
        TEST_MAX_F32_BYTES.with(|c| c.set(Some(60_000)));
        let dir = tempfile::tempdir().unwrap();
        let batch = [vec![3u8], vec![5u8; 3072]].concat().repeat(2);
        for gzip in [false, true] {
            for k in 1..=5 {
                let bytes = if gzip {
                    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
                    e.write_all(&batch).unwrap();
                    e.finish().unwrap()
                } else {
                    batch.clone()
                };
                std::fs::write(dir.path().join(format!("data_batch_{k}.bin")), bytes).unwrap();
            }
            std::fs::write(dir.path().join("test_batch.bin"), &batch[..3073]).unwrap();
            let e = crate::cifar::load_dir(dir.path()).unwrap_err();
            match &e {
                DataError::TooLarge { path, limit, .. } => {
                    assert!(path.ends_with("data_batch_3.bin"), "the third batch goes past the budget: {e}");
                    assert_eq!(*limit, 60_000 - 2 * 24_576, "what the first two batches left: {e}");
                }
                other => panic!("expected TooLarge, got {other}"),
            }
        }
        TEST_MAX_F32_BYTES.with(|c| c.set(Some(200_000)));
        let tt = crate::cifar::load_dir(dir.path()).expect("five batches fit 200,000 bytes");
        assert_eq!((tt.train.len(), tt.test.len()), (10, 1));
        TEST_MAX_F32_BYTES.with(|c| c.set(None));
    }

    #[test]
    fn review_text_beyond_the_limit_is_refused_while_reading() {
        TEST_MAX_TEXT_BYTES.with(|c| c.set(Some(1_000)));
        let line = "1\tgood film ".to_owned() + &"x".repeat(90) + "\n";
        let ok = line.repeat(9);
        let path = Path::new("reviews.tsv");
        let targets = crate::text::Targets::Polarity;
        assert_eq!(crate::text::parse_tsv(ok.as_bytes(), path, targets).unwrap().len(), 9);
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(line.repeat(11).as_bytes()).unwrap();
        let e = crate::text::parse_tsv(&gz.finish().unwrap(), path, targets).unwrap_err();
        assert!(matches!(e, DataError::TooLarge { limit: 1_000, .. }) && e.to_string().contains("line 10"), "{e}");
        TEST_MAX_TEXT_BYTES.with(|c| c.set(None));
    }
}
