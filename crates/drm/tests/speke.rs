//! SPEKE v2.0 end to end: a key provider (an axum server whose handler calls
//! `answer_speke` over its own key store) and openvod's client (`SpekeClient`,
//! `KeyProvider::Speke`) with a key store of its own. Routes beside the good one serve
//! broken answers; each must fail fast with the right error and store nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use openvod_drm::cpix::CpixError;
use openvod_drm::pssh::parse_pssh_box;
use openvod_drm::speke::USER_AGENT;
use openvod_drm::{
    answer_speke, check_speke_version, DrmSystem, KeyProvider, KeyScope, KeyStore, Kid, MasterKey,
    ProviderError, Scheme, SpekeClient, SpekeError, TrackType,
};
use openvod_net::OutboundPolicy;
use openvod_store::Db;

struct Provider {
    store: KeyStore,
    calls: AtomicUsize,
}

type Shared = Arc<Provider>;

async fn answer(provider: &Provider, headers: &HeaderMap, body: &[u8]) -> Result<String, Response> {
    provider.calls.fetch_add(1, Ordering::SeqCst);
    let version = headers.get("x-speke-version").and_then(|v| v.to_str().ok());
    let result = match check_speke_version(version) {
        Ok(()) => answer_speke(&provider.store, body).await,
        Err(e) => Err(e),
    };
    result.map_err(|e| {
        let status =
            StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, e.to_string()).into_response()
    })
}

fn xml(body: impl Into<Body>) -> Response {
    Response::builder()
        .header(CONTENT_TYPE, "application/xml")
        .header("X-Speke-Version", "2.0")
        .header("X-Speke-User-Agent", USER_AGENT)
        .body(body.into())
        .unwrap()
}

async fn good(State(p): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    match answer(&p, &headers, &body).await {
        Ok(doc) => xml(doc),
        Err(r) => r,
    }
}

/// Applies `edit` to a correct answer.
async fn edited(
    p: &Provider,
    headers: &HeaderMap,
    body: &[u8],
    edit: impl Fn(String) -> String,
) -> Response {
    match answer(p, headers, body).await {
        Ok(doc) => xml(edit(doc)),
        Err(r) => r,
    }
}

/// The first `<cpix:ContentKey ...>...</cpix:ContentKey>` removed.
fn drop_first_key(doc: String) -> String {
    let start = doc.find("<cpix:ContentKey ").unwrap();
    let end = start + doc[start..].find("</cpix:ContentKey>").unwrap() + "</cpix:ContentKey>".len();
    format!("{}{}", &doc[..start], &doc[end..])
}

fn other_kid(doc: String) -> String {
    let start = doc.find("<cpix:ContentKey kid=\"").unwrap() + "<cpix:ContentKey kid=\"".len();
    format!("{}{}{}", &doc[..start], Kid([0xee; 16]), &doc[start + 36..])
}

fn bad_base64(doc: String) -> String {
    let start = doc.find("<pskc:PlainValue>").unwrap() + "<pskc:PlainValue>".len();
    let end = doc.find("</pskc:PlainValue>").unwrap();
    format!("{}@@not base64@@{}", &doc[..start], &doc[end..])
}

async fn missing_key(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    edited(&p, &h, &b, drop_first_key).await
}

async fn wrong_kid(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    edited(&p, &h, &b, other_kid).await
}

async fn base64(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    edited(&p, &h, &b, bad_base64).await
}

async fn no_user_agent(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    match answer(&p, &h, &b).await {
        Ok(doc) => ([(CONTENT_TYPE, "application/xml")], doc).into_response(),
        Err(r) => r,
    }
}

/// 2 MiB with a Content-Length.
async fn huge(State(p): State<Shared>) -> Response {
    p.calls.fetch_add(1, Ordering::SeqCst);
    let mut doc = b"<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\">".to_vec();
    doc.resize(2 << 20, b' ');
    xml(doc)
}

/// A body that never ends: only a client that stops at the limit returns.
async fn endless(State(p): State<Shared>) -> Response {
    p.calls.fetch_add(1, Ordering::SeqCst);
    let chunk = Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
    xml(Body::from_stream(chunks))
}

/// 500 on the first call, then correct answers.
async fn flaky(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    if p.calls.load(Ordering::SeqCst) == 0 {
        p.calls.fetch_add(1, Ordering::SeqCst);
        return (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response();
    }
    good(State(p), h, b).await
}

/// A provider that forgets its keys: every answer carries a new key for the first KID.
async fn fickle(State(p): State<Shared>, h: HeaderMap, b: Bytes) -> Response {
    let call = p.calls.load(Ordering::SeqCst) as u8;
    edited(&p, &h, &b, move |doc| {
        let start = doc.find("<pskc:PlainValue>").unwrap() + "<pskc:PlainValue>".len();
        let end = doc.find("</pskc:PlainValue>").unwrap();
        let key = base64_of(&[call; 16]);
        format!("{}{key}{}", &doc[..start], &doc[end..])
    })
    .await
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn refuse(State(p): State<Shared>) -> Response {
    p.calls.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::BAD_REQUEST,
        "Missing CPIX@contentId\nsecond line",
    )
        .into_response()
}

async fn silent(State(p): State<Shared>) -> Response {
    p.calls.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3600)).await;
    StatusCode::OK.into_response()
}

struct Setup {
    base: String,
    providers: Vec<(&'static str, Shared)>,
    _dir: tempfile::TempDir,
}

impl Setup {
    fn url(&self, route: &str) -> String {
        format!("{}/{route}", self.base)
    }

    fn calls(&self, route: &str) -> usize {
        self.providers
            .iter()
            .find(|(r, _)| *r == route)
            .map(|(_, p)| p.calls.load(Ordering::SeqCst))
            .unwrap()
    }

    fn server_store(&self) -> KeyStore {
        self.providers[0].1.store.clone()
    }
}

/// The key provider on a random port, each route with its own call counter, all over one
/// key store of the provider's.
async fn start() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/provider.db", dir.path().display()))
        .await
        .unwrap();
    let store = KeyStore::new(db, MasterKey::from_bytes(&[0x11; 32]));
    let routes = [
        "good",
        "missing-key",
        "wrong-kid",
        "bad-base64",
        "no-user-agent",
        "huge",
        "endless",
        "flaky",
        "fickle",
        "refuse",
        "silent",
    ];
    let providers: Vec<(&'static str, Shared)> = routes
        .iter()
        .map(|&r| {
            (
                r,
                Arc::new(Provider {
                    store: store.clone(),
                    calls: AtomicUsize::new(0),
                }),
            )
        })
        .collect();
    let mut app = Router::new();
    for (route, provider) in &providers {
        let path = format!("/{route}");
        let state = provider.clone();
        let router = match *route {
            "good" => Router::new().route(&path, post(good)),
            "missing-key" => Router::new().route(&path, post(missing_key)),
            "wrong-kid" => Router::new().route(&path, post(wrong_kid)),
            "bad-base64" => Router::new().route(&path, post(base64)),
            "no-user-agent" => Router::new().route(&path, post(no_user_agent)),
            "huge" => Router::new().route(&path, post(huge)),
            "endless" => Router::new().route(&path, post(endless)),
            "flaky" => Router::new().route(&path, post(flaky)),
            "fickle" => Router::new().route(&path, post(fickle)),
            "refuse" => Router::new().route(&path, post(refuse)),
            _ => Router::new().route(&path, post(silent)),
        };
        app = app.merge(router.with_state(state));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Setup {
        base,
        providers,
        _dir: dir,
    }
}

async fn client_store(dir: &tempfile::TempDir, name: &str) -> (KeyStore, Db) {
    let db = Db::connect(&format!("sqlite://{}/{name}.db", dir.path().display()))
        .await
        .unwrap();
    (
        KeyStore::new(db.clone(), MasterKey::from_bytes(&[0x22; 32])),
        db,
    )
}

fn client(url: &str) -> SpekeClient {
    client_with_timeout(url, Duration::from_secs(5))
}

/// The key provider of these tests listens on loopback, which the allow-list admits.
fn loopback_allowed() -> OutboundPolicy {
    OutboundPolicy::new(["127.0.0.1/32"]).unwrap()
}

fn client_with_timeout(url: &str, timeout: Duration) -> SpekeClient {
    SpekeClient::new(url, &loopback_allowed())
        .unwrap()
        .with_timeout(timeout)
        .with_retries(1)
        .with_backoff(Duration::from_millis(50))
        .with_header("Authorization", "Bearer test-token")
        .unwrap()
}

const TRACKS: [TrackType; 3] = [TrackType::Audio, TrackType::Sd, TrackType::Hd];
const SYSTEMS: [DrmSystem; 3] = [
    DrmSystem::Widevine,
    DrmSystem::PlayReady,
    DrmSystem::FairPlay,
];

#[tokio::test]
async fn keys_come_back_are_stored_and_stay_the_same() {
    let setup = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = client_store(&dir, "client").await;
    let provider = KeyProvider::Speke {
        client: client(&setup.url("good")),
        store: store.clone(),
    };
    let keys = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap();
    assert_eq!(keys.keys.len(), 3);
    assert_eq!(keys.kids().len(), 3);
    assert_eq!(keys.signaling.len(), 9, "each KID for each system");
    for (track, key) in &keys.keys {
        let (content, stored_track, stored) = store.key_by_kid(key.kid).await.unwrap().unwrap();
        assert_eq!(
            (content.as_str(), stored_track, &stored),
            ("asset-1", *track, key)
        );
        // The provider filed the key under the same track type, with the same bytes.
        let (_, provider_track, provider_key) = setup
            .server_store()
            .key_by_kid(key.kid)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((provider_track, &provider_key), (*track, key));
        for system in SYSTEMS {
            let s = keys.signaling_for(key.kid, system).unwrap();
            match system {
                DrmSystem::FairPlay => assert!(s
                    .hls_media
                    .as_deref()
                    .unwrap()
                    .contains(&format!("skd://{}", key.kid.to_hex()))),
                _ => {
                    let pssh = parse_pssh_box(s.pssh.as_deref().unwrap()).unwrap();
                    assert_eq!(pssh.system_id, system.system_id());
                    assert_eq!(pssh.kids, vec![key.kid]);
                }
            }
        }
    }

    let again = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap();
    assert_eq!(
        again.keys, keys.keys,
        "the same KIDs and keys the second time"
    );
    assert_eq!(setup.calls("good"), 2);

    let single = provider
        .content_keys(
            "asset-2",
            &TRACKS,
            KeyScope::Single,
            Scheme::Cbcs,
            &[DrmSystem::Widevine],
        )
        .await
        .unwrap();
    assert_eq!(single.kids().len(), 1);
    assert_eq!(
        single.key_for(TrackType::Audio),
        single.key_for(TrackType::Hd)
    );
    assert_eq!(
        store.kid_for("asset-2", TrackType::Hd).await.unwrap(),
        Some(single.kids()[0])
    );
}

#[tokio::test]
async fn the_client_alone_returns_what_the_provider_sent() {
    let setup = start().await;
    let kids = [
        (TrackType::Audio, Kid([1; 16])),
        (TrackType::Uhd, Kid([2; 16])),
    ];
    let keys = client(&setup.url("good"))
        .fetch(
            "asset-9",
            &kids,
            Scheme::Cenc,
            &[DrmSystem::Widevine, DrmSystem::ClearKey],
        )
        .await
        .unwrap();
    assert_eq!(keys.content_id, "asset-9");
    assert_eq!(keys.key_for(TrackType::Audio).unwrap().kid, Kid([1; 16]));
    assert_eq!(keys.key_for(TrackType::Uhd).unwrap().kid, Kid([2; 16]));
    let (_, track, key) = setup
        .server_store()
        .key_by_kid(Kid([2; 16]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(track, TrackType::Uhd);
    assert_eq!(keys.key_for(TrackType::Uhd), Some(&key));
    assert_eq!(keys.signaling.len(), 4);

    // A KID of another content is the requester's fault.
    let err = client(&setup.url("good"))
        .fetch("asset-10", &kids, Scheme::Cenc, &[DrmSystem::Widevine])
        .await
        .unwrap_err();
    assert!(
        matches!(err, SpekeError::Status { status: 409, .. }),
        "{err}"
    );
}

/// Runs `KeyProvider::Speke` against a route with a fresh client store; returns the error,
/// how long it took, and whether the client store stayed empty.
async fn failing(setup: &Setup, route: &str) -> (ProviderError, Duration, bool) {
    // Short enough to see the silent route time out twice; the others answer at once.
    let timeout = if route == "silent" {
        Duration::from_millis(400)
    } else {
        Duration::from_secs(5)
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, db) = client_store(&dir, route).await;
    let provider = KeyProvider::Speke {
        client: client_with_timeout(&setup.url(route), timeout),
        store,
    };
    let started = Instant::now();
    let err = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    let empty = db.content_keys_of("asset-1").await.unwrap().is_empty();
    (err, elapsed, empty)
}

fn invalid_response(err: &ProviderError) -> Option<&CpixError> {
    match err {
        ProviderError::Speke(SpekeError::InvalidResponse { source, .. }) => Some(source),
        _ => None,
    }
}

#[tokio::test]
async fn malformed_answers_fail_fast_and_store_nothing() {
    let setup = start().await;
    let quick = Duration::from_secs(3);

    let (err, took, empty) = failing(&setup, "missing-key").await;
    assert!(
        matches!(invalid_response(&err), Some(CpixError::MissingKid(_))),
        "{err}"
    );
    assert!(empty && took < quick, "{took:?}");
    assert!(err.to_string().contains(&setup.url("missing-key")), "{err}");

    let (err, took, empty) = failing(&setup, "wrong-kid").await;
    assert_eq!(
        invalid_response(&err),
        Some(&CpixError::UnexpectedKid(Kid([0xee; 16]))),
        "{err}"
    );
    assert!(empty && took < quick);

    let (err, took, empty) = failing(&setup, "bad-base64").await;
    assert!(
        matches!(invalid_response(&err), Some(CpixError::KeyNotBase64(_))),
        "{err}"
    );
    assert!(empty && took < quick);

    let (err, took, empty) = failing(&setup, "no-user-agent").await;
    assert!(
        matches!(
            err,
            ProviderError::Speke(SpekeError::MissingUserAgent { .. })
        ),
        "{err}"
    );
    assert!(empty && took < quick);

    for route in ["huge", "endless"] {
        let (err, took, empty) = failing(&setup, route).await;
        assert!(
            matches!(
                err,
                ProviderError::Speke(SpekeError::ResponseTooLarge { .. })
            ),
            "{route}: {err}"
        );
        assert!(empty && took < quick, "{route}: {took:?}");
        assert_eq!(setup.calls(route), 1, "{route}: not retried");
    }

    let (err, took, empty) = failing(&setup, "refuse").await;
    match &err {
        ProviderError::Speke(SpekeError::Status { status, detail, .. }) => {
            assert_eq!(*status, 400);
            assert_eq!(detail, "Missing CPIX@contentId second line");
        }
        other => panic!("expected HTTP 400, got {other}"),
    }
    assert!(empty && took < quick);
    assert_eq!(setup.calls("refuse"), 1, "4xx is not retried");

    let (err, took, empty) = failing(&setup, "silent").await;
    assert!(
        matches!(err, ProviderError::Speke(SpekeError::Timeout { .. })),
        "{err}"
    );
    assert!(empty, "nothing stored");
    assert!(
        took >= Duration::from_millis(800) && took < quick,
        "two attempts of 400 ms: {took:?}"
    );
    assert_eq!(setup.calls("silent"), 2, "a timeout is retried");
    assert!(!err.to_string().contains("test-token"), "{err}");
}

#[tokio::test]
async fn a_server_error_is_retried() {
    let setup = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = client_store(&dir, "client").await;
    let provider = KeyProvider::Speke {
        client: client(&setup.url("flaky")),
        store: store.clone(),
    };
    let keys = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap();
    assert_eq!(setup.calls("flaky"), 2, "one 500, then the answer");
    for (_, key) in &keys.keys {
        assert!(store.key_by_kid(key.kid).await.unwrap().is_some());
    }
}

#[tokio::test]
async fn a_provider_that_changes_a_stored_key_is_refused() {
    let setup = start().await;
    let dir = tempfile::tempdir().unwrap();
    let (store, _db) = client_store(&dir, "client").await;
    let provider = KeyProvider::Speke {
        client: client(&setup.url("fickle")),
        store: store.clone(),
    };
    let first = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap();
    let err = provider
        .content_keys(
            "asset-1",
            &TRACKS,
            KeyScope::PerTrackType,
            Scheme::Cbcs,
            &SYSTEMS,
        )
        .await
        .unwrap_err();
    let kid = first.keys[0].1.kid;
    assert!(
        matches!(&err, ProviderError::Speke(SpekeError::KeyChanged { kid: k, .. }) if *k == kid),
        "{err}"
    );
    let (_, _, stored) = store.key_by_kid(kid).await.unwrap().unwrap();
    assert_eq!(stored, first.keys[0].1, "the stored key stays");
}

#[tokio::test]
async fn a_provider_on_loopback_is_refused_without_the_allow_list() {
    let setup = start().await;
    let fenced = OutboundPolicy::default();
    // Written as an address: refused when the client is made.
    let err = SpekeClient::new(&setup.url("good"), &fenced).unwrap_err();
    assert!(matches!(err, SpekeError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("loopback (127.0.0.0/8)"), "{err}");
    // Reached by a name that resolves to it: refused when connecting, and not retried.
    let by_name = setup.url("good").replace("127.0.0.1", "localhost");
    let client = SpekeClient::new(&by_name, &fenced)
        .unwrap()
        .with_retries(3)
        .with_backoff(Duration::from_secs(2));
    let started = Instant::now();
    let err = client
        .fetch(
            "a",
            &[(TrackType::Hd, Kid([5; 16]))],
            Scheme::Cenc,
            &[DrmSystem::Widevine],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SpekeError::Refused { .. })
            && err
                .to_string()
                .contains("localhost resolves only to addresses that are refused"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(2), "no retry");
    assert_eq!(setup.calls("good"), 0, "the provider saw nothing");
}

#[tokio::test]
async fn an_unreachable_provider_is_a_transport_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/speke?token=secret",
        listener.local_addr().unwrap()
    );
    drop(listener);
    let started = Instant::now();
    let err = client(&url)
        .fetch(
            "a",
            &[(TrackType::Hd, Kid([3; 16]))],
            Scheme::Cbcs,
            &[DrmSystem::Widevine],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SpekeError::Transport { .. }), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = err.to_string();
    assert!(
        text.contains("/speke") && !text.contains("secret"),
        "{text}"
    );
}

#[tokio::test]
async fn requests_the_provider_cannot_take_are_the_clients_fault() {
    let setup = start().await;
    let store = setup.server_store();
    let cases: [(Vec<u8>, u16); 3] = [
        (b"<not-cpix/>".to_vec(), 422),
        (b"<<<".to_vec(), 400),
        (vec![b' '; (1 << 20) + 1], 413),
    ];
    for (body, status) in cases {
        let err = answer_speke(&store, &body).await.unwrap_err();
        assert_eq!(err.status_code(), status, "{err}");
        assert!(err.is_client_error());
    }
    // FairPlay with cenc cannot be signalled: refused before any key is made.
    let request = openvod_drm::CpixRequest {
        content_id: "fp".into(),
        keys: vec![openvod_drm::RequestedKey::for_track(
            Kid([4; 16]),
            TrackType::Hd,
            Scheme::Cenc,
        )],
        systems: vec![DrmSystem::FairPlay],
        periods: Vec::new(),
    };
    let err = answer_speke(&store, request.to_xml().as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status_code(), 422, "{err}");
    assert!(store.key_by_kid(Kid([4; 16])).await.unwrap().is_none());
}
