//! small NORB (LeCun, Huang & Bottou 2004): 5 object categories, stereo pairs of 96×96 images,
//! 24,300 training and 24,300 test pairs, in the NORB binary-matrix format.
//!
//! # File format
//! Little-endian: an `i32` magic number giving the element type, an `i32` rank `r`, then
//! `max(r, 3)` `i32` dimensions (ranks below 3 still store three, the extra ones being 1), then
//! the elements in row-major order. Files may be gzip-compressed (as distributed).
//!
//! A directory holds `*-training-dat.mat`, `*-training-cat.mat`, `*-training-info.mat` and the
//! same for `testing` (optionally `.gz`); `dat` is `n × 2 × 96 × 96` bytes, `cat` is `n` labels 0–4,
//! `info` is `n × 4` integers (instance, elevation, azimuth, lighting).
//!
//! Like the other image loaders, these return pixels in `[0, 1]`; the paper's `[−1, 1]` NORB
//! input is one [`crate::Splits::scale`] with [`crate::Scaling::Symmetric`] away (see
//! [`paper_splits`]).

use std::path::{Path, PathBuf};

use nalgebra::DMatrix;

use crate::dataset::{ImageSet, Splits};
use crate::error::{DataError, Result};
use crate::io::{self, Source};

/// The number of object categories.
pub const NUM_CLASSES: usize = 5;

/// The element type of a NORB binary matrix, from its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NorbDtype {
    /// `0x1E3D4C55`: unsigned byte.
    U8,
    /// `0x1E3D4C56`: `i16`.
    I16,
    /// `0x1E3D4C54`: `i32`.
    I32,
    /// `0x1E3D4C51`: `f32`.
    F32,
    /// `0x1E3D4C53`: `f64`.
    F64,
}

impl NorbDtype {
    fn from_magic(m: u32) -> Option<Self> {
        Some(match m {
            0x1E3D_4C55 => Self::U8,
            0x1E3D_4C56 => Self::I16,
            0x1E3D_4C54 => Self::I32,
            0x1E3D_4C51 => Self::F32,
            0x1E3D_4C53 => Self::F64,
            _ => return None,
        })
    }

    /// The magic number identifying this type.
    pub fn magic(self) -> u32 {
        match self {
            Self::U8 => 0x1E3D_4C55,
            Self::I16 => 0x1E3D_4C56,
            Self::I32 => 0x1E3D_4C54,
            Self::F32 => 0x1E3D_4C51,
            Self::F64 => 0x1E3D_4C53,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::U8 => 1,
            Self::I16 => 2,
            Self::I32 | Self::F32 => 4,
            Self::F64 => 8,
        }
    }
}

/// A NORB binary matrix: element type, dimensions and raw little-endian element bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct NorbArray {
    dtype: NorbDtype,
    dims: Vec<usize>,
    bytes: Vec<u8>,
}

impl NorbArray {
    /// The element type.
    pub fn dtype(&self) -> NorbDtype {
        self.dtype
    }

    /// The dimensions (only the `r` declared ones, not the padding to three).
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

    /// The raw element bytes (little-endian), e.g. the pixels of a `dat` file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Element `i` (row-major) as `f64`.
    ///
    /// # Panics
    /// If `i >= self.len()`.
    #[track_caller]
    pub fn get(&self, i: usize) -> f64 {
        let s = self.dtype.size();
        let b = &self.bytes[i * s..(i + 1) * s];
        match self.dtype {
            NorbDtype::U8 => f64::from(b[0]),
            NorbDtype::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
            NorbDtype::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            NorbDtype::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            NorbDtype::F64 => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    /// Serialises the array in the NORB format (uncompressed); used to write fixtures.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 20);
        out.extend_from_slice(&self.dtype.magic().to_le_bytes());
        out.extend_from_slice(&(self.dims.len() as i32).to_le_bytes());
        for i in 0..self.dims.len().max(3) {
            out.extend_from_slice(&(self.dims.get(i).copied().unwrap_or(1) as i32).to_le_bytes());
        }
        out.extend_from_slice(&self.bytes);
        out
    }

    /// An array from its parts.
    ///
    /// # Errors
    /// [`DataError::InvalidParameter`] if `bytes` is not `product(dims) × element size` long or a
    /// dimension does not fit the format's `i32`.
    pub fn from_parts(dtype: NorbDtype, dims: Vec<usize>, bytes: Vec<u8>) -> Result<Self> {
        let n = dims.iter().try_fold(dtype.size(), |a, &d| a.checked_mul(d));
        if n != Some(bytes.len()) || dims.iter().any(|&d| i32::try_from(d).is_err()) {
            return Err(DataError::InvalidParameter {
                name: "NORB dimensions",
                value: format!("{dims:?}"),
                expected: format!("dimensions below 2^31 whose product times {} equals the {} bytes given", dtype.size(), bytes.len()),
            });
        }
        Ok(Self { dtype, dims, bytes })
    }
}

/// Reads a NORB binary-matrix file (plain or gzip).
///
/// # Errors
/// [`DataError::Io`]; [`DataError::Malformed`] for an unknown magic number (including the packed
/// type `0x1E3D4C52`, which small NORB does not use), a negative or huge rank or dimension, or
/// dimensions that disagree with the file's length.
pub fn read_norb(path: &Path) -> Result<NorbArray> {
    from_source(io::open(path)?, path)
}

/// Parses a NORB binary matrix held in memory (plain or gzip); `source` names it in errors.
///
/// # Errors
/// As [`read_norb`].
pub fn parse_norb(bytes: &[u8], source: &Path) -> Result<NorbArray> {
    from_source(io::from_slice(bytes), source)
}

fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Checks that a file (plain or gzip) is a well-formed NORB binary matrix — header valid and
/// length matching it — without keeping its elements in memory.
///
/// # Errors
/// As [`read_norb`].
pub fn check_file(path: &Path) -> Result<()> {
    let mut src = io::open(path)?;
    let (_, _, bytes) = header(&mut src, path)?;
    src.skip_payload(bytes, path, "NORB elements")
}

fn from_source(mut src: Source<'_>, path: &Path) -> Result<NorbArray> {
    let (dtype, dims, bytes) = header(&mut src, path)?;
    let data = src.payload(bytes, path, "NORB elements")?;
    Ok(NorbArray { dtype, dims, bytes: data })
}

fn header(src: &mut Source<'_>, path: &Path) -> Result<(NorbDtype, Vec<usize>, u64)> {
    let head = src.header(8, path, "NORB magic number and rank")?;
    let magic = le_i32(&head[..4]) as u32;
    let dtype = NorbDtype::from_magic(magic).ok_or_else(|| {
        DataError::malformed(
            path,
            0,
            format!("a NORB magic number 0x1E3D4C55 (byte), 0x1E3D4C56 (short), 0x1E3D4C54 (int), 0x1E3D4C51 (float) or 0x1E3D4C53 (double), found 0x{magic:08X}"),
        )
    })?;
    let rank = le_i32(&head[4..]);
    // Real NORB files have rank ≤ 4; 64 leaves room for other users of the format.
    if !(0..=64).contains(&rank) {
        return Err(DataError::malformed(path, 4, format!("a rank between 0 and 64, found {rank}")));
    }
    let rank = rank as usize;
    let stored = rank.max(3);
    let raw = src.header(4 * stored, path, "NORB dimensions")?;
    let mut dims = Vec::with_capacity(rank);
    for (i, c) in raw.chunks_exact(4).take(rank).enumerate() {
        let d = le_i32(c);
        if d < 0 {
            return Err(DataError::malformed(path, 8 + 4 * i as u64, format!("a non-negative dimension, found {d}")));
        }
        dims.push(d as usize);
    }
    let bytes = dims
        .iter()
        .try_fold(dtype.size() as u64, |a, &d| a.checked_mul(d as u64))
        .ok_or_else(|| DataError::malformed(path, 8, format!("dimensions whose product fits in memory, found {dims:?}")))?;
    Ok((dtype, dims, bytes))
}

/// Which half of small NORB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The `*-training-*` files.
    Training,
    /// The `*-testing-*` files.
    Testing,
}

/// Options for loading small NORB.
#[derive(Debug, Clone, PartialEq)]
pub struct NorbOptions {
    /// Downsample each 96×96 image to `side × side` by averaging non-overlapping blocks (area
    /// averaging; `side` must divide the image size). `None` keeps full resolution. Default
    /// `Some(32)`, the paper's 2×32×32 input.
    pub side: Option<usize>,
    /// Training pairs held out (the last ones of the training file) as validation set by
    /// [`paper_splits`]. Default 4,300, leaving 20,000 for training; this is our choice, not a
    /// number taken from the paper.
    pub valid_len: usize,
}

impl Default for NorbOptions {
    fn default() -> Self {
        Self { side: Some(32), valid_len: 4_300 }
    }
}

/// Finds the file of `part` and `kind` (`dat`, `cat`, `info`) in `dir`: any name ending in
/// `-training-dat.mat` or `-training-dat.mat.gz` (and so on).
pub fn find_file(dir: &Path, part: Part, kind: &str) -> Result<PathBuf> {
    let p = match part {
        Part::Training => "training",
        Part::Testing => "testing",
    };
    let suffixes = [format!("-{p}-{kind}.mat"), format!("-{p}-{kind}.mat.gz")];
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, "list", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| suffixes.iter().any(|s| n.ends_with(s.as_str()))))
        .collect();
    found.sort();
    found
        .into_iter()
        .next()
        .ok_or_else(|| DataError::MissingFile { dir: dir.to_path_buf(), candidates: suffixes.iter().map(|s| format!("*{s}")).collect() })
}

/// Loads one half of small NORB: features `2·side·side × n` in `[0, 1]`, left camera first,
/// labels 0–4. The `info` file is checked for a matching count when present.
///
/// # Errors
/// As [`read_norb`]; [`DataError::Malformed`] if `dat` is not `n × 2 × h × w` bytes or a
/// category is outside 0–4; [`DataError::Inconsistent`] when the files disagree on `n`;
/// [`DataError::InvalidParameter`] if `side` does not divide the image size;
/// [`DataError::TooLarge`] beyond 2 GiB of `f32` features.
pub fn load_part(dir: &Path, part: Part, side: Option<usize>) -> Result<ImageSet> {
    let dat_path = find_file(dir, part, "dat")?;
    let cat_path = find_file(dir, part, "cat")?;
    let dat = read_norb(&dat_path)?;
    let cat = read_norb(&cat_path)?;
    let dataset = from_arrays(&dat, &dat_path, &cat, &cat_path, side)?;
    if let Ok(info_path) = find_file(dir, part, "info") {
        let info = read_norb(&info_path)?;
        if info.dims().first() != Some(&dataset.data.len()) {
            return Err(DataError::Inconsistent {
                what: format!(
                    "{} has {} pairs but {} has dimensions {:?}",
                    dat_path.display(),
                    dataset.data.len(),
                    info_path.display(),
                    info.dims()
                ),
            });
        }
    }
    Ok(dataset)
}

/// Builds a dataset from parsed `dat` and `cat` arrays.
///
/// # Errors
/// As [`load_part`].
pub fn from_arrays(dat: &NorbArray, dat_path: &Path, cat: &NorbArray, cat_path: &Path, side: Option<usize>) -> Result<ImageSet> {
    let d = dat.dims();
    if dat.dtype() != NorbDtype::U8 || d.len() != 4 || d[1] != 2 {
        return Err(DataError::malformed(dat_path, 0, format!("a byte matrix of dimensions n × 2 × h × w, found {:?} {d:?}", dat.dtype())));
    }
    let (n, h, w) = (d[0], d[2], d[3]);
    if h == 0 || w == 0 {
        return Err(DataError::malformed(dat_path, 16, format!("images of at least 1×1 pixels, found {h}×{w}")));
    }
    if !matches!(cat.dtype(), NorbDtype::I32 | NorbDtype::U8 | NorbDtype::I16) || cat.dims().len() != 1 {
        return Err(DataError::malformed(
            cat_path,
            0,
            format!("a one-dimensional integer matrix, found {:?} {:?}", cat.dtype(), cat.dims()),
        ));
    }
    if cat.len() != n {
        return Err(DataError::Inconsistent {
            what: format!("{} has {n} image pairs but {} has {} categories", dat_path.display(), cat_path.display(), cat.len()),
        });
    }
    let header = 8 + 4 * 3u64;
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let v = cat.get(i);
        if !(0.0..NUM_CLASSES as f64).contains(&v) {
            return Err(DataError::malformed(
                cat_path,
                header + (i * cat.dtype().size()) as u64,
                format!("a category 0–4 for pair {i}, found {v}"),
            ));
        }
        labels.push(v as u32);
    }
    let (oh, ow) = match side {
        None => (h, w),
        Some(s) if s > 0 && h % s == 0 && w % s == 0 => (s, s),
        Some(s) => {
            return Err(DataError::InvalidParameter {
                name: "NORB side",
                value: s.to_string(),
                expected: format!("a positive divisor of the image size {h}×{w}"),
            });
        }
    };
    let (fy, fx) = (h / oh.max(1), w / ow.max(1));
    let norm = 1.0 / (255.0 * (fy * fx) as f32);
    let dim = 2 * oh * ow;
    io::check_f32_len(dat_path, (dim as u64).saturating_mul(n as u64), "NORB image features")?;
    let mut features = Vec::with_capacity(dim * n);
    let mut acc = vec![0u64; ow];
    for plane in dat.bytes().chunks_exact(h * w) {
        for oy in 0..oh {
            acc.iter_mut().for_each(|a| *a = 0);
            for row in plane[oy * fy * w..(oy + 1) * fy * w].chunks_exact(w) {
                for (ox, a) in acc.iter_mut().enumerate() {
                    *a += row[ox * fx..(ox + 1) * fx].iter().map(|&x| u64::from(x)).sum::<u64>();
                }
            }
            features.extend(acc.iter().map(|&a| a as f32 * norm));
        }
    }
    Ok(ImageSet::new(DMatrix::from_vec(dim, n, features), labels, NUM_CLASSES, vec![2, oh, ow]))
}

/// Train / validation / test sets from a small NORB directory: the training file minus its last
/// `valid_len` pairs, those pairs, and the test file, downsampled as `opts` says, with pixels in
/// `[0, 1]` like every other loader's `paper_splits`.
///
/// The paper fed NORB to its networks scaled to `[−1, 1]`; to reproduce that, scale the result
/// (the map is fixed, so fitting it on the training set changes nothing):
///
/// ```no_run
/// use relu_data::{Scaling, norb};
///
/// let mut splits = norb::paper_splits(std::path::Path::new("data/smallnorb"), &norb::NorbOptions::default())?;
/// splits.scale(Scaling::Symmetric)?; // the paper's [−1, 1] input
/// # Ok::<(), relu_data::DataError>(())
/// ```
///
/// # Errors
/// As [`load_part`]; [`DataError::Inconsistent`] if the two parts' images differ in shape;
/// [`DataError::InvalidParameter`] if `valid_len` exceeds the training file.
pub fn paper_splits(dir: &Path, opts: &NorbOptions) -> Result<Splits> {
    let train = load_part(dir, Part::Training, opts.side)?;
    let test = load_part(dir, Part::Testing, opts.side)?;
    let name = |part| format!("the {part} part of {}", dir.display());
    crate::TrainTest::from_sets(train, &name("training"), test, &name("testing"))?.hold_out_last(opts.valid_len)
}
