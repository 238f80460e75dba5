//! Resumable uploads over tus 1.0: an upload cut off mid-request and resumed after a
//! server restart ends byte-identical to the file.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

/// curl; returns (status, lower-cased headers).
fn tus(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-D", "-"])
        .args(args)
        .output()
        .unwrap();
    let h = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    let status = h
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, h)
}

fn header(h: &str, name: &str) -> Option<String> {
    h.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}: "))
            .map(|v| v.trim().to_string())
    })
}

fn offset(base: &str, location: &str) -> u64 {
    let (status, h) = tus(&[
        "-I",
        "-H",
        "Tus-Resumable: 1.0.0",
        &format!("{base}{location}"),
    ]);
    assert_eq!(status, 200, "{h}");
    header(&h, "upload-offset").unwrap().parse().unwrap()
}

fn patch(base: &str, location: &str, at: u64, bytes: &Path) -> (u16, String) {
    tus(&[
        "-X",
        "PATCH",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        "Content-Type: application/offset+octet-stream",
        "-H",
        &format!("Upload-Offset: {at}"),
        "--data-binary",
        &format!("@{}", bytes.display()),
        &format!("{base}{location}"),
    ])
}

#[test]
fn an_upload_cut_off_and_resumed_after_a_restart_is_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("openvod.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[worker]\nconcurrency = 0\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let src = make_source(dir.path(), "clip.mp4", "640x360", 25, 4, true, &[]);
    let bytes = std::fs::read(&src).unwrap();
    let len = bytes.len();
    let server = start_service("serve", &config, &[]);
    let base = server.base.clone();

    let (status, h) = tus(&["-X", "OPTIONS", &format!("{base}/v1/uploads")]);
    assert_eq!(status, 204);
    assert_eq!(header(&h, "tus-version").as_deref(), Some("1.0.0"));
    assert!(header(&h, "tus-extension")
        .unwrap()
        .contains("creation,termination,expiration"));
    let (status, _) = tus(&[
        "-X",
        "POST",
        "-H",
        &format!("Upload-Length: {len}"),
        &format!("{base}/v1/uploads"),
    ]);
    assert_eq!(status, 412, "Tus-Resumable is required");

    // filename "clip.mp4" in base64.
    let (status, h) = tus(&[
        "-X",
        "POST",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        &format!("Upload-Length: {len}"),
        "-H",
        "Upload-Metadata: filename Y2xpcC5tcDQ=",
        &format!("{base}/v1/uploads"),
    ]);
    assert_eq!(status, 201, "{h}");
    let location = header(&h, "location").unwrap();
    assert!(header(&h, "upload-expires").is_some());

    let first = dir.path().join("first");
    std::fs::write(&first, &bytes[..len / 3]).unwrap();
    let (status, h) = patch(&base, &location, 0, &first);
    assert_eq!(status, 204, "{h}");
    assert_eq!(header(&h, "upload-offset").unwrap(), (len / 3).to_string());
    let (status, _) = patch(&base, &location, 0, &first);
    assert_eq!(status, 409, "a stale offset is refused");
    let (status, _) = tus(&[
        "-X",
        "PATCH",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        &format!("Upload-Offset: {}", len / 3),
        "--data-binary",
        "x",
        &format!("{base}{location}"),
    ]);
    assert_eq!(status, 415, "wrong content type");

    // A PATCH whose connection drops halfway: what arrived is kept.
    let at = (len / 3) as u64;
    let half = (len - len / 3) / 2;
    let addr = base.strip_prefix("http://").unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    write!(
        sock,
        "PATCH {location} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nContent-Type: application/offset+octet-stream\r\nUpload-Offset: {at}\r\nContent-Length: {}\r\n\r\n",
        len - len / 3
    )
    .unwrap();
    sock.write_all(&bytes[len / 3..len / 3 + half]).unwrap();
    sock.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    drop(sock);
    let started = Instant::now();
    let kept = loop {
        let o = offset(&base, &location);
        if o > at || started.elapsed() > Duration::from_secs(5) {
            break o;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        kept > at && kept <= at + half as u64,
        "kept {kept} of the cut-off request (from {at})"
    );

    // Restart: the offset is still there, and the rest completes the upload.
    drop(server);
    let server = start_service("serve", &config, &[]);
    let base = server.base.clone();
    assert_eq!(offset(&base, &location), kept);
    let rest = dir.path().join("rest");
    std::fs::write(&rest, &bytes[kept as usize..]).unwrap();
    let (status, h) = patch(&base, &location, kept, &rest);
    assert_eq!(status, 204, "{h}");
    assert_eq!(header(&h, "upload-offset").unwrap(), len.to_string());
    let asset = header(&h, "openvod-asset").expect("the asset id");
    let out = Command::new("curl")
        .args(["-s", &format!("{base}/v1/assets/{asset}")])
        .output()
        .unwrap();
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["source"]["name"], "clip.mp4");
    assert_eq!(a["source"]["size"].as_u64(), Some(len as u64));
    let key = a["source"]["key"].as_str().unwrap();
    let stored = std::fs::read(dir.path().join("data/objects/sources").join(key)).unwrap();
    assert!(stored == bytes, "the stored source differs from the file");
    let parts = dir.path().join("data/objects/sources/tus");
    assert!(
        !parts.exists() || walk(&parts) == 0,
        "parts are removed once joined"
    );

    // Termination of another upload.
    let (_, h) = tus(&[
        "-X",
        "POST",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        "Upload-Length: 10",
        &format!("{base}/v1/uploads"),
    ]);
    let other = header(&h, "location").unwrap();
    let (status, _) = tus(&[
        "-X",
        "DELETE",
        "-H",
        "Tus-Resumable: 1.0.0",
        &format!("{base}{other}"),
    ]);
    assert_eq!(status, 204);
    let (status, _) = tus(&[
        "-I",
        "-H",
        "Tus-Resumable: 1.0.0",
        &format!("{base}{other}"),
    ]);
    assert_eq!(status, 404);
    let (status, _) = tus(&[
        "-X",
        "POST",
        "-H",
        "Tus-Resumable: 1.0.0",
        "-H",
        "Upload-Length: 99999999999999",
        &format!("{base}/v1/uploads"),
    ]);
    assert_eq!(status, 413);
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| {
                    if e.path().is_dir() {
                        walk(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
