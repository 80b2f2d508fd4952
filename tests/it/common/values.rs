//! Values the tests share: the seed's positions, the selections every test
//! asks for, and readers of what the service answers.

use serde_json::Value;

/// The first error's `extensions.code` of a GraphQL response.
pub fn error_code_of(body: &Value) -> String {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
        .to_owned()
}

/// A ride's id as a string.
pub fn id_of(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_owned()
}

/// The ride fields every test asks for.
pub const RIDE_FIELDS: &str =
    "id riderId status searches distanceKm createdAt expiresAt pickup { lat lng } driver { id status }";

/// The subscription every test uses.
pub const RIDE_STATUS: &str = "subscription($id: ID!) { rideStatus(rideId: $id) { id riderId status searches distanceKm createdAt expiresAt pickup { lat lng } driver { id status } } }";

/// The seed's rider and driver positions (Santiago), 0.19 km apart.
pub const RIDER: (f64, f64) = (-33.44262, -70.63054);

pub const DRIVER: (f64, f64) = (-33.44091, -70.6301);

/// A point `km` north of `from` (1° of latitude is about 111.2 km).
pub fn north_of(from: (f64, f64), km: f64) -> (f64, f64) {
    (from.0 + km / 111.2, from.1)
}

/// Percent-encodes `text` for a query string (every byte but the
/// unreserved ones).
pub fn urlencode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// What a response came to: "ok", or the first error's code.
pub fn outcome(body: &Value) -> String {
    match body.get("errors") {
        None => "ok".into(),
        Some(_) => error_code_of(body),
    }
}

/// The value of one series (its name and labels, as `/metrics` prints
/// them) in `/metrics` text; `None` when it is not there.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// A response header as text ("" when absent or not text).
pub fn header<'h>(headers: &'h reqwest::header::HeaderMap, name: &str) -> &'h str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}
