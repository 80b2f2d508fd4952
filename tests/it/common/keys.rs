//! Keys and certificates made with `openssl` for a test of its own: RSA
//! signing keys published as JWKs, and a CA with a certificate for
//! 127.0.0.1.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tracking::auth::Claims;

/// A fresh directory of the test process's own under the system's temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tracking-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// Runs `openssl` in `dir`; its output. Fails the test, with what openssl
/// said, when it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl on PATH (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An RSA key pair made with openssl, and its public half as a JWK.
pub struct RsaKey {
    private_pem: Vec<u8>,
    kid: String,
    pub jwk: Value,
}

/// A new RSA key pair, in `dir`, named `kid`.
pub fn rsa_key(dir: &Path, kid: &str) -> RsaKey {
    let private = format!("{kid}.pem");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &private,
        ],
    );
    let modulus = String::from_utf8(openssl(
        dir,
        &["rsa", "-in", &private, "-noout", "-modulus"],
    ))
    .expect("text");
    let hex = modulus.trim().trim_start_matches("Modulus=");
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect();
    RsaKey {
        private_pem: std::fs::read(dir.join(&private)).expect("key"),
        kid: kid.to_owned(),
        jwk: json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": base64url(&bytes), "e": "AQAB"}),
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

impl RsaKey {
    /// A key that signs like this one under another kid.
    pub fn with_kid(&self, kid: &str) -> RsaKey {
        RsaKey {
            private_pem: self.private_pem.clone(),
            kid: kid.to_owned(),
            jwk: Value::Null,
        }
    }

    /// A token over `claims`, signed RS256 under this key's kid.
    pub fn sign(&self, claims: &Claims) -> String {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(&self.private_pem).expect("key");
        jsonwebtoken::encode(&header, claims, &key).expect("sign")
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
pub fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=tracking-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1").expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "1",
            "-extfile",
            "ext",
        ],
    );
}
