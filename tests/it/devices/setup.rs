//! What the device tests share: a credentials file made with the bcrypt
//! crate at a low cost, a service that verifies tokens and knows the file,
//! the OwnTracks message from its documentation, and the requests the apps
//! send.

use std::path::PathBuf;

use base64::Engine as _;
use reqwest::{header::HeaderMap, Method};
use serde_json::{json, Value};
use tracking::auth::Role;

use crate::common::{keys::temp_dir, tokens::token, StoreKind, TestApp};

/// The password every device of the tests has.
pub const PASSWORD: &str = "correct horse";

/// A bcrypt hash of `password`, at the lowest cost (fast tests).
pub fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).expect("bcrypt")
}

/// Writes a credentials file of `entries` (`{"user", "driver", …}`).
pub fn credentials_file(name: &str, entries: Value) -> PathBuf {
    let path = temp_dir("devices").join(format!("{name}-{}.json", rand::random::<u32>()));
    std::fs::write(&path, json!({ "devices": entries }).to_string()).expect("write the file");
    path
}

/// The devices of most tests: alice's phone (Basic, any device) reports for
/// d-alice; a Traccar id for d-traccar (no password).
pub fn standard_devices(name: &str) -> PathBuf {
    credentials_file(
        name,
        json!([
            {"user": "alice", "driver": "d-alice", "password": hash(PASSWORD)},
            {"user": "traccar-7f3a9c", "driver": "d-traccar"},
        ]),
    )
}

/// A service on `store` that verifies tokens and knows the standard devices.
pub async fn device_app(store: StoreKind, name: &str) -> TestApp {
    let file = standard_devices(name);
    TestApp::spawn(store, |c| {
        c.jwt_secret = Some(crate::common::tokens::SECRET.into());
        c.devices.device_credentials = Some(file);
    })
    .await
}

/// Now, in seconds since 1970.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// OwnTracks' `location` message as its documentation lists the elements
/// (owntracks.org/booklet/tech/json/), at `(lat, lon)` and time `tst`.
pub fn location(lat: f64, lon: f64, tst: i64) -> String {
    json!({
        "_type": "location", "acc": 75, "alt": 13, "batt": 84, "bs": 1, "cog": 270,
        "conn": "w", "created_at": tst, "lat": lat, "lon": lon, "m": 1, "t": "u",
        "tid": "YY", "tst": tst, "vac": 10, "vel": 54, "topic": "owntracks/alice/phone",
    })
    .to_string()
}

/// `Authorization: Basic …` for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// A dispatcher's view of the service, to read drivers back.
pub fn ops(app: &TestApp) -> crate::common::Client {
    app.as_user(&token("ops", Role::Dispatcher))
}

/// Posts `body` to `/owntracks` as the OwnTracks app does (JSON, its user
/// and device headers), with `authorization`.
pub async fn owntracks(
    app: &TestApp,
    authorization: Option<&str>,
    body: &str,
) -> (u16, HeaderMap, Value) {
    let mut headers = vec![
        ("content-type", "application/json"),
        ("x-limit-u", "alice"),
        ("x-limit-d", "phone"),
    ];
    if let Some(value) = authorization {
        headers.push(("authorization", value));
    }
    app.raw(Method::POST, "/owntracks", &headers, Some(body))
        .await
}

/// Where the service has `driver` (`None`: unknown or never placed).
pub async fn position(app: &TestApp, driver: &str) -> Option<(f64, f64)> {
    let found = ops(app).driver(driver).await;
    let at = &found["location"];
    Some((at["lat"].as_f64()?, at["lng"].as_f64()?))
}
