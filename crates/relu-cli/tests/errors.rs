//! Every error path: exit code 2, no panic, a message naming the flag or file and what was
//! expected, and nothing written to `--out`.

mod common;

use common::*;

/// `relu train ARGS --out DIR` fails with code 2 naming `needles`, and leaves no `DIR`.
fn train_fails(args: &[&str], needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let a = relu().arg("train").args(args).arg("--out").arg(&out).assert();
    assert_usage_error(a, needles);
    assert!(!out.exists(), "a failed run must not create --out ({args:?})");
}

#[test]
fn bad_flag_values_name_the_flag() {
    train_fails(&["--data", "imagenet"], &["--data", "imagenet", "expected mnist"]);
    train_fails(&["--data", "mnist:"], &["--data", "needs a folder"]);
    train_fails(&["--hidden", "0"], &["--hidden", "expected"]);
    // Each layer within its cap, but tens of GB of weights: refused before allocating.
    for hidden in ["16777216", "4000000", "100000,100000"] {
        train_fails(&["--hidden", hidden], &["parameter count", "GB of f32 weights", "at most 1,073,741,824"]);
    }
    train_fails(&["--hidden", "10,x"], &["--hidden"]);
    train_fails(&["--activation", "swish"], &["--activation", "swish"]);
    train_fails(&["--activation", "maxout:1"], &["--activation", "maxout:K"]);
    train_fails(&["--lr", "-1"], &["--lr", "expected a finite number > 0"]);
    train_fails(&["--l1", "-0.5"], &["--l1"]);
    train_fails(&["--momentum", "1.5"], &["--momentum", "[0, 1)"]);
    train_fails(&["--batch", "0"], &["--batch"]);
    train_fails(&["--epochs", "0"], &["--epochs"]);
    train_fails(&["--patience", "0"], &["--patience"]);
    train_fails(&["--limit", "0"], &["--limit"]);
    train_fails(&["--pretrain", "vae"], &["--pretrain", "expected dae"]);
    train_fails(&["--pretrain", "dae:cubic"], &["--pretrain", "cubic"]);
    train_fails(&["--pretrain", "dae", "--activation", "maxout:2"], &["--pretrain", "maxout"]);
    train_fails(&["--pretrain", "dae", "--pretrain-epochs", "0"], &["--pretrain-epochs"]);
    train_fails(&["--pretrain", "dae", "--sampling", "1.5"], &["--sampling", "(0, 1]"]);
    train_fails(&["--corruption", "masking:2"], &["--corruption", "probability"]);
    train_fails(&["--init", "/nonexistent/relu-run"], &["--init", "/nonexistent/relu-run"]);
    train_fails(&["--init", "/nonexistent/relu-run", "--pretrain", "dae"], &["--init", "--pretrain"]);
    train_fails(&["--bow", "bigrams"], &["--bow", "bigrams"]);
    train_fails(&["--sign-flip", "--activation", "tanh"], &["--sign-flip", "rectifier"]);
    train_fails(&["--folds", "3"], &["--folds", "review data"]);
    train_fails(&["--no-such-flag"], &["--no-such-flag"]);
}

#[test]
fn unreadable_data_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere");
    train_fails(&["--data", &format!("mnist:{}", missing.display())], &["--data", "nowhere", "train-images-idx3-ubyte"]);
    train_fails(&["--data", &format!("cifar10:{}", missing.display())], &["--data", "data_batch_1.bin"]);
    train_fails(&["--data", &format!("reviews:{}", missing.display())], &["--data", "review file"]);
    let bad = dir.path().join("bad.tsv");
    std::fs::write(&bad, "1\tfine review\nno tab on this line\n").unwrap();
    train_fails(&["--data", &format!("reviews:{}", bad.display())], &["bad.tsv", "line 2", "tab"]);
    let stars = dir.path().join("stars.tsv");
    std::fs::write(&stars, "7\tseven stars\n").unwrap();
    train_fails(&["--target", "rating", "--data", &format!("reviews:{}", stars.display())], &["stars.tsv", "line 1", "star rating 1–5"]);
    // An explicit --target polarity still names the first label that is not one.
    let three = dir.path().join("three.tsv");
    std::fs::write(&three, "0\tbad\n1\tgood\n2\tso-so\n").unwrap();
    train_fails(&["--target", "polarity", "--data", &format!("reviews:{}", three.display())], &["three.tsv", "line 3", "polarity label"]);
    // One class only: it trained and reported 0.00 % error.
    let one = dir.path().join("one.tsv");
    std::fs::write(&one, (0..40).map(|i| format!("1\tgood fine review number {i}\n")).collect::<String>()).unwrap();
    train_fails(&["--data", &format!("reviews:{}", one.display())], &["one.tsv", "label 1", "at least two classes"]);
    train_fails(&["--folds", "2", "--data", &format!("reviews:{}", one.display())], &["one.tsv", "at least two classes"]);
    let one = dir.path().join("one-name.tsv");
    std::fs::write(&one, (0..40).map(|i| format!("books\tgood fine review number {i}\n")).collect::<String>()).unwrap();
    train_fails(&["--data", &format!("reviews:{}", one.display())], &["one-name.tsv", "label `books`", "at least two classes"]);
    // A truncated IDX file is reported with its name, not a panic.
    let idx = write_idx_dir(dir.path(), 30, 12, 8);
    let labels = idx.join("train-labels-idx1-ubyte");
    let bytes = std::fs::read(&labels).unwrap();
    std::fs::write(&labels, &bytes[..bytes.len() - 5]).unwrap();
    train_fails(&["--data", &format!("mnist:{}", idx.display())], &["train-labels-idx1-ubyte"]);
}

#[test]
fn bad_config_files_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "lr = 0.1\nlearning_rate = 0.2\n").unwrap();
    train_fails(&["--config", cfg.to_str().unwrap()], &["--config", "bad.toml", "learning_rate"]);
    std::fs::write(&cfg, "hidden = \"many\"\n").unwrap();
    train_fails(&["--config", cfg.to_str().unwrap()], &["bad.toml", "hidden"]);
    train_fails(&["--config", dir.path().join("absent.toml").to_str().unwrap()], &["--config", "absent.toml"]);
    // clap keeps --init and --pretrain apart on the command line; a config file's `init` is
    // checked the same way.
    std::fs::write(&cfg, "init = \"runs/dae\"\n").unwrap();
    train_fails(&["--config", cfg.to_str().unwrap(), "--pretrain", "dae"], &["--init runs/dae", "--pretrain"]);
}

#[test]
fn divergence_is_an_error_and_writes_nothing() {
    train_fails(&["--hidden", "16", "--epochs", "1", "--limit", "100", "--lr", "1e30"], &["diverged"]);
    // Finite but absurd rates and penalties used to exit 0 with every unit dead; the run stops
    // at the first epoch whose hidden layer was all zeros.
    for flags in [&["--lr", "10"][..], &["--lr", "1e6"][..], &["--l1", "1e12"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let a = relu()
            .args(["train", "--hidden", "100", "--epochs", "6", "--limit", "2000", "--quiet", "--out"])
            .arg(dir.path().join("run"))
            .args(flags)
            .assert();
        assert_usage_error(a, &["training collapsed at epoch", "hidden layer 1", "lower the learning rate"]);
        assert!(!dir.path().join("run").join("report.json").exists(), "{flags:?}: a collapsed run reports nothing");
    }
}

#[test]
fn an_existing_run_is_not_overwritten_and_resume_needs_a_state() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    quick_train(&out, &["--limit", "100", "--quiet"]).success();
    let before = std::fs::read(out.join("report.json")).unwrap();
    assert_usage_error(quick_train(&out, &["--limit", "100"]), &["--out", "already holds a training run"]);
    assert_eq!(std::fs::read(out.join("report.json")).unwrap(), before);
    assert_usage_error(relu().args(["train", "--resume"]).arg(&out).assert(), &["--resume", "train_state.safetensors"]);
    assert_usage_error(relu().args(["train", "--resume"]).arg(dir.path().join("none")).assert(), &["--resume", "none"]);
}

#[test]
fn a_folder_another_live_process_writes_is_refused_by_every_writer() {
    // The lock names this test process, which is alive for the whole test.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("busy");
    std::fs::create_dir(&out).unwrap();
    let pid = std::process::id().to_string();
    std::fs::write(out.join(".relu.lock"), &pid).unwrap();
    let runs: [&[&str]; 3] = [
        &["train", "--limit", "100", "--epochs", "1", "--hidden", "10"],
        &["pretrain", "--pretrain-epochs", "1", "--hidden", "10"],
        &["reproduce", "table1", "--rows", "rectifier", "--pretraining", "none", "--limit", "100", "--epochs", "1"],
    ];
    for args in runs {
        let a = relu().args(args).arg("--out").arg(&out).assert();
        assert_usage_error(a, &["--out", "being written by another relu process", &format!("pid {pid}")]);
        assert_eq!(std::fs::read_to_string(out.join(".relu.lock")).unwrap(), pid, "{args:?} left the owner's lock alone");
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 1, "{args:?} wrote into a busy folder: {left:?}");
    }
    // A finished run is reported as busy too while its folder is held: the lock is checked first.
    std::fs::write(out.join("report.json"), "{}").unwrap();
    let a = relu().args(["train", "--limit", "100", "--epochs", "1", "--out"]).arg(&out).assert();
    assert_usage_error(a, &["being written by another relu process"]);
}

#[test]
fn eval_and_inspect_refuse_missing_or_mismatched_models() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(relu().args(["eval", "--model"]).arg(dir.path().join("none")).assert(), &["--model", "none"]);
    assert_usage_error(relu().args(["eval", "--model"]).arg(dir.path()).assert(), &["--model", "model.safetensors"]);
    // Not a safetensors file.
    let fake = dir.path().join("fake");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("model.safetensors"), b"not a model").unwrap();
    assert_usage_error(relu().args(["eval", "--model"]).arg(&fake).assert(), &["--model", "model.safetensors"]);

    // An MNIST model (784 inputs, 10 classes) against 8×8 images.
    let model = dir.path().join("mnist");
    quick_train(&model, &["--limit", "100", "--quiet"]).success();
    let idx = write_idx_dir(dir.path(), 30, 12, 8);
    let spec = format!("mnist:{}", idx.display());
    assert_usage_error(relu().args(["eval", "--model"]).arg(&model).args(["--data", &spec]).assert(), &["--data", "does not fit", "784"]);
    assert_usage_error(relu().args(["inspect", "--model"]).arg(&model).args(["--data", &spec]).assert(), &["--data", "does not fit"]);
    // An image model against review text.
    let tsv = write_reviews_tsv(dir.path(), 40);
    assert_usage_error(
        relu().args(["eval", "--model"]).arg(&model).args(["--data", &format!("reviews:{}", tsv.display())]).assert(),
        &["--data", "trained on images"],
    );
    // Predicting 8×8 IDX images with a 28×28 model.
    let images = dir.path().join("small-images-idx3-ubyte");
    write_idx_images(&images, 3, 8, 5);
    assert_usage_error(relu().args(["predict", "--model"]).arg(&model).arg(&images).assert(), &["small-images-idx3-ubyte", "[28, 28]"]);
    assert_usage_error(relu().args(["predict", "--model"]).arg(&model).assert(), &["FILES", "IDX"]);
    // 14 × 56 images have 784 pixels but are not 28 × 28 ones.
    let idx3 = |dtype: u8, dims: [u32; 3], data: &[u8]| {
        let mut b = vec![0, 0, dtype, 3];
        dims.iter().for_each(|d| b.extend_from_slice(&d.to_be_bytes()));
        b.extend_from_slice(data);
        b
    };
    let wide = dir.path().join("wide-images-idx3-ubyte");
    std::fs::write(&wide, idx3(0x08, [2, 14, 56], &[0; 2 * 784])).unwrap();
    assert_usage_error(
        relu().args(["predict", "--model"]).arg(&model).arg(&wide).assert(),
        &["wide-images-idx3-ubyte", "[14, 56]", "[28, 28]"],
    );
    // Float images with a NaN (it printed class 0 with probability -3.4e38).
    let mut pixels: Vec<u8> = (0..2 * 784).flat_map(|_| 0.5f32.to_be_bytes()).collect();
    pixels[4 * (784 + 3)..4 * (784 + 4)].copy_from_slice(&f32::NAN.to_be_bytes());
    let nan = dir.path().join("nan-images-idx3-float");
    std::fs::write(&nan, idx3(0x0D, [2, 28, 28], &pixels)).unwrap();
    assert_usage_error(
        relu().args(["predict", "--model"]).arg(&model).arg(&nan).assert(),
        &["nan-images-idx3-float", "image 1", "non-finite"],
    );
    assert_usage_error(relu().args(["inspect", "--noise", "-1", "--model"]).arg(&model).assert(), &["--noise"]);
}

#[test]
fn data_commands_report_bad_specs() {
    assert_usage_error(relu().args(["data", "info", "imagenet"]).assert(), &["SPEC", "expected mnist"]);
    assert_usage_error(relu().args(["data", "info", "norb:/definitely/not/here"]).assert(), &["--data norb:/definitely/not/here"]);
    assert_usage_error(relu().args(["data", "fetch", "imagenet"]).assert(), &["DATASET", "imagenet", "mnist, cifar10 or norb"]);
    assert_usage_error(relu().args(["data"]).assert(), &["Usage"]);
}

/// A local HTTP server that answers every request with `body`; returns its base URL.
fn serve(body: &'static [u8]) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).and_then(|()| s.write_all(body));
        }
    });
    url
}

#[test]
fn fetch_refuses_files_with_a_wrong_checksum_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(b"this is not the MNIST training set");
    let a = relu().args(["data", "fetch", "mnist", "--mirror", &url, "--dir"]).arg(dir.path()).assert();
    assert_usage_error(a, &["fetching mnist", "train-images-idx3-ubyte.gz", "checksum"]);
    // Nothing stays: not the file that failed verification, not the folder created for it.
    assert!(!dir.path().join("mnist").exists(), "{:?}", std::fs::read_dir(dir.path().join("mnist")).map(|d| d.count()));
}

/// `relu pretrain` has its own flags: supervised-only ones are not among them, and extra review
/// text for image data is refused. `relu train --unlabeled` needs --pretrain.
#[test]
fn pretrain_refuses_supervised_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pre");
    for flag in ["--epochs", "--patience", "--resume", "--init", "--limit", "--folds", "--momentum"] {
        let a = relu().args(["pretrain", flag, "3", "--out"]).arg(&out).assert();
        assert_usage_error(a, &[&format!("unexpected argument '{flag}'")]);
    }
    let help = relu().args(["pretrain", "--help"]).assert().success();
    let help = String::from_utf8_lossy(&help.get_output().stdout).into_owned();
    assert!(help.contains("--pretrain-epochs") && help.contains("--unlabeled") && help.contains("runs/pretrain-"), "{help}");
    assert!(!help.contains("--patience") && !help.contains("--resume"), "{help}");
    let a = relu().args(["pretrain", "--unlabeled", "reviews:x.tsv", "--out"]).arg(&out).assert();
    assert_usage_error(a, &["--unlabeled", "an image spec"]);
    let a = relu().args(["train", "--unlabeled", "mnist", "--out"]).arg(&out).assert();
    assert_usage_error(a, &["--unlabeled", "--pretrain"]);
    assert!(!out.exists());
}
