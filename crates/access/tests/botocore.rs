//! Interoperability with botocore's `CloudFrontSigner`, the reference Python signer.
//!
//! `cf_sign.py` signs with botocore and the committed test-only key; these tests check
//! that openvod accepts what botocore signs (and refuses it once changed), and, since RSA
//! PKCS#1 v1.5 signatures are deterministic, that openvod's signer produces the very same
//! URLs, cookies and policy JSON byte for byte.
//!
//! Python comes from `$OPENVOD_PYTHON`, else `$HOME/.cache/openvod/venv/bin/python`
//! (`need_python` in scripts/setup.sh creates it). Without it, or without botocore and rsa
//! in it, the tests fail when `CI=true` and otherwise print a SKIPPED line and pass.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use openvod_access::{
    Denied, HashAlgorithm, Policy, PolicyKind, SignatureSource, SignedRequest, TrustedKeys,
    UrlSigner,
};
use serde_json::Value;

const KEY_PAIR_ID: &str = "KTESTONLYA";
const OTHER_KEY_PAIR_ID: &str = "KTESTONLYB";
const EXPIRES: u64 = 1_767_290_400;
const NOW: u64 = EXPIRES - 3_600;
const ASSET_BASE: &str = "https://cdn.example.com/play/ASSET";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn read_data(name: &str) -> String {
    let path = data(&format!("data/{name}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn python_path() -> PathBuf {
    if let Some(python) = std::env::var_os("OPENVOD_PYTHON") {
        return PathBuf::from(python);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    Path::new(&home).join(".cache/openvod/venv/bin/python")
}

/// Why the environment cannot run botocore, if it cannot.
fn python_unavailable(python: &Path) -> Option<String> {
    match Command::new(python)
        .args(["-c", "import botocore, rsa"])
        .output()
    {
        Err(e) => Some(format!("cannot run {}: {e}", python.display())),
        Ok(output) if !output.status.success() => Some(format!(
            "{} cannot import botocore and rsa: {}",
            python.display(),
            // The last line of the traceback says what is missing.
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(_) => None,
    }
}

/// The script's output, or `None` when the test is skipped.
fn botocore_output() -> Option<&'static Value> {
    static OUTPUT: OnceLock<Option<Value>> = OnceLock::new();
    OUTPUT
        .get_or_init(|| {
            let python = python_path();
            if let Some(why) = python_unavailable(&python) {
                if std::env::var("CI").as_deref() == Ok("true") {
                    panic!(
                        "botocore interop test cannot run under CI=true: {why} \
                         (run need_python from scripts/setup.sh, or set OPENVOD_PYTHON)"
                    );
                }
                // Written to the process's stderr directly: the test harness captures
                // `eprintln!` of passing tests, and a skip must not go unnoticed.
                let _ = writeln!(std::io::stderr(), "SKIPPED: botocore interop test: {why}");
                return None;
            }
            let output = Command::new(&python)
                .arg(data("cf_sign.py"))
                .arg(data("data/test_only_signer_a_pkcs1.pem"))
                .arg(KEY_PAIR_ID)
                .arg(EXPIRES.to_string())
                .arg(ASSET_BASE)
                .output()
                .unwrap_or_else(|e| panic!("running cf_sign.py: {e}"));
            assert!(
                output.status.success(),
                "cf_sign.py failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            Some(serde_json::from_slice(&output.stdout).expect("cf_sign.py prints JSON"))
        })
        .as_ref()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing from cf_sign.py output"))
}

fn key_group() -> TrustedKeys {
    let mut keys = TrustedKeys::new();
    keys.insert_pem(KEY_PAIR_ID, &read_data("test_only_signer_a_spki.pub.pem"))
        .expect("key A");
    keys.insert_pem(
        OTHER_KEY_PAIR_ID,
        &read_data("test_only_signer_b_pkcs1.pub.pem"),
    )
    .expect("key B");
    keys
}

fn signer(hash: HashAlgorithm) -> UrlSigner {
    UrlSigner::from_pem(
        KEY_PAIR_ID,
        &read_data("test_only_signer_a_pkcs1.pem"),
        hash,
    )
    .expect("signer")
}

fn verify(url: &str, now: u64) -> Result<openvod_access::Grant, Denied> {
    key_group().verify(&SignedRequest::from_signed_url(url, None, None, now)?)
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let (base, query) = url.split_once('?').expect("query");
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((n, _)) if n == name => format!("{n}={value}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", query.join("&"))
}

fn param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .expect("query")
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        .expect("parameter present")
}

/// Changes one character of a signature to another character of the alphabet.
fn altered_signature(url: &str) -> String {
    let signature = param(url, "Signature");
    let mut chars: Vec<char> = signature.chars().collect();
    chars[10] = if chars[10] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

#[test]
fn policy_json_is_byte_identical_to_botocore() {
    let Some(output) = botocore_output() else {
        return;
    };
    let cases = output["policy_cases"].as_array().expect("policy_cases");
    assert_eq!(cases.len(), 6);
    for case in cases {
        let resource = text(case, "resource");
        let not_after = case["not_after"].as_u64().expect("not_after");
        let policy = Policy::custom(
            resource,
            not_after,
            case["not_before"].as_u64(),
            case["source_ip"].as_str(),
        )
        .expect("valid policy");
        assert_eq!(policy.to_json(), text(case, "json"), "{case}");
        if policy.is_canned_shape() {
            assert_eq!(
                Policy::canned(resource, not_after).to_json(),
                text(case, "json")
            );
        }
    }
}

#[test]
fn openvod_signs_exactly_what_botocore_signs() {
    let Some(output) = botocore_output() else {
        return;
    };
    let master = format!("{ASSET_BASE}/master.m3u8");
    let sha1 = signer(HashAlgorithm::Sha1);
    assert_eq!(
        sha1.signed_url_canned(&master, EXPIRES).expect("signed"),
        text(output, "canned_url")
    );
    let wildcard = Policy::custom(&format!("{ASSET_BASE}/*"), EXPIRES, None, None).expect("policy");
    assert_eq!(wildcard.to_json(), text(output, "custom_policy"));
    assert_eq!(
        sha1.signed_url_custom(&master, &wildcard).expect("signed"),
        text(output, "custom_url")
    );
    let cookies = sha1.signed_cookies(&wildcard).expect("signed");
    let expected = output["cookies"].as_object().expect("cookies");
    assert_eq!(cookies.len(), expected.len());
    for (name, value) in &cookies {
        assert_eq!(Some(value.as_str()), expected[*name].as_str(), "{name}");
    }
    assert_eq!(
        signer(HashAlgorithm::Sha256)
            .signed_url_canned(&master, EXPIRES)
            .expect("signed"),
        text(output, "canned_sha256_url")
    );
}

#[test]
fn botocore_signed_urls_and_cookies_are_accepted() {
    let Some(output) = botocore_output() else {
        return;
    };
    let canned = verify(text(output, "canned_url"), NOW).expect("canned accepted");
    assert_eq!(canned.kind(), PolicyKind::Canned);
    assert_eq!(canned.key_pair_id(), KEY_PAIR_ID);
    assert_eq!(canned.expires(), EXPIRES);

    let custom = verify(text(output, "custom_url"), NOW).expect("custom accepted");
    assert_eq!(custom.kind(), PolicyKind::Custom);
    assert!(custom.has_wildcard());

    let sha256 = verify(text(output, "canned_sha256_url"), NOW).expect("SHA-256 accepted");
    assert_eq!(sha256.hash_algorithm(), HashAlgorithm::Sha256);

    let cookie_header = output["cookies"]
        .as_object()
        .expect("cookies")
        .iter()
        .map(|(name, value)| format!("{name}={}", value.as_str().expect("cookie value")))
        .collect::<Vec<_>>()
        .join("; ");
    let request = SignedRequest::from_http(
        &format!("{ASSET_BASE}/v1/seg-00042.m4s"),
        None,
        Some(&cookie_header),
        None,
        NOW,
    )
    .expect("request");
    let from_cookies = key_group().verify(&request).expect("cookies accepted");
    assert_eq!(from_cookies.source(), SignatureSource::Cookies);
    assert!(from_cookies.has_wildcard());
}

#[test]
fn changed_botocore_urls_are_refused() {
    let Some(output) = botocore_output() else {
        return;
    };
    for url in [text(output, "canned_url"), text(output, "custom_url")] {
        let other_path = url.replace("/master.m3u8", "/other.m3u8");
        let expected_for_path = if url.contains("Policy=") {
            // The wildcard covers other.m3u8 too: only another asset is outside it.
            verify(&other_path, NOW).expect("same asset, other file");
            Denied::ResourceMismatch
        } else {
            assert_eq!(verify(&other_path, NOW).err(), Some(Denied::BadSignature));
            Denied::BadSignature
        };
        let other_asset = url.replace("/ASSET/", "/ASSET2/");
        assert_eq!(
            verify(&other_asset, NOW).err(),
            Some(expected_for_path),
            "{url}"
        );

        let altered = replace_param(url, "Signature", &altered_signature(url));
        assert_eq!(verify(&altered, NOW).err(), Some(Denied::BadSignature));

        let unknown_key = replace_param(url, "Key-Pair-Id", "KUNKNOWN");
        assert_eq!(
            verify(&unknown_key, NOW).err(),
            Some(Denied::UnknownKeyPairId)
        );

        let other_key = replace_param(url, "Key-Pair-Id", OTHER_KEY_PAIR_ID);
        assert_eq!(verify(&other_key, NOW).err(), Some(Denied::BadSignature));

        assert_eq!(
            verify(url, EXPIRES).err(),
            Some(Denied::Expired {
                expires: EXPIRES,
                now: EXPIRES
            })
        );
    }
    let canned = text(output, "canned_url");
    let later = replace_param(canned, "Expires", &(EXPIRES + 86_400).to_string());
    assert_eq!(verify(&later, NOW).err(), Some(Denied::BadSignature));
    let sha256_as_sha1 = text(output, "canned_sha256_url").replace("&Hash-Algorithm=SHA256", "");
    assert_eq!(
        verify(&sha256_as_sha1, NOW).err(),
        Some(Denied::BadSignature)
    );
}

#[test]
fn botocore_wildcard_grant_covers_exactly_its_asset() {
    let Some(output) = botocore_output() else {
        return;
    };
    let grant = verify(text(output, "custom_url"), NOW).expect("accepted");
    let suffix = grant.query_suffix();
    assert_eq!(
        suffix,
        text(output, "custom_url").split_once('?').expect("query").1
    );
    let segments = [
        "master.m3u8",
        "v1/index.m3u8",
        "v1/init.mp4",
        "v1/seg-00001.m4s",
        "v1/seg-00002.m4s",
        "a1/index.m3u8",
        "a1/seg-00001.m4s",
        "manifest.mpd",
        "keys/kid-1",
    ];
    for segment in segments {
        let url = format!("{ASSET_BASE}/{segment}");
        assert!(grant.covers(&url), "{url}");
        let child = verify(&format!("{url}?{suffix}"), NOW).expect("child accepted");
        assert_eq!(child.resource(), format!("{ASSET_BASE}/*"));
    }
    for other in [
        "https://cdn.example.com/play/ASSET2/master.m3u8",
        "https://cdn.example.com/play/OTHER/v1/seg-00001.m4s",
        "https://cdn.example.com/play/ASSET",
        "https://cdn.example.com/play/ASSET/../OTHER/master.m3u8",
        "https://evil.example.com/play/ASSET/master.m3u8",
    ] {
        assert!(!grant.covers(other), "{other}");
        assert!(
            verify(&format!("{other}?{suffix}"), NOW).is_err(),
            "{other}"
        );
    }
}
