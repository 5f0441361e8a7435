//! `fetch` against a tiny HTTP/1.1 server on 127.0.0.1 serving fixture bytes (with `Range`
//! support): verified files land atomically, bad ones leave nothing behind, resumption works, and
//! an unreachable host gives a clear error.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{gz, norb_bytes};
use md5::{Digest, Md5};
use relu_data::DataError;
use relu_data::fetch::{Fetcher, FileSpec, Known, Verify};

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
        let spec = FileSpec { name: "a.bin".into(), urls: vec![format!("{base}/a.bin")], verify };
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
    let spec = FileSpec { name: "a.bin".into(), urls: vec![format!("{base}/a.bin")], verify: Verify::Md5("0".repeat(32)) };
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
    let spec = FileSpec { name: "a.bin".into(), urls: vec![format!("{base}/a.bin")], verify: Verify::Md5(md5_hex(&body)) };
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
    let spec = FileSpec {
        name: "a.bin".into(),
        urls: vec![format!("{base}/official/a.bin"), format!("{base}/mirror/a.bin")],
        verify: Verify::Md5(md5_hex(&body)),
    };
    assert!(Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).is_ok());
    let spec = FileSpec { name: "b.bin".into(), urls: vec![format!("{base}/x"), format!("{base}/y")], verify: Verify::Md5(md5_hex(&body)) };
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err().to_string();
    assert!(e.contains("cannot download b.bin") && e.contains("/x: HTTP status 404") && e.contains("/y: HTTP status 404"), "{e}");
}

#[test]
fn unreachable_host_gives_a_clear_error() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let spec = FileSpec { name: "a.bin".into(), urls: vec![format!("http://127.0.0.1:{port}/a.bin")], verify: Verify::Md5("0".repeat(32)) };
    let e = Fetcher::new(dir.path()).fetch_file(dir.path(), &spec).unwrap_err();
    assert!(matches!(e, DataError::Download { .. }));
    let m = e.to_string();
    assert!(m.contains("cannot download a.bin") && m.contains("cannot connect") && m.contains(&port.to_string()), "{m}");
    assert!(!dir.path().join("a.bin").exists());
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
    let got = f.fetch(Known::SmallNorb).unwrap();
    assert_eq!(got, dir.path().join("smallnorb"));
    let train = relu_data::norb::load_part(&got, relu_data::norb::Part::Training, None).unwrap();
    assert_eq!(train.labels, [1, 4]);

    // A server delivering a truncated NORB file: rejected by format, nothing left behind.
    let bad = gz(&norb_bytes(0x1E3D4C55, &[2, 2, 3, 3], &[7; 30]));
    let name = "smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz";
    let (base, _) = serve(HashMap::from([(format!("/{name}"), bad)]));
    let dir = tempfile::tempdir().unwrap();
    let spec = FileSpec { name: name.into(), urls: vec![format!("{base}/{name}")], verify: Verify::NorbFormat };
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
    assert_eq!(Known::SmallNorb.files(&["x"]).len(), 6);
    assert_eq!("CIFAR-10".parse::<Known>().unwrap(), Known::Cifar10);
    assert!("imagenet".parse::<Known>().is_err());
}
