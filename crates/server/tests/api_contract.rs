//! The control API keeps the contract its OpenAPI document states: the constraints the
//! document gives (patterns, bounds, nullable fields, error shapes) are the ones the
//! handlers enforce, checked in-process through `openvod_server::router`.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use openvod_access::{AdminTokens, UploadTokenKey};
use openvod_server::{router, AppState, Roles, ServerConfig};
use openvod_store::{Db, Objects, ObjectsConfig};
use regex::Regex;
use serde_json::{json, Value};
use tower::ServiceExt;

const TOKEN: &str = "contract-test-admin-token-0123456789";

struct Api {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!("sqlite://{}/meta.db", dir.path().display()))
        .await
        .unwrap();
    let objects = Objects::open(&ObjectsConfig::Local {
        root: dir.path().join("objects"),
    })
    .unwrap();
    let mut config = ServerConfig {
        templates: vec!["default".into(), "ladder".into()],
        max_upload_bytes: 1_000_000,
        ..ServerConfig::default()
    };
    config.access.admin_tokens = AdminTokens::new([TOKEN]).unwrap();
    config.access.upload_tokens = Some(UploadTokenKey::new(&[7u8; 32]).unwrap());
    let state = AppState::new(db, objects, config, None);
    let roles = Roles {
        api: true,
        origin: true,
    };
    Api {
        app: router(state, roles),
        _dir: dir,
    }
}

impl Api {
    /// Sends a request with the admin token; returns the status, Content-Type and body.
    async fn send(&self, request: Request<Body>) -> (StatusCode, String, Value) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        (status, content_type, body)
    }

    async fn get(&self, uri: &str) -> (StatusCode, String, Value) {
        self.send(
            Request::get(uri)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, uri: &str, content_type: &str, body: &str) -> (StatusCode, String, Value) {
        self.send(
            Request::post(uri)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    async fn document(&self) -> Value {
        let (status, content_type, doc) = self.get("/v1/openapi.json").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        doc
    }
}

/// The schema at `pointer` of the document.
fn at<'a>(doc: &'a Value, pointer: &str) -> &'a Value {
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("no {pointer} in the document"))
}

fn pattern(schema: &Value) -> Regex {
    Regex::new(schema["pattern"].as_str().expect("a pattern")).unwrap()
}

/// The schema of query parameter `name` of `GET path`.
fn query_param<'a>(doc: &'a Value, path: &str, name: &str) -> &'a Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["schema"])
        .unwrap_or_else(|| panic!("no parameter {name} of {path}"))
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_document_is_generated_for_this_server() {
    let api = api().await;
    let doc = api.document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let template = &at(&doc, "/paths/~1v1~1assets/post/parameters/1")["schema"];
    assert_eq!(template["enum"], json!(["default", "ladder"]));
    let length = doc["paths"]["/v1/uploads"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Upload-Length")
        .unwrap();
    assert_eq!(length["schema"]["maximum"], 1_000_000);
    // What a failed or damaged asset says stays documented.
    let asset = at(&doc, "/components/schemas/AssetView");
    assert!(asset["properties"]["error"]
        .to_string()
        .contains("`damaged_source` (decoding stopped early"));
    assert!(asset["properties"]["warnings"]["description"]
        .to_string()
        .contains("damaged_source"));
    let warning = at(&doc, "/components/schemas/AssetWarning");
    assert_eq!(
        warning["properties"]["code"]["enum"],
        json!([
            "damaged_source",
            "overstated_duration",
            "stream_not_carried",
            "cues_past_end",
            "images_not_made"
        ])
    );
    // Every error answer has one shape.
    for name in ["BadRequest", "NotFound", "Unauthorized", "TooLarge"] {
        assert_eq!(
            at(
                &doc,
                &format!("/components/responses/{name}/content/application~1json/schema/$ref")
            ),
            "#/components/schemas/ErrorBody"
        );
    }
    // Links are Link Objects (camelCase), for clients and stateful testing.
    assert_eq!(
        at(
            &doc,
            "/paths/~1v1~1assets/post/responses/201/links/getAsset/operationId"
        ),
        "getAsset"
    );
}

#[tokio::test]
async fn asset_list_parameters_are_as_documented() {
    let api = api().await;
    let doc = api.document().await;
    let before = pattern(query_param(&doc, "/v1/assets", "before"));
    let limit = query_param(&doc, "/v1/assets", "limit");
    assert_eq!(
        (limit["minimum"].as_u64(), limit["maximum"].as_u64()),
        (Some(1), Some(200))
    );

    // An empty cursor is the first page, as the pattern allows.
    assert!(before.is_match(""));
    let (status, _, page) = api.get("/v1/assets?before=").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page, json!({ "assets": [], "next": null }));
    let id = "0123456789abcdef0123456789abcdef";
    assert!(before.is_match(id));
    assert_eq!(
        api.get(&format!("/v1/assets?before={id}")).await.0,
        StatusCode::OK
    );
    for bad in ["x", "0123456789ABCDEF0123456789ABCDEF", "null"] {
        assert!(!before.is_match(bad), "{bad}");
        let (status, content_type, body) = api.get(&format!("/v1/assets?before={bad}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, "invalid_cursor"),
            "{bad}"
        );
        assert_eq!(content_type, "application/json");
    }
    // Out of the documented bounds, or not a number: refused, as JSON.
    for (query, want) in [
        ("limit=0", "invalid_limit"),
        ("limit=201", "invalid_limit"),
        ("limit=ten", "invalid_query"),
        ("status=done", "invalid_status"),
    ] {
        let (status, content_type, body) = api.get(&format!("/v1/assets?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, want),
            "{query}"
        );
        assert_eq!(content_type, "application/json", "{query}");
    }
    assert_eq!(
        api.get("/v1/assets?limit=200&status=").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn webhook_registrations_are_as_documented() {
    let api = api().await;
    let doc = api.document().await;
    let url = at(&doc, "/components/schemas/NewWebhook/properties/url");
    let url_pattern = pattern(url);
    assert_eq!(url["maxLength"], 2048);

    // An empty URL breaks the pattern and is refused with 400.
    assert!(!url_pattern.is_match(""));
    let (status, _, body) = api
        .post("/v1/webhooks", "application/json", r#"{"url": ""}"#)
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_url")
    );
    for bad in [
        "ftp://example.com/x",
        "http://",
        "https://exa mple.com/",
        "http://example.com/#f",
    ] {
        assert!(!url_pattern.is_match(bad), "{bad}");
        let body = json!({ "url": bad }).to_string();
        let (status, _, err) = api.post("/v1/webhooks", "application/json", &body).await;
        assert_eq!(
            (status, code(&err)),
            (StatusCode::BAD_REQUEST, "invalid_url"),
            "{bad}"
        );
    }
    // Null events are the documented default; a repeated or unknown one is refused.
    let good = "https://hooks.example.com:8443/openvod?team=video";
    assert!(url_pattern.is_match(good));
    let body = json!({ "url": good, "events": null }).to_string();
    let (status, _, hook) = api.post("/v1/webhooks", "application/json", &body).await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["events"].as_array().unwrap().len(), 5);
    let id = pattern(at(&doc, "/components/schemas/WebhookView/properties/id"));
    assert!(id.is_match(hook["id"].as_str().unwrap()));
    for events in [
        json!([]),
        json!(["asset.ready", "asset.ready"]),
        json!(["asset.bogus"]),
    ] {
        let body = json!({ "url": good, "events": events }).to_string();
        let (status, _, err) = api.post("/v1/webhooks", "application/json", &body).await;
        assert_eq!(
            (status, code(&err)),
            (StatusCode::BAD_REQUEST, "invalid_events"),
            "{events}"
        );
    }
    // The secret counts characters, as maxLength does.
    let secret = at(&doc, "/components/schemas/NewWebhook/properties/secret");
    assert_eq!(
        (secret["minLength"].as_u64(), secret["maxLength"].as_u64()),
        (Some(16), Some(256))
    );
    let body = json!({ "url": good, "secret": "é".repeat(200) }).to_string();
    assert_eq!(
        api.post("/v1/webhooks", "application/json", &body).await.0,
        StatusCode::CREATED
    );
    // A body is an object: an array, or another media type, is refused as JSON.
    let (status, _, err) = api.post("/v1/webhooks", "application/json", "[]").await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let (status, content_type, err) = api.post("/v1/webhooks", "text/plain", "{}").await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    assert_eq!(content_type, "application/json");
    let extra = json!({ "url": good, "colour": "red" }).to_string();
    let (status, _, err) = api.post("/v1/webhooks", "application/json", &extra).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
}

#[tokio::test]
async fn upload_token_requests_are_as_documented() {
    let api = api().await;
    let doc = api.document().await;
    let schema = at(
        &doc,
        "/components/schemas/UploadTokenRequest/properties/expires_in",
    );
    assert_eq!(
        (schema["minimum"].as_u64(), schema["maximum"].as_u64()),
        (Some(1), Some(604_800))
    );
    // No body, a null body, and whole numbers written with a fraction are all valid.
    for body in [
        "null",
        "{}",
        r#"{"expires_in": 60.0, "max_bytes": 1000}"#,
        r#"{"template": "ladder"}"#,
    ] {
        let (status, _, token) = api
            .post("/v1/upload-tokens", "application/json", body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}: {token}");
        assert!(token["token"].as_str().unwrap().starts_with("ovu1."));
    }
    for (body, want) in [
        ("[null, null]", "invalid_json"),
        (r#"{"expires_in": 0}"#, "invalid_expiry"),
        (r#"{"expires_in": 604801}"#, "invalid_expiry"),
        (r#"{"expires_in": 1.5}"#, "invalid_json"),
        (r#"{"max_bytes": 1000001}"#, "invalid_max_bytes"),
        (r#"{"template": "nope"}"#, "unknown_template"),
    ] {
        let (status, _, err) = api
            .post("/v1/upload-tokens", "application/json", body)
            .await;
        assert_eq!(
            (status, code(&err)),
            (StatusCode::BAD_REQUEST, want),
            "{body}"
        );
    }
}

#[tokio::test]
async fn sign_requests_follow_the_documented_patterns() {
    let api = api().await;
    let doc = api.document().await;
    let url = pattern(at(&doc, "/components/schemas/SignRequest/properties/url"));
    let ip = pattern(at(&doc, "/components/schemas/SignRequest/properties/ip"));
    assert!(
        url.is_match("https://cdn.example.com/play/0123456789abcdef0123456789abcdef/master.m3u8")
    );
    assert!(
        url.is_match("http://[2001:db8::1]:8080/play/0123456789abcdef0123456789abcdef/360p/1.m4s")
    );
    for bad in [
        "https://cdn.example.com/elsewhere/master.m3u8",
        "https://cdn.example.com/play/0123456789abcdef0123456789abcdef/master.m3u8?x=1",
        "https://[D6FFB:9A36c10A:]/play/0123456789abcdef0123456789abcdef/a",
        "",
    ] {
        assert!(!url.is_match(bad), "{bad}");
    }
    // The pattern admits exactly what the policy's address parser reads.
    for good in [
        "192.0.2.1",
        "192.0.2.0/24",
        "0.0.0.0/0",
        "2001:db8::/32",
        "::",
        "::ffff:192.0.2.1/128",
        "1:2:3:4:5:6:7:8",
    ] {
        assert!(ip.is_match(good), "{good}");
        assert!(
            openvod_access::Policy::custom("https://x/*", 10, None, Some(good)).is_ok(),
            "{good}"
        );
    }
    for bad in [
        "192.0.2.256",
        "01.2.3.4",
        "192.0.2.1/33",
        "1:2:3:4:5:6:7:8:9",
        "::/129",
        "1::2::3",
        "x",
    ] {
        assert!(!ip.is_match(bad), "{bad}");
    }
    // Without a signing key the operation answers 409, after the body was read.
    let body = json!({ "url": "https://cdn.example.com/play/0123456789abcdef0123456789abcdef/master.m3u8", "expires_in": 60.0 });
    let (status, _, err) = api
        .post("/v1/sign", "application/json", &body.to_string())
        .await;
    assert_eq!((status, code(&err)), (StatusCode::CONFLICT, "disabled"));
}

#[tokio::test]
async fn events_refuse_what_the_document_refuses() {
    let api = api().await;
    let doc = api.document().await;
    let op = &doc["paths"]["/v1/events"]["get"];
    assert!(op["responses"]["200"]["content"]["text/event-stream"]["schema"].is_object());
    let (status, _, err) = api.get("/v1/events?after=-1").await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let request = Request::get("/v1/events")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header("last-event-id", "null")
        .body(Body::empty())
        .unwrap();
    let (status, _, err) = api.send(request).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::BAD_REQUEST, "invalid_last_event_id")
    );
    // A valid resume opens the stream (its body never ends: only the head is read).
    let request = Request::get("/v1/events?after=0")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header("last-event-id", "7")
        .body(Body::empty())
        .unwrap();
    let response = api.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
}

#[tokio::test]
async fn refusals_are_the_documented_statuses() {
    let api = api().await;
    let doc = api.document().await;
    // No token: 401, which every control operation lists.
    let (status, _, err) = api
        .send(Request::get("/v1/assets").body(Body::empty()).unwrap())
        .await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    assert!(doc["paths"]["/v1/assets"]["get"]["responses"]["401"].is_object());
    // tus without its version: 412, listed.
    let request = Request::post("/v1/uploads")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header("upload-length", "10")
        .body(Body::empty())
        .unwrap();
    let (status, _, err) = api.send(request).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::PRECONDITION_FAILED, "tus_version")
    );
    assert!(doc["paths"]["/v1/uploads"]["post"]["responses"]["412"].is_object());
    // Upload-Metadata that breaks the documented pattern is refused; UTF-8 is not needed.
    let metadata = pattern(
        doc["paths"]["/v1/uploads"]["post"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "Upload-Metadata")
            .map(|p| &p["schema"])
            .unwrap(),
    );
    for (value, created) in [
        ("filename /w==", true),
        ("filename YQ", false),
        ("a,,b", false),
        ("filename Y Q==", false),
    ] {
        assert_eq!(metadata.is_match(value), created, "{value}");
        let request = Request::post("/v1/uploads")
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header("tus-resumable", "1.0.0")
            .header("upload-length", "10")
            .header("upload-metadata", value)
            .body(Body::empty())
            .unwrap();
        let (status, _, err) = api.send(request).await;
        let want = if created {
            StatusCode::CREATED
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(status, want, "{value}: {err}");
    }
    // PUT playback: a value outside the enum, or an unknown asset.
    let id = "0123456789abcdef0123456789abcdef";
    let put = |body: &'static str| {
        Request::put(format!("/v1/assets/{id}/playback"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let (status, _, err) = api.send(put(r#"{"playback": "secret"}"#)).await;
    assert_eq!(
        (status, code(&err)),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let (status, _, err) = api.send(put(r#"{"playback": null}"#)).await;
    assert_eq!((status, code(&err)), (StatusCode::NOT_FOUND, "not_found"));
}
