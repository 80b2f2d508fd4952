//! Token verification: signatures, times, issuers and audiences.

use std::time::Duration;

use super::*;

const SECRET: &str = "a-secret-of-sixteen-bytes";

async fn verifier(issuer: Option<&str>, audience: Option<&str>) -> Verifier {
    Verifier::from_config(AuthConfig {
        secret: Some(SECRET),
        issuer,
        audience,
        ..AuthConfig::default()
    })
    .await
    .unwrap()
    .unwrap()
}

fn sign(claims: &Claims) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

fn claims() -> Claims {
    Claims {
        sub: "ana".into(),
        role: Some(Role::Rider),
        exp: now_secs() + 600,
        ..Claims::default()
    }
}

#[tokio::test]
async fn a_minted_token_verifies() {
    let verifier = verifier(None, None).await;
    let token = mint(SECRET, "ana", Role::Rider, Duration::from_secs(60)).unwrap();
    let session = verifier
        .verify_header(&format!("Bearer {token}"))
        .await
        .unwrap();
    assert_eq!(
        session.caller,
        Caller::Token {
            sub: "ana".into(),
            role: Role::Rider
        }
    );
    assert!(session.remaining().unwrap() > Duration::from_secs(60));
}

#[tokio::test]
async fn forged_expired_early_and_malformed_tokens_are_refused() {
    let verifier = verifier(None, None).await;
    let forged = mint(
        "another-secret-16-bytes",
        "ana",
        Role::Dispatcher,
        Duration::from_secs(60),
    )
    .unwrap();
    let expired = sign(&Claims {
        exp: now_secs() - LEEWAY_SECS - 5,
        ..claims()
    });
    let not_yet = sign(&Claims {
        nbf: Some(now_secs() + 365 * 24 * 3600),
        ..claims()
    });
    let from_the_future = sign(&Claims {
        iat: Some(now_secs() + 3600),
        ..claims()
    });
    let roleless = sign(&Claims {
        role: None,
        ..claims()
    });
    for token in [forged, expired, not_yet, from_the_future, roleless] {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(Error::Unauthenticated(_))
        ));
    }
    assert!(verifier.verify("not.a.token").await.is_err());
    assert!(verifier.verify_header("Basic abc").await.is_err());
    // Within the leeway is fine.
    let skewed = sign(&Claims {
        nbf: Some(now_secs() + 10),
        iat: Some(now_secs() + 10),
        ..claims()
    });
    assert!(verifier.verify(&skewed).await.is_ok());
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let strict = verifier(Some("https://id.example/"), Some("tracking")).await;
    let right = sign(&Claims {
        iss: Some("https://id.example/".into()),
        aud: Some("tracking".into()),
        ..claims()
    });
    assert!(strict.verify(&right).await.is_ok());
    for wrong in [
        Claims {
            iss: Some("https://id.example/".into()),
            aud: Some("billing".into()),
            ..claims()
        },
        Claims {
            iss: Some("https://evil.example/".into()),
            aud: Some("tracking".into()),
            ..claims()
        },
        Claims {
            iss: Some("https://id.example/".into()),
            ..claims()
        },
        claims(),
    ] {
        assert!(strict.verify(&sign(&wrong)).await.is_err(), "{wrong:?}");
    }
    // Unconfigured, they are not looked at.
    assert!(verifier(None, None).await.verify(&right).await.is_ok());
}

#[tokio::test]
async fn no_key_means_open_and_weak_secrets_are_refused() {
    assert!(Verifier::from_config(AuthConfig::default())
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        session_from(None, Some("Bearer junk"))
            .await
            .unwrap()
            .caller,
        Caller::Open
    );
    let short = AuthConfig {
        secret: Some("short"),
        ..AuthConfig::default()
    };
    assert!(Verifier::from_config(short).await.is_err());
    assert!(mint("short", "a", Role::Rider, Duration::from_secs(1)).is_err());
}

#[test]
fn a_session_past_every_clock_lasts_forever_and_one_past_is_over() {
    let session = |expires| Session {
        caller: Caller::Open,
        expires: Some(expires),
    };
    for far in [(1u64 << 63) - 31, u64::MAX] {
        assert_eq!(session(far).remaining(), Some(FOREVER));
    }
    assert_eq!(session(1).remaining(), Some(Duration::ZERO));
}
