//! `POST /owntracks`: OwnTracks in HTTP mode. The body is one OwnTracks
//! message; a `location` is recorded, any other `_type` ignored; the reply
//! is the JSON array the app expects (`[]`).
//!
//! Who reports: HTTP Basic, checked against `--device-credentials` (the
//! device named by the app's `X-Limit-D` header, or `?d=`); or a bearer
//! token of the service's own auth, for the driver the app's user name
//! (`X-Limit-U`, or `?u=`) names, else the token's subject, which the token
//! must be allowed to act as (403 if not). Without either: 401.

use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{header, HeaderMap},
    response::Response,
    Json,
};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::answer::{done, refusal, settle};
use crate::{
    auth::Caller,
    dispatch::{access, devices::owntracks},
    domain::{error::Error, DriverId},
    http::AppState,
};

/// The user and device some app versions put in the URL (as the OwnTracks
/// Recorder takes them).
#[derive(Deserialize)]
pub(super) struct Names {
    u: Option<String>,
    d: Option<String>,
}

pub(super) async fn post(
    State(state): State<AppState>,
    Query(names): Query<Names>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match report(&state, &names, &headers, &body).await {
        Ok(()) => done(Json(json!([]))),
        Err(response) => response,
    }
}

async fn report(
    state: &AppState,
    names: &Names,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), Response> {
    // Who, before anything of the body is read.
    let driver = driver(state, names, headers)
        .await
        .map_err(|e| refusal(&e))?;
    let Some(position) = owntracks::parse(body).map_err(|e| refusal(&e))? else {
        return Ok(());
    };
    let outcome = state
        .dispatcher
        .device_report(&driver, position)
        .await
        .map_err(|e| refusal(&e))?;
    settle("owntracks", outcome).map_or(Ok(()), Err)
}

/// The driver the request reports for.
async fn driver(state: &AppState, names: &Names, headers: &HeaderMap) -> Result<DriverId, Error> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str())
        .transpose()
        .map_err(|_| unauthenticated("unreadable Authorization header"))?;
    let named = |header: &str, query: &Option<String>| {
        headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| query.clone())
            .filter(|n| !n.is_empty())
    };
    match authorization {
        Some(value) if scheme_is(value, "basic") => {
            let (user, password) = basic(&value[6..])?;
            let devices = state
                .devices
                .as_ref()
                .ok_or_else(|| unauthenticated("no device credentials are configured"))?;
            let device = named("x-limit-d", &names.d);
            Ok(devices
                .verify_basic(&user, &password, device.as_deref())
                .await?)
        }
        Some(value) if scheme_is(value, "bearer") => {
            let caller = state.caller(headers).await?;
            let driver = match (named("x-limit-u", &names.u), &caller) {
                (Some(user), _) => DriverId::parse(&user)?,
                (None, Caller::Token { sub, .. }) => DriverId::parse(sub)?,
                (None, _) => {
                    return Err(Error::bad_input(
                        "name the driver in X-Limit-U (the app's user name)",
                    ))
                }
            };
            access::may_act_as_driver(&caller, &driver, "owntracks")?;
            Ok(driver)
        }
        _ => Err(unauthenticated(
            "send HTTP Basic device credentials or a bearer token",
        )),
    }
}

fn scheme_is(value: &str, scheme: &str) -> bool {
    value.len() > scheme.len()
        && value.as_bytes()[scheme.len()] == b' '
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
}

/// `user:password` from a Basic credential.
fn basic(encoded: &str) -> Result<(String, String), Error> {
    let bad = || unauthenticated("malformed Basic credentials");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    Ok((user.to_owned(), password.to_owned()))
}

fn unauthenticated(message: &str) -> Error {
    Error::Unauthenticated(message.to_owned())
}
