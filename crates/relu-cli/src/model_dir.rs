//! A run's folder as a model: `model.safetensors` with the metadata `relu` adds to relu-nn's.
//!
//! | metadata key | JSON | when |
//! | --- | --- | --- |
//! | `input` | how inputs are built: `{"kind": "image"|"text", "data": SPEC, "shape": [..]|null, "target": "polarity"|"rating"|"class"|null, "classes": [LABEL, ..] (class models only), "seed": N}` | always |
//! | `vectorizer` | relu-data's `Vectorizer` (tokeniser, vocabulary with document frequencies, weighting) | text models |

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use relu_data::text::Vectorizer;
use relu_nn::Network;

use crate::data::InputInfo;

/// The model file's name inside a run folder.
pub const MODEL_FILE: &str = "model.safetensors";

/// A loaded model with what is needed to build its inputs.
#[derive(Debug)]
pub struct Model {
    /// The file read.
    pub path: PathBuf,
    /// The network.
    pub net: Network,
    /// How inputs were built.
    pub input: InputInfo,
    /// Text models: the bag-of-words transformation.
    pub vectorizer: Option<Vectorizer>,
}

/// The metadata entries `relu train` adds.
pub fn metadata(input: &InputInfo, vectorizer: Option<&Vectorizer>) -> HashMap<String, String> {
    let mut m = HashMap::new();
    m.insert("input".to_owned(), serde_json::to_string(input).expect("input info serialises"));
    if let Some(v) = vectorizer {
        m.insert("vectorizer".to_owned(), serde_json::to_string(v).expect("a vectorizer serialises"));
    }
    m
}

/// Loads `--model DIR` (a run folder) or a `.safetensors` file directly.
///
/// # Errors
/// If the folder has no model file, or the file is not a relu model written by `relu train`.
pub fn load(dir: &Path) -> Result<Model> {
    let path = if dir.is_dir() { dir.join(MODEL_FILE) } else { dir.to_path_buf() };
    if !path.is_file() {
        if dir.is_dir() {
            bail!("--model {}: the folder has no {MODEL_FILE}; expected the --out folder of a finished `relu train`", dir.display());
        }
        bail!("--model {}: no such folder or file; expected the --out folder of a finished `relu train`", dir.display());
    }
    let (net, meta) = relu_nn::checkpoint::load_model(&path).with_context(|| format!("--model {}", dir.display()))?;
    let input = meta.get("input").with_context(|| {
        format!("--model {}: {} has no `input` metadata; expected a model written by `relu train`", dir.display(), path.display())
    })?;
    let input: InputInfo = serde_json::from_str(input)
        .with_context(|| format!("--model {}: invalid `input` metadata in {}", dir.display(), path.display()))?;
    let vectorizer = match meta.get("vectorizer") {
        Some(v) => Some(
            serde_json::from_str::<Vectorizer>(v)
                .with_context(|| format!("--model {}: invalid `vectorizer` metadata in {}", dir.display(), path.display()))?,
        ),
        None => None,
    };
    if let Some(v) = &vectorizer
        && v.dim() != net.spec().inputs
    {
        bail!("--model {}: the vocabulary has {} terms but the network expects {} inputs", dir.display(), v.dim(), net.spec().inputs);
    }
    if let Some(names) = &input.classes
        && names.len() != net.spec().output.units()
    {
        bail!(
            "--model {}: the `input` metadata names {} classes but the network has {} outputs",
            dir.display(),
            names.len(),
            net.spec().output.units()
        );
    }
    Ok(Model { path, net, input, vectorizer })
}
