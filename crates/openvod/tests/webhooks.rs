//! Webhooks end to end: registered over the API, delivered with a verifiable signature,
//! retried after a receiver error, logged.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

struct Received {
    signature: String,
    event: String,
    body: String,
}

/// A receiver that answers 500 to its first request and 200 after.
fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let mut first = true;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let (mut len, mut signature, mut event) = (0usize, String::new(), String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("openvod-signature:") {
                    signature = line["openvod-signature:".len()..].trim().to_string();
                }
                if lower.starts_with("openvod-event:") {
                    event = line["openvod-event:".len()..].trim().to_string();
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            first = false;
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            seen.lock().unwrap().push(Received {
                signature,
                event,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
    });
    (url, got)
}

fn verify(secret: &str, signature: &str, body: &str) -> bool {
    let Some((t, v1)) = signature.split_once(',') else {
        return false;
    };
    let (Some(t), Some(v1)) = (t.strip_prefix("t="), v1.strip_prefix("v1=")) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    want == v1
}

fn curl_json(args: &[&str]) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (
        code.trim().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn events_reach_a_webhook_signed_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let template = fast_template(dir.path());
    let config = dir.path().join("openvod.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[templates]\ndefault = \"{}\"\n",
            dir.path().join("data").display(),
            template.display()
        ),
    )
    .unwrap();
    let server = start_service("serve", &config, &[]);
    let api = server.base.clone();

    let (status, err) = curl_json(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        "{not json",
        &format!("{api}/v1/webhooks"),
    ]);
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_json")),
        "{err}"
    );
    let (status, err) = curl_json(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        r#"{"url":"file:///etc/passwd"}"#,
        &format!("{api}/v1/webhooks"),
    ]);
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("invalid_url"))
    );

    let (url, received) = receiver();
    let body =
        serde_json::json!({ "url": url, "events": ["asset.created", "asset.ready"] }).to_string();
    let (status, hook) = curl_json(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        &body,
        &format!("{api}/v1/webhooks"),
    ]);
    assert_eq!(status, 201, "{hook}");
    let secret = hook["secret"].as_str().unwrap().to_string();
    let hook_id = hook["id"].as_str().unwrap().to_string();

    let src = make_source(dir.path(), "clip.mp4", "320x240", 25, 2, true, &[]);
    let (status, asset) = curl_json(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", src.display()),
        &format!("{api}/v1/assets"),
    ]);
    assert_eq!(status, 201);
    let id = asset["id"].as_str().unwrap().to_string();

    let started = Instant::now();
    loop {
        let events: Vec<String> = received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.event.clone())
            .collect();
        if events.iter().filter(|e| *e == "asset.created").count() >= 2
            && events.contains(&"asset.ready".to_string())
        {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "received so far: {events:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    for r in received.lock().unwrap().iter() {
        assert!(
            verify(&secret, &r.signature, &r.body),
            "bad signature {} on {}",
            r.signature,
            r.body
        );
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["data"]["id"], id);
        assert_eq!(body["type"], r.event.as_str());
        assert!(!verify("wrong-secret", &r.signature, &r.body));
    }
    // The log shows the retry of the first delivery.
    let (status, log) = curl_json(&[&format!("{api}/v1/webhooks/{hook_id}/deliveries")]);
    assert_eq!(status, 200);
    let created = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "asset.created")
        .unwrap()
        .clone();
    assert_eq!(
        (created["status"].as_str(), created["attempts"].as_i64()),
        (Some("delivered"), Some(2)),
        "{log}"
    );
    let (status, _) = curl_json(&["-X", "DELETE", &format!("{api}/v1/webhooks/{hook_id}")]);
    assert_eq!(status, 204);
    let (status, _) = curl_json(&[&format!("{api}/v1/webhooks/{hook_id}/deliveries")]);
    assert_eq!(status, 404);
}
