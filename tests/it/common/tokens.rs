//! Tokens as the tests mint them: HS256 with the suite's secret, for a
//! role, or over any claims.

use std::time::Duration;

use tracking::auth::{mint, Claims, Role};

/// The secret the suite's services verify tokens with.
pub const SECRET: &str = "test-secret-of-at-least-16-bytes";

/// A token for `sub` in `role`, valid for ten minutes.
pub fn token(sub: &str, role: Role) -> String {
    mint(SECRET, sub, role, Duration::from_secs(600)).expect("mint")
}

/// A token for "role:sub" ("none" for no token).
pub fn token_for(who: &str) -> Option<String> {
    match who.split_once(':') {
        Some(("driver", sub)) => Some(token(sub, Role::Driver)),
        Some(("rider", sub)) => Some(token(sub, Role::Rider)),
        Some(("dispatcher", sub)) => Some(token(sub, Role::Dispatcher)),
        _ => None,
    }
}

/// Now, in seconds since the epoch (as `exp` counts).
pub fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// A token over any `claims`, signed with [`SECRET`].
pub fn hs256(claims: &Claims) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign")
}

/// A dispatcher's claims (`ops`) expiring at `exp`.
pub fn dispatcher(exp: u64) -> Claims {
    Claims {
        sub: "ops".into(),
        role: Some(Role::Dispatcher),
        exp,
        ..Claims::default()
    }
}
