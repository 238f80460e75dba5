//! The OpenAPI 3.1 document of every route, served at `/v1/openapi.json`. It is derived
//! from the handlers' own request and response types (`ToSchema`, `IntoParams`) and their
//! `#[utoipa::path]` attributes, so a field, a status or a constraint cannot be added to a
//! handler without the document seeing it; what depends on the configuration (template
//! names, the upload limit) is filled in from it when the router is built.

use openvod_store::{AssetStatus, Stage, StorageState, TaskStatus};
use openvod_transcode::template::VideoCodec;
use serde_json::{json, Value};
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::ServerConfig;

/// Identifiers of assets, uploads and webhooks: a UUIDv7 as 32 lowercase hex digits.
pub(crate) const ID_PATTERN: &str = "^[0-9a-f]{32}$";

/// The event kinds of `/v1/events` and webhooks.
pub(crate) use crate::webhooks::EVENT_KINDS;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "openvod",
        description = "The control API, origin and operations endpoints of openvod. Errors are JSON {\"error\": {\"code\", \"message\"}} with a stable code.",
    ),
    paths(
        crate::api::create,
        crate::api::list,
        crate::api::show,
        crate::api::remove,
        crate::api::retry,
        crate::api::cancel,
        crate::tiers::archive,
        crate::tiers::restore,
        crate::fleet::fleet,
        crate::access::issue_upload_token,
        crate::access::sign,
        crate::access::set_playback,
        crate::events::stream,
        crate::webhooks::list,
        crate::webhooks::create,
        crate::webhooks::remove,
        crate::webhooks::deliveries,
        crate::tus::options,
        crate::tus::create,
        crate::tus::options_upload,
        crate::tus::head,
        crate::tus::patch,
        crate::tus::terminate,
        crate::origin::serve_get,
        crate::origin::serve_head,
        crate::origin::preflight,
        crate::images::image_get,
        crate::downloads::download,
        crate::images::poster::set_poster,
        crate::tracks::add_track,
        crate::tracks::remove_track,
        crate::clips::create_clip,
        crate::qoe::asset_qoe,
        crate::steering::steering_answer,
        crate::qoe::report,
        crate::qoe::report_preflight,
        crate::drm::clearkey_any,
        crate::drm::clearkey_any_preflight,
        crate::drm::clearkey_asset,
        crate::drm::clearkey_asset_preflight,
        crate::drm::speke,
        crate::health::healthz,
        crate::health::ready,
        crate::health::metrics_text,
        crate::health::openapi,
    ),
    components(schemas(crate::error::ErrorBody, crate::tus::TusVersion), responses(BadRequest, Unauthorized, Forbidden, NotFound, Conflict, Gone, PreconditionFailed, TooLarge, UnsupportedMediaType, Unprocessable, Unavailable, TooManyRequests, BadGateway, GatewayTimeout)),
    modifiers(&AdminToken),
)]
pub(crate) struct ApiDoc;

/// The bearer scheme of the control API.
struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "AdminToken",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin token ([access] admin_tokens), or for creating and resuming an upload only, an upload token (POST /v1/upload-tokens).",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document of a server with `config`: every template name and the upload limit as
/// that server enforces them.
pub(crate) fn document(config: &ServerConfig) -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths.values_mut().filter_map(Value::as_object_mut) {
            for op in operation.values_mut() {
                fix_parameters(op);
                fix_links(op);
            }
        }
    }
    for pointer in TEMPLATE_SCHEMAS {
        if let Some(schema) = doc.pointer_mut(pointer).and_then(Value::as_object_mut) {
            let mut names: Vec<Value> = config.templates.iter().map(|t| json!(t)).collect();
            // An enum lists every value, null included where the type allows it.
            if schema["type"]
                .as_array()
                .is_some_and(|t| t.contains(&json!("null")))
            {
                names.push(Value::Null);
            }
            schema.insert("enum".into(), Value::Array(names));
        }
    }
    for pointer in UPLOAD_LENGTH_SCHEMAS {
        if let Some(schema) = doc.pointer_mut(pointer).and_then(Value::as_object_mut) {
            schema.insert("maximum".into(), json!(config.max_upload_bytes));
        }
    }
    doc
}

/// A parameter is absent or has a value: a query string or a header has no null. The
/// derive writes an `Option` parameter as nullable; its absence is what says "none".
fn fix_parameters(operation: &mut Value) {
    let Some(parameters) = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for schema in parameters.iter_mut().filter_map(|p| p.get_mut("schema")) {
        if let Some(types) = schema.get_mut("type").and_then(Value::as_array_mut) {
            types.retain(|t| t != "null");
            if types.len() == 1 {
                let only = types[0].clone();
                schema["type"] = only;
            }
        }
        if let Some(values) = schema.get_mut("enum").and_then(Value::as_array_mut) {
            values.retain(|v| !v.is_null());
        }
    }
}

/// The fields of a Link Object are camelCase (OpenAPI 3.1.0, 4.8.20.1); utoipa 5 writes
/// them as their Rust names.
fn fix_links(operation: &mut Value) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for links in responses
        .values_mut()
        .filter_map(|r| r.get_mut("links"))
        .filter_map(Value::as_object_mut)
    {
        for link in links.values_mut().filter_map(Value::as_object_mut) {
            for (from, to) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(from) {
                    link.insert(to.into(), v);
                }
            }
        }
    }
}

/// The schemas of a template name (filled with the configured names).
const TEMPLATE_SCHEMAS: [&str; 2] = [
    "/paths/~1v1~1assets/post/parameters/1/schema",
    "/components/schemas/UploadTokenRequest/properties/template",
];

/// The schemas of an upload's declared length (bounded by `[upload] max_bytes`).
const UPLOAD_LENGTH_SCHEMAS: [&str; 2] = [
    "/paths/~1v1~1uploads/post/parameters/1/schema",
    "/components/schemas/UploadTokenRequest/properties/max_bytes",
];

/// IPv4address of RFC 3986, 3.2.2 (no leading zeros, as `std::net` reads them).
fn ipv4_pattern() -> String {
    let octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    format!("({octet}\\.){{3}}{octet}")
}

/// IPv6address of RFC 3986, 3.2.2: its nine forms, n groups, "::", then the rest (the
/// last two groups may be an IPv4 address).
fn ipv6_pattern() -> String {
    let h16 = "[0-9A-Fa-f]{1,4}";
    let ls32 = format!("({h16}:{h16}|{})", ipv4_pattern());
    let head = |n: usize| match n {
        0 => String::new(),
        n => format!("(({h16}:){{0,{}}}{h16})?", n - 1),
    };
    let forms = [
        format!("({h16}:){{6}}{ls32}"),
        format!("::({h16}:){{5}}{ls32}"),
        format!("{}::({h16}:){{4}}{ls32}", head(1)),
        format!("{}::({h16}:){{3}}{ls32}", head(2)),
        format!("{}::({h16}:){{2}}{ls32}", head(3)),
        format!("{}::{h16}:{ls32}", head(4)),
        format!("{}::{ls32}", head(5)),
        format!("{}::{h16}", head(6)),
        format!("{}::", head(7)),
    ];
    format!("({})", forms.join("|"))
}

/// A viewer address or range of a custom policy: IPv4 or IPv6 with an optional prefix
/// length (without one, the whole address).
pub(crate) fn source_ip_pattern() -> String {
    format!(
        "^({}(/(3[0-2]|[12]?[0-9]))?|{}(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$",
        ipv4_pattern(),
        ipv6_pattern()
    )
}

/// `http(s)://` and an authority: a host name (whose last label starts with a letter, so
/// that no spelling of a number is read as an IPv4 address, WHATWG URL 3.5) or an
/// address, and an optional port.
fn http_authority() -> String {
    let label = "[A-Za-z0-9]+(-[A-Za-z0-9]+)*";
    let last = "[A-Za-z][A-Za-z0-9]*(-[A-Za-z0-9]+)*";
    let port =
        "(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}|0)";
    format!(
        "https?://(({label}\\.)*{last}|{}|\\[{}\\])(:{port})?",
        ipv4_pattern(),
        ipv6_pattern()
    )
}

/// A webhook receiver: an http(s) authority, then a path and query of URL characters; no
/// fragment.
pub(crate) fn webhook_url_pattern() -> String {
    let chars = "[A-Za-z0-9._~!$&'()*+,;=:@%/-]";
    format!("^{}(/{chars}*)?(\\?({chars}|\\?)*)?$", http_authority())
}

/// A playback URL `POST /v1/sign` signs: an http(s) authority and an object under
/// `/play/ASSET/`, without query or fragment (the signature is the query).
pub(crate) fn play_url_pattern() -> String {
    format!(
        "^{}/play/[0-9a-f]{{32}}/[A-Za-z0-9._~/-]+$",
        http_authority()
    )
}

fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, nullable: bool) -> Schema {
    let mut values: Vec<Value> = values.into_iter().map(|v| json!(v)).collect();
    let schema_type = if nullable {
        values.push(Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(schema_type)
            .enum_values(Some(values))
            .build(),
    )
}

pub(crate) fn asset_status() -> Schema {
    string_enum(AssetStatus::ALL.map(AssetStatus::as_str), false)
}

/// `status=` of a list: a status, or empty for any.
pub(crate) fn status_filter() -> Schema {
    string_enum(
        std::iter::once("").chain(AssetStatus::ALL.map(AssetStatus::as_str)),
        false,
    )
}

pub(crate) fn storage_state() -> Schema {
    string_enum(StorageState::ALL.map(StorageState::as_str), false)
}

pub(crate) fn stage() -> Schema {
    string_enum(Stage::ALL.map(Stage::as_str), true)
}

pub(crate) fn task_stage() -> Schema {
    string_enum(Stage::ALL.map(Stage::as_str), false)
}

pub(crate) fn worker_state() -> Schema {
    use openvod_store::WorkerState as W;
    string_enum(
        [W::Running, W::Draining, W::Stopped, W::Lost].map(W::as_str),
        false,
    )
}

pub(crate) fn video_codecs() -> Schema {
    Schema::Array(
        utoipa::openapi::schema::ArrayBuilder::new()
            .items(RefOr::T(string_enum(
                VideoCodec::ALL.map(VideoCodec::as_str),
                false,
            )))
            .build(),
    )
}

pub(crate) fn task_status() -> Schema {
    string_enum(TaskStatus::ALL.map(TaskStatus::as_str), false)
}

pub(crate) fn warning_code() -> Schema {
    string_enum(
        [
            "damaged_source",
            "overstated_duration",
            "stream_not_carried",
            "cues_past_end",
            "images_not_made",
        ],
        false,
    )
}

/// What a webhook can subscribe to: an event kind, or `*` for all.
pub(crate) fn subscription() -> Schema {
    string_enum(std::iter::once("*").chain(EVENT_KINDS), false)
}

/// A raw media file as a request body.
pub(crate) enum MediaBody {}

impl PartialSchema for MediaBody {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .min_length(Some(1))
            .description(Some("The bytes of the file (at least one)"))
            .into()
    }
}

impl ToSchema for MediaBody {}

/// Bytes: a tus PATCH (possibly none) or an object of the origin.
pub(crate) enum RawBytes {}

impl PartialSchema for RawBytes {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Binary,
            )))
            .into()
    }
}

impl ToSchema for RawBytes {}

/// One message of `/v1/events` as a reader of the stream parses it (HTML, 9.2.6): the
/// event kind, its sequence number as the id, and its payload as JSON in the data.
pub(crate) enum EventMessage {}

impl PartialSchema for EventMessage {
    fn schema() -> RefOr<Schema> {
        let payload = json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": { "type": "string", "pattern": ID_PATTERN },
                "stage": { "type": "string", "enum": Stage::ALL.map(Stage::as_str) },
                "attempt": { "type": "integer", "minimum": 1 },
                "progress": { "type": "number", "minimum": 0, "maximum": 100 },
                "retry_in_ms": { "type": "integer", "minimum": 0 },
                "code": { "type": "string" },
                "error": { "type": "string" }
            }
        });
        let data = ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/json")
            .description(Some("The event's payload: the asset id, and by kind its stage, attempt, progress, error code and message"))
            .extensions(Some(Extensions::from_iter([("contentSchema", payload)])))
            .build();
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .required("event")
            .required("id")
            .required("data")
            .property("event", string_enum(EVENT_KINDS, false))
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[1-9][0-9]*$"))
                    .description(Some("The event's sequence number: send it back as Last-Event-ID or after= to resume")),
            )
            .property("data", data)
            .into()
    }
}

impl ToSchema for EventMessage {}

/// Error answers, shared by the operations that give them.
macro_rules! error_responses {
    ($($name:ident: $description:literal),* $(,)?) => {$(
        pub(crate) enum $name {}

        impl<'r> utoipa::ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                let content = ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build();
                (
                    stringify!($name),
                    ResponseBuilder::new()
                        .description($description)
                        .content("application/json", content)
                        .build()
                        .into(),
                )
            }
        }
    )*};
}

error_responses! {
    BadRequest: "The request breaks a rule of this document (the code names which)",
    Unauthorized: "No admin token, or one that is not valid here (code unauthorized)",
    Forbidden: "An upload token used twice or for another upload, or a viewer without a valid signature",
    NotFound: "No such asset, upload, webhook or object (code not_found)",
    Conflict: "The resource is not in a state that allows this (an upload at another offset), or the feature is not configured (code disabled)",
    Gone: "The upload expired (code expired)",
    PreconditionFailed: "Tus-Resumable is not 1.0.0 (code tus_version)",
    Unprocessable: "A well-formed document this operation cannot act on (code speke)",
    TooLarge: "The body or the declared upload length is over the limit (code too_large)",
    UnsupportedMediaType: "The body's Content-Type is not one this operation reads",
    Unavailable: "The database or the object store did not answer; try again",
    TooManyRequests: "Too many reports from this address; try again after Retry-After seconds (code rate_limited)",
    BadGateway: "The origin could not make or read this object (the message carries a request id for the log)",
    GatewayTimeout: "The object store did not answer in time",
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        let config = ServerConfig {
            templates: vec!["default".into(), "h264-ladder".into()],
            max_upload_bytes: 12345,
            ..ServerConfig::default()
        };
        document(&config)
    }

    /// Every place the configuration fills in exists in the generated document.
    #[test]
    fn configuration_reaches_the_document() {
        let d = doc();
        for p in TEMPLATE_SCHEMAS {
            let names = d.pointer(p).and_then(|s| s["enum"].as_array()).unwrap();
            assert_eq!(names[0..2], [json!("default"), json!("h264-ladder")], "{p}");
        }
        for p in UPLOAD_LENGTH_SCHEMAS {
            assert_eq!(
                d.pointer(p).and_then(|s| s.get("maximum")),
                Some(&json!(12345)),
                "{p}"
            );
        }
        assert_eq!(
            d.pointer("/paths/~1v1~1assets/post/parameters/1/name"),
            Some(&json!("template"))
        );
        assert_eq!(
            d.pointer("/paths/~1v1~1uploads/post/parameters/1/name"),
            Some(&json!("Upload-Length"))
        );
    }

    /// Each operation names its bearer scheme, and the scheme exists.
    #[test]
    fn control_operations_need_the_admin_token() {
        let d = doc();
        assert_eq!(
            d.pointer("/components/securitySchemes/AdminToken/scheme"),
            Some(&json!("bearer"))
        );
        for (path, method) in [
            ("/v1/assets", "get"),
            ("/v1/webhooks", "post"),
            ("/v1/sign", "post"),
            ("/v1/uploads/{id}", "patch"),
            ("/speke/v2", "post"),
        ] {
            let op = &d["paths"][path][method];
            assert_eq!(op["security"], json!([{ "AdminToken": [] }]), "{path}");
            assert!(op["responses"]["401"].is_object(), "{method} {path}");
        }
        assert!(d["paths"]["/play/{id}/{path}"]["get"]["security"].is_null());
    }
}
