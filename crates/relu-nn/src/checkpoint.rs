//! Model and training-state files in the safetensors format.
//!
//! # `model.safetensors`
//! | tensor | shape | meaning |
//! | --- | --- | --- |
//! | `layers.{i}.weight` | `[rows, in]` (row-major, like PyTorch's `nn.Linear.weight`) | layer `i`'s weights; the output layer is the last `i` |
//! | `layers.{i}.bias` | `[rows]` | biases |
//! | `layers.{i}.sign` | `[units]` | only for sign-flipped rectifier layers: ±1 multiplied into the outputs |
//!
//! For a maxout layer with `k` pieces, `rows = units·k` and row `u·k + p` is piece `p` of unit
//! `u`. The metadata (string → string) holds `format` = `relu`, `relu_version`, and
//! `architecture`, the JSON of [`NetworkSpec`], plus anything the caller adds.
//!
//! # Rebuilding a network in PyTorch
//! ```python
//! import json, torch
//! import torch.nn.functional as F
//! from safetensors import safe_open
//! from safetensors.torch import load_file
//!
//! t = load_file("model.safetensors")
//! with safe_open("model.safetensors", "pt") as f:
//!     arch = json.loads(f.metadata()["architecture"])
//!
//! def act(name, z):
//!     kind, _, p = name.partition(":")
//!     if kind == "rectifier": return torch.relu(z)
//!     if kind == "leaky-rectifier": return F.leaky_relu(z, float(p))
//!     if kind == "softplus": return F.softplus(z, beta=float(p or 1))  # softplus(αz)/α
//!     if kind == "tanh": return torch.tanh(z)
//!     if kind == "sigmoid": return torch.sigmoid(z)
//!     if kind == "linear": return z
//!     raise ValueError(name)  # lif: see relu_core::activation::Lif
//!
//! def forward(x):                                     # x: [batch, inputs]
//!     for i, layer in enumerate(arch["hidden"]):
//!         z = F.linear(x, t[f"layers.{i}.weight"], t[f"layers.{i}.bias"])
//!         if layer["kind"] == "maxout":               # rows u*k .. u*k+k-1 are unit u's pieces
//!             x = z.view(z.shape[0], layer["units"], layer["pieces"]).max(-1).values
//!         else:
//!             x = act(layer["activation"], z)
//!         if f"layers.{i}.sign" in t:                 # sign-flipped rectifier layer
//!             x = x * t[f"layers.{i}.sign"]
//!     n = len(arch["hidden"])
//!     out = F.linear(x, t[f"layers.{n}.weight"], t[f"layers.{n}.bias"])
//!     return out.softmax(-1) if arch["output"]["kind"] in ("softmax", "ratings") else out
//! ```
//! This recipe was checked against relu's own forward pass with the `export` example
//! (`cargo run -p relu-nn --example export -- DIR`), which writes a network with every layer kind
//! and a batch of inputs and outputs.
//!
//! # Training state
//! [`save_training`] writes the current parameters under the same names, the best-validation
//! parameters under `best.layers.…`, momentum buffers under `velocity.layers.…`, a weight
//! average under `average.layers.…`, and the epoch, batch, RNG position, history and
//! configuration as JSON metadata, so [`load_training`] and [`crate::Trainer::resume`] continue a
//! run exactly.
//!
//! Every write goes to a temporary file in the same directory, is flushed to disk, then renamed
//! over the target, so a crash never leaves a half-written file.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, DVector};
use relu_core::SparseBatch;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{NnError, Result};
use crate::network::{Layer, Network};
use crate::optim::SgdState;
use crate::spec::NetworkSpec;
use crate::train::{EpochMetrics, PartialEpoch, RngState, TrainConfig, TrainState};

/// Files larger than this are refused before being read (a 3×4000-unit network is ≈0.6 GB).
const MAX_FILE_BYTES: u64 = 4 << 30;

fn ck(path: &Path, reason: impl Into<String>) -> NnError {
    NnError::Checkpoint { path: path.to_path_buf(), reason: reason.into() }
}

/// Writes `bytes` to `path` atomically: temporary file in the same directory, fsync, rename.
///
/// # Errors
/// [`NnError::Io`] naming the file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut set = FileSet::new();
    set.add(path, bytes)?;
    set.commit()
}

/// The temporary name [`write_atomic`] and [`FileSet`] write `path` under (`.NAME.tmpPID`).
fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.tmp{}", std::process::id()))
}

/// Files that appear together or not at all: [`FileSet::add`] writes each one completely to a
/// temporary file beside its destination (fsync'd); [`FileSet::commit`] then renames them into
/// place in the order they were added (put the file that marks completion, e.g. `report.json`,
/// last). If any write fails — a full disk — or the set is dropped uncommitted, the temporary
/// files are removed and none of the destinations is touched.
#[derive(Debug, Default)]
pub struct FileSet {
    /// (temporary, destination) pairs, in order.
    staged: Vec<(PathBuf, PathBuf)>,
}

impl FileSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `bytes` for `path` to its temporary file.
    ///
    /// # Errors
    /// [`NnError::Io`] naming the destination; the set's earlier files stay staged (dropping
    /// the set removes them).
    pub fn add(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let tmp = temp_path(path);
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()
        })();
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(NnError::Io { path: path.to_path_buf(), source });
        }
        self.staged.push((tmp, path.to_path_buf()));
        Ok(())
    }

    /// Renames every staged file into place, in order.
    ///
    /// # Errors
    /// [`NnError::Io`] naming the file whose rename failed (the files before it are in place,
    /// the rest are removed).
    pub fn commit(mut self) -> Result<()> {
        for (tmp, path) in std::mem::take(&mut self.staged) {
            if let Err(source) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(NnError::Io { path, source });
            }
        }
        Ok(())
    }
}

impl Drop for FileSet {
    fn drop(&mut self) {
        for (tmp, _) in &self.staged {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

/// The lock of an output folder: a `.relu.lock` file holding the owner's PID, removed when the
/// lock drops. Two processes writing the same folder at once would mix their files; the second
/// gets [`NnError::Busy`]. A lock left by a killed process (its PID no longer runs) is taken
/// over. A folder the lock had to create is removed again on drop if it is still empty.
#[derive(Debug)]
pub struct DirLock {
    file: PathBuf,
    created_dir: Option<PathBuf>,
}

/// The lock file's name inside a locked folder.
pub const LOCK_FILE: &str = ".relu.lock";

impl DirLock {
    /// Locks `dir`, creating it if needed.
    ///
    /// # Errors
    /// [`NnError::Busy`] if a live process holds it; [`NnError::Io`] if the folder or the lock
    /// file cannot be created.
    pub fn acquire(dir: &Path) -> Result<Self> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NnError::Io { path, source }
        };
        let created_dir = if dir.is_dir() {
            None
        } else {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
            Some(dir.to_path_buf())
        };
        let file = dir.join(LOCK_FILE);
        // Two attempts: the second after removing a stale lock.
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&file) {
                Ok(mut f) => {
                    let lock = DirLock { file: file.clone(), created_dir };
                    f.write_all(std::process::id().to_string().as_bytes()).map_err(io(&file))?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let owner = std::fs::read_to_string(&file).ok().and_then(|s| s.trim().parse::<u32>().ok());
                    match owner {
                        Some(pid) if pid != std::process::id() && process_alive(pid, &file) => {
                            return Err(NnError::Busy { path: dir.to_path_buf(), pid });
                        }
                        // A dead owner, our own PID from an earlier run, or an unreadable file.
                        _ => std::fs::remove_file(&file).map_err(io(&file))?,
                    }
                }
                Err(source) => return Err(NnError::Io { path: file, source }),
            }
        }
        Err(NnError::Io { path: file, source: std::io::Error::other("the lock file keeps reappearing") })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        if let Some(dir) = &self.created_dir {
            // Fails, as it should, unless the folder is empty.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Removes the temporary files [`write_atomic`] leaves in `dir` when its process is killed
/// between writing and renaming (`.NAME.tmpPID`), so they do not accumulate across runs. Only
/// files whose process is no longer running are removed (on Linux, from `/proc`; elsewhere,
/// those older than a day), never a write in progress. Returns how many were removed; a folder
/// that does not exist has none.
///
/// # Errors
/// [`NnError::Io`] if the folder cannot be listed or a stale file cannot be removed.
pub fn remove_stale_temp_files(dir: &Path) -> Result<usize> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(source) => return Err(NnError::Io { path: dir.to_path_buf(), source }),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_file_pid(&name) else { continue };
        if pid == std::process::id() || process_alive(pid, &entry.path()) {
            continue;
        }
        let path = entry.path();
        std::fs::remove_file(&path).map_err(|source| NnError::Io { path, source })?;
        removed += 1;
    }
    Ok(removed)
}

/// The PID in a `.NAME.tmpPID` file name.
fn temp_file_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".tmp")?;
    pid.parse().ok()
}

/// Whether process `pid` (the writer of `file`) still runs: on Linux from `/proc`, where a
/// zombie (exited, not yet reaped by its parent — e.g. an MPI rank whose launcher returned
/// first) or dead process does not count; elsewhere a file younger than a day counts as live.
fn process_alive(pid: u32, file: &Path) -> bool {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")) {
            // `pid (comm) STATE …`: the state follows the last `)`.
            Ok(stat) => !matches!(stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()), Some("Z" | "X" | "x")),
            Err(_) => false,
        }
    } else {
        let day = std::time::Duration::from_secs(24 * 3600);
        std::fs::metadata(file).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_none_or(|age| age < day)
    }
}

/// A tensor to write: name, shape and little-endian f32 bytes.
struct Owned {
    name: String,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn f32_bytes(values: impl Iterator<Item = f32>) -> Vec<u8> {
    values.flat_map(f32::to_le_bytes).collect()
}

fn layer_tensors(prefix: &str, layers: &[Layer], out: &mut Vec<Owned>) {
    for (i, l) in layers.iter().enumerate() {
        // Our weights are out×in column-major; the transpose's column-major data is the
        // row-major [out, in] layout PyTorch uses.
        let wt = l.weight.transpose();
        out.push(Owned {
            name: format!("{prefix}layers.{i}.weight"),
            shape: vec![l.weight.nrows(), l.weight.ncols()],
            bytes: f32_bytes(wt.iter().copied()),
        });
        out.push(Owned { name: format!("{prefix}layers.{i}.bias"), shape: vec![l.bias.len()], bytes: f32_bytes(l.bias.iter().copied()) });
        if let Some(s) = &l.sign {
            out.push(Owned { name: format!("{prefix}layers.{i}.sign"), shape: vec![s.len()], bytes: f32_bytes(s.iter().copied()) });
        }
    }
}

fn serialize(path: &Path, tensors: &[Owned], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let views = tensors
        .iter()
        .map(|t| TensorView::new(Dtype::F32, t.shape.clone(), &t.bytes).map(|v| (t.name.clone(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ck(path, format!("cannot encode tensors: {e}")))?;
    let bytes = safetensors::serialize(views, &Some(metadata)).map_err(|e| ck(path, format!("cannot encode tensors: {e}")))?;
    canonical_header(&bytes).ok_or_else(|| ck(path, "internal: safetensors wrote a header it cannot parse"))
}

/// The same file with its JSON header's keys in sorted order: safetensors writes the metadata
/// from a `HashMap`, so two saves of the same network would differ in bytes. The tensor data
/// and its offsets (relative to the end of the header) are unchanged; the header is padded
/// with spaces to a multiple of 8 bytes, as safetensors pads it.
fn canonical_header(bytes: &[u8]) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header: serde_json::Value = serde_json::from_slice(bytes.get(8..8 + n)?).ok()?;
    let mut json = String::new();
    write_sorted(&header, &mut json);
    while !json.len().is_multiple_of(8) {
        json.push(' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(json.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    Some(out)
}

/// `v` as compact JSON with every object's keys sorted (whatever map type serde_json uses).
fn write_sorted(v: &serde_json::Value, out: &mut String) {
    match v {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(k.clone()).to_string());
                out.push(':');
                write_sorted(&map[k], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn base_metadata(spec: &NetworkSpec) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("format".into(), "relu".into());
    m.insert("relu_version".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("architecture".into(), serde_json::to_string(spec).expect("a spec always serialises"));
    m
}

/// Saves `net` to `path` (conventionally `model.safetensors`), adding `extra` to the metadata.
///
/// # Errors
/// [`NnError::Io`] or [`NnError::Checkpoint`] naming the file.
pub fn save_model(path: &Path, net: &Network, extra: &HashMap<String, String>) -> Result<()> {
    write_atomic(path, &model_bytes(path, net, extra)?)
}

/// The bytes [`save_model`] writes (for a [`FileSet`]); `path` only names the file in errors.
///
/// # Errors
/// [`NnError::Checkpoint`] naming the file.
pub fn model_bytes(path: &Path, net: &Network, extra: &HashMap<String, String>) -> Result<Vec<u8>> {
    let mut tensors = Vec::new();
    layer_tensors("", net.layers(), &mut tensors);
    let mut meta = base_metadata(net.spec());
    meta.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    serialize(path, &tensors, meta)
}

/// The bytes of a sparse matrix of codes as a safetensors CSR triple — `indptr` (I64, one more
/// than the examples), `indices` (I64, the unit of each stored value), `values` (F32) — plus
/// `labels` (I64, one per example), with metadata `format = csr` and `shape = [examples, units]`: one row per
/// example, as SciPy's `csr_matrix((values, indices, indptr), shape)` reads it. `path` only names
/// the file in errors.
///
/// # Errors
/// [`NnError::Checkpoint`] if the tensors cannot be encoded.
///
/// # Panics
/// If there is not one label per example.
#[track_caller]
pub fn codes_bytes(path: &Path, codes: &SparseBatch, labels: &[u32]) -> Result<Vec<u8>> {
    assert_eq!(labels.len(), codes.batch_size(), "codes_bytes: {} labels for {} examples", labels.len(), codes.batch_size());
    let i64s = |v: &mut dyn Iterator<Item = i64>| v.flat_map(i64::to_le_bytes).collect::<Vec<u8>>();
    let indptr = i64s(&mut codes.offsets().iter().map(|&o| o as i64));
    let indices = i64s(&mut codes.indices().iter().map(|&i| i64::from(i)));
    let values = f32_bytes(codes.values().iter().copied());
    let label_bytes = i64s(&mut labels.iter().map(|&l| i64::from(l)));
    let nnz = codes.nnz();
    let tensors = [
        ("indptr", Dtype::I64, vec![codes.batch_size() + 1], &indptr),
        ("indices", Dtype::I64, vec![nnz], &indices),
        ("values", Dtype::F32, vec![nnz], &values),
        ("labels", Dtype::I64, vec![labels.len()], &label_bytes),
    ];
    let views = tensors
        .iter()
        .map(|(name, dtype, shape, bytes)| TensorView::new(*dtype, shape.clone(), bytes).map(|v| ((*name).to_owned(), v)))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ck(path, format!("cannot encode tensors: {e}")))?;
    let meta = HashMap::from([
        ("format".to_owned(), "csr".to_owned()),
        ("shape".to_owned(), format!("[{}, {}]", codes.batch_size(), codes.units())),
    ]);
    safetensors::serialize(views, &Some(meta)).map_err(|e| ck(path, format!("cannot encode tensors: {e}")))
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    let io = |source| NnError::Io { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_FILE_BYTES {
        return Err(ck(path, format!("file is {len} bytes, more than the {MAX_FILE_BYTES} accepted")));
    }
    std::fs::read(path).map_err(io)
}

/// Reads f32 tensor `name` with exactly `shape`.
fn tensor(path: &Path, st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
    let t = st.tensor(name).map_err(|_| ck(path, format!("missing tensor `{name}`")))?;
    if t.dtype() != Dtype::F32 {
        return Err(ck(path, format!("tensor `{name}` has dtype {:?}, expected F32", t.dtype())));
    }
    if t.shape() != shape {
        return Err(ck(path, format!("tensor `{name}` has shape {:?}, expected {shape:?}", t.shape())));
    }
    Ok(t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// A network of a training state stored under `prefix` (`best.`, `average.`), with its own L1
/// weights when they were saved (checked by the caller).
fn stored_network(path: &Path, st: &SafeTensors<'_>, spec: &NetworkSpec, prefix: &str, l1: Option<&[f32]>) -> Result<Network> {
    let mut net = Network::from_parts(spec.clone(), read_layers(path, st, spec, prefix)?).map_err(|e| ck(path, e.to_string()))?;
    for (i, &v) in l1.into_iter().flatten().enumerate() {
        net.set_l1(i, v);
    }
    Ok(net)
}

fn read_layers(path: &Path, st: &SafeTensors<'_>, spec: &NetworkSpec, prefix: &str) -> Result<Vec<Layer>> {
    let mut layers = Vec::with_capacity(spec.hidden.len() + 1);
    let mut fan_in = spec.inputs;
    for i in 0..=spec.hidden.len() {
        let (rows, units, flip) = match spec.hidden.get(i) {
            Some(l) => (crate::network::rows_of(l), l.units, l.sign_flip),
            None => (spec.output.units(), spec.output.units(), false),
        };
        let w = tensor(path, st, &format!("{prefix}layers.{i}.weight"), &[rows, fan_in])?;
        let b = tensor(path, st, &format!("{prefix}layers.{i}.bias"), &[rows])?;
        let sign = if flip { Some(DVector::from_vec(tensor(path, st, &format!("{prefix}layers.{i}.sign"), &[units])?)) } else { None };
        // Row-major [rows, in] is the column-major layout of the transpose.
        let weight = DMatrix::from_vec(fan_in, rows, w).transpose();
        layers.push(Layer { weight, bias: DVector::from_vec(b), sign });
        fan_in = units;
    }
    Ok(layers)
}

fn parse_spec(path: &Path, meta: &HashMap<String, String>) -> Result<NetworkSpec> {
    if meta.get("format").map(String::as_str) != Some("relu") {
        return Err(ck(path, "metadata has no `format: relu` entry: not a relu checkpoint"));
    }
    let arch = meta.get("architecture").ok_or_else(|| ck(path, "metadata has no `architecture` entry"))?;
    let spec: NetworkSpec = serde_json::from_str(arch).map_err(|e| ck(path, format!("invalid architecture JSON: {e}")))?;
    spec.check().map_err(|e| ck(path, format!("invalid architecture: {e}")))?;
    Ok(spec)
}

fn open<'a>(path: &Path, bytes: &'a [u8]) -> Result<(SafeTensors<'a>, HashMap<String, String>)> {
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| ck(path, format!("not a valid safetensors file: {e}")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(|e| ck(path, format!("not a valid safetensors file: {e}")))?;
    Ok((st, meta))
}

/// Loads a network saved by [`save_model`] (or [`save_training`]), validating the format, the
/// architecture and every tensor's dtype and shape. Returns the network and the file's metadata.
///
/// # Errors
/// [`NnError::Io`] or [`NnError::Checkpoint`] naming the file and what is wrong.
pub fn load_model(path: &Path) -> Result<(Network, HashMap<String, String>)> {
    let bytes = read_file(path)?;
    let (st, meta) = open(path, &bytes)?;
    let spec = parse_spec(path, &meta)?;
    let layers = read_layers(path, &st, &spec, "")?;
    let net = Network::from_parts(spec, layers).map_err(|e| ck(path, e.to_string()))?;
    Ok((net, meta))
}

/// The JSON part of a training state.
#[derive(serde::Serialize, serde::Deserialize)]
struct StateMeta {
    completed_epochs: usize,
    next_batch: usize,
    epoch_rng: RngState,
    partial: PartialEpoch,
    best: Option<(usize, f64)>,
    bad_epochs: usize,
    history: Vec<EpochMetrics>,
    config: TrainConfig,
    momentum: bool,
    /// The best network's L1 weights when they differ from the current network's (a
    /// target-sparsity controller moves them); absent: the same.
    #[serde(default)]
    best_l1: Option<Vec<f32>>,
    /// Idle steps the lazy optimiser still owes (a run interrupted mid-epoch with momentum or
    /// weight decay): steps since the last flush, their rule, and each layer's per-column counts.
    #[serde(default)]
    pending: Option<Pending>,
    /// The target-sparsity controller's smoothed sparsity per hidden layer (absent: none yet).
    #[serde(default)]
    smoothed_sparsity: Vec<Option<f64>>,
    /// The weight average's epochs and L1 weights (absent: no average yet); its parameters are
    /// the `average.layers.…` tensors.
    #[serde(default)]
    average: Option<(usize, Vec<f32>)>,
}

/// The relations every state [`save_training`] writes satisfies, so an edited or damaged state is
/// refused instead of resuming into nonsense (a run "after" 10⁹ epochs, totals of examples that
/// were never seen). `hidden` is the network's number of hidden layers.
fn check_state(m: &StateMeta, hidden: usize) -> std::result::Result<(), String> {
    if m.history.len() != m.completed_epochs {
        return Err(format!("{} completed epochs but {} epochs of history", m.completed_epochs, m.history.len()));
    }
    if let Some((i, h)) = m.history.iter().enumerate().find(|(i, h)| h.epoch != i + 1) {
        return Err(format!("history entry {} is for epoch {}", i + 1, h.epoch));
    }
    if let Some(h) = m.history.iter().find(|h| h.sparsity.len() != hidden) {
        return Err(format!("epoch {} has sparsity for {} layers, the network has {hidden} hidden layers", h.epoch, h.sparsity.len()));
    }
    match m.best {
        Some((epoch, score)) => {
            if !(1..=m.completed_epochs).contains(&epoch) || !score.is_finite() {
                return Err(format!("best epoch {epoch} (score {score}) is not one of the {} completed epochs", m.completed_epochs));
            }
            if m.bad_epochs != m.completed_epochs - epoch {
                return Err(format!(
                    "{} epochs since the best epoch {epoch} of {}, recorded as {}",
                    m.completed_epochs - epoch,
                    m.completed_epochs,
                    m.bad_epochs
                ));
            }
        }
        None if m.bad_epochs != 0 => return Err(format!("{} epochs without improvement but no best epoch", m.bad_epochs)),
        None => {}
    }
    if m.smoothed_sparsity.len() > hidden || m.smoothed_sparsity.iter().flatten().any(|s| !(0.0..=1.0).contains(s)) {
        return Err(format!(
            "smoothed sparsity {:?} for {hidden} hidden layers: expected fractions in [0, 1], one per layer",
            m.smoothed_sparsity
        ));
    }
    let averaged = m.config.average_from.map_or(0, |a| (m.completed_epochs + 1).saturating_sub(a));
    if m.average.as_ref().map_or(0, |a| a.0) != averaged {
        return Err(format!(
            "a weight average of {:?} epochs after {} completed epochs, averaging from epoch {:?}",
            m.average.as_ref().map(|a| a.0),
            m.completed_epochs,
            m.config.average_from
        ));
    }
    if let Some((_, l1)) = &m.average
        && (l1.len() != hidden || l1.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
    {
        return Err(format!("weight-average L1 weights {l1:?}: expected one finite weight >= 0 per hidden layer"));
    }
    let p = &m.partial;
    let totals = [p.data, p.penalty, p.squared_error, p.seconds, p.train_seconds];
    if totals.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(format!("the current epoch's totals {totals:?} are not finite numbers >= 0"));
    }
    // Every batch before an interruption is a full one (an epoch's last batch ends the epoch).
    let seen = m.next_batch.checked_mul(m.config.batch_size);
    if seen != Some(p.examples) {
        return Err(format!(
            "next batch {} of batch size {} but {} examples counted in the current epoch",
            m.next_batch, m.config.batch_size, p.examples
        ));
    }
    if p.errors > p.examples {
        return Err(format!("{} errors among {} examples", p.errors, p.examples));
    }
    if p.examples > 0 && p.nnz.len() != hidden {
        return Err(format!("active-unit counts for {} layers, the network has {hidden} hidden layers", p.nnz.len()));
    }
    Ok(())
}

/// [`StateMeta::pending`].
#[derive(serde::Serialize, serde::Deserialize)]
struct Pending {
    steps: u32,
    scale: f32,
    decay: f32,
    momentum: f32,
    columns: Vec<Vec<u32>>,
}

/// Saves the network being trained and the trainer's state to `path`, atomically.
///
/// # Errors
/// [`NnError::Io`] or [`NnError::Checkpoint`] naming the file.
pub fn save_training(path: &Path, net: &Network, state: &TrainState, config: &TrainConfig) -> Result<()> {
    let mut tensors = Vec::new();
    layer_tensors("", net.layers(), &mut tensors);
    if let Some((_, _, best)) = &state.best {
        layer_tensors("best.", best.layers(), &mut tensors);
    }
    if let Some(avg) = &state.average {
        layer_tensors("average.", avg.net.layers(), &mut tensors);
    }
    let velocity: Vec<Layer> = state.sgd.velocity.iter().map(|(w, b)| Layer { weight: w.clone(), bias: b.clone(), sign: None }).collect();
    layer_tensors("velocity.", &velocity, &mut tensors);
    let meta_json = StateMeta {
        completed_epochs: state.completed_epochs,
        next_batch: state.next_batch,
        epoch_rng: state.epoch_rng,
        partial: state.partial.clone(),
        best: state.best.as_ref().map(|(e, s, _)| (*e, *s)),
        best_l1: state
            .best
            .as_ref()
            .map(|(_, _, b)| b.spec().hidden.iter().map(|l| l.l1).collect::<Vec<f32>>())
            .filter(|l1| l1.iter().zip(&net.spec().hidden).any(|(a, l)| a.to_bits() != l.l1.to_bits())),
        bad_epochs: state.bad_epochs,
        history: state.history.clone(),
        config: *config,
        momentum: !state.sgd.velocity.is_empty(),
        smoothed_sparsity: state.smoothed_sparsity.clone(),
        average: state.average.as_ref().map(|a| (a.epochs, a.net.spec().hidden.iter().map(|l| l.l1).collect())),
        pending: state.sgd.pending().map(|(steps, r, columns)| Pending {
            steps,
            scale: r.scale,
            decay: r.decay,
            momentum: r.momentum,
            columns: columns.to_vec(),
        }),
    };
    let mut meta = base_metadata(net.spec());
    meta.insert("training_state".into(), serde_json::to_string(&meta_json).map_err(|e| ck(path, e.to_string()))?);
    let bytes = serialize(path, &tensors, meta)?;
    write_atomic(path, &bytes)
}

/// Loads what [`save_training`] wrote: the network, the trainer state and the configuration.
///
/// # Errors
/// [`NnError::Io`] or [`NnError::Checkpoint`] naming the file and what is wrong.
pub fn load_training(path: &Path) -> Result<(Network, TrainState, TrainConfig)> {
    let bytes = read_file(path)?;
    let (st, meta) = open(path, &bytes)?;
    let spec = parse_spec(path, &meta)?;
    let state_json =
        meta.get("training_state").ok_or_else(|| ck(path, "no `training_state` metadata: a model file, not a training state"))?;
    let m: StateMeta = serde_json::from_str(state_json).map_err(|e| ck(path, format!("invalid training state: {e}")))?;
    m.config.check().map_err(|e| ck(path, format!("invalid training configuration: {e}")))?;
    check_state(&m, spec.hidden.len()).map_err(|e| ck(path, format!("inconsistent training state: {e}")))?;
    let net = Network::from_parts(spec.clone(), read_layers(path, &st, &spec, "")?).map_err(|e| ck(path, e.to_string()))?;
    let best = match m.best {
        Some((epoch, score)) => {
            if let Some(l1) = &m.best_l1
                && (l1.len() != spec.hidden.len() || l1.iter().any(|v| !(v.is_finite() && *v >= 0.0)))
            {
                return Err(ck(path, format!("invalid training state: best-network L1 weights {l1:?}")));
            }
            Some((epoch, score, stored_network(path, &st, &spec, "best.", m.best_l1.as_deref())?))
        }
        None => None,
    };
    let average = match &m.average {
        Some((epochs, l1)) => Some(crate::WeightAverage { epochs: *epochs, net: stored_network(path, &st, &spec, "average.", Some(l1))? }),
        None => None,
    };
    let velocity = if m.momentum {
        // Velocities have no sign vectors; read them against a spec without flips.
        let mut vspec = spec.clone();
        vspec.hidden.iter_mut().for_each(|l| l.sign_flip = false);
        read_layers(path, &st, &vspec, "velocity.")?.into_iter().map(|l| (l.weight, l.bias)).collect()
    } else {
        Vec::new()
    };
    let state = TrainState {
        completed_epochs: m.completed_epochs,
        next_batch: m.next_batch,
        epoch_rng: m.epoch_rng,
        partial: m.partial,
        best,
        bad_epochs: m.bad_epochs,
        history: m.history,
        smoothed_sparsity: m.smoothed_sparsity,
        average,
        sgd: match m.pending {
            None => SgdState::from_velocity(velocity),
            Some(p) => {
                let rule = relu_core::StepRule { scale: p.scale, decay: p.decay, momentum: p.momentum };
                SgdState::with_pending(velocity, &net, p.steps, rule, p.columns)
                    .map_err(|e| ck(path, format!("invalid optimiser state: {e}")))?
            }
        },
    };
    Ok((net, state, m.config))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn an_exited_but_unreaped_writer_is_not_alive() {
        let me = std::process::id();
        assert!(super::process_alive(me, std::path::Path::new("unused")), "this process runs");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Not waited for: once it has exited it stays a zombie until `wait`.
        let start = std::time::Instant::now();
        while super::process_alive(pid, std::path::Path::new("unused")) {
            assert!(start.elapsed().as_secs() < 10, "a finished child still counts as running");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        assert!(stat.contains(") Z"), "the child is a zombie: {stat}");
        child.wait().unwrap();
        assert!(!super::process_alive(pid, std::path::Path::new("unused")));
    }
}
