//! `relu pretrain`: greedy denoising auto-encoder pre-training of a network's hidden layers,
//! written as a model for `relu train --init` (fine-tuning) or `relu inspect` (its codes).

use anyhow::{Context, Result};
use relu_nn::NetworkSpec;
use relu_nn::checkpoint;

use crate::cli::PretrainArgs;
use crate::cmd::train::{CONFIG_FILE, pretrain, pretraining_inputs, resolve};
use crate::data;
use crate::model_dir::{self, MODEL_FILE};
use crate::progress::Display;
use crate::settings::{Settings, resolve_threads};

/// The pre-training report's file name.
pub const PRETRAIN_FILE: &str = "pretrain.json";

/// Runs `relu pretrain`; returns the exit code.
///
/// # Errors
/// Bad settings or data, divergence, or files that cannot be written.
pub fn run(args: &PretrainArgs) -> Result<u8> {
    let mut t = args.as_train_args();
    t.out = Some(t.out.unwrap_or_else(|| crate::cmd::train::timestamped_out("pretrain")));
    let (settings, out, _) = resolve(&t)?;
    let _lock = super::claim_out(&out, &[MODEL_FILE], "a model", "choose another folder or delete it")?;
    let cfg = settings.pretrain_config().context("pre-training settings")?;
    let display = Display::choose(args.quiet);
    let say = |line: &str| display.say(line);
    let spec = settings.data_spec()?;
    let text = settings.text_options();
    let loaded = data::load(&spec, text, None)?;
    let unlabeled = pretraining_inputs(&settings, &loaded, text)?;
    let net_spec = NetworkSpec { inputs: loaded.dim(), hidden: settings.layers(), output: loaded.output };
    net_spec.check().context("the network architecture")?;
    let threads = resolve_threads(settings.threads);
    let (net, info) = pretrain(&settings, &unlabeled, &net_spec, &cfg, threads, &say)?;
    std::fs::create_dir_all(&out).with_context(|| format!("--out {}: cannot create the folder", out.display()))?;
    // Complete or not at all: every file written before any is renamed.
    let model_path = out.join(MODEL_FILE);
    let mut set = checkpoint::FileSet::new();
    set.add(&out.join(CONFIG_FILE), settings.to_toml().as_bytes())?;
    set.add(&model_path, &checkpoint::model_bytes(&model_path, &net, &model_dir::metadata(&loaded.input, loaded.vectorizer.as_ref()))?)?;
    let json = serde_json::to_vec_pretty(&info).context("encoding pretrain.json")?;
    set.add(&out.join(PRETRAIN_FILE), &json)?;
    set.commit()?;
    say(&format!(
        "files in {}: {MODEL_FILE}, {CONFIG_FILE}, {PRETRAIN_FILE}; fine-tune with `{}`",
        out.display(),
        fine_tune_hint(&settings, &out)
    ));
    Ok(0)
}

/// The `relu train --init` command that rebuilds exactly the pre-trained architecture (every
/// setting that is part of the network spec `--init` compares).
fn fine_tune_hint(s: &Settings, out: &std::path::Path) -> String {
    let hidden: Vec<String> = s.hidden.iter().map(ToString::to_string).collect();
    let mut hint = format!(
        "relu train --init {} --data {} --hidden {} --activation {} --l1 {}",
        out.display(),
        s.data,
        hidden.join(","),
        s.activation,
        s.l1
    );
    if s.sign_flip {
        hint += " --sign-flip";
    }
    hint
}
