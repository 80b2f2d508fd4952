//! Ids: parsed once, at the edge, into types that are safe to put into a
//! Redis key (`[A-Za-z0-9_.:-]`, at most 64 bytes), so no request can ever
//! name a key it should not. The parsing itself is in `id_parse.rs` (it
//! returns the domain's error, which names these ids).

use std::fmt;

/// Longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps text `id_parse.rs` has checked (the only way in
            /// from outside this file, besides [`RideId::new`]).
            pub(super) fn checked(text: String) -> Self {
                Self(text)
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A driver, as named by the operator's own systems.
    DriverId
);
id_type!(
    /// A rider, as named by the operator's own systems.
    RiderId
);
id_type!(
    /// A ride, named by the service: an opaque string of at most 64 bytes
    /// of `[A-Za-z0-9_.:-]`, today `<epoch>.<n>`: the `n`th ride of an epoch,
    /// a random name made together with the store's ride counter. A store
    /// that lost its data starts a new epoch, so an id handed out once is
    /// never handed out again.
    RideId
);
id_type!(
    /// A client's name for one attempt to request a ride: a retry with the
    /// same key gets the same ride.
    IdempotencyKey
);

/// Length of a ride epoch.
pub const EPOCH_LEN: usize = 8;

impl RideId {
    /// The id of the `n`th ride of `epoch`.
    pub fn new(epoch: &str, n: u64) -> Self {
        Self(format!("{epoch}.{n}"))
    }

    /// The epoch this id was handed out in: the part between the area
    /// prefix (`<area>:`, when there is one) and the `.`; `None` for an id
    /// of another shape.
    pub fn epoch(&self) -> Option<&str> {
        let (head, _) = self.0.split_once('.')?;
        Some(head.rsplit_once(':').map_or(head, |(_, epoch)| epoch))
    }

    /// A fresh random epoch: 8 characters of `[a-z0-9]`.
    pub fn new_epoch() -> String {
        use rand::Rng;
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::rng();
        (0..EPOCH_LEN)
            .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::RideId;

    #[test]
    fn the_epoch_of_a_ride_id_leaves_out_its_area() {
        let plain = RideId::new("46ldzdk6", 3);
        assert_eq!(plain.epoch(), Some("46ldzdk6"));
        let in_area = RideId::parse("scl:46ldzdk6.3").expect("an id");
        assert_eq!(in_area.epoch(), Some("46ldzdk6"));
        let other = RideId::parse("no-epoch-here").expect("an id");
        assert_eq!(other.epoch(), None);
    }
}
