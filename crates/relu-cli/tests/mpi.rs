//! `relu` under `mpirun -np 2` (the `mpi` feature; `.ci/run` runs these with
//! `cargo test -p relu-cli --features mpi --test mpi`). They need Open MPI's `mpirun` on the
//! PATH and fail, not skip, without it.
#![cfg(feature = "mpi")]

mod common;

use std::path::Path;
use std::process::Command;

use common::relu;
use serde_json::Value;

/// `mpirun -np 2 relu ARGS`, allowed as root and on a machine with fewer cores than ranks.
fn mpirun(args: &[&str]) -> std::process::Output {
    Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", env!("CARGO_BIN_EXE_relu")])
        .args(args)
        .env_remove("RELU_DATA")
        .output()
        .expect("mpirun must be installed for the mpi feature's tests (Debian: openmpi-bin)")
}

fn ok(out: std::process::Output) {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

fn report(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap()
}

/// A report's networks without their wall-clock fields.
fn networks(r: &Value) -> Vec<Value> {
    r["networks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let mut n = n.clone();
            let o = n.as_object_mut().unwrap();
            o.remove("seconds");
            o.remove("examples_per_second");
            n
        })
        .collect()
}

#[test]
fn a_sweep_over_two_ranks_gives_the_one_process_results() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let args = [
        "reproduce",
        "fig3",
        "--data",
        "mnist",
        "--nets",
        "4",
        "--epochs",
        "1",
        "--limit",
        "400",
        "--budget-minutes",
        "2",
        "--threads",
        "1",
        "--quiet",
    ];
    relu().args(args).arg("--out").arg(&one).assert().success();
    ok(mpirun(&[&args[..], &["--out", two.to_str().unwrap()]].concat()));
    let (a, b) = (report(&one), report(&two));
    assert_eq!(b["machine"]["processes"], 2);
    assert_eq!(b["missing_jobs"], Value::Array(vec![]));
    assert_eq!(networks(&a).len(), 4);
    assert_eq!(networks(&a), networks(&b), "every network equals the one-process run's");
    assert!(two.join("fig3.svg").is_file() && two.join("table.md").is_file());
}

#[test]
fn relu_sweep_over_two_ranks_gives_the_one_process_results() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    std::fs::write(&file, "data = \"mnist\"\nhidden = [16]\nepochs = 1\nlimit = 300\nthreads = 1\n[grid]\nl1 = [0.0, 0.001, 0.003]\n")
        .unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    relu().args(["sweep", "--quiet", "--config"]).arg(&file).arg("--out").arg(&one).assert().success();
    ok(mpirun(&["sweep", "--quiet", "--config", file.to_str().unwrap(), "--out", two.to_str().unwrap()]));
    let (a, b) = (report(&one), report(&two));
    assert_eq!(b["processes"], 2);
    assert_eq!(networks(&a).len(), 3);
    assert_eq!(networks(&a), networks(&b));
}

/// The pid of rank `rank` among `mpirun`'s children (Open MPI puts the rank in each one's
/// environment).
fn rank_pid(mpirun: u32, rank: usize) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).find(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // `pid (comm) state ppid …`
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
        let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        ppid == Some(mpirun) && env.split(|&b| b == 0).any(|v| v == format!("OMPI_COMM_WORLD_RANK={rank}").as_bytes())
    })
}

#[test]
fn a_rank_killed_mid_sweep_leaves_a_report_that_lists_the_unfinished_networks() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sweep.toml");
    // Networks big enough that none finishes in the first seconds.
    std::fs::write(
        &file,
        "data = \"mnist\"\nhidden = [800, 800]\nepochs = 4\nlimit = 20000\nthreads = 1\n[grid]\nl1 = [0.0, 0.0001, 0.001, 0.003]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let mut child = Command::new("mpirun")
        .args(["--allow-run-as-root", "--oversubscribe", "-np", "2", env!("CARGO_BIN_EXE_relu"), "sweep", "--quiet", "--config"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("mpirun must be installed for the mpi feature's tests (Debian: openmpi-bin)");
    let started = std::time::Instant::now();
    let victim = loop {
        if let Some(pid) = rank_pid(child.id(), 1) {
            break pid;
        }
        assert!(started.elapsed().as_secs() < 60, "rank 1 never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // Into its first network (each takes several seconds).
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(Command::new("kill").args(["-9", &victim.to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(!status.success(), "a killed rank fails the job");
    let r = report(&out);
    assert_eq!(r["interrupted"], true);
    let (done, missing) = (r["networks"].as_array().unwrap().len(), r["missing"].as_array().unwrap().len());
    assert!(missing > 0, "the killed rank's network is listed: {r}");
    assert_eq!(done + missing, 4, "every network is either reported or listed as missing: {r}");
}

fn history_losses(r: &Value) -> Vec<f64> {
    r["history"].as_array().unwrap().iter().map(|h| h["train_loss"].as_f64().unwrap()).collect()
}

#[test]
fn data_parallel_training_ends_where_one_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two, local) = (dir.path().join("one"), dir.path().join("two"), dir.path().join("local"));
    let args = [
        "train",
        "--data",
        "mnist",
        "--hidden",
        "64,64",
        "--batch",
        "128",
        "--epochs",
        "2",
        "--limit",
        "2000",
        "--momentum",
        "0.5",
        "--threads",
        "1",
        "--quiet",
    ];
    relu().args(args).arg("--out").arg(&one).assert().success();
    ok(mpirun(&[&args[..], &["--out", two.to_str().unwrap()]].concat()));
    let (a, b) = (report(&one), report(&two));
    assert_eq!((b["training"]["processes"].as_u64(), b["training"]["sync_every"].as_u64()), (Some(2), Some(1)));
    for (x, y) in history_losses(&a).iter().zip(history_losses(&b)) {
        assert!((x - y).abs() < 1e-5, "training loss {x} vs {y}");
    }
    let (ta, tb) = (a["test"]["loss"].as_f64().unwrap(), b["test"]["loss"].as_f64().unwrap());
    assert!((ta - tb).abs() < 1e-4, "test loss {ta} vs {tb}");
    assert!(ta != tb || a["test"] == b["test"], "two ranks really trained");

    // Local SGD: a different optimiser, still a working network and the same files.
    ok(mpirun(&[&args[..], &["--sync-every", "4", "--out", local.to_str().unwrap()]].concat()));
    let c = report(&local);
    assert_eq!(c["training"]["sync_every"].as_u64(), Some(4));
    let losses = history_losses(&c);
    assert!(losses[1] < losses[0], "local SGD learns: {losses:?}");
    assert!(local.join("model.safetensors").is_file());
}

#[test]
fn a_killed_data_parallel_run_resumes_to_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, killed) = (dir.path().join("whole"), dir.path().join("killed"));
    let args =
        ["train", "--data", "mnist", "--hidden", "32", "--batch", "100", "--epochs", "3", "--limit", "1000", "--threads", "1", "--quiet"];
    ok(mpirun(&[&args[..], &["--out", whole.to_str().unwrap()]].concat()));
    // 10 batches per epoch: killed in epoch 2, after rank 0 saved epoch 1's state.
    let out = mpirun(&[&args[..], &["--out", killed.to_str().unwrap(), "--kill-after-batches", "15"]].concat());
    assert!(!out.status.success(), "the killed run fails");
    assert!(killed.join("train_state.safetensors").is_file(), "rank 0 saved the state after epoch 1");
    ok(mpirun(&["train", "--resume", killed.to_str().unwrap(), "--threads", "1", "--quiet"]));
    let (a, b) = (report(&whole), report(&killed));
    assert_eq!(a["test"], b["test"], "resumed = uninterrupted");
    assert_eq!(std::fs::read(whole.join("model.safetensors")).unwrap(), std::fs::read(killed.join("model.safetensors")).unwrap());
}

#[test]
fn a_flag_that_cannot_be_distributed_is_refused_on_every_rank() {
    let dir = tempfile::tempdir().unwrap();
    let reviews = format!("reviews:{}", common::write_reviews_tsv(dir.path(), 60).display());
    let out = mpirun(&["train", "--data", &reviews, "--folds", "3", "--out", dir.path().join("x").to_str().unwrap(), "--quiet"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--folds is not supported when running as 2 MPI processes"), "{err}");
}
