//! model.safetensors: round trips, PyTorch layout, and every kind of bad file.

use std::collections::HashMap;
use std::path::Path;

use nalgebra::DMatrix;
use relu_core::testing::{rectified_matrix, rng};
use relu_core::{Activation, SparseBatch};
use relu_nn::checkpoint::{load_model, load_training, save_model};
use relu_nn::{Features, HiddenKind, LayerSpec, Network, NetworkSpec, NnError, OutputKind, Workspace};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn net() -> Network {
    let spec = NetworkSpec {
        inputs: 12,
        hidden: vec![
            LayerSpec { units: 8, kind: HiddenKind::Affine { activation: Activation::Rectifier }, l1: 1e-3, sign_flip: true },
            LayerSpec { units: 5, kind: HiddenKind::Maxout { pieces: 3 }, l1: 0.0, sign_flip: false },
            LayerSpec { units: 6, kind: HiddenKind::Affine { activation: "softplus:2".parse().unwrap() }, l1: 0.0, sign_flip: false },
        ],
        output: OutputKind::Ratings { levels: 5 },
    };
    Network::new(spec, &mut rng(17)).unwrap()
}

fn outputs(n: &Network) -> DMatrix<f32> {
    let x = Features::Sparse(SparseBatch::from_dense(&rectified_matrix(&mut rng(3), 12, 7, 0.4)));
    n.forward(&x, &mut Workspace::new(n, Default::default(), Default::default())).output
}

#[test]
fn save_load_round_trip_gives_identical_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let n = net();
    let extra = HashMap::from([("note".to_string(), "hello".to_string())]);
    save_model(&path, &n, &extra).unwrap();
    let (back, meta) = load_model(&path).unwrap();
    assert_eq!(back, n);
    assert_eq!(outputs(&back), outputs(&n));
    assert_eq!(meta["note"], "hello");
    assert_eq!(meta["format"], "relu");
    assert!(meta["architecture"].contains("\"maxout\""));
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("model.safetensors")]);
}

/// Weights are stored like PyTorch's `nn.Linear.weight`: `[out, in]`, row-major.
#[test]
fn weights_use_pytorch_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let n = net();
    save_model(&path, &n, &HashMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let w = st.tensor("layers.1.weight").unwrap();
    assert_eq!(w.shape(), &[15, 8]);
    let vals: Vec<f32> = w.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let ours = &n.layers()[1].weight;
    for i in 0..15 {
        for j in 0..8 {
            assert_eq!(vals[i * 8 + j], ours[(i, j)]);
        }
    }
    let sign = st.tensor("layers.0.sign").unwrap();
    assert_eq!(sign.shape(), &[8]);
    assert!(st.tensor("layers.1.sign").is_err());
}

/// Name, shape, dtype and raw bytes of one tensor.
type RawTensor = (String, Vec<usize>, Dtype, Vec<u8>);

fn write_tensors(path: &Path, tensors: Vec<RawTensor>, meta: HashMap<String, String>) {
    let views: Vec<_> = tensors.iter().map(|(n, s, d, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    std::fs::write(path, safetensors::serialize(views, &Some(meta)).unwrap()).unwrap();
}

/// A valid file's tensors and metadata, to corrupt one piece at a time.
fn parts(n: &Network) -> (Vec<RawTensor>, HashMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    save_model(&path, n, &HashMap::new()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let tensors = st.tensors().into_iter().map(|(name, t)| (name, t.shape().to_vec(), t.dtype(), t.data().to_vec())).collect();
    (tensors, meta)
}

fn expect_checkpoint_error(path: &Path, needle: &str) {
    match load_model(path) {
        Err(e @ NnError::Checkpoint { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(needle) && msg.contains(&path.display().to_string()), "message `{msg}` lacks `{needle}`");
        }
        Err(e) => panic!("expected a checkpoint error with `{needle}`, got {e}"),
        Ok(_) => panic!("expected a checkpoint error with `{needle}`, loaded fine"),
    }
}

#[test]
fn corrupted_and_mismatched_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let n = net();
    let good = dir.path().join("good.safetensors");
    save_model(&good, &n, &HashMap::new()).unwrap();
    let bytes = std::fs::read(&good).unwrap();

    let p = dir.path().join("truncated.safetensors");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    expect_checkpoint_error(&p, "not a valid safetensors file");

    let p = dir.path().join("garbage.safetensors");
    std::fs::write(&p, b"\xff\xff\xff\xff\xff\xff\xff\x7fnot a header").unwrap();
    expect_checkpoint_error(&p, "not a valid safetensors file");

    let (tensors, meta) = parts(&n);
    let p = dir.path().join("nometa.safetensors");
    write_tensors(&p, tensors.clone(), HashMap::new());
    expect_checkpoint_error(&p, "not a relu checkpoint");

    let mut bad_meta = meta.clone();
    bad_meta.insert("architecture".into(), "{\"inputs\": 12".into());
    let p = dir.path().join("badjson.safetensors");
    write_tensors(&p, tensors.clone(), bad_meta);
    expect_checkpoint_error(&p, "invalid architecture JSON");

    let mut zero = meta.clone();
    zero.insert("architecture".into(), meta["architecture"].replace("\"inputs\":12", "\"inputs\":0"));
    let p = dir.path().join("zeroinputs.safetensors");
    write_tensors(&p, tensors.clone(), zero);
    expect_checkpoint_error(&p, "invalid architecture");

    let p = dir.path().join("missing.safetensors");
    write_tensors(&p, tensors.iter().filter(|t| t.0 != "layers.2.bias").cloned().collect(), meta.clone());
    expect_checkpoint_error(&p, "missing tensor `layers.2.bias`");

    let p = dir.path().join("shape.safetensors");
    let mut t = tensors.clone();
    let i = t.iter().position(|t| t.0 == "layers.0.weight").unwrap();
    t[i] = ("layers.0.weight".into(), vec![12, 8], Dtype::F32, t[i].3.clone());
    write_tensors(&p, t, meta.clone());
    expect_checkpoint_error(&p, "has shape [12, 8], expected [8, 12]");

    let p = dir.path().join("dtype.safetensors");
    let mut t = tensors.clone();
    let i = t.iter().position(|t| t.0 == "layers.3.bias").unwrap();
    t[i] = ("layers.3.bias".into(), vec![5], Dtype::I32, t[i].3.clone());
    write_tensors(&p, t, meta.clone());
    expect_checkpoint_error(&p, "dtype");

    let p = dir.path().join("nan.safetensors");
    let mut t = tensors.clone();
    let i = t.iter().position(|t| t.0 == "layers.3.bias").unwrap();
    t[i].3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    write_tensors(&p, t, meta.clone());
    expect_checkpoint_error(&p, "non-finite");

    let p = dir.path().join("badsign.safetensors");
    let mut t = tensors.clone();
    let i = t.iter().position(|t| t.0 == "layers.0.sign").unwrap();
    t[i].3[..4].copy_from_slice(&0.5f32.to_le_bytes());
    write_tensors(&p, t, meta);
    expect_checkpoint_error(&p, "sign-flip");

    // A model file is not a training state, and a missing file names itself.
    let e = load_training(&good).unwrap_err();
    assert!(e.to_string().contains("not a training state") || e.to_string().contains("training_state"), "{e}");
    let missing = dir.path().join("nope.safetensors");
    let e = load_model(&missing).unwrap_err();
    assert!(matches!(e, NnError::Io { .. }) && e.to_string().contains("nope.safetensors"), "{e}");
    let e = save_model(&dir.path().join("no/such/dir/m.safetensors"), &n, &HashMap::new()).unwrap_err();
    assert!(e.to_string().contains("no/such/dir"), "{e}");
}

#[test]
fn the_same_network_saves_to_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let n = net();
    let extra: HashMap<String, String> = (0..12).map(|i| (format!("key{i}"), format!("value {i}"))).collect();
    let (a, b) = (dir.path().join("a.safetensors"), dir.path().join("b.safetensors"));
    save_model(&a, &n, &extra).unwrap();
    // A map built in another order (and with other hash keys) must not change the bytes.
    let mut pairs: Vec<(String, String)> = extra.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    pairs.sort();
    pairs.reverse();
    let reordered: HashMap<String, String> = pairs.into_iter().collect();
    save_model(&b, &n, &reordered).unwrap();
    let (x, y) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_eq!(x, y, "metadata order leaked into the file");
    let header_len = u64::from_le_bytes(x[..8].try_into().unwrap()) as usize;
    assert_eq!(header_len % 8, 0, "the header stays 8-byte aligned");
    let (loaded, meta) = load_model(&a).unwrap();
    assert_eq!(loaded, n);
    assert_eq!(meta["key7"], "value 7");
}

#[test]
fn a_file_set_appears_whole_or_not_at_all() {
    use relu_nn::checkpoint::FileSet;
    let dir = tempfile::tempdir().unwrap();
    let names = || {
        let mut v: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    };
    // A failing write (here: into a folder that does not exist; on a full disk, ENOSPC) leaves
    // nothing, not even the files staged before it.
    std::fs::write(dir.path().join("report.json"), b"old").unwrap();
    let mut set = FileSet::new();
    set.add(&dir.path().join("model.safetensors"), b"model").unwrap();
    assert!(set.add(&dir.path().join("missing").join("plot.svg"), b"svg").is_err());
    drop(set);
    assert_eq!(names(), ["report.json"]);
    assert_eq!(std::fs::read(dir.path().join("report.json")).unwrap(), b"old");
    let mut set = FileSet::new();
    set.add(&dir.path().join("model.safetensors"), b"model").unwrap();
    set.add(&dir.path().join("report.json"), b"new").unwrap();
    assert_eq!(names().len(), 3, "staged under temporary names: {:?}", names());
    set.commit().unwrap();
    assert_eq!(names(), ["model.safetensors", "report.json"]);
    assert_eq!(std::fs::read(dir.path().join("report.json")).unwrap(), b"new");
}

#[cfg(target_os = "linux")]
#[test]
fn an_output_folder_lock_refuses_a_live_owner_and_takes_over_a_dead_one() {
    use relu_nn::checkpoint::{DirLock, LOCK_FILE};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    {
        let _lock = DirLock::acquire(&out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join(LOCK_FILE)).unwrap(), std::process::id().to_string());
    }
    assert!(!out.exists(), "the lock created the folder and removes it again while empty");
    std::fs::create_dir(&out).unwrap();
    // PID 1 always runs.
    std::fs::write(out.join(LOCK_FILE), "1").unwrap();
    let e = DirLock::acquire(&out).unwrap_err();
    assert!(matches!(e, NnError::Busy { pid: 1, .. }), "{e}");
    assert!(e.to_string().contains("pid 1") && e.to_string().contains("run"), "{e}");
    assert_eq!(std::fs::read_to_string(out.join(LOCK_FILE)).unwrap(), "1", "another process's lock is left alone");
    // A lock whose process is gone (killed) is taken over, and released on drop.
    std::fs::write(out.join(LOCK_FILE), "999999999").unwrap();
    drop(DirLock::acquire(&out).unwrap());
    assert!(!out.join(LOCK_FILE).exists());
    assert!(out.is_dir(), "a folder that existed before stays");
}
