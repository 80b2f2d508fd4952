//! `GET` and `POST /osmand`: Traccar Client (and OsmAnd) in the OsmAnd
//! protocol. The fields come in the query (`?id=…&lat=…&lon=…&timestamp=…`),
//! in a form body, or as Traccar Client 9's JSON. The device's `id` names
//! the driver through `--device-credentials` (the protocol carries no other
//! secret); an unknown id is a 401 and nothing is stored. Success is a 200
//! with an empty body, what Traccar Client expects.

use axum::{
    body::Bytes,
    extract::{RawQuery, State},
    http::{header, HeaderMap, StatusCode},
    response::Response,
};

use super::answer::{done, refusal, settle};
use crate::{
    dispatch::devices::{osmand, DevicePosition},
    domain::error::Error,
    http::AppState,
};

/// Most fields one report may carry (Traccar sends about ten).
const MAX_FIELDS: usize = 64;

pub(super) async fn get(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    answer(
        &state,
        fields(query.as_deref(), None).and_then(|f| osmand::from_fields(&f)),
    )
    .await
}

pub(super) async fn post(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let parsed = if is_json(&headers) {
        osmand::from_json(&body)
    } else {
        fields(query.as_deref(), Some(&body)).and_then(|f| osmand::from_fields(&f))
    };
    answer(&state, parsed).await
}

/// Records the report for the driver its id names, and answers.
async fn answer(state: &AppState, parsed: Result<(String, DevicePosition), Error>) -> Response {
    let (id, position) = match parsed {
        Ok(report) => report,
        Err(e) => return refusal(&e),
    };
    let Some(driver) = state
        .devices
        .as_ref()
        .and_then(|d| d.current().driver_for_id(&id))
    else {
        return refusal(&Error::Unauthenticated(
            "unknown device id (see --device-credentials; an entry with a password is not an OsmAnd id)".into(),
        ));
    };
    match state.dispatcher.device_report(&driver, position).await {
        Ok(outcome) => settle("osmand", outcome).unwrap_or_else(|| done(StatusCode::OK)),
        Err(e) => refusal(&e),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
}

/// The query's fields, then a form body's.
fn fields(query: Option<&str>, body: Option<&[u8]>) -> Result<Vec<(String, String)>, Error> {
    let bad = |e: serde_urlencoded::de::Error| Error::bad_input(format!("bad fields: {e}"));
    let mut fields: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).map_err(bad)?;
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        fields.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).map_err(bad)?);
    }
    if fields.len() > MAX_FIELDS {
        return Err(Error::bad_input(format!(
            "at most {MAX_FIELDS} fields per report"
        )));
    }
    Ok(fields)
}
