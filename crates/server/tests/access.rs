//! Access control in-process: admin tokens (header and the dashboard's cookie) on the
//! control API, single-use upload tokens, and signed playback: an asset's playback mode,
//! CloudFront-style canned and custom (wildcard) policies in the URL or in cookies, a
//! manifest that hands its signature to every child, and `POST /v1/sign`.

mod common;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use openvod_access::{AdminTokens, HashAlgorithm, Policy, TrustedKeys, UploadTokenKey, UrlSigner};
use openvod_server::ServerConfig;

const ADMIN: &str = "admin-token-for-the-access-test";
const KEY_PAIR_ID: &str = "K2ACCESSTEST";
/// The address viewers and signers see (`[access] public_url`).
const PUBLIC: &str = "https://cdn.example.test";

fn key_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../access/tests/data")
        .join(name)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn the_control_api_needs_an_admin_token_and_an_upload_token_allows_one_upload() {
    let mut config = ServerConfig::default();
    config.access.admin_tokens = AdminTokens::new([ADMIN]).unwrap();
    config.access.upload_tokens = Some(UploadTokenKey::new(&[b's'; 40]).unwrap());
    let s = Server::new(config).await;
    let admin = bearer(ADMIN);

    assert_eq!(s.get("/v1/assets").await.status, StatusCode::UNAUTHORIZED);
    // The fleet names hosts and addresses: admins only.
    assert_eq!(s.get("/v1/workers").await.status, StatusCode::UNAUTHORIZED);
    let wrong = s
        .get_with("/v1/assets", &[("authorization", "Bearer nope")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.json()["error"]["message"].is_string());
    let ok = s.get_with("/v1/assets", &[("authorization", &admin)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    let fleet = s
        .get_with("/v1/workers", &[("authorization", &admin)])
        .await;
    assert_eq!(fleet.status, StatusCode::OK);
    assert!(
        fleet.text().contains("\"waiting_for_codecs\":0"),
        "{}",
        fleet.text()
    );
    // The dashboard's cookie works like the header.
    let cookie = format!("openvod_admin={ADMIN}");
    let ok = s.get_with("/v1/assets", &[("cookie", &cookie)]).await;
    assert_eq!(ok.status, StatusCode::OK);
    let bad = s
        .get_with("/v1/assets", &[("cookie", "openvod_admin=nope")])
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // Viewers and probes never need the control API.
    assert_eq!(s.get("/healthz").await.status, StatusCode::OK);

    let issued = s
        .json(
            "POST",
            "/v1/upload-tokens",
            r#"{"max_bytes": 1000}"#,
            &[("authorization", &admin)],
        )
        .await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text());
    let token = issued.json()["token"].as_str().unwrap().to_string();
    let with_token = bearer(&token);
    let create = |auth: String, length: &'static str| {
        let request = Request::post("/v1/uploads")
            .header("authorization", auth)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length)
            .body(Body::empty())
            .unwrap();
        s.send(request)
    };
    // The token is no admin token.
    let as_admin = s
        .get_with("/v1/assets", &[("authorization", &with_token)])
        .await;
    assert_eq!(as_admin.status, StatusCode::UNAUTHORIZED);
    // Larger than the token allows.
    let big = create(with_token.clone(), "5000").await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text());
    // One upload...
    let first = create(with_token.clone(), "10").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let location = first.header("location").expect("a Location").to_string();
    // ...and nothing else: a second creation is refused.
    let second = create(with_token.clone(), "10").await;
    assert_eq!(second.status, StatusCode::FORBIDDEN);
    // The upload it made can be written with it.
    let patch = Request::patch(location.as_str())
        .header("authorization", &with_token)
        .header("tus-resumable", "1.0.0")
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", "0")
        .body(Body::from("0123456789"))
        .unwrap();
    let written = s.send(patch).await;
    assert_eq!(written.status, StatusCode::NO_CONTENT, "{}", written.text());
    // A tampered token is refused.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = bearer(&String::from_utf8(tampered).unwrap());
    assert_eq!(
        create(tampered, "10").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Bad bodies on the token endpoint are 4xx, not 500.
    let bad = s
        .json(
            "POST",
            "/v1/upload-tokens",
            r#"{"max_bytes": "lots"}"#,
            &[("authorization", &admin)],
        )
        .await;
    assert!(bad.status.is_client_error(), "{}", bad.status);
}

/// A server trusting the test key pair, signing with its private half.
async fn signed_server() -> (Server, UrlSigner) {
    let (config, signer) = signed_config();
    (Server::new(config).await, signer)
}

/// The configuration of [`signed_server`], and its signer.
fn signed_config() -> (ServerConfig, UrlSigner) {
    let private = std::fs::read_to_string(key_data("test_only_signer_a_pkcs1.pem")).unwrap();
    let public = std::fs::read_to_string(key_data("test_only_signer_a_spki.pub.pem")).unwrap();
    let signer = UrlSigner::from_pem(KEY_PAIR_ID, &private, HashAlgorithm::Sha1).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.insert_pem(KEY_PAIR_ID, &public).unwrap();
    let mut config = ServerConfig::default();
    config.access.trusted_keys = trusted;
    config.access.signer = Some(signer.clone());
    config.access.public_url = Some(PUBLIC.into());
    (config, signer)
}

/// The path and query of a URL under [`PUBLIC`].
fn local(url: &str) -> &str {
    url.strip_prefix(PUBLIC)
        .unwrap_or_else(|| panic!("{url} is not under {PUBLIC}"))
}

#[tokio::test]
async fn signed_playback_accepts_valid_signatures_and_refuses_others() {
    let (s, signer) = signed_server().await;
    let id = s.ready_asset(&media().packaged).await;
    let master = format!("{PUBLIC}/play/{id}/master.m3u8");
    assert_eq!(
        s.get(local(&master)).await.status,
        StatusCode::OK,
        "public by default"
    );

    let r = set_playback(&s, &id, "signed").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    let refused = s.get(local(&master)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "signed now");
    assert_eq!(refused.json()["error"]["code"], "forbidden");
    assert_eq!(
        set_playback(&s, &id, "secret").await.status,
        StatusCode::BAD_REQUEST
    );

    // A canned policy: this URL only, until it expires.
    let signed = signer.signed_url_canned(&master, now() + 600).unwrap();
    assert_eq!(
        s.get(local(&signed)).await.status,
        StatusCode::OK,
        "{signed}"
    );
    // A player adding CMCD (CTA-5004 5.1) to the URL keeps the signature valid.
    assert_eq!(
        s.get(&format!(
            "{}&CMCD=ot%3Dm%2Csid%3D%22a%22%2Csu",
            local(&signed)
        ))
        .await
        .status,
        StatusCode::OK
    );
    let other = signed.replace("master.m3u8", "manifest.mpd");
    assert_eq!(
        s.get(local(&other)).await.status,
        StatusCode::FORBIDDEN,
        "a canned signature opens one URL"
    );
    let expired = signer.signed_url_canned(&master, now() - 10).unwrap();
    assert_eq!(s.get(local(&expired)).await.status, StatusCode::FORBIDDEN);

    // A custom wildcard policy: the manifest hands it to every child.
    let policy = Policy::custom(&format!("{PUBLIC}/play/{id}/*"), now() + 600, None, None).unwrap();
    let url = signer.signed_url_custom(&master, &policy).unwrap();
    let playlist = s.get(local(&url)).await;
    assert_eq!(playlist.status, StatusCode::OK);
    assert_eq!(playlist.header("cache-control"), Some("private, no-cache"));
    let playlist = playlist.text();
    let query = url.split_once('?').unwrap().1;
    let child = playlist
        .lines()
        .find(|l| l.ends_with(query) && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no signed child URI in {playlist}"));
    let child_path = format!("/play/{id}/{child}");
    assert_eq!(
        s.get(&child_path).await.status,
        StatusCode::OK,
        "{child_path}"
    );
    // The cookies alone open any file of the asset.
    let cookies: Vec<String> = signer
        .signed_cookies(&policy)
        .unwrap()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let rendition = child.split('/').next().unwrap();
    let seg = format!("/play/{id}/{rendition}/1.m4s");
    let with_cookies = s.get_with(&seg, &[("cookie", &cookies.join("; "))]).await;
    assert_eq!(with_cookies.status, StatusCode::OK);
    assert_eq!(s.get(&seg).await.status, StatusCode::FORBIDDEN);
    // Another asset is not covered by this wildcard.
    let other_id = s.ready_asset(&media().packaged).await;
    assert_eq!(
        set_playback(&s, &other_id, "signed").await.status,
        StatusCode::OK
    );
    let elsewhere = format!("/play/{other_id}/master.m3u8?{query}");
    assert_eq!(s.get(&elsewhere).await.status, StatusCode::FORBIDDEN);

    // POST /v1/sign: the same from the API, for a backend.
    let r = s
        .json(
            "POST",
            "/v1/sign",
            &format!(r#"{{"url": "{master}", "expires_in": 300, "wildcard": true}}"#),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_string();
    assert_eq!(s.get(local(&url)).await.status, StatusCode::OK);
    let mangled = url.replace("Signature=", "Signature=A");
    assert_eq!(s.get(local(&mangled)).await.status, StatusCode::FORBIDDEN);
    let bad = s
        .json("POST", "/v1/sign", r#"{"url": "x", "expires_in": 0}"#, &[])
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    // Pictures follow the same rules: refused without a signature, given with one.
    let poster = format!("{PUBLIC}/image/{id}/poster.jpg");
    assert_eq!(s.get(local(&poster)).await.status, StatusCode::FORBIDDEN);
    let thumb = format!("{PUBLIC}/image/{id}/thumbnail.jpg?time=1&width=64");
    assert_eq!(s.get(local(&thumb)).await.status, StatusCode::FORBIDDEN);
    let signed = signer.signed_url_canned(&poster, now() + 600).unwrap();
    let r = s.get(local(&signed)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("image/jpeg"));
    assert_eq!(r.body, poster_bytes());
    let mangled = signed.replace("Signature=", "Signature=A");
    assert_eq!(s.get(local(&mangled)).await.status, StatusCode::FORBIDDEN);

    // Back to public: no signature needed.
    let r = set_playback(&s, &id, "public").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.get(local(&master)).await.status, StatusCode::OK);
}

/// `PUT /v1/assets/{id}/playback`.
async fn set_playback(s: &Server, id: &str, mode: &str) -> Answer {
    let body = format!(r#"{{"playback": "{mode}"}}"#);
    s.json("PUT", &format!("/v1/assets/{id}/playback"), &body, &[])
        .await
}

#[tokio::test]
async fn signed_playback_holds_on_every_steering_pathway() {
    let (mut config, signer) = signed_config();
    let pathway = |id: &str, base: &str| openvod_server::steering::Pathway {
        id: openvod_media::steering::PathwayId::parse(id).unwrap(),
        base: base.into(),
        weight: 1,
    };
    config.steering.pathways = vec![
        pathway("cdn-a", "https://a.cdn.test"),
        pathway("cdn-b", "https://b.cdn.test"),
    ];
    let s = Server::new(config).await;
    let id = s.ready_asset(&media().packaged).await;
    assert_eq!(set_playback(&s, &id, "signed").await.status, StatusCode::OK);
    // Signed once, for the public URL; fetched through either CDN (its own Host).
    let master = format!("{PUBLIC}/play/{id}/master.m3u8");
    let policy = Policy::custom(&format!("{PUBLIC}/play/{id}/*"), now() + 600, None, None).unwrap();
    let url = signer.signed_url_custom(&master, &policy).unwrap();
    let query = url.split_once('?').unwrap().1;
    let through_b = s.get_with(local(&url), &[("host", "b.cdn.test")]).await;
    assert_eq!(through_b.status, StatusCode::OK, "{}", through_b.text());
    let playlist = through_b.text();
    // Every pathway's children carry the signature.
    for base in ["https://a.cdn.test", "https://b.cdn.test"] {
        let child = playlist
            .lines()
            .find(|l| l.starts_with(base) && l.ends_with(query))
            .unwrap_or_else(|| panic!("no signed child on {base} in {playlist}"));
        let path = child.strip_prefix(base).unwrap();
        let answer = s
            .get_with(path, &[("host", &base["https://".len()..])])
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{child}");
    }
    // Unsigned, through a pathway: refused like any other request.
    assert_eq!(
        s.get_with(
            &format!("/play/{id}/master.m3u8"),
            &[("host", "a.cdn.test")]
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
}
