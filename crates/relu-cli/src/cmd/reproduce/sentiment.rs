//! `relu reproduce sentiment`: bag-of-words review classification (the paper's Table 2 layout):
//! a linear model against 1 and 3 rectifier layers and 3 tanh layers, each with and without
//! denoising auto-encoder pre-training, scored by k-fold cross-validation.

use anyhow::{Context, Result, bail};
use relu_core::Activation;
use relu_nn::{NetworkSpec, OutputKind, Targets};
use relu_pretrain::Reconstruction;
use serde::{Deserialize, Serialize};

use relu_experiment::stats::mean_std;

use super::{Defaults, Header, Job, NetResult, Runner, Splits, train_job};
use crate::cli::SentimentArgs;
use crate::cluster::{Cluster, Swept};
use crate::data::{self, DataSpec, TextOptions};
use crate::report::PretrainingInfo;
use crate::settings::{HiddenActivation, Pretrain, Settings};
use relu_data::text::LabelKind;

/// The text recipe (docs/results.md, "Sentiment"): one learning rate with a cosine schedule over
/// 20 epochs and input dropout 0.3, every network trained on all of its fold's training reviews
/// and the last epoch kept; rectifier stacks of 2+ layers use the deep text recipe on top
/// ([`DEEP_L1`]). A grid (`--lr-grid` with several rates) or `--patience` holds out
/// 10% of each fold's training reviews for validation instead.
const DEFAULTS: Defaults = Defaults {
    lr_schedule: crate::settings::TEXT_LR_SCHEDULE,
    input_dropout: crate::settings::TEXT_INPUT_DROPOUT,
    ..Defaults::paper(20, None, &[crate::settings::TEXT_LR], true)
};

/// Fraction of each fold's training documents held out for learning-rate choice and early
/// stopping.
const INNER_VALID_FRACTION: f64 = 0.1;

/// A model of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Model {
    /// Hidden layers (0: a linear softmax on the bag of words).
    layers: usize,
    tanh: bool,
    pretrained: bool,
}

impl Model {
    pub(super) const DEFAULT: [Model; 7] = [
        Model { layers: 0, tanh: false, pretrained: false },
        Model { layers: 1, tanh: false, pretrained: false },
        Model { layers: 1, tanh: false, pretrained: true },
        Model { layers: 3, tanh: false, pretrained: false },
        Model { layers: 3, tanh: false, pretrained: true },
        Model { layers: 3, tanh: true, pretrained: false },
        Model { layers: 3, tanh: true, pretrained: true },
    ];

    pub(super) fn parse(s: &str) -> Result<Model> {
        let s = s.trim();
        let (base, pretrained) = match s.strip_suffix("+dae") {
            Some(b) => (b, true),
            None => (s, false),
        };
        let (layers, tanh) = match base {
            "linear" => (0, false),
            "rect1" => (1, false),
            "rect3" => (3, false),
            "tanh3" => (3, true),
            _ => bail!("--models: unknown model `{s}`: expected linear, rect1, rect3 or tanh3, optionally followed by +dae"),
        };
        if layers == 0 && pretrained {
            bail!("--models: `{s}`: the linear model has no hidden layer to pre-train");
        }
        Ok(Model { layers, tanh, pretrained })
    }

    pub(super) fn name(self) -> String {
        let base = match (self.layers, self.tanh) {
            (0, _) => "linear".to_owned(),
            (k, false) => format!("rect{k}"),
            (k, true) => format!("tanh{k}"),
        };
        if self.pretrained { format!("{base}+dae") } else { base }
    }
}

#[derive(Serialize)]
struct SentimentReport {
    #[serde(flatten)]
    header: Header,
    folds: usize,
    /// `accuracy` (polarity) or `rmse` (ratings).
    metric: &'static str,
    models: Vec<ModelSummary>,
    /// Every network of every fold.
    networks: Vec<FoldNet>,
}

#[derive(Serialize)]
struct ModelSummary {
    model: String,
    /// Mean and standard deviation over the folds of accuracy (polarity) or RMSE (ratings).
    mean: f64,
    std: f64,
    /// Mean over the folds of the hidden layers' average fraction of exact zeros (test docs).
    sparsity: f64,
    /// Relative reduction of the linear model's error (polarity) or RMSE (ratings); `null`
    /// without a linear row.
    relative_improvement_over_linear: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct FoldNet {
    fold: usize,
    model: String,
    #[serde(flatten)]
    result: NetResult,
    pretraining: Option<PretrainingInfo>,
}

pub(super) fn run(args: &SentimentArgs, cluster: &Cluster) -> Result<u8> {
    let spec = DataSpec::from_flag(&args.data)?;
    if !spec.is_text() {
        bail!("--data {}: the sentiment study needs review text (reviews:FILE or acl:DIR)", args.data);
    }
    crate::settings::check_folds(args.folds)?;
    if args.units == 0 || args.units > relu_nn::MAX_UNITS {
        bail!("--units: invalid layer size {}: expected 1 to {} (as --hidden)", args.units, crate::settings::thousands(relu_nn::MAX_UNITS));
    }
    crate::settings::check_vocab(args.vocab)?;
    if let Some(l1) = args.l1 {
        crate::settings::check_l1(l1)?;
    }
    if args.target == LabelKind::Rating && matches!(spec, DataSpec::Acl(_)) {
        bail!("--target: acl:DIR folders have polarity labels only; use --target polarity");
    }
    let models: Vec<Model> = match &args.models {
        Some(names) => names.iter().map(|n| Model::parse(n)).collect::<Result<_>>()?,
        None => Model::DEFAULT.to_vec(),
    };
    if models.is_empty() {
        bail!("--models: expected at least one model");
    }
    if args.unlabeled.is_some() && !models.iter().any(|m| m.pretrained) {
        bail!("--unlabeled: only pre-training reads unlabeled text, and none of --models is pre-trained (add +dae to one)");
    }
    let extra = match &args.unlabeled {
        Some(path) => data::read_unlabeled(path)?,
        None => Vec::new(),
    };
    let r = Runner::new("sentiment", &args.common, &DEFAULTS, cluster)?;
    let text = TextOptions { vocab: args.vocab, bow: relu_data::text::Weighting::Binary, target: args.target, seed: r.seed };
    let (folds, output) = data::text_folds(&spec, text, args.folds, r.limit)?;
    r.say(&format!(
        "sentiment on {spec}: {} folds of about {} training and {} test documents, {}, binary bag of the top {} terms; models {}",
        folds.len(),
        folds[0].train.len(),
        folds[0].test.len(),
        match output {
            OutputKind::Ratings { levels } => format!("{levels}-star ratings"),
            _ => format!("{} classes", output.units()),
        },
        args.vocab,
        models.iter().map(|m| m.name()).collect::<Vec<_>>().join(", ")
    ));
    let cells: Vec<(usize, Model)> = (0..folds.len()).flat_map(|i| models.iter().map(move |&m| (i, m))).collect();
    let swept = r.sweep(cluster, cells.len(), |job, share| {
        let (i, m) = cells[job];
        let fold = &folds[i];
        let start = std::time::Instant::now();
        let inner = if r.needs_validation() {
            let Targets::Classes(labels) = &fold.train.targets else { bail!("internal: review targets are classes") };
            let inner = relu_data::split::stratified_holdout(labels, INNER_VALID_FRACTION, r.seed + i as u64)
                .with_context(|| format!("fold {}: too few documents to hold out a validation part", i + 1))?;
            Some((fold.train.select(&inner.train), fold.train.select(&inner.test)))
        } else {
            None
        };
        let splits = match &inner {
            Some((train, valid)) => Splits { train, valid: Some(valid), test: &fold.test },
            None => Splits { train: &fold.train, valid: None, test: &fold.test },
        };
        let settings = settings_for(
            r.settings(),
            &args.data,
            m,
            args.units,
            Given { l1: args.l1, input_dropout: args.common.recipe.input_dropout, dead_units: args.common.recipe.dead_units },
        );
        let net_spec = NetworkSpec { inputs: fold.train.inputs.dim(), hidden: settings.layers(), output };
        net_spec.check()?;
        let name = format!("fold {}/{} {}", i + 1, folds.len(), m.name());
        let (init, info) = if m.pretrained {
            // Pre-training sees every training document of the fold (labels unused) and
            // the --unlabeled documents.
            let inputs = fold.pretraining_inputs(&extra)?;
            let (net, info) = r.pretrain(&settings, &inputs, &net_spec, &name)?;
            (Some(net), Some(info))
        } else {
            (None, None)
        };
        let job = Job { name, settings, spec: net_spec, init };
        let result = train_job(&r, job, &splits, share.map(|s| s - start.elapsed().as_secs_f64()))?;
        Ok(result.map(|result| FoldNet { fold: i + 1, model: m.name(), result, pretraining: info }))
    })?;
    let Some(Swept { done: nets, missing }) = swept else { return Ok(0) };
    let rating = args.target == LabelKind::Rating;
    let summaries = summarise(&models, &nets, rating);
    let table = markdown(&spec.to_string(), folds.len(), args.vocab, &summaries, rating);
    let report = SentimentReport {
        header: r.header(&spec.to_string(), &missing),
        folds: folds.len(),
        metric: if rating { "rmse" } else { "accuracy" },
        models: summaries,
        networks: nets,
    };
    r.finish(&report, &table, Vec::new(), !missing.is_empty())
}

/// The deep text recipe, for rectifier stacks of two or more layers (docs/results.md,
/// "Sentiment"): sign-flipped units, a ten times smaller L1 weight and input dropout 0.5, and for
/// pre-trained stacks `--dead-units revive` (pre-training on a fold's reviews alone otherwise
/// leaves fine-tuning with dead units that collapse some folds).
const DEEP_L1: f32 = 1e-4;
/// See [`DEEP_L1`].
const DEEP_INPUT_DROPOUT: f32 = 0.5;
/// The text recipe's L1 weight for one rectifier layer.
const SHALLOW_L1: f32 = 1e-3;

/// The settings given on the command line, which override the per-model recipe.
struct Given {
    l1: Option<f32>,
    input_dropout: Option<f32>,
    dead_units: Option<relu_nn::DeadUnits>,
}

fn settings_for(base: Settings, data: &str, m: Model, units: usize, given: Given) -> Settings {
    let deep = m.layers >= 2 && !m.tanh;
    let (activation, l1, reconstruction) = match (m.layers, m.tanh) {
        (0, _) => (Activation::Linear, 0.0, None),
        // The paper's strategy 2 for rectifiers: codes scaled to [0, 1], sigmoid reconstruction.
        (_, false) => {
            (Activation::Rectifier, given.l1.unwrap_or(if deep { DEEP_L1 } else { SHALLOW_L1 }), Some(Reconstruction::ScaledSigmoid))
        }
        (_, true) => (Activation::Tanh, 0.0, None),
    };
    let input_dropout = given.input_dropout.unwrap_or(if deep { DEEP_INPUT_DROPOUT } else { base.input_dropout });
    let revive = deep && m.pretrained;
    Settings {
        data: data.to_owned(),
        hidden: vec![units; m.layers],
        activation: HiddenActivation::Affine(activation),
        l1,
        sign_flip: deep,
        input_dropout,
        dead_units: given.dead_units.unwrap_or(if revive { relu_nn::DeadUnits::Revive } else { base.dead_units }),
        pretrain: m.pretrained.then_some(Pretrain { reconstruction }),
        ..base
    }
}

fn summarise(models: &[Model], nets: &[FoldNet], rating: bool) -> Vec<ModelSummary> {
    let score = |n: &NetResult| if rating { n.test_rmse.unwrap_or(f64::NAN) } else { 1.0 - n.test_error.unwrap_or(f64::NAN) };
    let per_model = |name: &str| -> (Vec<f64>, Vec<f64>) {
        nets.iter().filter(|n| n.model == name).map(|n| (score(&n.result), n.result.mean_sparsity)).unzip()
    };
    let (linear, _) = per_model("linear");
    let linear_mean = (!linear.is_empty()).then(|| mean_std(&linear).0);
    models
        .iter()
        .filter_map(|m| {
            let (scores, sparsity) = per_model(&m.name());
            if scores.is_empty() {
                return None;
            }
            let (mean, std) = mean_std(&scores);
            // Error (1 − accuracy) or RMSE: lower is better.
            let err = |v: f64| if rating { v } else { 1.0 - v };
            Some(ModelSummary {
                model: m.name(),
                mean,
                std,
                sparsity: mean_std(&sparsity).0,
                relative_improvement_over_linear: linear_mean.filter(|&l| err(l) > 0.0).map(|l| 1.0 - err(mean) / err(l)),
            })
        })
        .collect()
}

fn markdown(data: &str, folds: usize, vocab: usize, models: &[ModelSummary], rating: bool) -> String {
    let metric = if rating { "RMSE" } else { "accuracy" };
    let mut s = format!(
        "Sentiment on {data}: {folds}-fold cross-validation, binary bag of the top {vocab} terms\n\n| model | {metric} (mean ± std over folds) | sparsity | {} vs linear |\n| --- | ---: | ---: | ---: |\n",
        if rating { "RMSE reduction" } else { "error reduction" }
    );
    for m in models {
        let value =
            if rating { format!("{:.3} ± {:.3}", m.mean, m.std) } else { format!("{:.2}% ± {:.2}", 100.0 * m.mean, 100.0 * m.std) };
        let sparsity = if m.model == "linear" { "-".to_owned() } else { format!("{:.1}%", 100.0 * m.sparsity) };
        let rel = m.relative_improvement_over_linear.map_or("-".to_owned(), |v| format!("{:+.1}%", 100.0 * v));
        s += &format!("| {} | {value} | {sparsity} | {rel} |\n", m.model);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_rectifier_stacks_get_the_deep_text_recipe() {
        let base = Settings { input_dropout: 0.3, ..Settings::default() };
        let none = || Given { l1: None, input_dropout: None, dead_units: None };
        let get = |name: &str, given: Given| settings_for(base.clone(), "reviews:x.tsv", Model::parse(name).unwrap(), 1000, given);
        let rect3 = get("rect3", none());
        assert_eq!(
            (rect3.l1, rect3.input_dropout, rect3.sign_flip, rect3.dead_units),
            (DEEP_L1, DEEP_INPUT_DROPOUT, true, relu_nn::DeadUnits::Report)
        );
        assert_eq!(get("rect3+dae", none()).dead_units, relu_nn::DeadUnits::Revive);
        for shallow in ["linear", "rect1", "rect1+dae", "tanh3", "tanh3+dae"] {
            let s = get(shallow, none());
            assert!(!s.sign_flip && s.input_dropout == 0.3 && s.dead_units == relu_nn::DeadUnits::Report, "{shallow}: {s:?}");
        }
        assert_eq!(get("rect1", none()).l1, SHALLOW_L1);
        // Flags win over the recipe.
        let given = Given { l1: Some(0.002), input_dropout: Some(0.1), dead_units: Some(relu_nn::DeadUnits::Report) };
        let s = get("rect3+dae", given);
        assert_eq!((s.l1, s.input_dropout, s.dead_units), (0.002, 0.1, relu_nn::DeadUnits::Report));
    }

    #[test]
    fn model_names_round_trip() {
        for m in Model::DEFAULT {
            assert_eq!(Model::parse(&m.name()).unwrap(), m);
        }
        assert!(Model::parse("linear+dae").is_err());
        assert!(Model::parse("rect2").is_err());
    }
}
