//! The seed's REST API, kept so its curl examples run unchanged.
//!
//! | seed route          | body                         | answer                                   |
//! |---------------------|------------------------------|------------------------------------------|
//! | `POST /tracking`    | `{"id","lat","lng"}`         | the driver                               |
//! | `POST /search`      | `{"lat","lng","limit"}`      | `[{"Name","Longitude","Latitude","Dist"}]`, Dist in km, nearest first, within 15 km |
//! | `POST /v2/search`   | `{"lat","lng"}`              | `{"request_id": "…"}` (a string); the search runs in the background |
//! | `POST /v2/cancel`   | `{"request_id": "N"}` or `N` | the cancelled ride                       |
//!
//! Each handler parses its body into domain types and calls the same
//! [`Dispatcher`](crate::dispatch::Dispatcher) methods as the GraphQL
//! resolvers. A bad body is a 400 with a JSON error (the seed answered 500).
//!
//! Bodies are taken as `application/json` only (the seed's clients send
//! it; a charset parameter may follow): anything else, `text/plain` and
//! forms above all, which any web page may send without a preflight, is a
//! 415 before anything runs. A request from another origin's page is
//! refused (403) by the router ([`super::cors::same_origin_only`]).

use axum::{
    body::Bytes,
    extract::{Request, State},
    http::HeaderMap,
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::{json, Value};

use super::{bad_request, error_response, AppState};
use crate::{
    dispatch::access,
    domain::error::Error,
    domain::{Coordinates, DriverId, Limit, RadiusKm, Ride, RideId},
};

/// The seed's v1 search radius.
const SEARCH_RADIUS_KM: f64 = 15.0;
/// How many drivers `/search` lists when the body names no limit.
const DEFAULT_LIMIT: i64 = 10;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/tracking", post(tracking))
        .route("/search", post(search))
        .route("/v2/search", post(search_v2))
        .route("/v2/cancel", post(cancel_v2))
        .route_layer(middleware::from_fn(json_only))
}

/// Refuses a body that does not say it is JSON (415), before the handler.
async fn json_only(request: Request, next: Next) -> Response {
    match super::codec::wrong_content_type(request.headers()) {
        Some(refusal) => refusal,
        None => next.run(request).await,
    }
}

#[derive(Deserialize)]
struct TrackingBody {
    id: String,
    lat: f64,
    lng: f64,
}

#[derive(Deserialize)]
struct SearchBody {
    lat: f64,
    lng: f64,
    limit: Option<i64>,
}

#[derive(Deserialize)]
struct SearchV2Body {
    lat: f64,
    lng: f64,
    rider_id: Option<String>,
}

#[derive(Deserialize)]
struct CancelBody {
    request_id: RequestId,
}

/// The seed sends the id as a string; accept a number too.
#[derive(Deserialize)]
#[serde(untagged)]
enum RequestId {
    Text(String),
    Number(u64),
}

/// Why an adapter refused a request; answered as JSON in the GraphQL error shape.
enum Refusal {
    /// The body is not the JSON the route takes.
    Body(String),
    /// The dispatcher (or a domain type's parser) said no.
    Domain(Error),
}

impl From<Error> for Refusal {
    fn from(error: Error) -> Self {
        Self::Domain(error)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Body(message) => bad_request(message),
            Self::Domain(error) => error_response(&error),
        }
    }
}

type Answer = Result<Json<Value>, Refusal>;

fn parse<T: DeserializeOwned>(body: &Bytes) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::Body(format!("bad request body: {e}")))
}

fn ride_json(ride: &Ride) -> Value {
    json!({
        "request_id": ride.id.as_str(),
        "status": ride.status.as_str(),
        "driver_id": ride.driver_id.as_ref().map(|d| d.as_str()),
    })
}

async fn tracking(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let caller = state.caller(&headers).await?;
    let body: TrackingBody = parse(&body)?;
    let id = DriverId::parse(&body.id)?;
    let at = Coordinates::parse(body.lat, body.lng)?;
    let driver = state.dispatcher.update_location(&caller, &id, at).await?;
    Ok(Json(json!({
        "id": driver.id.as_str(),
        "status": driver.status.as_str(),
        "lat": at.lat(),
        "lng": at.lng(),
    })))
}

async fn search(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let caller = state.caller(&headers).await?;
    let body: SearchBody = parse(&body)?;
    let center = Coordinates::parse(body.lat, body.lng)?;
    let limit = Limit::parse(body.limit.unwrap_or(DEFAULT_LIMIT))?;
    let radius = RadiusKm::parse(SEARCH_RADIUS_KM)?;
    let found = state
        .dispatcher
        .nearby_drivers(&caller, center, radius, limit, Default::default())
        .await?;
    let drivers: Vec<Value> = found
        .iter()
        .map(|near| {
            let at = near.driver.location;
            json!({
                "Name": near.driver.id.as_str(),
                "Longitude": at.map(|c| c.lng()),
                "Latitude": at.map(|c| c.lat()),
                "Dist": near.distance_km,
            })
        })
        .collect();
    Ok(Json(Value::Array(drivers)))
}

async fn search_v2(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let caller = state.caller(&headers).await?;
    let body: SearchV2Body = parse(&body)?;
    let pickup = Coordinates::parse(body.lat, body.lng)?;
    let rider = access::rider_for(&caller, body.rider_id.as_deref())?;
    let ride = state
        .dispatcher
        .request_driver(&caller, &rider, pickup, None, None)
        .await?;
    Ok(Json(json!({"request_id": ride.id.as_str()})))
}

async fn cancel_v2(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Answer {
    let caller = state.caller(&headers).await?;
    let body: CancelBody = parse(&body)?;
    let raw = match body.request_id {
        RequestId::Text(text) => text,
        RequestId::Number(n) => n.to_string(),
    };
    let id = RideId::parse(&raw)?;
    let ride = state.dispatcher.cancel_ride(&caller, &id).await?;
    Ok(Json(ride_json(&ride)))
}
