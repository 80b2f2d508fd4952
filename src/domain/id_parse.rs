//! Parsing ids: the one way text from outside becomes a [`DriverId`],
//! [`RiderId`], [`RideId`] or [`IdempotencyKey`], refused with a
//! `BAD_USER_INPUT` error unless it is 1 to 64 bytes of `[A-Za-z0-9_.:-]`.

use super::{
    error::Error,
    ids::{DriverId, IdempotencyKey, RideId, RiderId, MAX_ID_LEN},
};

fn parse_id(kind: &str, raw: &str) -> Result<String, Error> {
    if raw.is_empty() {
        return Err(Error::bad_input(format!("{kind} must not be empty")));
    }
    if raw.len() > MAX_ID_LEN {
        return Err(Error::bad_input(format!(
            "{kind} is longer than {MAX_ID_LEN} bytes"
        )));
    }
    if let Some(c) = raw
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(Error::bad_input(format!(
            "{kind} contains {c:?}; only A-Z a-z 0-9 _ . : - are allowed"
        )));
    }
    Ok(raw.to_owned())
}

macro_rules! parse_as {
    ($name:ident, $kind:literal) => {
        impl $name {
            /// Parses an id: 1 to 64 bytes of `[A-Za-z0-9_.:-]`.
            pub fn parse(raw: &str) -> Result<Self, Error> {
                parse_id($kind, raw).map(Self::checked)
            }
        }
    };
}

parse_as!(DriverId, "driverId");
parse_as!(RiderId, "riderId");
parse_as!(RideId, "rideId");
parse_as!(IdempotencyKey, "idempotencyKey");
