//! The dashboard (`playground/`): plain HTML, CSS and JavaScript compiled
//! into the binary, so the service serves it with nothing to build or fetch.
//! `/` is the dispatch view, `/?ride=ID` the rider view.

use axum::{
    http::header,
    response::{Html, IntoResponse},
    routing::get,
    Router,
};

use super::AppState;

const INDEX: &str = include_str!("../../playground/index.html");
const APP: &str = include_str!("../../playground/app.js");
const STYLE: &str = include_str!("../../playground/style.css");

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Html(INDEX) }))
        .route(
            "/dashboard/app.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    APP,
                )
                    .into_response()
            }),
        )
        .route(
            "/dashboard/style.css",
            get(|| async {
                ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response()
            }),
        )
}
