//! Access control through the `openvod` binary: `openvod sign-url`, the SPEKE v2
//! provider of `openvod serve` answering openvod's own SPEKE client (bad input gets a
//! clear 4xx), TLS, and a template taking its keys from another openvod. Tokens and
//! signed playback on the server are tested in-process in crates/server/tests/access.rs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::*;

const ADMIN: &str = "admin-token-for-the-access-test";
const KEY_PAIR_ID: &str = "K2ACCESSTEST";

/// curl; returns (status, body).
fn http(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.trim().parse().unwrap(), body.to_string())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// The SPEKE providers of these tests listen on loopback, which the allow-list admits.
fn loopback_allowed() -> openvod_access::OutboundPolicy {
    openvod_access::OutboundPolicy::new(["127.0.0.1/32"]).unwrap()
}

fn auth() -> String {
    format!("Authorization: Bearer {ADMIN}")
}

fn key_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../access/tests/data")
        .join(name)
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let template = fast_template(dir);
    let path = dir.join("openvod.toml");
    std::fs::write(
        &path,
        format!(
            "data_dir = \"{}\"\n{extra}\n[templates]\ndefault = \"{}\"\n",
            dir.join("data").display(),
            template.display()
        ),
    )
    .unwrap();
    path
}

fn wait_ready(base: &str, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let (_, body) = http(&["-H", &auth(), &format!("{base}/v1/assets/{id}")]);
        let a = json(&body);
        match a["status"].as_str() {
            Some("ready") => return,
            Some("failed") => panic!("asset failed: {a}"),
            _ if Instant::now() > deadline => panic!("not ready: {a}"),
            _ => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// `openvod sign-url` makes URLs and cookies that the trusted public key accepts, with
/// the verifier the origin uses (the origin's answers to signed requests are tested
/// in-process in crates/server/tests/access.rs).
#[test]
fn sign_url_signs_what_the_trusted_key_accepts() {
    use openvod_access::{SignedRequest, TrustedKeys};
    let dir = tempfile::tempdir().unwrap();
    let private = key_data("test_only_signer_a_pkcs1.pem");
    let public = std::fs::read_to_string(key_data("test_only_signer_a_spki.pub.pem")).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert_pem(KEY_PAIR_ID, &public).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let accepted = |url: &str, cookies: Option<&str>| {
        SignedRequest::from_signed_url(url, cookies, None, now)
            .and_then(|r| trusted.verify(&r))
            .is_ok()
    };
    let base = "https://cdn.example.test/play/0190d1f2a3b47c5d8e9f0a1b2c3d4e5f";
    let master = format!("{base}/master.m3u8");
    assert!(!accepted(&master, None), "unsigned");

    // A canned policy: this URL only.
    let out = openvod(&[
        "sign-url",
        &master,
        "--key-pair-id",
        KEY_PAIR_ID,
        "--private-key",
        private.to_str().unwrap(),
        "--expires",
        "+600",
    ]);
    assert_ok(&out, "sign-url");
    let signed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(accepted(&signed, None), "{signed}");
    let other = signed.replace("master.m3u8", "manifest.mpd");
    assert!(!accepted(&other, None), "a canned signature opens one URL");
    let expired = openvod(&[
        "sign-url",
        &master,
        "--key-pair-id",
        KEY_PAIR_ID,
        "--private-key",
        private.to_str().unwrap(),
        "--expires",
        "1000",
    ]);
    assert!(
        !expired.status.success(),
        "an expiry in the past is refused"
    );

    // A custom wildcard policy from a file: its query and its cookies open every file.
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        format!(
            r#"{{"Statement":[{{"Resource":"{base}/*","Condition":{{"DateLessThan":{{"AWS:EpochTime":{}}}}}}}]}}"#,
            now + 600
        ),
    )
    .unwrap();
    let out = openvod(&[
        "sign-url",
        &master,
        "--key-pair-id",
        KEY_PAIR_ID,
        "--private-key",
        private.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--json",
    ]);
    assert_ok(&out, "sign-url --policy");
    let v = json(&String::from_utf8_lossy(&out.stdout));
    let url = v["url"].as_str().unwrap();
    assert!(accepted(url, None), "{url}");
    let query = url.split_once('?').unwrap().1;
    let child = format!("{base}/360p/index.m3u8?{query}");
    assert!(accepted(&child, None), "{child}");
    let cookies: Vec<String> = v["cookies"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
        .collect();
    let seg = format!("{base}/360p/1.m4s");
    assert!(accepted(&seg, Some(&cookies.join("; "))));
    assert!(!accepted(&seg, None));
    let elsewhere = format!("https://cdn.example.test/play/other/1.m4s?{query}");
    assert!(!accepted(&elsewhere, None), "the wildcard covers one asset");
}

#[test]
fn the_speke_provider_answers_openvods_speke_client() {
    use openvod_drm::{DrmSystem, Scheme, SpekeClient, TrackType};
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(
        dir.path(),
        &format!(
            "[drm]\nmaster_key = \"{}\"\n[access]\nadmin_tokens = [\"{ADMIN}\"]\n",
            "7c".repeat(32)
        ),
    );
    let s = start_service("serve", &cfg, &[]);
    let url = format!("{}/speke/v2", s.base);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let kids = [
        (TrackType::Hd, openvod_drm::random_kid().unwrap()),
        (TrackType::Audio, openvod_drm::random_kid().unwrap()),
    ];
    let systems = [
        DrmSystem::Widevine,
        DrmSystem::PlayReady,
        DrmSystem::ClearKey,
    ];
    let client = SpekeClient::new(&url, &loopback_allowed())
        .unwrap()
        .with_header("Authorization", &format!("Bearer {ADMIN}"))
        .unwrap();
    let first = rt
        .block_on(client.fetch("movie-1", &kids, Scheme::Cenc, &systems))
        .expect("SPEKE answers");
    let again = rt
        .block_on(client.fetch("movie-1", &kids, Scheme::Cenc, &systems))
        .unwrap();
    assert_eq!(first.keys, again.keys, "the same KIDs get the same keys");
    assert_eq!(first.keys.len(), 2);
    assert!(
        first.key_for(TrackType::Hd).unwrap().key != first.key_for(TrackType::Audio).unwrap().key
    );
    for (_, kid) in &kids {
        for sys in systems {
            let sig = first
                .signaling_for(*kid, sys)
                .expect("signalling per KID and system");
            assert!(sig.pssh.is_some(), "{sys:?} pssh");
        }
    }
    // A KID of one content cannot be asked for under another.
    assert!(rt
        .block_on(client.fetch("movie-2", &kids[..1], Scheme::Cenc, &systems))
        .is_err());
    // Without the admin token: refused.
    let anonymous = SpekeClient::new(&url, &loopback_allowed())
        .unwrap()
        .with_retries(0);
    assert!(rt
        .block_on(anonymous.fetch("movie-1", &kids, Scheme::Cenc, &systems))
        .is_err());

    let post = |content_type: &str, body: &str| {
        http(&[
            "-X",
            "POST",
            "-H",
            &auth(),
            "-H",
            "X-Speke-Version: 2.0",
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            body,
            &url,
        ])
    };
    assert_eq!(post("application/json", "{}").0, 415);
    assert_eq!(post("application/xml", "not xml <").0, 400);
    let huge = format!("<x>{}</x>", "a".repeat(2 << 20));
    let huge_file = dir.path().join("huge.xml");
    std::fs::write(&huge_file, huge).unwrap();
    assert_eq!(
        post("application/xml", &format!("@{}", huge_file.display())).0,
        413
    );
    let (status, _) = http(&[
        "-X",
        "POST",
        "-H",
        &auth(),
        "-H",
        "Content-Type: application/xml",
        "--data-binary",
        "<cpix/>",
        &url,
    ]);
    assert_eq!(status, 400, "no X-Speke-Version");
}

#[test]
fn tls_is_served_with_rustls_and_plain_http_redirects_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let redirect = free.local_addr().unwrap();
    drop(free);
    let cfg = config(
        dir.path(),
        &format!(
            "tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\nhttp_redirect_listen = \"{redirect}\"\n",
            cert.display(),
            key.display()
        ),
    );
    let s = start_service("serve", &cfg, &[]);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let (status, body) = http(&["-k", &format!("{}/healthz", s.base)]);
    assert_eq!(status, 200, "{body}");
    // Plain HTTP on the TLS port is not answered as HTTP.
    let plain = s.base.replace("https://", "http://");
    assert_ne!(http(&[&format!("{plain}/healthz")]).0, 200);
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .arg(format!("http://{redirect}/play/x/master.m3u8?a=1"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let port = s.base.rsplit(':').next().unwrap();
    assert_eq!(
        text,
        format!("308 https://127.0.0.1:{port}/play/x/master.m3u8?a=1")
    );
}

#[test]
fn a_template_takes_its_keys_from_a_speke_provider() {
    use openvod_drm::Kid;
    use openvod_drm::{DrmSystem, Scheme, SpekeClient, TrackType};
    // The provider: another openvod, with its own database and master key.
    let pdir = tempfile::tempdir().unwrap();
    let pcfg = config(
        pdir.path(),
        &format!(
            "[drm]\nmaster_key = \"{}\"\n[access]\nadmin_tokens = [\"{ADMIN}\"]\n",
            "3e".repeat(32)
        ),
    );
    let provider = start_service("serve", &pcfg, &[]);

    let dir = tempfile::tempdir().unwrap();
    let template = std::fs::read_to_string(fast_template(dir.path())).unwrap()
        + &format!(
            "\n[protection]\noutputs = [\"cenc\"]\ndrm_systems = [\"widevine\", \"clearkey\"]\nkey_provider = \"speke\"\nspeke_url = \"{}/speke/v2\"\n",
            provider.base
        );
    let tpath = dir.path().join("speke.toml");
    std::fs::write(&tpath, template).unwrap();
    let cfg = dir.path().join("openvod.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"{}\"\n[drm]\nmaster_key = \"{}\"\nspeke_authorization = \"Bearer {ADMIN}\"\n[outbound]\nallow = [\"127.0.0.1/32\"]\n[templates]\nspeke = \"{}\"\n",
            dir.path().join("data").display(),
            "9d".repeat(32),
            tpath.display()
        ),
    )
    .unwrap();
    let s = start_service("serve", &cfg, &[]);
    let src = make_source(dir.path(), "clip.mp4", "320x180", 25, 4, true, &[]);
    let (status, body) = http(&[
        "-X",
        "POST",
        "--data-binary",
        &format!("@{}", src.display()),
        &format!("{}/v1/assets?name=clip.mp4&template=speke", s.base),
    ]);
    assert_eq!(status, 201, "{body}");
    let id = json(&body)["id"].as_str().unwrap().to_string();
    wait_ready(&s.base, &id);
    let (status, mpd) = http(&[&format!("{}/play/{id}/cenc/manifest.mpd", s.base)]);
    assert_eq!(status, 200);
    let kids: Vec<String> = mpd
        .match_indices("cenc:default_KID=\"")
        .map(|(i, m)| mpd[i + m.len()..i + m.len() + 36].replace('-', ""))
        .collect();
    assert_eq!(kids.len(), 2, "a video and an audio key: {mpd}");
    // The licence from this openvod...
    let b64: Vec<String> = kids
        .iter()
        .map(|k| Kid::from_hex(k).unwrap().to_base64url())
        .collect();
    let (status, body) = http(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &serde_json::json!({ "kids": b64, "type": "temporary" }).to_string(),
        &format!("{}/v1/drm/clearkey", s.base),
    ]);
    assert_eq!(status, 200, "{body}");
    let licence = json(&body);
    // ...holds the keys the provider has for those KIDs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = SpekeClient::new(&format!("{}/speke/v2", provider.base), &loopback_allowed())
        .unwrap()
        .with_header("Authorization", &format!("Bearer {ADMIN}"))
        .unwrap();
    let asked: Vec<(TrackType, Kid)> = kids
        .iter()
        .map(|k| (TrackType::Hd, Kid::from_hex(k).unwrap()))
        .collect();
    let from_provider = rt
        .block_on(client.fetch(&id, &asked, Scheme::Cenc, &[DrmSystem::ClearKey]))
        .expect("the provider knows the KIDs");
    for (_, key) in &from_provider.keys {
        let entry = licence["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == key.kid.to_base64url())
            .expect("the licence has every KID");
        let k = entry["k"].as_str().unwrap();
        let want = base64url(&key.key);
        assert_eq!(k, want, "the licence key is the provider's key");
    }
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
