//! Identity providers as they really are: a JWKS served over https (here by
//! the test, with its own CA, trusted through `--jwt-jwks-ca`), and a
//! provider whose reply never ends, which must not be read whole; keys
//! published at a JWKS URL, chosen by `kid`, rotated, kept while the
//! provider is down, and a provider that never answers stopping the start.

use std::{
    path::Path,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use axum::{extract::State, http::StatusCode, response::IntoResponse, routing::get, Router};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};
use tokio_rustls::rustls::{
    self,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
};

use tracking::auth::Claims;

use crate::common::{
    eventually,
    keys::{certificates, rsa_key, temp_dir},
    tokens::{dispatcher, now},
    Client, ServiceProcess, StoreKind, TestApp,
};

/// Reads a request's head (up to its blank line), bounded.
async fn read_head(stream: &mut (impl AsyncRead + Unpin)) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// Serves `body` as JSON at any path over https, with the certificate for
/// 127.0.0.1 in `dir` (signed by `dir/ca.crt`); returns the URL.
async fn https_provider(dir: &Path, body: String) -> String {
    let certs = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .expect("server.crt")
        .collect::<Result<Vec<_>, _>>()
        .expect("a certificate");
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).expect("server.key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("a server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                // A client that does not trust us hangs up here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                read_head(&mut tls).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://127.0.0.1:{}/.well-known/jwks.json", addr.port())
}

/// `--jwt-jwks-url https://…` with the provider's CA given: the service
/// starts, and a token signed with the published key is accepted. Without
/// the CA, start-up fails with one line that names the certificate; a CA
/// file holding no certificate is refused as such.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_over_https_from_a_private_ca_is_trusted_with_jwks_ca() {
    let dir = temp_dir("jwks-https");
    certificates(&dir);
    let key = rsa_key(&dir, "https-key");
    let url = https_provider(&dir, json!({"keys": [key.jwk]}).to_string()).await;
    let ca = dir.join("ca.crt").display().to_string();

    let args = ["--jwt-jwks-url", &url, "--jwt-jwks-ca", &ca].map(str::to_owned);
    let service = tokio::task::spawn_blocking(move || {
        ServiceProcess::start(&args.iter().map(String::as_str).collect::<Vec<_>>())
    })
    .await
    .expect("start");
    let token = key.sign(&dispatcher(now() + 600));
    let (status, body) = Client::new(service.addr, None)
        .gql_as(Some(&token), "{ driver(id: \"x\") { id } }", json!({}))
        .await;
    assert_eq!(status, 200, "a token signed with the https key: {body}");
    let (status, _) = Client::new(service.addr, None)
        .gql_as(
            Some("not-a-token"),
            "{ driver(id: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 401);
    drop(service);

    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            ServiceProcess::run_to_exit(&args.iter().map(String::as_str).collect::<Vec<_>>())
        })
    };
    let (ok, stderr) = run(vec!["--jwt-jwks-url".into(), url.clone()])
        .await
        .expect("run");
    assert!(!ok, "started without trusting the provider's CA");
    assert!(
        stderr.contains("JWKS") && stderr.contains("certificate"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");

    let not_pem = dir.join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let (ok, stderr) = run(vec![
        "--jwt-jwks-url".into(),
        url,
        "--jwt-jwks-ca".into(),
        not_pem.display().to_string(),
    ])
    .await
    .expect("run");
    assert!(!ok);
    assert!(
        stderr.contains("--jwt-jwks-ca") && stderr.contains("no certificate"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A plain-http provider whose reply never ends: chunked without a length
/// (`length: None`), or announcing `length` bytes; it counts what it wrote.
async fn endless_provider(length: Option<u64>) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                read_head(&mut tcp).await;
                let head = match length {
                    Some(n) => format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n\r\n"),
                    None => "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
                };
                if tcp.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let block = vec![b' '; 64 * 1024];
                let chunk = match length {
                    Some(_) => block,
                    None => [
                        format!("{:x}\r\n", block.len()).into_bytes(),
                        block,
                        b"\r\n".to_vec(),
                    ]
                    .concat(),
                };
                // Until the client hangs up (or 200 MB, should it never).
                for _ in 0..3200 {
                    if tcp.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len(), Ordering::Relaxed);
                }
            });
        }
    });
    (format!("http://{addr}/jwks.json"), written)
}

async fn refused_as_too_large(length: Option<u64>) {
    let (url, written) = endless_provider(length).await;
    let started = Instant::now();
    let (ok, stderr) =
        tokio::task::spawn_blocking(move || ServiceProcess::run_to_exit(&["--jwt-jwks-url", &url]))
            .await
            .expect("run");
    let took = started.elapsed();
    assert!(!ok, "started with an endless key set");
    assert!(
        stderr.contains("JWKS") && stderr.contains("too large"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(took < Duration::from_secs(4), "refused after {took:?}");
    let written = written.load(Ordering::Relaxed);
    assert!(
        written < 16 * 1024 * 1024,
        "the provider got to write {written} bytes"
    );
}

/// A key set that never ends (chunked, no length) is refused as too large
/// as soon as it passes the limit, not read whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_jwks_reply_is_refused_as_too_large_while_it_streams() {
    refused_as_too_large(None).await;
}

/// A key set announced at 100 MB is refused from its Content-Length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_reply_announced_over_the_limit_is_refused_before_reading() {
    refused_as_too_large(Some(100_000_000)).await;
}

/// A JWKS endpoint on loopback whose key set the test changes, which can be
/// taken down, and which counts its hits.
#[derive(Clone)]
struct Provider {
    keys: Arc<Mutex<Option<Value>>>,
    hits: Arc<AtomicUsize>,
}

async fn serve_jwks(State(provider): State<Provider>) -> impl IntoResponse {
    provider.hits.fetch_add(1, Ordering::Relaxed);
    match provider.keys.lock().expect("lock").clone() {
        Some(set) => (StatusCode::OK, set.to_string()),
        None => (StatusCode::SERVICE_UNAVAILABLE, "down".to_owned()),
    }
}

async fn provider(set: Value) -> (Provider, String) {
    let provider = Provider {
        keys: Arc::new(Mutex::new(Some(set))),
        hits: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new()
        .route("/.well-known/jwks.json", get(serve_jwks))
        .with_state(provider.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (provider, format!("http://{addr}/.well-known/jwks.json"))
}

/// Keys from a JWKS URL: chosen by kid; a rotation is picked up when a
/// token names the new key; tokens naming keys that do not exist cannot make
/// the service fetch more than once every few seconds; a token minted for
/// another audience or by another issuer is refused; and while the provider
/// is down the last good set stays in use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_a_jwks_url_are_chosen_by_kid_rotated_and_kept() {
    let dir = temp_dir("jwks");
    let first = rsa_key(&dir, "key-1");
    let second = rsa_key(&dir, "key-2");
    let (provider, url) = provider(json!({"keys": [first.jwk]})).await;
    let app = TestApp::spawn(StoreKind::Memory, |c| {
        c.jwt_jwks_url = Some(url);
        c.jwt_issuer = Some("https://id.example/".into());
        c.jwt_audience = Some("tracking".into());
    })
    .await;
    let claims = |aud: &str, iss: &str| Claims {
        iss: Some(iss.into()),
        aud: Some(aud.into()),
        ..dispatcher(now() + 600)
    };
    let query = "{ driver(id: \"x\") { id } }";
    let status = |token: String| {
        let client = Client::new(app.addr, None);
        async move { client.gql_as(Some(&token), query, json!({})).await.0 }
    };
    let right = claims("tracking", "https://id.example/");
    let (code, body) = Client::new(app.addr, None)
        .gql_as(Some(&first.sign(&right)), query, json!({}))
        .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        status(first.sign(&claims("billing", "https://id.example/"))).await,
        401
    );
    assert_eq!(
        status(first.sign(&claims("tracking", "https://evil.example/"))).await,
        401
    );

    // Made-up kids, hammered for four seconds: at most a couple of fetches.
    let before = provider.hits.load(Ordering::Relaxed);
    let hammered = Instant::now();
    let mut forged = 0;
    while hammered.elapsed() < Duration::from_secs(4) {
        let fake = first.with_kid(&format!("nope-{forged}"));
        assert_eq!(status(fake.sign(&right)).await, 401);
        forged += 1;
    }
    let fetched = provider.hits.load(Ordering::Relaxed) - before;
    assert!(
        forged > 20 && fetched <= 2,
        "{forged} forged kids made {fetched} fetches"
    );

    // Rotation: the provider now publishes the second key only.
    *provider.keys.lock().expect("lock") = Some(json!({"keys": [second.jwk]}));
    eventually("the rotated key to be fetched", || async {
        (status(second.sign(&right)).await == 200).then_some(())
    })
    .await;

    // The provider goes down: the set in hand keeps working.
    *provider.keys.lock().expect("lock") = None;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        status(second.sign(&right)).await,
        200,
        "the last good set is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A service pointed at a JWKS URL nobody serves does not start.
#[tokio::test]
async fn a_jwks_url_that_does_not_answer_stops_start_up() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    drop(listener);
    let (ok, stderr) = ServiceProcess::run_to_exit(&["--jwt-jwks-url", &url]);
    assert!(!ok);
    assert!(stderr.contains("JWKS"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
