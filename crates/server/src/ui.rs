//! The web dashboard at `/`: upload (tus), the asset list kept live by server-sent
//! events, and an asset page with a player, a quality selector and an embed snippet.
//! Plain HTML, CSS and JavaScript in `web/`, compiled into the binary.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::AppState;

const INDEX: &str = include_str!("../../../web/index.html");
const APP_JS: &str = include_str!("../../../web/app.js");
const APP_CSS: &str = include_str!("../../../web/app.css");
const QOE_JS: &str = include_str!("../../../web/qoe.js");
const HLS_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/hls.min.js"));

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX) }),
        )
        .route("/ui/app.js", get(|| async { js(APP_JS) }))
        .route(
            "/ui/app.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], APP_CSS) }),
        )
        .route("/ui/hls.js", get(|| async { js(HLS_JS) }))
        .route("/ui/qoe.js", get(|| async { js(QOE_JS) }))
}

fn js(body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        body,
    )
}
