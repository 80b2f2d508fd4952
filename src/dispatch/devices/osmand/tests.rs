//! The OsmAnd fields and Traccar Client 9's JSON, as the apps send them.

use super::*;

fn fields(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn traccar_clients_query_is_a_position_at_its_own_time() {
    let (id, p) = from_fields(&fields(
        "id=123456&timestamp=1700000000&lat=52.37&lon=4.89&speed=10.5&bearing=90&altitude=3&accuracy=12.5&batt=80",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id, "123456");
    assert_eq!((p.at.lat(), p.at.lng()), (52.37, 4.89));
    assert_eq!(p.taken_at.timestamp(), 1_700_000_000);
    assert_eq!(p.accuracy_m, Some(12.5));
}

#[test]
fn timestamps_in_seconds_milliseconds_and_iso_8601_agree() {
    for text in [
        "1700000000",
        "1700000000000",
        "2023-11-14T22:13:20Z",
        "2023-11-14T23:13:20+01:00",
        "2023-11-14T22:13:20.000Z",
        "2023-11-14 22:13:20",
    ] {
        let t = timestamp(Some(text)).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(t.timestamp(), 1_700_000_000, "{text}");
    }
    for bad in [None, Some(""), Some("yesterday"), Some("-1")] {
        assert!(timestamp(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn traccar_client_9_json_is_read() {
    let body = r#"{
        "location": {
            "timestamp": "2023-11-14T22:13:20.000Z",
            "coords": {"latitude": 52.37, "longitude": 4.89, "accuracy": 5, "speed": 3.2,
                       "heading": 180, "altitude": 2},
            "is_moving": true, "odometer": 12, "event": "motionchange",
            "battery": {"level": 0.8, "is_charging": false},
            "activity": {"type": "in_vehicle"}, "extras": {}
        },
        "device_id": "123456"
    }"#;
    let (id, p) = from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(id, "123456");
    assert_eq!(p.taken_at.timestamp(), 1_700_000_000);
    assert_eq!(p.accuracy_m, Some(5.0));
}

#[test]
fn a_bad_report_is_refused_as_bad_input() {
    for query in [
        "lat=1&lon=2&timestamp=1700000000",
        "id=1&lon=2&timestamp=1700000000",
        "id=1&lat=1&timestamp=1700000000",
        "id=1&lat=1&lon=2",
        "id=1&lat=north&lon=2&timestamp=1700000000",
        "id=1&lat=100&lon=2&timestamp=1700000000",
        "id=1&lat=1&lon=2&timestamp=1700000000&speed=5000",
    ] {
        match from_fields(&fields(query)) {
            Err(e) => assert_eq!(e.code(), "BAD_USER_INPUT", "{query}"),
            Ok(r) => panic!("{query}: accepted as {r:?}"),
        }
    }
    for body in [
        "[]",
        r#"{"device_id":"1"}"#,
        r#"{"device_id":"1","location":{"timestamp":"2023-11-14T22:13:20Z","coords":{"latitude":1}}}"#,
        r#"{"location":{"timestamp":"2023-11-14T22:13:20Z","coords":{"latitude":1,"longitude":2}}}"#,
    ] {
        assert!(from_json(body.as_bytes()).is_err(), "{body}");
    }
}
