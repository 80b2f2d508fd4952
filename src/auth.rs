//! Who is calling: JWT verification, and minting tokens for development.
//!
//! The operator's own auth system issues the tokens; this service only
//! verifies them (HS256 with a shared secret, or RS256/ES256 with a public
//! key), enforcing `exp` with a small leeway. A verified token becomes a
//! [`Caller`]; what each caller may do is decided in `crate::dispatch`,
//! where the rides are. Tokens are never logged.

use std::{fmt, path::Path};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// Seconds of clock skew tolerated on `exp`.
pub const LEEWAY_SECS: u64 = 30;

/// What a token's holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reports its own position and completes its own rides.
    Driver,
    /// Requests, follows and cancels its own rides.
    Rider,
    /// Sees and does everything (operations staff, dashboards).
    Dispatcher,
}

/// The claims this service reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The driver's or rider's id (for a dispatcher: any name).
    pub sub: String,
    pub role: Role,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No verification key is configured: development mode, everything allowed.
    Open,
    /// Verification is on and the request carried no token.
    Anonymous,
    /// A verified token.
    Token { sub: String, role: Role },
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open => f.write_str("open"),
            Self::Anonymous => f.write_str("anonymous"),
            Self::Token { sub, role } => write!(f, "{role:?}:{sub}"),
        }
    }
}

/// Checks tokens against the configured key.
#[derive(Clone)]
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    /// A verifier for the configured key; `None` when neither is given.
    pub fn from_config(
        secret: Option<&str>,
        public_key: Option<&Path>,
    ) -> Result<Option<Self>, String> {
        let (key, algorithms) = match (secret, public_key) {
            (Some(_), Some(_)) => {
                return Err("give either --jwt-secret or --jwt-public-key, not both".into())
            }
            (None, None) => return Ok(None),
            (Some(secret), None) => {
                if secret.len() < 16 {
                    return Err("--jwt-secret must be at least 16 bytes".into());
                }
                (
                    DecodingKey::from_secret(secret.as_bytes()),
                    vec![Algorithm::HS256],
                )
            }
            (None, Some(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                    (key, vec![Algorithm::RS256])
                } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                    (key, vec![Algorithm::ES256])
                } else {
                    return Err(format!(
                        "{} is neither an RSA nor an EC public key in PEM",
                        path.display()
                    ));
                }
            }
        };
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Some(Self { key, validation }))
    }

    /// Verifies a bearer token.
    pub fn verify(&self, token: &str) -> Result<Caller, Error> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| Error::Unauthenticated(format!("invalid token: {e}")))?;
        let Claims { sub, role, .. } = data.claims;
        if sub.is_empty() {
            return Err(Error::Unauthenticated("token without a subject".into()));
        }
        Ok(Caller::Token { sub, role })
    }

    /// Verifies an `Authorization` header value (`Bearer <token>`).
    pub fn verify_header(&self, value: &str) -> Result<Caller, Error> {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                Error::Unauthenticated("expected `Authorization: Bearer <token>`".into())
            })?;
        self.verify(token.trim())
    }
}

/// Who a request is from, given its `Authorization` value (if any).
pub fn caller_from(
    verifier: Option<&Verifier>,
    authorization: Option<&str>,
) -> Result<Caller, Error> {
    match (verifier, authorization) {
        (None, _) => Ok(Caller::Open),
        (Some(_), None) => Ok(Caller::Anonymous),
        (Some(verifier), Some(value)) => verifier.verify_header(value),
    }
}

/// Mints an HS256 token, for development (`tracking token`).
pub fn mint(
    secret: &str,
    sub: &str,
    role: Role,
    ttl: std::time::Duration,
) -> Result<String, String> {
    let now = jsonwebtoken::get_current_timestamp();
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        exp: now + ttl.as_secs(),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SECRET: &str = "a-secret-of-sixteen-bytes";

    #[test]
    fn a_minted_token_verifies() {
        let verifier = Verifier::from_config(Some(SECRET), None).unwrap().unwrap();
        let token = mint(SECRET, "ana", Role::Rider, Duration::from_secs(60)).unwrap();
        assert_eq!(
            verifier.verify_header(&format!("Bearer {token}")).unwrap(),
            Caller::Token {
                sub: "ana".into(),
                role: Role::Rider
            }
        );
    }

    #[test]
    fn forged_expired_and_malformed_tokens_are_refused() {
        let verifier = Verifier::from_config(Some(SECRET), None).unwrap().unwrap();
        let forged = mint(
            "another-secret-16-bytes",
            "ana",
            Role::Dispatcher,
            Duration::from_secs(60),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify(&forged),
            Err(Error::Unauthenticated(_))
        ));
        let now = jsonwebtoken::get_current_timestamp();
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "ana".into(),
                role: Role::Rider,
                exp: now - LEEWAY_SECS - 5,
            },
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap();
        assert!(matches!(
            verifier.verify(&expired),
            Err(Error::Unauthenticated(_))
        ));
        assert!(matches!(
            verifier.verify("not.a.token"),
            Err(Error::Unauthenticated(_))
        ));
        assert!(matches!(
            verifier.verify_header("Basic abc"),
            Err(Error::Unauthenticated(_))
        ));
    }

    #[test]
    fn no_key_means_open() {
        assert!(Verifier::from_config(None, None).unwrap().is_none());
        assert_eq!(
            caller_from(None, Some("Bearer junk")).unwrap(),
            Caller::Open
        );
        assert!(Verifier::from_config(Some("short"), None).is_err());
    }
}
