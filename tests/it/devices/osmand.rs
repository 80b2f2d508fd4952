//! `GET`/`POST /osmand` (Traccar Client): the query, a form, Traccar
//! Client 9's JSON; an unknown id; a foreign origin; the content types the
//! apps send, exempt by name from the REST routes' JSON-only rule.

use reqwest::Method;
use serde_json::json;

use super::setup::*;
use crate::common::{StoreKind, TestApp};

const ID: &str = "traccar-7f3a9c";

async fn osmand(
    app: &TestApp,
    method: Method,
    query: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let (status, _, body) = app
        .raw(method, &format!("/osmand{query}"), headers, body)
        .await;
    (status, body)
}

pub async fn osmand_get_post_form_and_traccar_json_each_record(store: StoreKind) {
    let app = device_app(store, "osmand").await;
    let q = |lat: f64, t: i64| {
        format!("?id={ID}&lat={lat}&lon=4.89&timestamp={t}&speed=12&bearing=90&accuracy=8")
    };
    // GET, as Traccar Client (and OsmAnd) send it: empty body on success.
    let (status, body) = osmand(&app, Method::GET, &q(52.30, now() - 40), &[], None).await;
    assert_eq!((status, body), (200, json!("")));
    assert_eq!(position(&app, "d-traccar").await, Some((52.30, 4.89)));
    // POST with the same query, no body.
    let (status, _) = osmand(&app, Method::POST, &q(52.31, now() - 30), &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(position(&app, "d-traccar").await, Some((52.31, 4.89)));
    // POST as a form, the time in milliseconds.
    let form = format!(
        "id={ID}&lat=52.32&lon=4.89&timestamp={}",
        (now() - 20) * 1000
    );
    let form_type = [("content-type", "application/x-www-form-urlencoded")];
    let (status, _) = osmand(&app, Method::POST, "", &form_type, Some(&form)).await;
    assert_eq!(status, 200);
    assert_eq!(position(&app, "d-traccar").await, Some((52.32, 4.89)));
    // Traccar Client 9's JSON, the time in ISO 8601.
    let taken = chrono::Utc::now() - chrono::Duration::seconds(10);
    let report = json!({
        "location": {
            "timestamp": taken.to_rfc3339(),
            "coords": {"latitude": 52.33, "longitude": 4.89, "accuracy": 5,
                       "speed": 3.2, "heading": 180, "altitude": 2},
            "is_moving": true, "odometer": 12, "event": "motionchange",
            "battery": {"level": 0.8, "is_charging": false},
            "activity": {"type": "in_vehicle"}, "extras": {}
        },
        "device_id": ID,
    });
    let json_type = [("content-type", "application/json")];
    let (status, _) = osmand(
        &app,
        Method::POST,
        "",
        &json_type,
        Some(&report.to_string()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(position(&app, "d-traccar").await, Some((52.33, 4.89)));
    // Late (an earlier timestamp): accepted by the protocol, not applied.
    let (status, _) = osmand(&app, Method::GET, &q(52.0, now() - 50), &[], None).await;
    assert_eq!(status, 200);
    assert_eq!(position(&app, "d-traccar").await, Some((52.33, 4.89)));
}

pub async fn osmand_unknown_id_is_401_and_bad_fields_400(store: StoreKind) {
    let app = device_app(store, "osmand-unknown").await;
    let t = now() - 5;
    let (status, body) = osmand(
        &app,
        Method::GET,
        &format!("?id=guess&lat=52.3&lon=4.89&timestamp={t}"),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(position(&app, "guess").await, None);
    for query in [
        format!("?id={ID}&lat=52.3&timestamp={t}"),
        format!("?id={ID}&lat=north&lon=4.89&timestamp={t}"),
        format!("?id={ID}&lat=52.3&lon=4.89&timestamp=yesterday"),
    ] {
        let (status, _) = osmand(&app, Method::GET, &query, &[], None).await;
        assert_eq!(status, 400, "{query}");
    }
    assert_eq!(position(&app, "d-traccar").await, None);
}

pub async fn device_routes_take_their_apps_types_and_refuse_foreign_origins(store: StoreKind) {
    let app = device_app(store, "origins").await;
    let form = format!("id={ID}&lat=52.3&lon=4.89&timestamp={}", now() - 5);
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    // The REST routes take JSON only; the device routes are exempt by name.
    let (status, _) = osmand(&app, Method::POST, "", &[form_type], Some(&form)).await;
    assert_eq!(status, 200);
    let (status, _, _) = app
        .raw(
            Method::POST,
            "/tracking",
            &[form_type],
            Some("id=d-1&lat=1&lng=2"),
        )
        .await;
    assert_eq!(status, 415, "the REST routes' rule still holds");
    let auth = basic("alice", PASSWORD);
    let body = location(48.8, 2.3, now() - 5);
    let text_type = [
        ("content-type", "text/plain"),
        ("authorization", auth.as_str()),
    ];
    let (status, _, _) = app
        .raw(Method::POST, "/owntracks", &text_type, Some(&body))
        .await;
    assert_eq!(status, 200, "OwnTracks' JSON whatever the type says");
    // A page on another origin can send a form or a GET without a
    // preflight: refused before anything runs.
    let evil = ("origin", "https://evil.example");
    let later = format!("id={ID}&lat=10&lon=10&timestamp={}", now() - 1);
    let (status, _) = osmand(&app, Method::POST, "", &[form_type, evil], Some(&later)).await;
    assert_eq!(status, 403);
    let (status, _) = osmand(&app, Method::GET, &format!("?{later}"), &[evil], None).await;
    assert_eq!(status, 403);
    let (status, _, _) = app
        .raw(
            Method::POST,
            "/owntracks",
            &[evil, ("authorization", &auth)],
            Some(&body),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(position(&app, "d-traccar").await, Some((52.3, 4.89)));
}
