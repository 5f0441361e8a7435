//! Training progress: indicatif bars on a terminal, one plain line per epoch otherwise, nothing
//! with `--quiet`; and the stop signal (Ctrl-C, or `--stop-after-batches` in tests) that the
//! trainer polls after every batch.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use relu_nn::{BatchProgress, EpochMetrics, Observer};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Nothing.
    Quiet,
    /// One line per epoch (stdout is not a terminal).
    Plain,
    /// Progress bars.
    Bars,
}

impl Display {
    /// Prints `line` unless quiet.
    pub fn say(self, line: &str) {
        if self != Display::Quiet {
            println!("{line}");
        }
    }

    /// Bars on a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn choose(quiet: bool) -> Self {
        if quiet {
            Display::Quiet
        } else if std::io::stdout().is_terminal() {
            Display::Bars
        } else {
            Display::Plain
        }
    }
}

/// Set once a stop request has reached the trainer: from then on the process is finishing its
/// batch and writing the resumable state (or the report), which a second Ctrl-C must not cut
/// short.
static SAVING: AtomicBool = AtomicBool::new(false);
/// Checkpoint writes under way ([`writing`]); a second Ctrl-C waits for them too.
static WRITING: AtomicUsize = AtomicUsize::new(0);

/// Marks a checkpoint write in progress until the guard drops, so that a second Ctrl-C during
/// it does not exit before the file is complete and the stop request is handled.
pub fn writing() -> WriteGuard {
    WRITING.fetch_add(1, Ordering::SeqCst);
    WriteGuard(())
}

/// See [`writing`].
#[derive(Debug)]
pub struct WriteGuard(());

impl Drop for WriteGuard {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Installs the Ctrl-C (and SIGTERM) handler: the first signal sets the returned flag (training
/// stops after the current batch and saves a resumable state). A second one exits at once with
/// code 130 if training has not noticed the first yet (e.g. while data loads) and no checkpoint
/// is being written; otherwise the save is under way and finishes first.
pub fn install_ctrlc() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = Arc::clone(&flag);
    // A handler can only be installed once per process; `relu` trains once per process, so a
    // failure here only means no graceful Ctrl-C, which is not worth failing the run for.
    let _ = ctrlc::set_handler(move || {
        if !f.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted: finishing the current batch and saving a resumable state (Ctrl-C again to abort)");
        } else if SAVING.load(Ordering::SeqCst) || WRITING.load(Ordering::SeqCst) > 0 {
            eprintln!("interrupted again: the resumable state is being written and will be complete in a moment");
        } else {
            std::process::exit(130);
        }
    });
    flag
}

/// The trainer's [`Observer`]: draws progress and relays stop requests.
#[derive(Debug)]
pub struct Progress {
    display: Display,
    stop: Arc<AtomicBool>,
    stop_after: Option<usize>,
    batches_seen: usize,
    epochs: usize,
    /// Printed before each plain line (e.g. `fold 2/10 `).
    prefix: String,
    bars: Option<(MultiProgress, ProgressBar, ProgressBar)>,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).expect("a valid progress template").progress_chars("=> ")
}

impl Progress {
    /// Progress for a run of `epochs` epochs of which `done` are already complete (on resume).
    /// `stop_after` requests a stop after that many batches in this process (a testing aid that
    /// takes the same path as Ctrl-C).
    pub fn new(display: Display, stop: Arc<AtomicBool>, stop_after: Option<usize>, epochs: usize, done: usize, prefix: &str) -> Self {
        let bars = (display == Display::Bars).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            let epoch = multi.add(ProgressBar::new(epochs as u64));
            epoch.set_style(style("{prefix}epoch {pos}/{len} [{bar:30}] {elapsed_precise} (eta {eta}) {msg}"));
            epoch.set_prefix(prefix.to_owned());
            epoch.set_position(done as u64);
            let batch = multi.add(ProgressBar::new(1));
            batch.set_style(style("  batch {pos}/{len} [{bar:30}] {msg}"));
            epoch.enable_steady_tick(Duration::from_millis(250));
            (multi, epoch, batch)
        });
        Self { display, stop, stop_after, batches_seen: 0, epochs, prefix: prefix.to_owned(), bars }
    }

    /// Removes the bars (before the summary is printed).
    pub fn finish(&mut self) {
        if let Some((multi, epoch, batch)) = self.bars.take() {
            batch.finish_and_clear();
            epoch.finish();
            let _ = multi.clear();
        }
    }
}

/// The [`relu_experiment::Monitor`] of the experiments: a [`Progress`] per training run,
/// labelled `NAME lr RATE ` for a learning-rate trial, `NAME ` for the final run and
/// `fold I/K ` for a cross-validation fold, and a line per finished trial.
#[derive(Debug)]
pub struct Runs<'a> {
    /// How progress is shown.
    pub display: Display,
    /// The stop flag ([`install_ctrlc`]).
    pub stop: Arc<AtomicBool>,
    /// As [`Progress::new`]'s.
    pub stop_after: Option<usize>,
    /// The network's name in labels and lines.
    pub name: &'a str,
}

impl relu_experiment::Monitor for Runs<'_> {
    type Observer = Progress;

    fn start(&mut self, run: relu_experiment::Run, epochs: usize) -> Progress {
        let label = match run {
            relu_experiment::Run::Trial { lr } => format!("{} lr {lr} ", self.name),
            relu_experiment::Run::Final { .. } => format!("{} ", self.name),
            relu_experiment::Run::Fold { index, of } => format!("fold {}/{of} ", index + 1),
        };
        Progress::new(self.display, self.stop.clone(), self.stop_after, epochs, 0, &label)
    }

    fn finish(&mut self, mut observer: Progress) {
        observer.finish();
    }

    fn trial(&mut self, lr: f32, valid: Option<f64>) {
        if self.display != Display::Quiet {
            println!("{}: lr {lr}: valid {}", self.name, valid.map_or("diverged".to_owned(), |v| format!("{:.2} %", 100.0 * v)));
        }
    }
}

fn percent(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

/// One plain-text line describing an epoch.
pub fn epoch_line(m: &EpochMetrics, epochs: usize) -> String {
    let mut line = format!("epoch {}/{epochs}  train loss {:.4}  penalty {:.4}", m.epoch, m.train_loss, m.penalty);
    if let Some(e) = m.train_error {
        line += &format!("  train error {}", percent(e));
    }
    if let Some(v) = &m.valid {
        line += &format!("  valid loss {:.4}", v.loss);
        if let Some(e) = v.error {
            line += &format!("  valid error {}", percent(e));
        }
        if let Some(r) = v.rmse {
            line += &format!("  valid rmse {r:.4}");
        }
    }
    let sparsity: Vec<String> = m.sparsity.iter().map(|&s| percent(s)).collect();
    line += &format!("  sparsity {}  {:.0} ex/s  {:.1} s", sparsity.join(" "), m.examples_per_second, m.seconds);
    line
}

impl Observer for Progress {
    fn on_batch(&mut self, p: &BatchProgress) {
        self.batches_seen += 1;
        if let Some((_, _, bar)) = &self.bars {
            if p.batch == 0 {
                bar.set_length(p.batches as u64);
            }
            bar.set_position(p.batch as u64 + 1);
            // Formatting a message per batch is cheap next to a training step, but refreshing it
            // every few batches is enough for a human.
            if p.batch.is_multiple_of(8) || p.batch + 1 == p.batches {
                let err = p.error.map(|e| format!("  error {}", percent(e))).unwrap_or_default();
                bar.set_message(format!("loss {:.4}{err}  sparsity {}  {:.0} ex/s", p.loss, percent(p.sparsity), p.examples_per_second));
            }
        }
    }

    fn on_epoch(&mut self, m: &EpochMetrics) {
        match self.display {
            Display::Quiet => {}
            Display::Plain => println!("{}{}", self.prefix, epoch_line(m, self.epochs)),
            Display::Bars => {
                if let Some((multi, epoch, _)) = &self.bars {
                    let _ = multi.println(format!("{}{}", self.prefix, epoch_line(m, self.epochs)));
                    epoch.set_position(m.epoch as u64);
                    if let Some(e) = m.valid.as_ref().and_then(|v| v.error) {
                        epoch.set_message(format!("valid error {}", percent(e)));
                    }
                }
            }
        }
    }

    fn stop_requested(&mut self) -> bool {
        let stop = self.stop.load(Ordering::SeqCst) || self.stop_after.is_some_and(|n| self.batches_seen >= n);
        if stop {
            SAVING.store(true, Ordering::SeqCst);
        }
        stop
    }
}
