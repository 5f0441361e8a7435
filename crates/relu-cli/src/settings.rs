//! The training configuration: the paper's defaults, a TOML file (`--config`), command-line flags
//! on top, and the fully resolved result written to `config.toml` in the run's folder.
//!
//! Every field has a default, so a config file only needs the values it changes; unknown keys are
//! refused (a typo must not silently fall back to a default).

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use relu_core::Activation;
use relu_data::text::{LabelKind, Weighting};
use relu_nn::{HiddenKind, LayerSpec};
use relu_pretrain::{Corruption, PretrainConfig, Reconstruction};
use serde::{Deserialize, Serialize};

use crate::data::DataSpec;

/// Default number of epochs. The embedded MNIST subset has 18,000 training examples; at the
/// ≈9,000 examples/s of the 784-1000-1000-1000-10 rectifier net on two cores an epoch (with its
/// validation pass) takes about 2 s, so the no-argument run stays under a minute.
pub const DEFAULT_EPOCHS: usize = 20;

/// The text recipe's learning rate: what `relu train` uses on review data (`reviews:`, `acl:`)
/// unless `--lr` or `lr` in `--config` says otherwise. With [`TEXT_INPUT_DROPOUT`] and a cosine
/// schedule it is the recipe measured in docs/results.md ("Sentiment"), where one rectifier layer
/// beats a converged logistic regression on both review sets.
pub const TEXT_LR: f32 = 0.03;

/// The text recipe's input dropout (see [`TEXT_LR`]).
pub const TEXT_INPUT_DROPOUT: f32 = 0.3;

/// The text recipe's learning-rate schedule (see [`TEXT_LR`]).
pub const TEXT_LR_SCHEDULE: relu_nn::LrSchedule = relu_nn::LrSchedule::Cosine { floor: 0.0 };

/// What the hidden layers compute: an affine map followed by any relu-core activation, or maxout
/// with `K` pieces. Written `rectifier`, `leaky-rectifier:S`, `softplus:A`, `tanh`, `sigmoid`,
/// `linear`, `lif` or `maxout:K`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum HiddenActivation {
    /// Affine + activation.
    Affine(Activation),
    /// Maxout with this many pieces per unit.
    Maxout(usize),
}

impl HiddenActivation {
    /// The relu-nn layer kind.
    pub fn kind(self) -> HiddenKind {
        match self {
            HiddenActivation::Affine(activation) => HiddenKind::Affine { activation },
            HiddenActivation::Maxout(pieces) => HiddenKind::Maxout { pieces },
        }
    }
}

impl FromStr for HiddenActivation {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str =
            "expected rectifier, leaky-rectifier:SLOPE, softplus:ALPHA, tanh, sigmoid, linear, lif or maxout:K (K from 2 to 64)";
        if let Some(k) = s.trim().strip_prefix("maxout") {
            let pieces = k.strip_prefix(':').and_then(|k| k.trim().parse::<usize>().ok()).filter(|k| (2..=64).contains(k));
            return pieces.map(HiddenActivation::Maxout).ok_or_else(|| format!("`{s}`: {EXPECTED}"));
        }
        s.parse::<Activation>().map(HiddenActivation::Affine).map_err(|e| format!("{e}; {EXPECTED}"))
    }
}

impl fmt::Display for HiddenActivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HiddenActivation::Affine(a) => a.fmt(f),
            HiddenActivation::Maxout(k) => write!(f, "maxout:{k}"),
        }
    }
}

impl TryFrom<String> for HiddenActivation {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<HiddenActivation> for String {
    fn from(a: HiddenActivation) -> String {
        a.to_string()
    }
}

/// Every training setting. Field names are the TOML keys and (with `_` → `-`) the flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Data spec (`--data`).
    pub data: String,
    /// Hidden layer sizes, bottom to top.
    pub hidden: Vec<usize>,
    /// Hidden activation.
    pub activation: HiddenActivation,
    /// L1 penalty weight on every hidden layer's activations.
    pub l1: f32,
    /// Flip the sign of half the units of each rectifier layer.
    pub sign_flip: bool,
    /// SGD learning rate.
    pub lr: f32,
    /// SGD momentum.
    pub momentum: f32,
    /// The learning rate's schedule over the epochs.
    pub lr_schedule: relu_nn::LrSchedule,
    /// L2 weight decay on the weights.
    pub weight_decay: f32,
    /// Inverted dropout probability on the training inputs.
    pub input_dropout: f32,
    /// What to do with units dead for a whole epoch: report them or revive them.
    pub dead_units: relu_nn::DeadUnits,
    /// Average the epoch-end parameters from this epoch on, and validate and keep the average.
    pub average_from: Option<usize>,
    /// Target fraction of zeros per hidden layer (absent: λ stays at `l1`).
    pub target_sparsity: Option<relu_nn::TargetSparsity>,
    /// Minibatch size.
    pub batch: usize,
    /// Maximum number of epochs.
    pub epochs: usize,
    /// Early-stopping patience in epochs (absent: train every epoch).
    pub patience: Option<usize>,
    /// Seed for initialisation, shuffling and data splits.
    pub seed: u64,
    /// Kernel threads; 0 means all cores.
    pub threads: usize,
    /// Train on the first `limit` training examples only.
    pub limit: Option<usize>,
    /// Vocabulary size for text data.
    pub vocab: usize,
    /// Bag-of-words weighting for text data.
    pub bow: Weighting,
    /// Label meaning for text data.
    pub target: LabelKind,
    /// k-fold cross-validation for text data (absent: one held-out split).
    pub folds: Option<usize>,
    /// Denoising auto-encoder pre-training of the hidden layers before supervised training
    /// (absent: random initialisation).
    pub pretrain: Option<Pretrain>,
    /// Pre-training epochs per hidden layer.
    pub pretrain_epochs: usize,
    /// Input corruption during pre-training.
    pub corruption: Corruption,
    /// Tie each auto-encoder's decoder weights to its encoder's.
    pub tied_decoder: bool,
    /// Reconstruction sampling during pre-training: the fraction of zero inputs reconstructed
    /// (absent: all).
    pub sampling: Option<f32>,
    /// Extra unlabeled data for pre-training (`--unlabeled`): review text added to the training
    /// documents, or an image spec whose training inputs replace --data's (absent: --data's
    /// training inputs only).
    pub unlabeled: Option<String>,
    /// Start from the network in this folder's model.safetensors (`--init`) instead of a random
    /// initialisation (absent: random, from the seed).
    pub init: Option<std::path::PathBuf>,
    /// Under MPI with more than one process: 1 sums the gradients every batch (synchronous
    /// SGD); K > 1 lets each process step alone and averages the networks every K batches
    /// (local SGD). No effect in one process.
    pub sync_every: usize,
}

/// `--pretrain dae` (the reconstruction the paper recommends for the activation: softplus for
/// rectifiers, sigmoid otherwise) or `--pretrain dae:STRATEGY` with STRATEGY one of `softplus`,
/// `scaled-sigmoid`, `linear`, `linear-pre`, `rectifier`, `sigmoid` (or the paper's numbers 1–4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Pretrain {
    /// The reconstruction strategy; `None` picks the default for the activation.
    pub reconstruction: Option<Reconstruction>,
}

impl FromStr for Pretrain {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        const EXPECTED: &str = "expected dae or dae:STRATEGY (softplus, scaled-sigmoid, linear, linear-pre, rectifier, sigmoid)";
        match s.trim().split_once(':') {
            None if s.trim() == "dae" => Ok(Pretrain { reconstruction: None }),
            Some(("dae", r)) => {
                r.parse::<Reconstruction>().map(|r| Pretrain { reconstruction: Some(r) }).map_err(|e| format!("{e}; {EXPECTED}"))
            }
            _ => Err(format!("`{s}`: {EXPECTED}")),
        }
    }
}

impl fmt::Display for Pretrain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reconstruction {
            None => f.write_str("dae"),
            Some(r) => write!(f, "dae:{r}"),
        }
    }
}

impl TryFrom<String> for Pretrain {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        value.parse()
    }
}

impl From<Pretrain> for String {
    fn from(value: Pretrain) -> Self {
        value.to_string()
    }
}

/// `--l1`'s rule, shared by `train`, `reproduce table1` and `reproduce sentiment`.
pub(crate) fn check_l1(l1: f32) -> Result<()> {
    if !(l1.is_finite() && l1 >= 0.0) {
        bail!("--l1: invalid penalty {l1}: expected a finite number >= 0");
    }
    Ok(())
}

/// `--vocab`'s rule: the vocabulary is the first layer's input, so 1 to relu-nn's
/// [`relu_nn::MAX_UNITS`].
pub(crate) fn check_vocab(vocab: usize) -> Result<()> {
    if vocab == 0 || vocab > relu_nn::MAX_UNITS {
        bail!("--vocab: invalid vocabulary size {vocab}: expected 1 to {}", thousands(relu_nn::MAX_UNITS));
    }
    Ok(())
}

/// `--folds`' rule: cross-validation needs at least two folds.
pub(crate) fn check_folds(k: usize) -> Result<()> {
    if k < 2 {
        bail!("--folds: invalid number of folds {k}: expected at least 2");
    }
    Ok(())
}

/// `n` with a comma every three digits (16,777,216).
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Default for Settings {
    /// The libraries' defaults (relu-nn's `TrainConfig`, relu-pretrain's `PretrainConfig`) and
    /// the paper's network, except the number of epochs ([`DEFAULT_EPOCHS`]).
    fn default() -> Self {
        let t = relu_nn::TrainConfig::default();
        let p = PretrainConfig::default();
        Self {
            data: "mnist".into(),
            hidden: vec![1000, 1000, 1000],
            activation: HiddenActivation::Affine(Activation::Rectifier),
            l1: 1e-3,
            sign_flip: false,
            lr: t.sgd.lr,
            momentum: t.sgd.momentum,
            lr_schedule: t.sgd.schedule,
            weight_decay: t.sgd.weight_decay,
            input_dropout: t.input_dropout,
            dead_units: t.dead_units,
            average_from: t.average_from,
            target_sparsity: t.target_sparsity,
            batch: t.batch_size,
            epochs: DEFAULT_EPOCHS,
            patience: t.patience,
            seed: t.seed,
            threads: t.threads,
            limit: None,
            vocab: relu_data::text::DEFAULT_VOCAB_SIZE,
            bow: Weighting::default(),
            target: LabelKind::Auto,
            folds: None,
            pretrain: None,
            pretrain_epochs: p.epochs,
            corruption: p.corruption,
            tied_decoder: p.tied,
            sampling: p.sampling,
            unlabeled: None,
            init: None,
            sync_every: 1,
        }
    }
}

impl Settings {
    /// Reads a TOML file; missing keys take their defaults.
    ///
    /// # Errors
    /// If the file cannot be read, is not TOML, or has an unknown key or a bad value (the
    /// message names the file, the key and the line).
    pub fn from_file(path: &Path) -> Result<Self> {
        Self::from_file_with_keys(path).map(|(s, _)| s)
    }

    /// As [`Settings::from_file`], also returning the keys the file sets (the settings the user
    /// chose, as opposed to defaults).
    ///
    /// # Errors
    /// As [`Settings::from_file`].
    pub fn from_file_with_keys(path: &Path) -> Result<(Self, Vec<String>)> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let s = Self::from_toml(&text).with_context(|| format!("config file {}", path.display()))?;
        // Parsed as settings above, so it is a TOML table.
        let keys = text.parse::<toml::Table>().map(|t| t.keys().cloned().collect()).unwrap_or_default();
        Ok((s, keys))
    }

    /// Replaces the image defaults of the learning rate, its schedule and the input dropout by
    /// the text recipe ([`TEXT_LR`], [`TEXT_LR_SCHEDULE`], [`TEXT_INPUT_DROPOUT`]) when the data
    /// is review text, except for the settings `given(key)` says the user chose (by flag or
    /// config file; keys as in config.toml).
    pub fn apply_text_recipe(&mut self, given: impl Fn(&str) -> bool) {
        if !self.data.parse::<DataSpec>().is_ok_and(|d| d.is_text()) {
            return;
        }
        if !given("lr") {
            self.lr = TEXT_LR;
        }
        if !given("lr_schedule") {
            self.lr_schedule = TEXT_LR_SCHEDULE;
        }
        if !given("input_dropout") {
            self.input_dropout = TEXT_INPUT_DROPOUT;
        }
    }

    /// Parses TOML text.
    ///
    /// # Errors
    /// For TOML syntax errors, unknown keys and bad values.
    pub fn from_toml(text: &str) -> Result<Self> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}", e.to_string().trim_end()))
    }

    /// The TOML text of these settings (what `config.toml` holds).
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).expect("settings always serialise to TOML");
        format!(
            "# The fully resolved configuration of this run (defaults, --config file and flags).\n\
             # Re-run with: relu train --config config.toml\n{body}"
        )
    }

    /// Checks every value, naming the flag of the first bad one.
    ///
    /// # Errors
    /// A message `--flag: invalid value …: expected …`.
    pub fn check(&self) -> Result<()> {
        if self.sync_every == 0 {
            bail!("--sync-every: invalid interval 0: expected at least 1 batch");
        }
        let spec = self.data_spec()?;
        if self.hidden.is_empty() || self.hidden.iter().any(|&h| h == 0 || h > relu_nn::MAX_UNITS) {
            bail!(
                "--hidden: invalid layer sizes {:?}: expected one or more sizes from 1 to {}, e.g. 1000,1000,1000",
                self.hidden,
                thousands(relu_nn::MAX_UNITS)
            );
        }
        check_l1(self.l1)?;
        if self.sign_flip && self.activation != HiddenActivation::Affine(Activation::Rectifier) {
            bail!("--sign-flip: only rectifier layers can be sign-flipped, but --activation is {}", self.activation);
        }
        // relu-nn's rules for the training settings, reported with their flags.
        self.train_config().check().map_err(crate::flags::nn)?;
        if self.threads > crate::cli::MAX_THREADS {
            bail!("--threads: invalid thread count {}: expected 0 (all cores) to {}", self.threads, crate::cli::MAX_THREADS);
        }
        if self.limit == Some(0) {
            bail!("--limit: invalid limit 0: expected at least 1 training example");
        }
        check_vocab(self.vocab)?;
        if let Some(k) = self.folds {
            check_folds(k)?;
            if !spec.is_text() {
                bail!("--folds: cross-validation is for review data (reviews:FILE, acl:DIR), but --data is {}", self.data);
            }
        }
        if self.pretrain.is_some() {
            if matches!(self.activation, HiddenActivation::Maxout(_)) {
                bail!("--pretrain: maxout layers cannot be pre-trained as auto-encoders; use an affine --activation");
            }
            // relu-pretrain's rules (epochs, sampling, corruption).
            self.pretrain_config().expect("pre-training is on").check().map_err(crate::flags::pretrain)?;
        }
        if let (Some(dir), Some(_)) = (&self.init, &self.pretrain) {
            bail!("--init {}: a network to start from and --pretrain exclude each other; give one of them", dir.display());
        }
        if let Some(u) = &self.unlabeled
            && self.pretrain.is_none()
        {
            bail!("--unlabeled {u}: extra unlabeled data is for pre-training; add --pretrain dae");
        }
        self.unlabeled_spec()?;
        self.corruption.check().map_err(crate::flags::pretrain)?;
        if self.target == LabelKind::Rating && matches!(spec, DataSpec::Acl(_)) {
            bail!("--target: acl:DIR folders have polarity labels only; use --target polarity");
        }
        Ok(())
    }

    /// The `--unlabeled` spec, checked against `--data`: for review data a `reviews:FILE` (never
    /// an `acl:DIR`), for image data an image spec. `None` without `--unlabeled`.
    ///
    /// # Errors
    /// An unparsable spec, or one of the other kind, named with the flag.
    pub fn unlabeled_spec(&self) -> Result<Option<DataSpec>> {
        let Some(u) = &self.unlabeled else { return Ok(None) };
        let data = self.data_spec()?;
        let extra: DataSpec = u.parse().map_err(|e| anyhow::anyhow!("--unlabeled: {e}"))?;
        if data.is_text() != extra.is_text() || matches!(extra, DataSpec::Acl(_)) {
            bail!(
                "--unlabeled {u}: expected {} for --data {}",
                if data.is_text() { "review text as reviews:FILE (any .tsv, .jsonl or text file)" } else { "an image spec" },
                self.data
            );
        }
        Ok(Some(extra))
    }

    /// The `--data` spec.
    ///
    /// # Errors
    /// An unparsable spec, named with the flag.
    pub fn data_spec(&self) -> Result<DataSpec> {
        DataSpec::from_flag(&self.data)
    }

    /// How review text is turned into features (vocabulary, values, labels, split seed).
    pub fn text_options(&self) -> crate::data::TextOptions {
        crate::data::TextOptions { vocab: self.vocab, bow: self.bow, target: self.target, seed: self.seed }
    }

    /// The hidden layers' specs.
    pub fn layers(&self) -> Vec<LayerSpec> {
        self.hidden.iter().map(|&units| LayerSpec { units, kind: self.activation.kind(), l1: self.l1, sign_flip: self.sign_flip }).collect()
    }

    /// The relu-pretrain configuration (same seed and batch size as training).
    pub fn pretrain_config(&self) -> Option<PretrainConfig> {
        self.pretrain.map(|p| PretrainConfig {
            epochs: self.pretrain_epochs,
            batch_size: self.batch,
            lr: self.lr,
            corruption: self.corruption,
            reconstruction: p.reconstruction,
            tied: self.tied_decoder,
            sampling: self.sampling,
            seed: self.seed,
            ..PretrainConfig::default()
        })
    }

    /// The relu-nn training configuration.
    pub fn train_config(&self) -> relu_nn::TrainConfig {
        relu_nn::TrainConfig {
            epochs: self.epochs,
            batch_size: self.batch,
            sgd: relu_nn::Sgd { lr: self.lr, momentum: self.momentum, weight_decay: self.weight_decay, schedule: self.lr_schedule },
            patience: self.patience,
            seed: self.seed,
            threads: self.threads,
            input_dropout: self.input_dropout,
            dead_units: self.dead_units,
            average_from: self.average_from,
            target_sparsity: self.target_sparsity,
            ..Default::default()
        }
    }
}

/// The number of threads `threads` means (0 = all cores).
pub fn resolve_threads(threads: usize) -> usize {
    if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(relu_nn::MAX_UNITS), "16,777,216");
        assert_eq!(
            (thousands(0), thousands(999), thousands(1000), thousands(123_456)),
            ("0".into(), "999".into(), "1,000".into(), "123,456".into())
        );
    }

    use proptest::prelude::*;
    use proptest::test_runner::RngSeed;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, rng_seed: RngSeed::Fixed(2011), ..ProptestConfig::default() })]

        /// A config.toml with random edits parses or is an error, never a panic; what parses and
        /// passes `check` writes back to TOML that reads as the same settings.
        #[test]
        fn edited_config_files_parse_or_fail_cleanly(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut text: Vec<char> = Settings::default().to_toml().chars().collect();
            for (i, c) in edits {
                let i = i.index(text.len());
                text[i] = c;
            }
            text.truncate(cut.index(text.len() + 1));
            let text: String = text.into_iter().collect();
            if let Ok(s) = Settings::from_toml(&text)
                && s.check().is_ok()
            {
                prop_assert_eq!(Settings::from_toml(&s.to_toml()).unwrap(), s);
            }
        }

        #[test]
        fn arbitrary_text_is_not_a_panic(text in ".{0,200}") {
            let _ = Settings::from_toml(&text).map(|s| s.check());
        }
    }

    #[test]
    fn schedule_and_weight_decay_reach_the_training_config() {
        let s = Settings::from_toml("lr_schedule = \"step:5:0.5\"\nweight_decay = 0.0001\n").unwrap();
        let sgd = s.train_config().sgd;
        assert_eq!(sgd.schedule, relu_nn::LrSchedule::Step { every: 5, factor: 0.5 });
        assert_eq!(sgd.weight_decay, 1e-4);
        assert_eq!(Settings::from_toml(&s.to_toml()).unwrap(), s);
        let e = Settings::from_toml("lr_schedule = \"cosine:3\"").unwrap_err().to_string();
        assert!(e.contains("lr_schedule") && e.contains("floor"), "{e}");
        let e = Settings { weight_decay: -1.0, ..Default::default() }.check().unwrap_err().to_string();
        assert!(e.starts_with("--weight-decay"), "{e}");
    }

    #[test]
    fn defaults_round_trip_through_toml() {
        let s = Settings::default();
        assert_eq!(Settings::from_toml(&s.to_toml()).unwrap(), s);
        s.check().unwrap();
    }

    /// The defaults come from the libraries; `relu train`'s documented defaults (its --help and
    /// the paper's protocol) must not move with them unnoticed.
    #[test]
    fn target_sparsity_files_without_damping_resume_undamped() {
        // config.toml files written before the damping term existed keep their controller.
        let old = Settings::from_toml("[target_sparsity]\ntargets = [0.85]\ngain = 3.0\n").unwrap();
        let t = old.target_sparsity.unwrap();
        assert_eq!((t.targets(), t.gain, t.damping), (&[0.85f32][..], 3.0, 0.0));
        // A fresh target carries the defaults, and they are written out.
        let fresh = Settings { target_sparsity: Some("0.85".parse().unwrap()), ..Default::default() };
        let t = Settings::from_toml(&fresh.to_toml()).unwrap().target_sparsity.unwrap();
        assert_eq!((t.gain, t.damping), (relu_nn::TargetSparsity::DEFAULT_GAIN, relu_nn::TargetSparsity::DEFAULT_DAMPING));
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::default();
        assert_eq!((s.lr, s.momentum, s.weight_decay, s.input_dropout), (0.01, 0.0, 0.0, 0.0));
        assert_eq!((s.batch, s.epochs, s.patience, s.seed, s.threads), (10, 20, None, 1234, 0));
        assert_eq!(s.lr_schedule, relu_nn::LrSchedule::Constant);
        assert_eq!((s.pretrain_epochs, s.corruption, s.tied_decoder, s.sampling), (10, Corruption::Masking(0.25), false, None));
        assert_eq!(s.train_config(), relu_nn::TrainConfig { epochs: 20, ..Default::default() });
    }

    #[test]
    fn library_rules_are_reported_with_the_flag() {
        for (s, start) in [
            (Settings { epochs: 0, ..Default::default() }, "--epochs: invalid number of epochs 0"),
            (Settings { batch: 0, ..Default::default() }, "--batch: invalid batch size 0"),
            (Settings { patience: Some(0), ..Default::default() }, "--patience: invalid patience 0"),
            (Settings { input_dropout: 1.0, ..Default::default() }, "--input-dropout: invalid input dropout 1"),
            (Settings { lr: f32::NAN, ..Default::default() }, "--lr: invalid learning rate NaN"),
            (Settings { lr_schedule: relu_nn::LrSchedule::Step { every: 0, factor: 0.5 }, ..Default::default() }, "--lr-schedule: "),
            (
                Settings { pretrain: Some(Pretrain { reconstruction: None }), pretrain_epochs: 0, ..Default::default() },
                "--pretrain-epochs: ",
            ),
            (Settings { pretrain: Some(Pretrain { reconstruction: None }), sampling: Some(0.0), ..Default::default() }, "--sampling: "),
            (Settings { corruption: Corruption::Masking(1.5), ..Default::default() }, "--corruption: "),
        ] {
            let e = s.check().unwrap_err().to_string();
            assert!(e.starts_with(start), "{e}");
        }
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(Settings::from_toml("lr = 0.1\nlearning_rate = 2").unwrap_err().to_string().contains("learning_rate"));
        let e = Settings::from_toml("activation = \"swish\"").unwrap_err().to_string();
        assert!(e.contains("swish"), "{e}");
        let s = Settings { momentum: 1.0, ..Default::default() };
        assert!(s.check().unwrap_err().to_string().starts_with("--momentum"));
    }

    #[test]
    fn activation_strings() {
        for s in ["rectifier", "maxout:3", "softplus:2", "leaky-rectifier:0.01", "tanh"] {
            assert_eq!(s.parse::<HiddenActivation>().unwrap().to_string(), s);
        }
        assert!("maxout".parse::<HiddenActivation>().is_err());
        assert!("maxout:1".parse::<HiddenActivation>().is_err());
    }
}
