//! The IDX format of MNIST and its relatives (Fashion-MNIST, EMNIST, …): any rank, element types
//! 0x08–0x0E, big-endian, plain or gzip-compressed.
//!
//! Layout: two zero bytes, one type byte, one byte giving the rank `r`, then `r` big-endian `u32`
//! dimensions, then the elements in row-major order.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::error::{DataError, Result};
use crate::io::{self, Source};

/// The element type of an IDX file, from its third magic byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxDtype {
    /// 0x08: unsigned byte.
    U8,
    /// 0x09: signed byte.
    I8,
    /// 0x0B: big-endian `i16`.
    I16,
    /// 0x0C: big-endian `i32`.
    I32,
    /// 0x0D: big-endian `f32`.
    F32,
    /// 0x0E: big-endian `f64`.
    F64,
}

impl IdxDtype {
    /// The type for an IDX type code, if it is one of the six defined codes.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => Self::U8,
            0x09 => Self::I8,
            0x0B => Self::I16,
            0x0C => Self::I32,
            0x0D => Self::F32,
            0x0E => Self::F64,
            _ => return None,
        })
    }

    /// The IDX type code.
    pub fn code(self) -> u8 {
        match self {
            Self::U8 => 0x08,
            Self::I8 => 0x09,
            Self::I16 => 0x0B,
            Self::I32 => 0x0C,
            Self::F32 => 0x0D,
            Self::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 | Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }

    /// Whether the type holds integers.
    pub fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }
}

/// An n-dimensional IDX array: its element type, dimensions and raw (big-endian) element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    dtype: IdxDtype,
    dims: Vec<usize>,
    bytes: Vec<u8>,
}

impl IdxArray {
    /// An array of unsigned bytes (the MNIST element type).
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `data.len()` is not the product of `dims`, or a
    /// dimension does not fit the format's `u32`, or there are more than 255 dimensions.
    pub fn from_u8(dims: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let bad = |expected: String| DataError::InvalidParameter { name: "IDX dimensions", value: format!("{dims:?}"), expected };
        if dims.len() > 255 || dims.iter().any(|&d| u32::try_from(d).is_err()) {
            return Err(bad("at most 255 dimensions, each below 2^32".into()));
        }
        let n = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if n != Some(data.len()) {
            return Err(bad(format!("a product equal to the {} data bytes", data.len())));
        }
        Ok(Self { dtype: IdxDtype::U8, dims, bytes: data })
    }

    /// The element type.
    pub fn dtype(&self) -> IdxDtype {
        self.dtype
    }

    /// The dimensions, outermost first (`[n, 28, 28]` for MNIST images).
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.dtype.size()
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The elements as bytes, if the element type is [`IdxDtype::U8`].
    pub fn as_u8(&self) -> Option<&[u8]> {
        (self.dtype == IdxDtype::U8).then_some(self.bytes.as_slice())
    }

    /// Element `i` (row-major) as `f64`, which represents every IDX type exactly.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    #[track_caller]
    pub fn get(&self, i: usize) -> f64 {
        let s = self.dtype.size();
        let b = &self.bytes[i * s..(i + 1) * s];
        match self.dtype {
            IdxDtype::U8 => f64::from(b[0]),
            IdxDtype::I8 => f64::from(b[0] as i8),
            IdxDtype::I16 => f64::from(i16::from_be_bytes([b[0], b[1]])),
            IdxDtype::I32 => f64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            IdxDtype::F32 => f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])),
            IdxDtype::F64 => f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    /// All elements as `f32` in row-major order; bytes are divided by 255 when `unit_bytes` is
    /// set (pixels to `[0, 1]`), other types are converted as they are.
    pub fn to_f32(&self, unit_bytes: bool) -> Vec<f32> {
        match self.as_u8() {
            Some(b) if unit_bytes => b.iter().map(|&x| f32::from(x) / 255.0).collect(),
            Some(b) => b.iter().map(|&x| f32::from(x)).collect(),
            None => (0..self.len()).map(|i| self.get(i) as f32).collect(),
        }
    }

    /// Writes the array in IDX format, gzip-compressed (level 9, no timestamp, so the output is
    /// reproducible) when `gz` is set.
    ///
    /// # Errors
    /// [`DataError::Io`] if the file cannot be written.
    pub fn write(&self, path: &Path, gz: bool) -> Result<()> {
        let io_err = |e| DataError::io(path, "write", e);
        let file = File::create(path).map_err(|e| DataError::io(path, "create", e))?;
        let mut out: Box<dyn Write> =
            if gz { Box::new(GzEncoder::new(BufWriter::new(file), Compression::best())) } else { Box::new(BufWriter::new(file)) };
        // Dimensions were checked to fit u32 and the rank to fit u8 on construction.
        out.write_all(&[0, 0, self.dtype.code(), self.dims.len() as u8]).map_err(io_err)?;
        for &d in &self.dims {
            out.write_all(&(d as u32).to_be_bytes()).map_err(io_err)?;
        }
        out.write_all(&self.bytes).map_err(io_err)?;
        out.flush().map_err(io_err)?;
        Ok(())
    }
}

/// Reads an IDX file, plain or gzip-compressed (detected from its first bytes).
///
/// # Errors
/// [`DataError::Io`] if the file cannot be read; [`DataError::Malformed`] for a wrong magic
/// number, an unknown type code, or dimensions that disagree with the file's length.
pub fn read_idx(path: &Path) -> Result<IdxArray> {
    read_source(io::open(path)?, path)
}

/// Parses IDX bytes held in memory (plain or gzip); `source` names them in errors.
///
/// # Errors
/// As [`read_idx`].
pub fn parse_idx(bytes: &[u8], source: &Path) -> Result<IdxArray> {
    read_source(io::from_slice(bytes), source)
}

pub(crate) fn read_source(mut src: Source<'_>, path: &Path) -> Result<IdxArray> {
    let (dtype, dims, bytes) = read_header(&mut src, path)?;
    let data = src.payload(bytes, path, "IDX elements")?;
    Ok(IdxArray { dtype, dims, bytes: data })
}

/// Reads the magic number and dimensions; returns them with the payload's length in bytes.
fn read_header(src: &mut Source<'_>, path: &Path) -> Result<(IdxDtype, Vec<usize>, u64)> {
    let magic = src.header(4, path, "IDX magic number")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(DataError::malformed(
            path,
            0,
            format!("an IDX magic number starting with two zero bytes, found {:02x} {:02x} (not an IDX file)", magic[0], magic[1]),
        ));
    }
    let dtype = IdxDtype::from_code(magic[2]).ok_or_else(|| {
        DataError::malformed(path, 2, format!("an IDX type code 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E, found 0x{:02X}", magic[2]))
    })?;
    let rank = usize::from(magic[3]);
    let raw = src.header(4 * rank, path, "IDX dimensions")?;
    let dims: Vec<usize> = raw.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize).collect();
    let elements = dims.iter().try_fold(1u64, |a, &d| a.checked_mul(d as u64));
    let bytes = elements
        .and_then(|n| n.checked_mul(dtype.size() as u64))
        .ok_or_else(|| DataError::malformed(path, 4, format!("dimensions whose product fits in memory, found {dims:?}")))?;
    Ok((dtype, dims, bytes))
}

/// The most bytes one [`IdxChunks::next_chunk`] reads at a time.
const CHUNK_BYTES: u64 = 64 << 20;

/// An IDX file read a block of examples (its first dimension) at a time, so a pass over a file of
/// any size holds one block in memory, not the file ([`read_idx`] holds it all, up to 1 GiB).
/// The header is checked at [`read_idx_chunks`]; a file shorter than its header says is an
/// error at the block where it ends, a longer one after the last block.
pub struct IdxChunks {
    src: Source<'static>,
    path: std::path::PathBuf,
    dtype: IdxDtype,
    dims: Vec<usize>,
    /// Examples read so far.
    done: usize,
}

/// Opens an IDX file (plain or gzip) for reading in blocks of examples.
///
/// # Errors
/// As [`read_idx`] for the header; [`DataError::Malformed`] for a rank-0 file or a single
/// example larger than 1 GiB.
pub fn read_idx_chunks(path: &Path) -> Result<IdxChunks> {
    let mut src = io::open(path)?;
    let (dtype, dims, bytes) = read_header(&mut src, path)?;
    if dims.is_empty() {
        return Err(DataError::malformed(path, 3, "an array of rank at least 1 (examples first), found rank 0"));
    }
    let per = bytes.checked_div(dims[0] as u64).unwrap_or(0);
    if per > io::MAX_PAYLOAD {
        return Err(DataError::malformed(path, 4, format!("examples of at most {} bytes, found {per} bytes each", io::MAX_PAYLOAD)));
    }
    src.check_known_length(bytes, path, "IDX elements")?;
    Ok(IdxChunks { src, path: path.to_path_buf(), dtype, dims, done: 0 })
}

impl std::fmt::Debug for IdxChunks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxChunks")
            .field("path", &self.path)
            .field("dtype", &self.dtype)
            .field("dims", &self.dims)
            .field("done", &self.done)
            .finish()
    }
}

impl IdxChunks {
    /// The element type.
    pub fn dtype(&self) -> IdxDtype {
        self.dtype
    }

    /// The whole file's dimensions (examples first), as its header says.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    /// The next block of at most `n` examples (fewer if a block of `n` would exceed 64 MiB; at
    /// least one), as an array whose first dimension is the block's length; `None` after the
    /// last example.
    ///
    /// # Errors
    /// [`DataError::Io`]; [`DataError::Malformed`] if the input ends early or has bytes after the
    /// last example.
    pub fn next_chunk(&mut self, n: usize) -> Result<Option<IdxArray>> {
        let per = self.dims[1..].iter().product::<usize>() * self.dtype.size();
        let left = self.dims[0] - self.done;
        if left == 0 {
            // Anything after the announced elements is a malformed file, as for read_idx.
            let mut probe = [0u8; 1];
            let more = std::io::Read::read(&mut self.src.reader, &mut probe).map_err(|e| DataError::io(&self.path, "read", e))?;
            if more > 0 {
                return Err(DataError::malformed(&self.path, self.src.pos, "no bytes after the elements the header announces"));
            }
            return Ok(None);
        }
        let by_size = if per == 0 { left } else { (CHUNK_BYTES / per as u64).max(1) as usize };
        let k = n.max(1).min(left).min(by_size);
        let bytes = self.src.header(k * per, &self.path, "IDX elements")?;
        self.done += k;
        let mut dims = self.dims.clone();
        dims[0] = k;
        Ok(Some(IdxArray { dtype: self.dtype, dims, bytes }))
    }
}
