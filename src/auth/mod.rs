//! Who is calling: JWT verification, and minting tokens for development.
//!
//! The operator's own auth system issues the tokens; this service only
//! verifies them: HS256 with a shared secret, RS256/ES256 with a public key,
//! or the keys an identity provider publishes at a JWKS URL (Auth0,
//! Keycloak, Cognito, Firebase…), chosen by the token's `kid`. `exp`, `nbf`
//! and a future `iat` are checked with 30 s of leeway; `iss` and `aud` when
//! configured (so a token the same provider minted for another service does
//! not pass). A verified token becomes a [`Session`]: the [`Caller`] and when
//! its rights end; what each caller may do is decided in `crate::dispatch`,
//! where the rides are. Tokens are never logged.

pub mod devices;
mod jwks;

use std::{fmt, path::Path, time::Duration};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::error::Error;
pub use devices::{DeviceAuthError, DeviceCredentials, Devices};
pub use jwks::Jwks;

/// Seconds of clock skew tolerated on `exp`, `nbf` and `iat`, by default.
pub const LEEWAY_SECS: u64 = 30;

/// What a token's holder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reports its own position and completes its own rides.
    Driver,
    /// Requests, follows and cancels its own rides.
    Rider,
    /// Sees and does everything (operations staff, dashboards).
    Dispatcher,
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "driver" => Ok(Self::Driver),
            "rider" => Ok(Self::Rider),
            "dispatcher" => Ok(Self::Dispatcher),
            other => Err(format!(
                "{other:?} is not a role: driver, rider or dispatcher"
            )),
        }
    }
}

/// The claims this service reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Claims {
    /// The driver's or rider's id (for a dispatcher: any name).
    pub sub: String,
    pub role: Option<Role>,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Who issued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Whom it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
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

/// A caller, and until when its token speaks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub caller: Caller,
    /// When the token's rights end, seconds since the epoch: the first
    /// second in which it is refused (its `exp` plus the leeway, plus one);
    /// `None` without a token.
    pub expires: Option<u64>,
}

impl Session {
    fn without_token(caller: Caller) -> Self {
        Self {
            caller,
            expires: None,
        }
    }

    /// How long from now until the token's rights end (`None`: forever),
    /// at most [`FOREVER`]: an `exp` past every clock (2^63 seconds and
    /// beyond) is a token that does not expire, and any instant can take
    /// the answer added to it.
    pub fn remaining(&self) -> Option<Duration> {
        let expires = self.expires?;
        let left = std::time::UNIX_EPOCH
            .checked_add(Duration::from_secs(expires))
            .map_or(FOREVER, |at| {
                at.duration_since(std::time::SystemTime::now())
                    .unwrap_or(Duration::ZERO)
            });
        Some(left.min(FOREVER))
    }
}

/// The longest a session is said to last: far enough to never come, near
/// enough that adding it to now is a valid instant.
pub const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn now_secs() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Where tokens are verified, as configured.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig<'a> {
    pub secret: Option<&'a str>,
    pub public_key: Option<&'a Path>,
    pub jwks_url: Option<&'a str>,
    /// A PEM CA bundle trusted for the JWKS URL, besides the system's.
    pub jwks_ca: Option<&'a Path>,
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    /// Clock skew tolerated, seconds (`None`: [`LEEWAY_SECS`]).
    pub leeway: Option<u64>,
}

#[derive(Clone)]
enum Keys {
    Fixed(DecodingKey),
    Published(Jwks),
}

/// Checks tokens against the configured keys and claims.
#[derive(Clone)]
pub struct Verifier {
    keys: Keys,
    validation: Validation,
    leeway: u64,
}

impl Verifier {
    /// A verifier for the configured keys; `None` when none is given. A
    /// JWKS URL is fetched here: the service does not start without keys.
    pub async fn from_config(config: AuthConfig<'_>) -> Result<Option<Self>, String> {
        let given = [
            config.secret.is_some(),
            config.public_key.is_some(),
            config.jwks_url.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err("give one of --jwt-secret, --jwt-public-key and --jwt-jwks-url".into());
        }
        let (keys, algorithms) = if let Some(secret) = config.secret {
            check_secret(secret)?;
            (
                Keys::Fixed(DecodingKey::from_secret(secret.as_bytes())),
                vec![Algorithm::HS256],
            )
        } else if let Some(path) = config.public_key {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
                (Keys::Fixed(key), vec![Algorithm::RS256])
            } else if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
                (Keys::Fixed(key), vec![Algorithm::ES256])
            } else {
                return Err(format!(
                    "{} is neither an RSA nor an EC public key in PEM",
                    path.display()
                ));
            }
        } else if let Some(url) = config.jwks_url {
            (
                Keys::Published(Jwks::fetch(url, config.jwks_ca).await?),
                vec![Algorithm::RS256, Algorithm::ES256],
            )
        } else {
            return Ok(None);
        };
        let leeway = config.leeway.unwrap_or(LEEWAY_SECS);
        let mut validation = Validation::new(algorithms[0]);
        validation.algorithms = algorithms;
        validation.leeway = leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match config.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match config.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        Ok(Some(Self {
            keys,
            validation,
            leeway,
        }))
    }

    /// Verifies a bearer token.
    pub async fn verify(&self, token: &str) -> Result<Session, Error> {
        let invalid =
            |e: jsonwebtoken::errors::Error| Error::Unauthenticated(format!("invalid token: {e}"));
        let data = match &self.keys {
            Keys::Fixed(key) => jsonwebtoken::decode::<Claims>(token, key, &self.validation),
            Keys::Published(jwks) => {
                let header = jsonwebtoken::decode_header(token).map_err(invalid)?;
                if !self.validation.algorithms.contains(&header.alg) {
                    return Err(Error::Unauthenticated(format!(
                        "invalid token: {:?} is not accepted",
                        header.alg
                    )));
                }
                let key = jwks.key(header.kid.as_deref()).await?;
                // One algorithm at a time: the key decides its family.
                let mut validation = self.validation.clone();
                validation.algorithms = vec![header.alg];
                jsonwebtoken::decode::<Claims>(token, &key, &validation)
            }
        }
        .map_err(invalid)?;
        let claims = data.claims;
        if claims.iat.is_some_and(|iat| iat > now_secs() + self.leeway) {
            return Err(Error::Unauthenticated(
                "invalid token: issued in the future".into(),
            ));
        }
        if claims.sub.is_empty() {
            return Err(Error::Unauthenticated("token without a subject".into()));
        }
        let role = claims
            .role
            .ok_or_else(|| Error::Unauthenticated("token without a role".into()))?;
        Ok(Session {
            caller: Caller::Token {
                sub: claims.sub,
                role,
            },
            // Saturating: an `exp` near 2^64 must not wrap into the past.
            expires: Some(claims.exp.saturating_add(self.leeway).saturating_add(1)),
        })
    }

    /// Verifies an `Authorization` header value (`Bearer <token>`).
    pub async fn verify_header(&self, value: &str) -> Result<Session, Error> {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                Error::Unauthenticated("expected `Authorization: Bearer <token>`".into())
            })?;
        self.verify(token.trim()).await
    }
}

/// Refuses a secret the service would refuse.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < 16 {
        return Err("--jwt-secret must be at least 16 bytes".into());
    }
    Ok(())
}

/// Who a request is from, given its `Authorization` value (if any).
pub async fn session_from(
    verifier: Option<&Verifier>,
    authorization: Option<&str>,
) -> Result<Session, Error> {
    match (verifier, authorization) {
        (None, _) => Ok(Session::without_token(Caller::Open)),
        (Some(_), None) => Ok(Session::without_token(Caller::Anonymous)),
        (Some(verifier), Some(value)) => verifier.verify_header(value).await,
    }
}

/// Mints an HS256 token, for development (`tracking token`).
pub fn mint(
    secret: &str,
    sub: &str,
    role: Role,
    ttl: std::time::Duration,
) -> Result<String, String> {
    check_secret(secret)?;
    let now = now_secs();
    let claims = Claims {
        sub: sub.to_owned(),
        role: Some(role),
        exp: now + ttl.as_secs(),
        iat: Some(now),
        ..Claims::default()
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| format!("cannot sign the token: {e}"))
}

#[cfg(test)]
mod tests;
