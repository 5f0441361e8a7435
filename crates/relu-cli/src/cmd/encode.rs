//! `relu encode`: a trained model's hidden code of every example of a split, written as sparse
//! rows — svmlight text or a safetensors CSR triple — for downstream linear models (the paper's
//! "linear separability" use of sparse codes; `relu inspect` measures it).

use anyhow::{Context, Result, bail};
use relu_experiment::analysis;
use relu_nn::Targets;
use relu_nn::checkpoint::{codes_bytes, write_atomic};

use crate::cli::{EncodeArgs, EncodeSplit};
use crate::cmd::train::check_fits;
use crate::data::{self, DataSpec};
use crate::model_dir;
use crate::settings::resolve_threads;

/// Runs `relu encode`.
///
/// # Errors
/// Unreadable model or data, data that does not fit the model, a bad --layer, unwritable --out.
pub fn run(args: &EncodeArgs) -> Result<u8> {
    let model = model_dir::load(&args.model)?;
    let spec_text = args.data.clone().unwrap_or_else(|| model.input.data.clone());
    let spec = DataSpec::from_flag(&spec_text)?;
    let layers = model.net.spec().hidden.len();
    if layers == 0 {
        bail!("--model {}: the network has no hidden layer, so there is no code to write", model.path.display());
    }
    let k = args.layer.unwrap_or(layers);
    if k == 0 || k > layers {
        bail!("--layer: invalid layer {k}: expected 1 to {layers} (the network's hidden layers)");
    }
    let (train, test) = data::sets_for_model(&spec, &model.input, model.vectorizer.as_ref())?;
    let set = match args.split {
        EncodeSplit::Train => train,
        EncodeSplit::Test => test,
    };
    check_fits(&model.net, &set, &spec_text, &model.path)?;
    let Targets::Classes(labels) = &set.targets else {
        bail!("--data {spec_text}: the examples have no class labels to write beside their codes");
    };
    let pool = relu_core::thread_pool(resolve_threads(args.threads))?;
    let code = analysis::as_sparse(&pool.install(|| analysis::hidden_code(&model.net, &set.inputs, k - 1)));
    let csr = args.out.extension().is_some_and(|e| e == "safetensors");
    let bytes = if csr {
        codes_bytes(&args.out, &code, labels)?
    } else {
        let mut text = Vec::new();
        relu_data::svmlight::write(&mut text, &code, labels).context("cannot format the codes")?;
        text
    };
    write_atomic(&args.out, &bytes).with_context(|| format!("--out {}", args.out.display()))?;
    let cells = (code.units() * code.batch_size()).max(1) as f64;
    println!(
        "{} {} examples: layer {k} codes ({} units, {:.1} % zeros) written to {} ({})",
        code.batch_size(),
        match args.split {
            EncodeSplit::Train => "training",
            EncodeSplit::Test => "test",
        },
        code.units(),
        100.0 * (1.0 - code.nnz() as f64 / cells),
        args.out.display(),
        if csr { "safetensors CSR" } else { "svmlight" }
    );
    Ok(0)
}
