//! The phone apps' own routes: `POST /owntracks` (OwnTracks in HTTP mode,
//! [`owntracks`]) and `GET`/`POST /osmand` (Traccar Client, the OsmAnd
//! protocol, [`osmand`]), on the service's port.
//!
//! Each report goes to `Dispatcher::device_report`, the same path as one
//! `updateLocations` entry, at the device's own time. These routes take the
//! content types their apps send (OwnTracks' JSON, Traccar's query, form or
//! JSON), so they are exempt, by name, from the JSON-only rule of the
//! seed's REST routes ([`JSON_ONLY_EXEMPT`]); like those, they refuse a
//! request another origin's page sends (a form or a GET needs no
//! preflight). Bodies are capped at `MAX_PAYLOAD_BYTES` (413 above it).

mod answer;
mod osmand;
mod owntracks;

use axum::{
    extract::DefaultBodyLimit,
    routing::{get, post},
    Router,
};

use super::AppState;
use crate::dispatch::devices::MAX_PAYLOAD_BYTES;

/// The routes that take their apps' content types, not only JSON.
pub const JSON_ONLY_EXEMPT: [&str; 2] = ["/owntracks", "/osmand"];

/// The device routes (the router adds the same-origin rule).
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(JSON_ONLY_EXEMPT[0], post(owntracks::post))
        .route(JSON_ONLY_EXEMPT[1], get(osmand::get).post(osmand::post))
        .layer(DefaultBodyLimit::max(MAX_PAYLOAD_BYTES))
}
