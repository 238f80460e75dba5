//! Webhooks end to end: registered over the API, delivered with a verifiable signature,
//! retried after a receiver error, logged; and fenced: URLs that point at loopback,
//! private or link-local addresses are refused at registration and at delivery unless
//! `[outbound] allow` admits them.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;
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
    // The receiver listens on loopback, which only the allow-list admits.
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[outbound]\nallow = [\"127.0.0.1/32\"]\n[templates]\ndefault = \"{}\"\n",
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

fn post_webhook(api: &str, url: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({ "url": url, "events": ["asset.created"] }).to_string();
    curl_json(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        &body,
        &format!("{api}/v1/webhooks"),
    ])
}

/// The delivery log of a webhook once its first delivery is no longer pending.
fn settled_delivery(api: &str, hook_id: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let (status, log) = curl_json(&[&format!("{api}/v1/webhooks/{hook_id}/deliveries")]);
        assert_eq!(status, 200);
        if let Some(d) = log["deliveries"]
            .as_array()
            .and_then(|all| all.first())
            .filter(|d| d["status"] != "pending")
        {
            return d.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still pending: {log}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn webhooks_that_point_inward_are_refused_at_registration_and_at_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("openvod.toml");
    // No allow-list; no worker either: an upload's asset.created is the only event needed.
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[worker]\nconcurrency = 0\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let server = start_service("serve", &config, &[]);
    let api = server.base.clone();
    let (url, received) = receiver();
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/hook")
        .to_string();

    // Addresses written in the URL are judged at registration (accepted with the
    // allow-list in `events_reach_a_webhook_signed_and_retried`).
    for (hook, reason) in [
        (url.clone(), "loopback (127.0.0.0/8)"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            "IPv4-mapped",
        ),
        (format!("http://[::1]:{port}/hook"), "loopback (::1/128)"),
        (
            "http://169.254.169.254/latest/meta-data/".into(),
            "link-local",
        ),
        ("http://10.0.0.8/hook".into(), "private (10.0.0.0/8)"),
        ("http://100.64.1.1/hook".into(), "shared address space"),
    ] {
        let (status, err) = post_webhook(&api, &hook);
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("url_not_allowed")),
            "{hook}: {err}"
        );
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(reason) && message.contains("[outbound] allow"),
            "{hook}: {message}"
        );
    }
    for hook in [
        "file:///etc/passwd",
        "ftp://example.com/x",
        "gopher://example.com:70/_x",
    ] {
        let (status, err) = post_webhook(&api, hook);
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (400, Some("invalid_url")),
            "{hook}: {err}"
        );
    }

    // A host name is judged by what it resolves to when a delivery connects: localhost
    // is accepted here, and every delivery to it is refused and logged, without retries.
    let (status, hook) = post_webhook(&api, &format!("http://localhost:{port}/hook"));
    assert_eq!(status, 201, "{hook}");
    let hook_id = hook["id"].as_str().unwrap().to_string();
    let (status, asset) = curl_json(&[
        "-X",
        "POST",
        "--data-binary",
        "not a video",
        &format!("{api}/v1/assets?name=x.mp4"),
    ]);
    assert_eq!(status, 201, "{asset}");
    let delivery = settled_delivery(&api, &hook_id);
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64()),
        (Some("failed"), Some(1)),
        "{delivery}"
    );
    let error = delivery["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("refused: localhost resolves only to addresses that are refused")
            && error.contains("127.0.0.1 is loopback"),
        "{error}"
    );
    // The first retry would come 2 s later: there is none.
    std::thread::sleep(Duration::from_secs(3));
    let again = settled_delivery(&api, &hook_id);
    assert_eq!(again["attempts"].as_i64(), Some(1), "{again}");
    assert!(
        received.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
}

#[test]
fn refused_urls_in_the_configuration_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("openvod.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[[webhooks]]\nurl = \"http://192.168.1.20/hook\"\n",
            data.display()
        ),
    )
    .unwrap();
    let out = openvod(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config: webhook http://192.168.1.20/hook: url: 192.168.1.20 is private"),
        "{stderr}"
    );

    let template = dir.path().join("speke.toml");
    let text = std::fs::read_to_string(fast_template(dir.path())).unwrap()
        + "\n[protection]\nkey_provider = \"speke\"\nspeke_url = \"http://169.254.169.254/speke/v2\"\n";
    std::fs::write(&template, text).unwrap();
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[templates]\nspeke = \"{}\"\n",
            data.display(),
            template.display()
        ),
    )
    .unwrap();
    let out = openvod(&[
        "serve",
        "--config",
        config.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("protection.speke_url: 169.254.169.254 is link-local (169.254.0.0/16)"),
        "{stderr}"
    );
}
