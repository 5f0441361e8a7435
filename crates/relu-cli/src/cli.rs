//! The command line, declared with clap's derive API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use relu_data::text::{LabelKind, Weighting};

use crate::settings::HiddenActivation;

/// Deep sparse rectifier networks (Glorot, Bordes & Bengio, AISTATS 2011): train, evaluate and
/// inspect them on a CPU.
#[derive(Debug, Parser)]
#[command(name = "relu", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Start with `relu train` (no arguments): a 784-1000-1000-1000-10 rectifier network with an L1 \
                        activation penalty on the MNIST subset built into relu.\n\nErrors exit with code 2; an interrupted \
                        training run (Ctrl-C) saves a resumable state and exits with code 130.")]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a network; writes the model, config.toml, report.json and SVG plots to --out.
    Train(Box<TrainArgs>),
    /// Pre-train a network's hidden layers as denoising auto-encoders (greedy, layer by layer)
    /// and write it to --out, for `relu train --init DIR` or `relu inspect`.
    Pretrain(Box<PretrainArgs>),
    /// Evaluate a trained model on a dataset's test split: error/RMSE, loss, sparsity, dead units.
    Eval(EvalArgs),
    /// The paper's sparsity analysis of a trained model: zeros, dead units, active units per
    /// example, stability of the active set under noise, linear separability of each layer.
    Inspect(InspectArgs),
    /// Predict with a trained model: review texts (one per line) or IDX image files.
    Predict(PredictArgs),
    /// Write a trained model's hidden codes of a dataset as sparse rows (svmlight text or a
    /// safetensors CSR triple), for downstream linear models.
    Encode(EncodeArgs),
    /// Train many networks from one TOML file — `relu train` settings, a [grid] of values to
    /// combine and/or a list of [[runs]] — and compare them in report.json and table.md; under
    /// mpirun the ranks share the networks.
    Sweep(SweepArgs),
    /// Re-run the paper's experiments: Table 1, Figures 3 and 4, and the sentiment study; each
    /// writes report.json, a markdown table and (figures) an SVG next to the paper's numbers.
    Reproduce {
        /// Which experiment.
        #[command(subcommand)]
        command: Box<ReproduceCommand>,
    },
    /// Describe or download datasets.
    Data {
        /// What to do.
        #[command(subcommand)]
        command: DataCommand,
    },
}

const DATA_HELP: &str = "Data spec: mnist (embedded subset), mnist:DIR (IDX files with MNIST's names), cifar10:DIR, \
                         norb:DIR, reviews:FILE (.tsv label<TAB>text or .jsonl), acl:DIR (processed_acl domain folder)";

/// `relu train`. Every hyper-parameter can also be set in a TOML file (`--config`); flags given
/// on the command line override it. Unset values take the paper's defaults.
#[derive(Debug, Args)]
#[command(args_override_self = true, allow_negative_numbers = true)]
#[command(after_help = "Outputs in --out: model.safetensors, config.toml (the resolved configuration), report.json, \
                        learning_curves.svg, sparsity.svg, active_units.svg and (image data) filters.svg and filter_updates.svg. With --folds, \
                        cv.json holds the per-fold results.\n\nCtrl-C (or SIGTERM) finishes the current batch, saves \
                        train_state.safetensors in --out and exits with code 130. The state is also saved at the end of \
                        every epoch, so a killed run loses at most one epoch. `relu train --resume DIR` continues \
                        the run exactly.")]
#[derive(Default)]
pub struct TrainArgs {
    /// TOML file with any of the settings below (keys as the flag names, with `_` for `-`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "SPEC", help = format!("{DATA_HELP} [default: mnist]"))]
    pub data: Option<String>,
    #[command(flatten)]
    pub net: NetFlags,
    /// SGD learning rate [default: 0.01; 0.03 for review data, the text recipe].
    #[arg(long, value_name = "RATE")]
    pub lr: Option<f32>,
    #[command(flatten)]
    pub recipe: RecipeFlags,
    /// Adapt each hidden layer's L1 weight during training, starting from --l1, so that its
    /// fraction of exact zeros settles at this target: one fraction (e.g. 0.85) or one per
    /// hidden layer (0.9,0.85,0.8). λ per layer and epoch goes to report.json and l1.svg
    /// [default: off, λ fixed].
    #[arg(long, value_name = "S")]
    pub target_sparsity: Option<relu_nn::TargetSparsity>,
    #[arg(long, value_name = "G", requires = "target_sparsity", help = format!(
        "The target-sparsity controller's gain: how fast ln λ follows the sparsity error, per epoch [default: {}]",
        relu_nn::TargetSparsity::DEFAULT_GAIN
    ))]
    pub sparsity_gain: Option<f32>,
    #[arg(long, value_name = "D", help = format!(
        "The target-sparsity controller's damping: ln λ also drops by this much per unit rise of the layer's \
         smoothed sparsity, easing λ off before sparsity overshoots; 0 for a pure integral controller \
         [default: {}]",
        relu_nn::TargetSparsity::DEFAULT_DAMPING
    ))]
    pub sparsity_damping: Option<f32>,
    /// Minibatch size [default: 10].
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    #[arg(long, value_name = "N", help = format!("Maximum number of epochs [default: {}]", crate::settings::DEFAULT_EPOCHS))]
    pub epochs: Option<usize>,
    /// Stop after N epochs without a better validation score [default: off]. The parameters of
    /// the best validation epoch are kept either way.
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Seed for initialisation, shuffling and review splits [default: 1234].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Kernel threads; 0 uses every core [default: 0]. Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Train on the first N training examples only (quick runs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub text: TextFlags,
    /// Review data: also run K-fold stratified cross-validation (results in cv.json); each fold
    /// refits the vocabulary on its own training documents. The model written to --out is still
    /// trained on the usual held-out split.
    #[arg(long, value_name = "K")]
    pub folds: Option<usize>,
    /// Data-parallel training under `mpirun -np N` (the `mpi` feature): 1 sums the gradients
    /// of the N slices of every minibatch, so the run is the one-process run up to float
    /// rounding (synchronous SGD); K > 1 lets each process step on its slice alone and averages
    /// the N networks every K batches and after every epoch (local SGD: K times less
    /// communication, a different optimiser). No effect in one process [default: 1].
    #[arg(long, value_name = "K")]
    pub sync_every: Option<usize>,
    /// Pre-train the hidden layers as denoising auto-encoders, greedily, on all training inputs
    /// (before --limit, so a limited run is semi-supervised): `dae` or `dae:STRATEGY` with
    /// STRATEGY softplus, scaled-sigmoid, linear, linear-pre, rectifier or sigmoid [default: none].
    #[arg(long, value_name = "dae[:STRATEGY]")]
    pub pretrain: Option<crate::settings::Pretrain>,
    #[command(flatten)]
    pub dae: DaeFlags,
    /// Extra unlabeled data for --pretrain: for review --data a reviews:FILE (.tsv or .jsonl with
    /// labels ignored, or any text file, one document per line) whose documents are added to the
    /// training documents through their vocabulary (with --folds, each fold's); for image --data
    /// an image spec of the same input size whose training inputs replace --data's.
    #[arg(long, value_name = "SPEC", requires = "pretrain")]
    pub unlabeled: Option<String>,
    /// Start from the network in DIR/model.safetensors (e.g. written by `relu pretrain`) instead
    /// of a random initialisation; its architecture must match the data and flags.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["resume", "pretrain"])]
    pub init: Option<PathBuf>,
    /// Output folder [default: runs/train-YYYYMMDD-HHMMSS (UTC)].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Continue the interrupted run in DIR (its config.toml and train_state.safetensors); the
    /// results go to DIR. Only --epochs, --patience, --threads and --quiet may be given with it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["config", "out"])]
    pub resume: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Testing aid: behave as if Ctrl-C were pressed after N training batches (the same path:
    /// the state is saved and the exit code is 130).
    #[arg(long, value_name = "N", hide = true)]
    pub stop_after_batches: Option<usize>,
    /// Testing aid: exit at once with code 137, saving nothing, after N training batches (what a
    /// `kill -9` does at that point).
    #[arg(long, value_name = "N", hide = true)]
    pub kill_after_batches: Option<usize>,
}

/// Optimiser and regularisation flags: the same in `relu train` and every `relu reproduce`
/// experiment (the defaults that differ per command or data are listed in each help line).
#[derive(Debug, Clone, Default, Args)]
pub struct RecipeFlags {
    /// SGD momentum in [0, 1) [default: 0].
    #[arg(long, value_name = "MU")]
    pub momentum: Option<f32>,
    /// Learning rate per epoch t of T (--epochs): constant, inverse:D (lr/(1+D·(t−1))),
    /// step:E:F (times F every E epochs) or cosine[:FLOOR] (half a cosine from lr down to
    /// FLOOR·lr over the T epochs); `relu reproduce`'s learning-rate trials use it over
    /// --select-epochs [default: constant, the paper's; cosine for review data and for
    /// `reproduce table1` and `reproduce sentiment`].
    #[arg(long, value_name = "SCHEDULE")]
    pub lr_schedule: Option<relu_nn::LrSchedule>,
    /// L2 weight decay on the weights (not the biases) [default: 0].
    #[arg(long, value_name = "DECAY")]
    pub weight_decay: Option<f32>,
    /// Inverted dropout on the inputs while training: each non-zero input of every training
    /// batch is zeroed with this probability, the rest scaled by 1/(1−P); evaluation sees clean
    /// inputs. A regulariser for small data such as bag-of-words reviews [default: 0; 0.3 for
    /// review data; `reproduce sentiment`: 0.3, and 0.5 for rectifier stacks of 2+ layers].
    #[arg(long, value_name = "P")]
    pub input_dropout: Option<f32>,
    /// Units that were zero on every training example of an epoch: `report` counts them per
    /// epoch in report.json; `revive` also gives each new Glorot-uniform incoming weights (seeded)
    /// and a zero bias and zeroes its outgoing weights, so the network computes the same function
    /// and the unit can learn again [default: report; `reproduce sentiment`: revive for
    /// pre-trained rectifier stacks of 2+ layers].
    #[arg(long, value_name = "POLICY")]
    pub dead_units: Option<relu_nn::DeadUnits>,
    /// Weight averaging: from epoch N on, keep the running mean of the parameters at every
    /// epoch's end and validate, early-stop on and keep that averaged network (SGD continues from
    /// the current parameters); `off` for none [default: off; 5 for `reproduce table1` when --epochs is 5 or more].
    #[arg(long, value_name = "N|off")]
    pub average_from: Option<AverageFrom>,
}

/// `--average-from`: an epoch number, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AverageFrom(pub Option<usize>);

impl std::str::FromStr for AverageFrom {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "off" | "none" => Ok(Self(None)),
            n => n.parse().map(|n| Self(Some(n))).map_err(|_| format!("expected an epoch number or `off`, not {s:?}")),
        }
    }
}

/// The network flags of `relu train` and `relu pretrain`.
#[derive(Debug, Clone, Default, Args)]
pub struct NetFlags {
    /// Hidden layer sizes, bottom to top [default: 1000,1000,1000].
    #[arg(long, value_name = "SIZES")]
    pub hidden: Option<LayerSizes>,
    /// Hidden activation: rectifier, leaky-rectifier:SLOPE, softplus:ALPHA, tanh, sigmoid, linear,
    /// lif, or maxout:K (K affine pieces per unit; not for pre-training) [default: rectifier].
    #[arg(long, value_name = "NAME")]
    pub activation: Option<HiddenActivation>,
    /// L1 penalty weight on every hidden layer's activations during supervised training (`relu
    /// pretrain` stores it in the model for `relu train --init`; pre-training has no L1 term)
    /// [default: 0.001].
    #[arg(long, value_name = "LAMBDA")]
    pub l1: Option<f32>,
    /// Multiply the outputs of half the units of each rectifier layer by −1 (the paper's trick
    /// against a positive mean activation).
    #[arg(long)]
    pub sign_flip: bool,
}

/// The review-data flags of `relu train` and `relu pretrain`.
#[derive(Debug, Clone, Default, Args)]
pub struct TextFlags {
    /// Review data: vocabulary size (most frequent terms of the training documents) [default: 5000].
    #[arg(long, value_name = "N")]
    pub vocab: Option<usize>,
    /// Review data: bag-of-words values [default: binary].
    #[arg(long, value_name = "KIND", value_parser = bow_parser())]
    pub bow: Option<Weighting>,
    /// Review data: what the labels are; `auto` reads 0/1/neg/pos as polarity and anything else
    /// as one class per distinct label (they also fix the held-out split and the output layer)
    /// [default: auto].
    #[arg(long, value_name = "KIND", value_parser = target_parser())]
    pub target: Option<LabelKind>,
}

/// How the denoising auto-encoders are trained, in `relu train --pretrain` and `relu pretrain`.
#[derive(Debug, Clone, Default, Args)]
pub struct DaeFlags {
    /// Pre-training epochs per hidden layer [default: 10].
    #[arg(long, value_name = "N")]
    pub pretrain_epochs: Option<usize>,
    /// Pre-training input corruption: none, masking:P, salt-and-pepper:P or gaussian:SIGMA
    /// [default: masking:0.25].
    #[arg(long, value_name = "SPEC")]
    pub corruption: Option<relu_pretrain::Corruption>,
    /// Pre-training: tie each decoder's weights to its encoder's [default: untied].
    #[arg(long)]
    pub tied_decoder: bool,
    /// Pre-training on sparse inputs: reconstruct the non-zero inputs and this fraction of the
    /// zero ones, reweighted [default: all].
    #[arg(long, value_name = "Q")]
    pub sampling: Option<f32>,
}

/// Comma-separated hidden layer sizes, e.g. `1000,1000,1000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerSizes(pub Vec<usize>);

impl std::str::FromStr for LayerSizes {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',')
            .map(|p| p.trim().parse::<usize>().ok().filter(|&n| n > 0))
            .collect::<Option<Vec<_>>>()
            .map(LayerSizes)
            .ok_or_else(|| format!("`{s}`: expected comma-separated positive layer sizes, e.g. 1000,1000,1000"))
    }
}

/// `relu eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A trained model: the --out folder of `relu train` (or its model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[arg(long, value_name = "SPEC", help = format!("{DATA_HELP}. Images: the test split; reviews: the model's held-out test documents [default: the model's training data]"))]
    pub data: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Kernel threads; 0 uses every core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
}

/// `relu encode`.
#[derive(Debug, Args)]
#[command(
    after_help = "FILE ending in .safetensors: tensors indptr (I64), indices (I64), values (F32) of a CSR matrix with one row per example (metadata shape = [examples, units]) and labels (I64); any other name: svmlight/libsvm text, `LABEL INDEX:VALUE …` with 1-based unit indices, one line per example (scikit-learn: load_svmlight_file). Labels are class indices (for reviews, in the model's class order)."
)]
pub struct EncodeArgs {
    /// A trained model: the --out folder of `relu train` (or its model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[arg(long, value_name = "SPEC", help = format!("{DATA_HELP} [default: the model's training data]"))]
    pub data: Option<String>,
    /// Which split to encode: `test` (as `relu eval` scores it) or `train` (the model's training
    /// part; for reviews, validation documents included).
    #[arg(long, value_enum, default_value_t = EncodeSplit::Test)]
    pub split: EncodeSplit,
    /// Hidden layer whose code is written, 1 = the lowest [default: the top hidden layer].
    #[arg(long, value_name = "K")]
    pub layer: Option<usize>,
    /// Output file (.safetensors for CSR tensors, anything else for svmlight text).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Kernel threads; 0 uses every core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
}

/// `relu sweep`.
#[derive(Debug, Args)]
#[command(
    after_help = "FILE: top-level keys are `relu train` settings shared by every network (as in a --config file); [grid] maps setting names to lists of values, every combination trained; [[runs]] entries each override settings for one network (or one grid of networks). Example:\n\n  data = \"mnist\"\n  epochs = 5\n  [grid]\n  l1 = [0.0, 0.0001, 0.001]\n  seed = [1, 2]\n  [[runs]]\n  hidden = [1000]\n  [[runs]]\n  hidden = [1000, 1000, 1000]"
)]
pub struct SweepArgs {
    /// The sweep file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Output folder for report.json and table.md [default: runs/sweep-YYYYMMDD-HHMMSS].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Kernel threads for every network, replacing the file's `threads` (0: every core).
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    /// Only print one line per network and the table.
    #[arg(long)]
    pub quiet: bool,
}

/// The split `relu encode` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EncodeSplit {
    /// The model's training examples.
    Train,
    /// The test split.
    Test,
}

/// `relu inspect`.
#[derive(Debug, Args)]
#[command(
    after_help = "dead: units that are zero on every analysed test example. Jaccard: the mean over examples of |A ∩ B| / |A ∪ B|, where A and B are the units active on an input and on the same input plus Gaussian noise of standard deviation σ (--noise); 1 means the noise changes no unit's on/off state. Probe accuracy: a linear softmax trained on the layer's codes of --probe-train training examples, scored on the test examples."
)]
#[command(allow_negative_numbers = true)]
pub struct InspectArgs {
    /// A trained model: the --out folder of `relu train` (or its model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[arg(long, value_name = "SPEC", help = format!("{DATA_HELP} [default: the model's training data]"))]
    pub data: Option<String>,
    /// Folder for inspect.json, inspect_unit_usage.svg (how often each unit is active, dead units
    /// at 0%) and inspect_layers.svg (per-layer sparsity, stability, probe accuracy)
    /// [default: the model folder].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Standard deviation of the Gaussian input noise ε for the active-set stability measure.
    #[arg(long, value_name = "SIGMA", default_value_t = relu_experiment::analysis::DEFAULT_NOISE_SIGMA)]
    pub noise: f32,
    /// Training-split examples for the linear probes.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub probe_train: usize,
    /// Test-split examples analysed (statistics and probe evaluation).
    #[arg(long, value_name = "N", default_value_t = 2000)]
    pub examples: usize,
    /// Epochs of SGD for each linear probe.
    #[arg(long, value_name = "N", default_value_t = relu_experiment::analysis::Probe::default().epochs)]
    pub probe_epochs: usize,
    /// Seed for the noise and the probes.
    #[arg(long, value_name = "N", default_value_t = relu_experiment::analysis::Probe::default().seed)]
    pub seed: u64,
    /// Kernel threads; 0 uses every core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `relu predict`.
#[derive(Debug, Args)]
#[command(after_help = "Text models print `LABEL<TAB>PROBABILITY` per input line (polarity: negative/positive; \
                        ratings: the expected star rating and the most likely one). Image models print \
                        `FILE:INDEX<TAB>CLASS<TAB>PROBABILITY` per image. With --data, each line is \
                        `INDEX<TAB>prediction as above<TAB>TRUE LABEL`, and the number predicted wrong goes to \
                        standard error.")]
pub struct PredictArgs {
    /// A trained model: the --out folder of `relu train` (or its model.safetensors).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Predict this dataset's test split instead of FILES (the examples `relu eval` scores:
    /// images' test split; reviews' held-out test documents of the model's split).
    #[arg(long, value_name = "SPEC", conflicts_with = "files")]
    pub data: Option<String>,
    /// Text models: plain or gzip files with one review per non-blank line (standard input when
    /// none); one prediction is printed per review, in order. Image models:
    /// IDX image files (`.gz` allowed) whose images have the model's shape.
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}

/// `relu data …`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Counts, shapes, label histograms and input sparsity of a dataset's splits.
    Info {
        #[arg(value_name = "SPEC", help = DATA_HELP)]
        spec: String,
        /// Review data: vocabulary size.
        #[arg(long, value_name = "N", default_value_t = relu_data::text::DEFAULT_VOCAB_SIZE)]
        vocab: usize,
        /// Review data: bag-of-words values.
        #[arg(long, value_name = "KIND", value_parser = bow_parser(), default_value_t = Weighting::default())]
        bow: Weighting,
        /// Review data: what the labels are (`auto`: polarity for 0/1/neg/pos, else one class per label).
        #[arg(long, value_name = "KIND", value_parser = target_parser(), default_value_t = LabelKind::Auto)]
        target: LabelKind,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Download and verify a dataset (checksums), resuming partial downloads.
    Fetch {
        /// mnist, cifar10 or norb.
        #[arg(value_name = "DATASET")]
        dataset: String,
        /// Root folder; files go to its subfolder mnist, cifar10 or smallnorb [default: $RELU_DATA, else the user
        /// cache folder's `relu`].
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Download from this base URL (e.g. a local mirror) instead of the official site and its
        /// mirrors; repeat to try several in order. File names and checksums stay the official ones.
        #[arg(long, value_name = "URL")]
        mirror: Vec<String>,
    },
}

/// `relu pretrain`: its own flags — the network and data of `relu train`, and how to pre-train.
#[derive(Debug, Args)]
#[command(after_help = "Pre-trains on all training inputs of --data (before any split into labelled subsets), plus \
                        --unlabeled's. Writes model.safetensors (pre-trained hidden layers, a random output layer), \
                        config.toml and pretrain.json (reconstruction error, code sparsity and dead units per layer and \
                        epoch) to --out, and prints the `relu train --init DIR …` command that fine-tunes it.")]
pub struct PretrainArgs {
    /// TOML file with any of the settings below (keys as the flag names, with `_` for `-`;
    /// supervised-training keys are ignored).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "SPEC", help = format!("{DATA_HELP} [default: mnist]"))]
    pub data: Option<String>,
    #[command(flatten)]
    pub net: NetFlags,
    /// Reconstruction layer: `dae` (the paper's choice for the activation) or `dae:STRATEGY`
    /// with STRATEGY softplus, scaled-sigmoid, linear, linear-pre, rectifier or sigmoid
    /// [default: dae].
    #[arg(long, value_name = "dae[:STRATEGY]")]
    pub pretrain: Option<crate::settings::Pretrain>,
    #[command(flatten)]
    pub dae: DaeFlags,
    /// SGD learning rate of every auto-encoder [default: 0.01; 0.03 for review data].
    #[arg(long, value_name = "RATE")]
    pub lr: Option<f32>,
    /// Minibatch size [default: 10].
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Extra unlabeled data: for review --data a reviews:FILE (.tsv or .jsonl with labels
    /// ignored, or any text file, one document per line) whose documents are added to --data's
    /// training documents, through their vocabulary; for image --data an image spec of the same
    /// input size (e.g. mnist:DIR) whose training inputs replace --data's.
    #[arg(long, value_name = "SPEC")]
    pub unlabeled: Option<String>,
    /// Seed for initialisation, corruption and shuffling [default: 1234].
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Kernel threads; 0 uses every core [default: 0]. Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub text: TextFlags,
    /// Output folder [default: runs/pretrain-YYYYMMDD-HHMMSS (UTC)].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(long, short)]
    pub quiet: bool,
}

impl PretrainArgs {
    /// The same settings as `relu train` flags, so both commands resolve them one way.
    pub fn as_train_args(&self) -> TrainArgs {
        TrainArgs {
            config: self.config.clone(),
            data: self.data.clone(),
            net: self.net.clone(),
            pretrain: Some(self.pretrain.unwrap_or(crate::settings::Pretrain { reconstruction: None })),
            dae: self.dae.clone(),
            lr: self.lr,
            batch: self.batch,
            unlabeled: self.unlabeled.clone(),
            seed: self.seed,
            threads: self.threads,
            text: self.text.clone(),
            out: self.out.clone(),
            quiet: self.quiet,
            ..TrainArgs::default()
        }
    }
}

/// `relu reproduce …`.
#[derive(Debug, Subcommand)]
pub enum ReproduceCommand {
    /// Table 1: rectifier, tanh and softplus networks, each without and with denoising
    /// auto-encoder pre-training, learning rate chosen from a grid by validation error.
    Table1(Table1Args),
    /// Figure 3: rectifier networks trained with L1 penalties from 0 to --l1-max; test error
    /// against sparsity, with a quadratic fit.
    Fig3(Fig3Args),
    /// Figure 4: semi-supervised; a fraction of the training labels, rectifier and tanh, with and
    /// without pre-training on every training input; test error against the labeled fraction.
    Fig4(Fig4Args),
    /// Table 2 (sentiment): bag-of-words reviews, a linear model against 1 and 3 rectifier layers
    /// and 3 tanh layers, with and without pre-training, scored by k-fold cross-validation.
    Sentiment(SentimentArgs),
}

/// Flags shared by every `relu reproduce` experiment.
#[derive(Debug, Args)]
pub struct ReproduceCommon {
    /// Supervised epochs per network (the best validation epoch is kept).
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Stop a network after N epochs without a better validation score [default: off].
    #[arg(long, value_name = "N")]
    pub patience: Option<usize>,
    /// Learning rates tried for every network: each trains --select-epochs on the training set,
    /// and the one with the lowest validation error is used for the full run.
    #[arg(long, value_name = "RATES", value_delimiter = ',')]
    pub lr_grid: Option<Vec<f32>>,
    /// Epochs of each learning-rate trial [default: as many as --epochs for table1 and
    /// sentiment, 1 otherwise]. Trials at least as long as --epochs are full runs (with
    /// --patience) and the best one is kept instead of being trained again; shorter trials favour
    /// large rates, which learn fastest at first.
    #[arg(long, value_name = "N")]
    pub select_epochs: Option<usize>,
    #[command(flatten)]
    pub recipe: RecipeFlags,
    /// Pre-training epochs per hidden layer (networks with pre-training).
    #[arg(long, value_name = "N")]
    pub pretrain_epochs: Option<usize>,
    /// Use only the first N training examples (labels and, for pre-training, inputs).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Wall-clock budget for the whole experiment, shared equally between its networks: each
    /// network's supervised training stops after the epoch that exhausts its share (the best
    /// validation epoch is still kept). Results then depend on the machine's speed.
    #[arg(long, value_name = "M")]
    pub budget_minutes: Option<f64>,
    /// Seed for initialisation, shuffling, corruption and review splits.
    #[arg(long, value_name = "N", default_value_t = relu_nn::TrainConfig::default().seed)]
    pub seed: u64,
    /// Kernel threads; 0 uses every core.
    #[arg(long, value_name = "N", default_value_t = 0, value_parser = parse_threads)]
    pub threads: usize,
    /// Output folder [default: runs/reproduce-EXPERIMENT-YYYYMMDD-HHMMSS (UTC)].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print nothing but errors and the final table.
    #[arg(long, short)]
    pub quiet: bool,
}

/// The image dataset of an experiment.
#[derive(Debug, Args)]
pub struct ImageData {
    /// Image data: mnist (embedded subset), mnist:DIR, cifar10:DIR or norb:DIR.
    #[arg(long, value_name = "SPEC", default_value = "mnist")]
    pub data: String,
}

/// `relu reproduce table1`.
#[derive(Debug, Args)]
#[command(after_help = "The paper's network and data: 3 hidden layers of 1000 units (NORB: 4000 and 2000), minibatch 10, \
                        masking noise 0.25 for pre-training, MNIST 50k/10k/10k. Our defaults where the paper's own stalled at \
                        1.9%: a cosine learning-rate schedule over 40 epochs (patience 10), the grid 0.1, 0.05, 0.03, and L1 \
                        0.0003 on rectifier activations (the paper: constant rate, L1 0.001; --lr-schedule constant --l1 0.001 \
                        restores them). Writes report.json and table.md to --out.")]
pub struct Table1Args {
    #[command(flatten)]
    pub images: ImageData,
    /// Rows to run, from rectifier, tanh and softplus.
    #[arg(long, value_name = "NAMES", value_delimiter = ',', default_value = "rectifier,tanh,softplus")]
    pub rows: Vec<String>,
    /// L1 penalty weight on the rectifier row's activations (tanh and softplus rows have none)
    /// [default: 0.0003; the paper's 0.001 makes our networks 93% sparse and 0.3 points worse,
    /// see docs/results.md].
    #[arg(long, value_name = "LAMBDA")]
    pub l1: Option<f32>,
    /// Columns to run: none (random initialisation), dae (pre-trained), or both.
    #[arg(long, value_name = "WHICH", default_value = "both")]
    pub pretraining: PretrainingColumns,
    #[command(flatten)]
    pub common: ReproduceCommon,
}

/// Which of Table 1's columns to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PretrainingColumns {
    /// Random initialisation only.
    None,
    /// Pre-trained only.
    Dae,
    /// Both.
    Both,
}

/// `relu reproduce fig3`.
#[derive(Debug, Args)]
#[command(after_help = "Writes report.json, table.md and fig3.svg (test error against the average fraction of zeros of the hidden \
                        layers, one point per network, with a least-squares quadratic) to --out.")]
pub struct Fig3Args {
    #[command(flatten)]
    pub images: ImageData,
    /// Number of networks: one without penalty, the others with L1 penalties spaced
    /// geometrically from --l1-min to --l1-max (each with its own initialisation seed).
    #[arg(long, value_name = "N", default_value_t = 21)]
    pub nets: usize,
    /// Smallest non-zero L1 penalty.
    #[arg(long, value_name = "LAMBDA", default_value_t = 1e-5)]
    pub l1_min: f32,
    /// Largest L1 penalty.
    #[arg(long, value_name = "LAMBDA", default_value_t = 0.01)]
    pub l1_max: f32,
    /// Sweep sparsity instead of λ: one network per target fraction of zeros (e.g.
    /// 0.5,0.6,0.7,0.8,0.9,0.95), each with `relu train --target-sparsity` adapting its λ from
    /// --l1-min (--nets, --l1-max are then unused).
    #[arg(long, value_name = "FRACTIONS", value_delimiter = ',')]
    pub by_sparsity: Option<Vec<f32>>,
    #[command(flatten)]
    pub common: ReproduceCommon,
}

/// `relu reproduce fig4`.
#[derive(Debug, Args)]
#[command(after_help = "Pre-training uses every training input (the first --limit ones when given); supervised training \
                        uses the first fraction of them with their labels. Writes report.json, table.md and fig4.svg to --out.")]
pub struct Fig4Args {
    #[command(flatten)]
    pub images: ImageData,
    /// Labeled fractions of the training set.
    #[arg(long, value_name = "FRACTIONS", value_delimiter = ',', default_value = "0.05,0.2,0.5,1")]
    pub fractions: Vec<f64>,
    #[command(flatten)]
    pub common: ReproduceCommon,
}

/// `relu reproduce sentiment`.
#[derive(Debug, Args)]
#[command(after_help = "Each fold fits its own top-N vocabulary on its training documents and holds out 10% of them \
                        (stratified) for learning-rate selection and early stopping. Writes report.json and table.md to --out.")]
pub struct SentimentArgs {
    /// Review data: reviews:FILE (.tsv `label<TAB>text` or .jsonl) or acl:DIR.
    #[arg(long, value_name = "SPEC")]
    pub data: String,
    /// Number of cross-validation folds.
    #[arg(long, value_name = "K", default_value_t = 5)]
    pub folds: usize,
    /// Units in each hidden layer.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub units: usize,
    /// Vocabulary size (most frequent terms of each fold's training documents).
    #[arg(long, value_name = "N", default_value_t = relu_data::text::DEFAULT_VOCAB_SIZE)]
    pub vocab: usize,
    /// More text for the +dae models' pre-training, beside each fold's training reviews: a
    /// .tsv or .jsonl review file (labels ignored) or any text file, one document per line.
    /// Its documents go through each fold's vocabulary; those with no vocabulary term are dropped.
    #[arg(long, value_name = "FILE")]
    pub unlabeled: Option<PathBuf>,
    /// What the labels are (`auto`: polarity for 0/1/neg/pos, else one class per label); `rating`
    /// is scored by RMSE, the others by error rate.
    #[arg(long, value_name = "KIND", value_parser = target_parser(), default_value_t = LabelKind::Auto)]
    pub target: LabelKind,
    /// Models to run (names as in the table): linear, rect1, rect3, tanh3, each optionally
    /// followed by +dae [default: all of them, with and without pre-training].
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub models: Option<Vec<String>>,
    /// L1 penalty on the rectifier layers' activations [default: 0.001 for rect1, 0.0001 for
    /// deeper rectifier stacks (the deep text recipe)].
    #[arg(long, value_name = "LAMBDA")]
    pub l1: Option<f32>,
    #[command(flatten)]
    pub common: ReproduceCommon,
}

/// The most kernel threads any command accepts.
pub const MAX_THREADS: usize = 1024;

/// `--bow`: relu-data's [`Weighting`] names, each with its help line.
fn bow_parser() -> impl clap::builder::TypedValueParser<Value = Weighting> {
    named_values(Weighting::ALL, Weighting::name, |w| match w {
        Weighting::Binary => "1 if the word occurs (the paper's choice)",
        Weighting::Counts => "Number of occurrences",
        Weighting::TfIdf => "tf-idf with idf from the training documents, unit-normalised",
    })
}

/// `--target`: relu-data's [`LabelKind`] names, each with its help line.
fn target_parser() -> impl clap::builder::TypedValueParser<Value = LabelKind> {
    named_values(LabelKind::ALL, LabelKind::name, |k| match k {
        LabelKind::Auto => {
            "Polarity when every label is 0, 1, neg or pos; otherwise one class per distinct label (said in one line when loading)"
        }
        LabelKind::Polarity => "0/1 (or neg/pos): a softmax over two classes, scored by error rate",
        LabelKind::Rating => "1–5 stars: a softmax over five levels read out as the expected rating, scored by RMSE",
        LabelKind::Class => "Any K distinct strings or integers: a softmax over K classes, scored by error rate",
    })
}

/// A flag whose values are a library enum's `names`, listed in the help with a line each.
fn named_values<T, const N: usize>(
    all: [T; N],
    name: fn(T) -> &'static str,
    help: fn(T) -> &'static str,
) -> impl clap::builder::TypedValueParser<Value = T>
where
    T: Copy + Send + Sync + 'static,
{
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new(all.map(|v| PossibleValue::new(name(v)).help(help(v))))
        .map(move |given| *all.iter().find(|&&v| name(v) == given).expect("clap accepts only the listed names"))
}

/// `--threads N` for every command: 0 (every core) to [`MAX_THREADS`].
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n <= MAX_THREADS => Ok(n),
        _ => Err(format!("expected 0 (all cores) to {MAX_THREADS} threads")),
    }
}
