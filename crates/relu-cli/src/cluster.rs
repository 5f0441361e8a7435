//! The processes `relu` runs as: one, or (with the `mpi` feature, under `mpirun` or `srun`) the
//! ranks of an MPI job.
//!
//! * Sweeps ([`Cluster::run_jobs`]): `relu reproduce` hands its independent networks to the
//!   ranks one at a time — a rank that finishes takes the next — and gathers the results on
//!   rank 0, which writes the report. Each job carries its own seed, so the numbers are the
//!   one-process run's.
//! * Data-parallel training ([`Cluster::group`]): `relu train` splits every minibatch across the
//!   ranks ([`relu_nn::parallel`]).
//!
//! Every rank loads the data and builds the same list of jobs itself; only job indices and
//! results travel. Rank 0 writes every file; the others print nothing but errors. A failing
//! job is reported by name and rank, and the whole MPI job is aborted, so no rank hangs
//! waiting for one that is gone.

use std::sync::atomic::AtomicBool;

use anyhow::{Result, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(feature = "mpi")]
mod mpi_world;

/// How long rank 0 waits for the other ranks after a stop request before it reports without
/// them: short, because `mpirun` follows the SIGTERM it sends when a rank dies with SIGKILL one
/// second later (Open MPI's `odls_base_sigkill_timeout`), and the report must be written first.
/// An interrupted job has no result to wait for anyway.
#[cfg(feature = "mpi")]
pub const GRACE: std::time::Duration = std::time::Duration::from_millis(100);

/// This process's place among the processes of a run.
#[derive(Debug)]
pub struct Cluster {
    #[cfg(feature = "mpi")]
    world: Option<mpi_world::World>,
}

/// The results of a sweep, on rank 0.
#[derive(Debug)]
pub struct Swept<T> {
    /// The finished jobs' results, in job order.
    pub done: Vec<T>,
    /// Jobs that did not finish (interrupted before or while running), in job order.
    pub missing: Vec<usize>,
}

impl Cluster {
    /// One process, or the MPI job this process is a rank of (`mpi` feature).
    ///
    /// # Errors
    /// MPI could not be initialised with thread support.
    pub fn init() -> Result<Cluster> {
        #[cfg(feature = "mpi")]
        {
            let world = mpi_world::World::init()?;
            Ok(Cluster { world: Some(world) })
        }
        #[cfg(not(feature = "mpi"))]
        Ok(Cluster {})
    }

    /// One process (tests, and commands that never distribute).
    #[cfg(test)]
    pub fn single() -> Cluster {
        Cluster {
            #[cfg(feature = "mpi")]
            world: None,
        }
    }

    /// This process's rank (0 for a single process).
    pub fn rank(&self) -> usize {
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.world {
            return w.rank();
        }
        0
    }

    /// How many processes run (1 without MPI).
    pub fn size(&self) -> usize {
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.world {
            return w.size();
        }
        1
    }

    /// Whether this process writes files and prints progress.
    pub fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// The group for data-parallel training, when there is more than one process.
    pub fn group(&self) -> Option<Box<dyn relu_nn::parallel::Collective + '_>> {
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.world
            && w.size() > 1
        {
            return Some(Box::new(w.group()));
        }
        None
    }

    /// How many jobs each of `processes` processes still has to run when `left` jobs are left:
    /// the share of a time budget a job may use is the remaining budget divided by this.
    pub fn rounds_of(left: usize, processes: usize) -> usize {
        left.div_ceil(processes.max(1)).max(1)
    }

    /// Runs jobs `0..jobs` with `work` and gathers the results on rank 0 (on the other ranks,
    /// `None`). `work` returns `Ok(None)` when interrupted: no further jobs are started, and the
    /// unfinished ones are listed in [`Swept::missing`]. One process runs the jobs in order;
    /// MPI ranks take the next job whenever they finish one. `stop` is the Ctrl-C/SIGTERM flag:
    /// once it is set, rank 0 waits `GRACE` (100 ms) for the other ranks' interrupted jobs and then
    /// reports without them (a rank that died never answers; `mpirun` sends SIGTERM to the rest
    /// when one dies), so the report lists every unfinished job instead of never being written.
    ///
    /// # Errors
    /// The first job that failed (under MPI, with its rank; the other ranks are told to stop).
    pub fn run_jobs<T, F>(&self, jobs: usize, stop: &AtomicBool, work: F) -> Result<Option<Swept<T>>>
    where
        T: Serialize + DeserializeOwned + Send,
        F: Fn(usize) -> Result<Option<T>> + Sync,
    {
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.world
            && w.size() > 1
        {
            return w.run_jobs(jobs, stop, &work);
        }
        // One process: each job watches the flag itself and returns `Ok(None)`.
        let _ = stop;
        let mut done = Vec::new();
        for i in 0..jobs {
            match work(i)? {
                Some(r) => done.push(r),
                None => return Ok(Some(Swept { done, missing: (i..jobs).collect() })),
            }
        }
        Ok(Some(Swept { done, missing: Vec::new() }))
    }

    /// Ends the whole run after an error or an interruption on this process: under MPI every
    /// rank is stopped with `code` (a rank left waiting for this one would hang); otherwise
    /// nothing happens.
    pub fn abort_on_error(&self, code: i32) {
        #[cfg(feature = "mpi")]
        if let Some(w) = &self.world
            && w.size() > 1
        {
            w.abort(code);
        }
        let _ = code;
    }

    /// Refuses a flag that cannot work across processes.
    ///
    /// # Errors
    /// When running as more than one process.
    pub fn refuse(&self, what: &str) -> Result<()> {
        if self.size() > 1 {
            bail!("{what} is not supported when running as {} MPI processes; run it as one process", self.size());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_process_runs_every_job_in_order_and_stops_at_an_interruption() {
        let c = Cluster::single();
        let all = c.run_jobs(4, &AtomicBool::new(false), |i| Ok(Some(i * 10))).unwrap().unwrap();
        assert_eq!((all.done, all.missing), (vec![0, 10, 20, 30], vec![]));
        let cut = c.run_jobs(4, &AtomicBool::new(false), |i| Ok((i < 2).then_some(i))).unwrap().unwrap();
        assert_eq!((cut.done, cut.missing), (vec![0, 1], vec![2, 3]));
        let failed = c.run_jobs::<usize, _>(3, &AtomicBool::new(false), |i| if i == 1 { bail!("job {i} broke") } else { Ok(Some(i)) });
        assert!(failed.unwrap_err().to_string().contains("job 1 broke"));
        assert_eq!((c.rank(), c.size(), Cluster::rounds_of(5, 1), Cluster::rounds_of(5, 2), Cluster::rounds_of(0, 2)), (0, 1, 5, 3, 1));
        assert!(c.group().is_none());
    }
}
