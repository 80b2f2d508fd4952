//! The dashboard (`playground/`): plain HTML, CSS and JavaScript modules
//! compiled into the binary, so the service serves it with nothing to build
//! or fetch. `/` is the dispatch view, `/?ride=ID` the rider view.
//!
//! `GET /config` tells the dashboard (and any client) the service's limits,
//! so that no script copies them. `GET /roads` gives the road network of a
//! box as the dashboard's base map ([`roads`]).

mod base_map;
mod roads;

use axum::{
    extract::{Path, State},
    http::{header, StatusCode},
    response::{Html, IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde_json::{json, Value};

pub use base_map::{BaseMap, RoadMap};
pub use roads::{ATTRIBUTION as ROADS_ATTRIBUTION, MAX_BODY_BYTES as MAX_ROADS_BYTES};

use super::AppState;
use crate::{
    dispatch::MAX_BATCH,
    domain::{EARTH_RADIUS_KM, MAX_LATITUDE, MAX_LIMIT, MAX_RADIUS_KM},
};

const INDEX: &str = include_str!("../../../playground/index.html");
/// The documents the dashboard sends, by name (served as `documents.js`).
pub const DOCUMENTS: &str = include_str!("../../../playground/documents.json");
const STYLE: &str = include_str!("../../../playground/style.css");
const FAVICON: &str = include_str!("../../../playground/favicon.svg");

/// The scripts, by the name the page imports them under.
const SCRIPTS: [(&str, &str); 7] = [
    ("app.js", include_str!("../../../playground/app.js")),
    ("graphql.js", include_str!("../../../playground/graphql.js")),
    ("map.js", include_str!("../../../playground/map.js")),
    ("model.js", include_str!("../../../playground/model.js")),
    ("roads.js", include_str!("../../../playground/roads.js")),
    ("socket.js", include_str!("../../../playground/socket.js")),
    ("views.js", include_str!("../../../playground/views.js")),
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Html(INDEX) }))
        .route("/config", get(config))
        .route("/favicon.ico", get(favicon))
        .route("/favicon.svg", get(favicon))
        .route("/dashboard/{file}", get(asset))
}

/// The base map's road network (`GET /roads`), for the router to put
/// behind the same-origin check.
pub(super) fn road_routes() -> Router<AppState> {
    Router::new().route("/roads", get(roads::roads))
}

async fn asset(Path(file): Path<String>) -> Response {
    if file == "style.css" {
        return ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response();
    }
    if file == "documents.js" {
        return (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            format!("export default {DOCUMENTS};"),
        )
            .into_response();
    }
    match SCRIPTS.iter().find(|(name, _)| *name == file) {
        Some((_, script)) => (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            *script,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The service's icon, for browsers' tabs (an SVG, which browsers take at
/// `/favicon.ico` too).
async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

/// The dashboard's documents' texts.
pub fn documents() -> Vec<String> {
    serde_json::from_str::<std::collections::BTreeMap<String, String>>(DOCUMENTS)
        .map(|documents| documents.into_values().collect())
        .unwrap_or_default()
}

/// The limits a client should know before it sends anything.
async fn config(State(state): State<AppState>) -> Json<Value> {
    let settings = state.dispatcher.settings();
    Json(json!({
        "maxLatitude": MAX_LATITUDE,
        "earthRadiusKm": EARTH_RADIUS_KM,
        "maxRadiusKm": MAX_RADIUS_KM,
        "maxLimit": MAX_LIMIT,
        "matchRadiusKm": settings.match_radius.km(),
        "requestTimeoutSecs": settings.request_timeout.as_secs_f64(),
        "maxReportsPerBatch": MAX_BATCH,
        "maxOperationsPerRequest": state.limits.max_batch,
        "tokensRequired": state.verifier.is_some(),
        "mapTiles": state.web.map.tiles,
        "mapAttribution": state.web.map.attribution,
        "roads": state.web.roads.is_some(),
        "fleetIntervalMs": settings.fleet_interval.as_millis() as u64,
    }))
}
