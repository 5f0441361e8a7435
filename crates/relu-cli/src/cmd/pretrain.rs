//! `relu pretrain`: greedy denoising auto-encoder pre-training of a network's hidden layers,
//! written as a model for `relu train --init` (fine-tuning) or `relu inspect` (its codes).

use anyhow::{Context, Result, bail};
use relu_nn::NetworkSpec;
use relu_nn::checkpoint;

use crate::cli::PretrainArgs;
use crate::cmd::train::{CONFIG_FILE, pretrain, resolve};
use crate::data::{self, DataSpec, TextOptions};
use crate::model_dir::{self, MODEL_FILE};
use crate::progress::Display;
use crate::settings::{Pretrain, Settings, resolve_threads};

/// The pre-training report's file name.
pub const PRETRAIN_FILE: &str = "pretrain.json";

/// Runs `relu pretrain`; returns the exit code.
///
/// # Errors
/// Bad settings or data, divergence, or files that cannot be written.
pub fn run(args: &PretrainArgs) -> Result<u8> {
    let t = &args.train;
    let supervised = [
        ("--epochs", t.epochs.is_some()),
        ("--patience", t.patience.is_some()),
        ("--momentum", t.momentum.is_some()),
        ("--lr-schedule", t.lr_schedule.is_some()),
        ("--weight-decay", t.weight_decay.is_some()),
        ("--input-dropout", t.input_dropout.is_some()),
        ("--folds", t.folds.is_some()),
        ("--resume", t.resume.is_some()),
        ("--init", t.init.is_some()),
        ("--limit", t.limit.is_some()),
    ];
    if let Some((flag, _)) = supervised.iter().find(|(_, given)| *given) {
        bail!("{flag} is a supervised-training flag: give it to `relu train --init DIR` after pre-training");
    }
    let (mut settings, out, _) = resolve(t)?;
    let _lock = super::claim_out(&out, &[MODEL_FILE], "a model", "choose another folder or delete it")?;
    settings.pretrain = Some(settings.pretrain.unwrap_or(Pretrain { reconstruction: None }));
    settings.check()?;
    let cfg = settings.pretrain_config().context("pre-training settings")?;
    let display = Display::choose(t.quiet);
    let say = |line: &str| {
        if display != Display::Quiet {
            println!("{line}");
        }
    };
    let spec: DataSpec = settings.data.parse().map_err(|e| anyhow::anyhow!("--data: {e}"))?;
    let text = TextOptions { vocab: settings.vocab, bow: settings.bow, target: settings.target, seed: settings.seed };
    let loaded = data::load(&spec, text, None)?;
    let unlabeled = match &args.unlabeled {
        None => loaded.train.inputs.clone(),
        Some(u) => {
            let uspec: DataSpec = u.parse().map_err(|e| anyhow::anyhow!("--unlabeled: {e}"))?;
            match &uspec {
                DataSpec::Reviews(file) => {
                    // Text goes through --data's vocabulary, beside --data's own training documents.
                    let vectorizer = loaded.vectorizer.as_ref().context("--unlabeled: review text needs review --data")?;
                    data::with_unlabeled(&loaded.train.inputs, &data::read_unlabeled(file)?, vectorizer)?
                }
                DataSpec::Acl(_) => bail!("--unlabeled {u}: extra review text must be a reviews:FILE (any .tsv, .jsonl or text file)"),
                _ => {
                    let other = data::load(&uspec, text, None).with_context(|| format!("--unlabeled {u}"))?;
                    if other.dim() != loaded.dim() {
                        bail!("--unlabeled {u}: {} input features, but --data {} has {}", other.dim(), settings.data, loaded.dim());
                    }
                    other.train.inputs
                }
            }
        }
    };
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
