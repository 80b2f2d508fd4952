//! OwnTracks' JSON (owntracks.org/booklet/tech/json/): a `location`
//! message becomes a [`DevicePosition`]; every other `_type` (`lwt`,
//! `transition`, `waypoint`, `cmd`, …) is not a position and is ignored.
//! Used by `POST /owntracks` and by the MQTT subscriber alike.

use serde::Deserialize;

use super::{
    accuracy, check_bearing, check_speed_kmh, from_unix_seconds, DevicePosition, MAX_PAYLOAD_BYTES,
};
use crate::domain::{
    error::{Error, Result},
    Coordinates,
};

/// What this service reads of a message; the rest is ignored.
#[derive(Deserialize)]
struct Message {
    #[serde(rename = "_type")]
    kind: String,
    lat: Option<Number>,
    lon: Option<Number>,
    tst: Option<Number>,
    acc: Option<Number>,
    vel: Option<Number>,
    cog: Option<Number>,
}

/// A number, as OwnTracks writes it: a JSON number, or (in some older
/// messages) a string holding one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Number(f64),
    Text(String),
}

impl Number {
    fn value(&self, field: &str) -> Result<f64> {
        match self {
            Self::Number(n) => Ok(*n),
            Self::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| Error::bad_input(format!("{field} must be a number"))),
        }
    }
}

fn number(value: &Option<Number>, field: &str) -> Result<Option<f64>> {
    value.as_ref().map(|n| n.value(field)).transpose()
}

fn required(value: &Option<Number>, field: &str) -> Result<f64> {
    number(value, field)?
        .ok_or_else(|| Error::bad_input(format!("a location message needs {field}")))
}

/// Parses one OwnTracks message: `Some` position for a `location`, `None`
/// for any other `_type`; a body over [`MAX_PAYLOAD_BYTES`], not JSON, or a
/// location with a missing or bad `lat`, `lon` or `tst` is `BAD_USER_INPUT`.
pub fn parse(body: &[u8]) -> Result<Option<DevicePosition>> {
    if body.len() > MAX_PAYLOAD_BYTES {
        return Err(Error::bad_input(format!(
            "an OwnTracks message is at most {MAX_PAYLOAD_BYTES} bytes"
        )));
    }
    let message: Message = serde_json::from_slice(body)
        .map_err(|e| Error::bad_input(format!("not an OwnTracks message: {e}")))?;
    if message.kind != "location" {
        return Ok(None);
    }
    let at = Coordinates::parse(
        required(&message.lat, "lat")?,
        required(&message.lon, "lon")?,
    )?;
    let taken_at = from_unix_seconds(required(&message.tst, "tst")?, "tst")?;
    check_speed_kmh(number(&message.vel, "vel")?, "vel")?;
    check_bearing(number(&message.cog, "cog")?, "cog")?;
    Ok(Some(DevicePosition {
        at,
        taken_at,
        accuracy_m: accuracy(number(&message.acc, "acc")?, "acc")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A location message with every element the booklet's `location`
    /// section lists (owntracks.org/booklet/tech/json/).
    const DOCUMENTED: &str = r#"{
        "_type": "location", "acc": 75, "alt": 13, "batt": 84, "bs": 1, "cog": 270,
        "conn": "w", "created_at": 1376715317, "lat": 48.85833, "lon": 2.29513,
        "m": 1, "t": "u", "tid": "YY", "tst": 1376715317, "vac": 10, "vel": 54,
        "topic": "owntracks/jane/phone", "inregions": ["home"]
    }"#;

    #[test]
    fn a_documented_location_message_is_a_position_at_its_own_time() {
        let position = parse(DOCUMENTED.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("not a position"));
        assert_eq!(position.at.lat(), 48.85833);
        assert_eq!(position.at.lng(), 2.29513);
        assert_eq!(position.taken_at.timestamp(), 1_376_715_317);
        assert_eq!(position.accuracy_m, Some(75.0));
    }

    #[test]
    fn numbers_written_as_strings_are_read() {
        let text = r#"{"_type":"location","lat":"48.85833","lon":"2.29513","tst":"1385997757"}"#;
        let position = parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            position.map(|p| p.taken_at.timestamp()),
            Some(1_385_997_757)
        );
    }

    #[test]
    fn other_types_are_not_positions() {
        for text in [
            r#"{"_type":"lwt","tst":1376715317}"#,
            r#"{"_type":"transition","event":"enter","lat":48.87,"lon":2.34,"tst":1707057574}"#,
            r#"{"_type":"waypoint","desc":"Paris","lat":"48.858330","lon":"2.295130","rad":"50","tst":"1385997757"}"#,
        ] {
            assert_eq!(
                parse(text.as_bytes()).map_err(|e| e.to_string()),
                Ok(None),
                "{text}"
            );
        }
    }

    #[test]
    fn a_bad_location_is_refused_as_bad_input() {
        let big = format!(
            r#"{{"_type":"location","pad":"{}"}}"#,
            "x".repeat(MAX_PAYLOAD_BYTES)
        );
        for text in [
            "not json",
            r#"{"lat":1,"lon":2,"tst":3}"#,
            r#"{"_type":"location","lon":2.29,"tst":1376715317}"#,
            r#"{"_type":"location","lat":48.8,"tst":1376715317}"#,
            r#"{"_type":"location","lat":48.8,"lon":2.29}"#,
            r#"{"_type":"location","lat":91,"lon":2.29,"tst":1376715317}"#,
            r#"{"_type":"location","lat":48.8,"lon":2.29,"tst":-5}"#,
            r#"{"_type":"location","lat":"north","lon":2.29,"tst":1376715317}"#,
            r#"{"_type":"location","lat":48.8,"lon":2.29,"tst":1376715317,"acc":-1}"#,
            r#"{"_type":"location","lat":48.8,"lon":2.29,"tst":1376715317,"vel":99999}"#,
            r#"{"_type":"location","lat":48.8,"lon":2.29,"tst":1376715317,"cog":400}"#,
            big.as_str(),
        ] {
            match parse(text.as_bytes()) {
                Err(e) => assert_eq!(e.code(), "BAD_USER_INPUT", "{text}: {e}"),
                Ok(p) => panic!("{text}: accepted as {p:?}"),
            }
        }
    }
}
