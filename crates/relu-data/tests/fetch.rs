//! `fetch` against a tiny HTTP/1.1 server on 127.0.0.1 serving fixture bytes (with `Range`
//! support): verified files land atomically, bad or oversized ones leave nothing behind,
//! resumption works, an unreachable host gives a clear error, and the CIFAR-10 tarball unpacks
//! all or nothing.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{gz, norb_bytes};
use md5::{Digest, Md5};
use relu_data::DataError;
use relu_data::fetch::{Fetcher, FileSpec, Known, Verify, unpack_tar_gz};

/// Serves `files` (path → bytes) forever on a background thread; returns the base URL and a log
/// of `path range-header` lines for the requests received.
fn serve(files: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = handle(stream, &files, &log2);
        }
    });
    (base, log)
}

fn handle(mut stream: TcpStream, files: &HashMap<String, Vec<u8>>, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        match h.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("range") => {
                range = v.trim().strip_prefix("bytes=").and_then(|r| r.strip_suffix('-')).and_then(|s| s.parse::<usize>().ok());
            }
            _ => {}
        }
    }
    log.lock().unwrap().push(format!("{path} {range:?}"));
    // Under `/nolen/` the body is sent without a Content-Length, delimited by closing the
    // connection, as a misbehaving server might.
    if let Some(body) = path.strip_prefix("/nolen").and_then(|p| files.get(p)) {
        stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
        return stream.write_all(body);
    }
    match files.get(&path) {
        None => stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
        Some(body) => match range {
            Some(start) if start < body.len() => {
                let head = format!(
                    "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len() - 1,
                    body.len(),
                    body.len() - start
                );
                stream.write_all(head.as_bytes())?;
                stream.write_all(&body[start..])
            }
            Some(_) => stream.write_all(b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
            None => {
                stream.write_all(format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).as_bytes())?;
                stream.write_all(body)
            }
        },
    }
}

fn md5_hex(b: &[u8]) -> String {
    Md5::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn sha256_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

fn payload() -> Vec<u8> {
    (0..50_000u32).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn good_file_verifies_and_lands_then_is_reused() {
    let body = payload();
    let (base, log) = serve(HashMap::from([("/a.bin".to_string(), body.clone())]));
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(dir.path());
    for verify in [Verify::Md5(md5_hex(&body)), Verify::Sha256(sha256_hex(&body).to_uppercase())] {
        let spec = FileSpec::new("a.bin", vec![format!("{base}/a.bin")], verify);
        let p = f.fetch_file(dir.path(), &spec).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), body);
        assert!(!dir.path().join("a.bin.part").exists());
    }
    // The second spec found the verified file on disk: one request in total.
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[test]
fn wrong_checksum_is_rejected_and_leaves_nothing_behind() {
    let body = payload();
    let (base, _) = serve(HashMap::from([("/a.bin".to_string(), body)]));
    let dir = tempfile::tempdir().unwrap();
    let spec = FileSpec::new("a.bin", vec![format!("{base}/a.bin")], Verify::Md5("0".repeat(32)));
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err();
    assert!(matches!(e, DataError::Checksum { algorithm: "md5", .. }), "{e}");
    let m = e.to_string();
    assert!(m.contains("/a.bin") && m.contains("does not match") && m.contains(&"0".repeat(32)), "{m}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file and no .part left");
}

#[test]
fn partial_download_is_resumed_with_a_range_request() {
    let body = payload();
    let (base, log) = serve(HashMap::from([("/a.bin".to_string(), body.clone())]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin.part"), &body[..20_000]).unwrap();
    let spec = FileSpec::new("a.bin", vec![format!("{base}/a.bin")], Verify::Md5(md5_hex(&body)));
    let p = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), body);
    assert_eq!(*log.lock().unwrap(), ["/a.bin Some(20000)"]);
    // A .part longer than the file gets 416 and is restarted from zero.
    std::fs::remove_file(dir.path().join("a.bin")).unwrap();
    std::fs::write(dir.path().join("a.bin.part"), vec![0u8; 60_000]).unwrap();
    let p = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap();
    assert_eq!(std::fs::read(p).unwrap(), body);
}

#[test]
fn mirrors_are_tried_in_order_and_every_failure_is_listed() {
    let body = payload();
    let (base, _) = serve(HashMap::from([("/mirror/a.bin".to_string(), body.clone())]));
    let dir = tempfile::tempdir().unwrap();
    let spec = FileSpec::new("a.bin", vec![format!("{base}/official/a.bin"), format!("{base}/mirror/a.bin")], Verify::Md5(md5_hex(&body)));
    assert!(Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).is_ok());
    let spec = FileSpec::new("b.bin", vec![format!("{base}/x"), format!("{base}/y")], Verify::Md5(md5_hex(&body)));
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err().to_string();
    assert!(e.contains("cannot download b.bin") && e.contains("/x: HTTP status 404") && e.contains("/y: HTTP status 404"), "{e}");
}

#[test]
fn unreachable_host_gives_a_clear_error() {
    // Port 1 (tcpmux) is privileged and never served here. A freed ephemeral port, as before,
    // could be handed to another test's server running in parallel, which answered 404.
    let port = 1;
    let dir = tempfile::tempdir().unwrap();
    let urls = vec![format!("http://127.0.0.1:{port}/a.bin"), format!("http://127.0.0.1:{port}/mirror/a.bin")];
    let spec = FileSpec::new("a.bin", urls, Verify::Md5("0".repeat(32)));
    let cache = dir.path().join("cache").join("mnist");
    let e = Fetcher::new(dir.path()).fetch_file(&cache, &spec).unwrap_err();
    assert!(matches!(e, DataError::Download { .. }));
    let m = e.to_string();
    assert!(m.contains("cannot download a.bin") && m.contains("cannot connect") && m.contains(&format!("127.0.0.1:{port}/")), "{m}");
    assert_eq!(m.lines().count(), 3, "one line for the file, one per URL: {m}");
    assert!(!dir.path().join("cache").exists(), "the cache folders created for the failed download are removed");
}

#[test]
fn oversized_downloads_are_cut_off_and_leave_nothing_behind() {
    let body = payload();
    let (base, _) = serve(HashMap::from([("/a.bin".to_string(), body.clone())]));
    // Announced too large (Content-Length), and streamed too large (no length given).
    for url in [format!("{base}/a.bin"), format!("{base}/nolen/a.bin")] {
        let dir = tempfile::tempdir().unwrap();
        let spec = FileSpec::new("a.bin", vec![url.clone()], Verify::Md5(md5_hex(&body))).with_max_bytes(10_000);
        let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err().to_string();
        assert!(e.contains(&url) && e.contains("more than the at most 10000 bytes"), "{e}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no file and no .part left for {url}");
        // A bound equal to the size is fine.
        let spec = spec.with_max_bytes(body.len() as u64);
        assert_eq!(std::fs::read(Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap()).unwrap(), body);
    }
    // A resumed download counts the bytes already on disk.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.bin.part"), &body[..20_000]).unwrap();
    let spec = FileSpec::new("a.bin", vec![format!("{base}/a.bin")], Verify::Md5(md5_hex(&body))).with_max_bytes(40_000);
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err().to_string();
    assert!(e.contains("announces 50000 bytes"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn small_norb_fetch_end_to_end_with_format_verification() {
    let dat = gz(&norb_bytes(0x1E3D4C55, &[2, 2, 3, 3], &[7; 36]));
    let cat = gz(&norb_bytes(0x1E3D4C54, &[2], &[1, 0, 0, 0, 4, 0, 0, 0]));
    let info = gz(&norb_bytes(0x1E3D4C54, &[2, 4], &[0; 32]));
    let mut files = HashMap::new();
    for spec in Known::SmallNorb.files(&["/"]) {
        let name = spec.name;
        let body = if name.contains("-dat") {
            dat.clone()
        } else if name.contains("-cat") {
            cat.clone()
        } else {
            info.clone()
        };
        files.insert(format!("/norb/{name}"), body);
    }
    let (base, _) = serve(files);
    let dir = tempfile::tempdir().unwrap();
    let f = Fetcher::new(dir.path()).with_base_urls(vec![format!("{base}/norb/")]);
    // `fetch` checks the real files' SHA-256, which these fixtures do not have: refused, and
    // nothing left behind.
    let e = f.fetch(Known::SmallNorb).unwrap_err();
    assert!(matches!(&e, DataError::Checksum { algorithm: "sha256", expected, .. } if expected.starts_with("5ffd6272")), "{e}");
    assert!(!dir.path().join("smallnorb").exists(), "the folder created for the refused file is removed");
    // The same files verified by format only land where `fetch` puts them.
    let got = f.dataset_dir(Known::SmallNorb);
    for mut spec in Known::SmallNorb.files(&[format!("{base}/norb/")]) {
        spec.verify = Verify::NorbFormat;
        f.fetch_file(&got, &spec).unwrap();
    }
    assert_eq!(got, dir.path().join("smallnorb"));
    let train = relu_data::norb::load_part(&got, relu_data::norb::Part::Training, None).unwrap();
    assert_eq!(common::labels(&train.data), [1, 4]);

    // A server delivering a truncated NORB file: rejected by format, nothing left behind.
    let bad = gz(&norb_bytes(0x1E3D4C55, &[2, 2, 3, 3], &[7; 30]));
    let name = "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz";
    let (base, _) = serve(HashMap::from([(format!("/{name}"), bad)]));
    let dir = tempfile::tempdir().unwrap();
    let spec = FileSpec::new(name, vec![format!("{base}/{name}")], Verify::NorbFormat);
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err().to_string();
    assert!(e.contains("ends after 30") || e.contains("found 30"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn known_datasets_list_their_files_and_checksums() {
    let files = Known::Mnist.files(&["https://m1/", "https://m2"]);
    assert_eq!(files.len(), 4);
    assert_eq!(files[0].urls, ["https://m1/train-images-idx3-ubyte.gz", "https://m2/train-images-idx3-ubyte.gz"]);
    assert_eq!(files[3].verify, Verify::Md5("ec29112dd5afa0611ce80d1b7f02629c".into()));
    assert_eq!(Known::Cifar10.files(Known::Cifar10.default_bases())[0].urls, ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]);
    let norb = Known::SmallNorb.files(&["x"]);
    assert_eq!(norb.len(), 6);
    assert_eq!(norb[0].verify, Verify::Sha256("5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873".into()));
    assert_eq!(norb[5].verify, Verify::Sha256("16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2".into()));
    assert!(norb.iter().chain(&files).all(|f| f.max_bytes <= 512 << 20));
    assert_eq!("CIFAR-10".parse::<Known>().unwrap(), Known::Cifar10);
    assert!("imagenet".parse::<Known>().is_err());
}

/// A gzip-compressed tar archive of `(path, bytes)` entries.
fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, bytes) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, *bytes).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn cifar_tarball_unpacks_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let record = [vec![3u8], vec![9u8; 3072]].concat();
    let entries: Vec<(String, &[u8])> =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"]
            .iter()
            .map(|n| (format!("cifar-10-batches-bin/{n}"), record.as_slice()))
            .collect();
    let entries: Vec<(&str, &[u8])> = entries.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let good = tar_gz(&entries);
    let archive = d.join("cifar-10-binary.tar.gz");

    // A truncated archive fails and leaves neither the folder nor the temporary one; an older
    // partial folder is left for the next (complete) unpacking to replace.
    std::fs::create_dir(d.join("cifar-10-batches-bin")).unwrap();
    std::fs::write(d.join("cifar-10-batches-bin/data_batch_1.bin"), b"partial").unwrap();
    std::fs::write(&archive, &good[..good.len() / 2]).unwrap();
    let e = unpack_tar_gz(&archive, d, "cifar-10-batches-bin").unwrap_err().to_string();
    assert!(e.contains("cifar-10-binary.tar.gz") && e.contains("unpack"), "{e}");
    assert!(!d.join("cifar-10-batches-bin/test_batch.bin").exists());
    assert!(!d.join(".cifar-10-batches-bin.unpacking").exists());

    // A complete archive replaces the partial folder at once.
    std::fs::write(&archive, &good).unwrap();
    let got = unpack_tar_gz(&archive, d, "cifar-10-batches-bin").unwrap();
    assert_eq!(got, d.join("cifar-10-batches-bin"));
    assert_eq!(std::fs::read(got.join("data_batch_1.bin")).unwrap(), record);
    assert!(!d.join(".cifar-10-batches-bin.unpacking").exists());
    assert_eq!(relu_data::cifar::load_dir(d).unwrap().train.len(), 5);

    // An archive without the expected folder is refused and leaves nothing.
    let other = tempfile::tempdir().unwrap();
    let archive = other.path().join("x.tar.gz");
    std::fs::write(&archive, tar_gz(&[("elsewhere/test_batch.bin", &record)])).unwrap();
    let e = unpack_tar_gz(&archive, other.path(), "cifar-10-batches-bin").unwrap_err().to_string();
    assert!(e.contains("x.tar.gz") && e.contains("holding the folder cifar-10-batches-bin"), "{e}");
    assert_eq!(std::fs::read_dir(other.path()).unwrap().count(), 1, "only the archive remains");
}
