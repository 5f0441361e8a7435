//! The MPI side of [`super::Cluster`] (`mpi` feature): the world communicator, the sweep
//! scheduler and the data-parallel group.
//!
//! Sweep protocol (rank 0 coordinates on its main thread while a second thread of it runs jobs
//! like any other rank): a worker rank sends `READY`, then receives `ASSIGN(job)` or `DONE`;
//! after each job it sends `RESULT` (the job index and its outcome as JSON) and receives the
//! next assignment. Rank 0 polls for messages every few milliseconds instead of blocking, so its
//! coordinating thread does not spin a core that its own jobs need.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mpi::Threading;
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::point_to_point::MatchedReceiveVec;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Swept;

const READY: i32 = 1;
const RESULT: i32 = 2;
const ASSIGN: i32 = 3;
const DONE: i32 = 4;

/// The MPI world, initialised for calls from any thread (one at a time).
pub(super) struct World {
    // Dropping the universe finalises MPI, after the communicator is gone.
    world: SimpleCommunicator,
    _universe: Universe,
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "World(rank {} of {})", self.rank(), self.size())
    }
}

/// A job's result, `Ok(None)` when interrupted, or its error's text.
type JobResult<T> = std::result::Result<Option<T>, String>;

/// Per job, once it ended: the rank that ran it and its result.
type Outcomes<T> = Mutex<Vec<Option<(usize, JobResult<T>)>>>;

/// A job's outcome as a worker rank reports it.
#[derive(Serialize, Deserialize)]
struct Outcome<T> {
    job: usize,
    result: JobResult<T>,
}

impl World {
    pub(super) fn init() -> Result<World> {
        let (universe, threading) =
            mpi::initialize_with_threading(Threading::Multiple).context("MPI was already initialised in this process")?;
        if matches!(threading, Threading::Single | Threading::Funneled) {
            bail!("this MPI library offers only {threading:?} threading; relu needs MPI_THREAD_SERIALIZED or better");
        }
        Ok(World { world: universe.world(), _universe: universe })
    }

    pub(super) fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    pub(super) fn size(&self) -> usize {
        self.world.size() as usize
    }

    pub(super) fn abort(&self, code: i32) {
        self.world.abort(code)
    }

    pub(super) fn group(&self) -> Group<'_> {
        Group { world: &self.world, f32s: Vec::new(), f64s: Vec::new() }
    }

    pub(super) fn run_jobs<T, F>(&self, jobs: usize, stop: &AtomicBool, work: &F) -> Result<Option<Swept<T>>>
    where
        T: Serialize + DeserializeOwned + Send,
        F: Fn(usize) -> Result<Option<T>> + Sync,
    {
        if self.rank() != 0 {
            self.serve(work)?;
            return Ok(None);
        }
        let next = AtomicUsize::new(0);
        let halt = AtomicBool::new(false);
        let outcomes: Outcomes<T> = Mutex::new((0..jobs).map(|_| None).collect());
        let take = || (!halt.load(Ordering::SeqCst)).then(|| next.fetch_add(1, Ordering::SeqCst)).filter(|&i| i < jobs);
        let record = |job: usize, rank: usize, result: JobResult<T>| {
            if !matches!(result, Ok(Some(_))) {
                halt.store(true, Ordering::SeqCst);
            }
            outcomes.lock().expect("no job panicked while recording")[job] = Some((rank, result));
        };
        std::thread::scope(|s| -> Result<()> {
            let local = s.spawn(|| {
                while let Some(i) = take() {
                    record(i, 0, work(i).map_err(|e| format!("{e:#}")));
                }
            });
            let mut serving = self.size() - 1;
            let mut stopping: Option<Instant> = None;
            while serving > 0 {
                if stop.load(Ordering::SeqCst) {
                    halt.store(true, Ordering::SeqCst);
                    let since = *stopping.get_or_insert_with(Instant::now);
                    if local.is_finished() && since.elapsed() >= super::GRACE {
                        // The ranks still running did not answer in time (one may be dead):
                        // report without them; `main` then aborts the MPI job.
                        break;
                    }
                }
                let Some(probed) = self.world.any_process().immediate_matched_probe() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (bytes, status) = probed.matched_receive_vec::<u8>();
                let source = status.source_rank();
                if status.tag() == RESULT {
                    let o: Outcome<T> =
                        serde_json::from_slice(&bytes).with_context(|| format!("rank {source} sent an unreadable result"))?;
                    if o.job >= jobs {
                        bail!("rank {source} reported job {} of {jobs}", o.job);
                    }
                    record(o.job, source as usize, o.result);
                }
                let to = self.world.process_at_rank(source);
                match take() {
                    Some(i) => to.send_with_tag(&(i as u64), ASSIGN),
                    None => {
                        to.send_with_tag(&0u64, DONE);
                        serving -= 1;
                    }
                }
            }
            local.join().map_err(|_| anyhow::anyhow!("a job panicked on rank 0"))
        })?;
        let mut swept = Swept { done: Vec::new(), missing: Vec::new() };
        for (i, outcome) in outcomes.into_inner().expect("jobs finished").into_iter().enumerate() {
            match outcome {
                Some((_, Ok(Some(r)))) => swept.done.push(r),
                Some((rank, Err(e))) => bail!("job {} of {jobs} failed on rank {rank}: {e}", i + 1),
                Some((_, Ok(None))) | None => swept.missing.push(i),
            }
        }
        Ok(Some(swept))
    }

    /// A worker rank: runs the jobs rank 0 assigns until it says `DONE`.
    fn serve<T, F>(&self, work: &F) -> Result<()>
    where
        T: Serialize,
        F: Fn(usize) -> Result<Option<T>>,
    {
        let root = self.world.process_at_rank(0);
        root.send_with_tag(&0u64, READY);
        loop {
            let (message, status) = root.matched_probe();
            let (job, _) = message.matched_receive::<u64>();
            if status.tag() == DONE {
                return Ok(());
            }
            let job = job as usize;
            let result = work(job).map_err(|e| format!("{e:#}"));
            let bytes = serde_json::to_vec(&Outcome { job, result })?;
            root.send_with_tag(&bytes[..], RESULT);
        }
    }
}

/// The world as a data-parallel group: sums are MPI allreduces.
pub(super) struct Group<'w> {
    world: &'w SimpleCommunicator,
    f32s: Vec<f32>,
    f64s: Vec<f64>,
}

// SAFETY: MPI was initialised with MPI_THREAD_SERIALIZED or better (checked in `World::init`),
// which allows MPI calls from any thread as long as no two run at once. The group is only used
// through `&mut` by the one thread that trains, and while it trains no other thread of the
// process calls MPI (`relu train` makes no other MPI calls during `fit`).
unsafe impl Send for Group<'_> {}

impl relu_nn::parallel::Collective for Group<'_> {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn sum_f32(&mut self, values: &mut [f32]) {
        self.f32s.clear();
        self.f32s.extend_from_slice(values);
        self.world.all_reduce_into(&self.f32s[..], values, SystemOperation::sum());
    }

    fn sum_f32_into(&mut self, values: &[f32], sum: &mut [f32]) {
        self.world.all_reduce_into(values, sum, SystemOperation::sum());
    }

    fn sum_f64(&mut self, values: &mut [f64]) {
        self.f64s.clear();
        self.f64s.extend_from_slice(values);
        self.world.all_reduce_into(&self.f64s[..], values, SystemOperation::sum());
    }
}
