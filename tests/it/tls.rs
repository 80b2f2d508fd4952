//! Managed Redis: TLS (`rediss://`, a private CA given with `--redis-ca`)
//! and a password (`--requirepass`), from the URL or the environment,
//! never shown in a log line or an error. The certificates are the test's
//! own, made with `openssl`.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
};

use crate::common::{
    eventually, free_port, id_of, process::tracking_command, ServiceProcess, TestApp, DRIVER, RIDER,
};

const PASSWORD: &str = "s3cret-for-the-test";

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
pub(crate) fn certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl on PATH (the README's test command installs it)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
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
    ]);
    openssl(&[
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
    ]);
    std::fs::write(dir.join("ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1").expect("ext");
    openssl(&[
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
    ]);
}

/// A redis-server speaking only TLS, with a password.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl TlsRedis {
    async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tracking-tls-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        certificates(&dir);
        let port = free_port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                "0",
                "--tls-port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
            ])
            .args([
                "--tls-cert-file",
                "server.crt",
                "--tls-key-file",
                "server.key",
            ])
            .args(["--tls-ca-cert-file", "ca.crt", "--tls-auth-clients", "no"])
            .args([
                "--requirepass",
                PASSWORD,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        let redis = Self { child, port, dir };
        let ca = std::fs::read(redis.ca()).expect("ca.crt");
        let url = redis.url(Some(PASSWORD));
        eventually("the TLS redis-server to answer", || {
            let (url, ca) = (url.clone(), ca.clone());
            async move {
                let client = redis::Client::build_with_tls(
                    url.as_str(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(ca),
                    },
                )
                .ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
                    .map(|_| ())
            }
        })
        .await;
        redis
    }

    fn url(&self, password: Option<&str>) -> String {
        match password {
            Some(p) => format!("rediss://:{p}@127.0.0.1:{}/", self.port),
            None => format!("rediss://127.0.0.1:{}/", self.port),
        }
    }

    fn ca(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_redis_with_tls_and_a_password_serves_and_never_shows_the_password() {
    let redis = TlsRedis::start().await;
    let ca = redis.ca();
    let ca = ca.to_str().expect("a path");

    // The password in the URL, the private CA given: it serves.
    let url = redis.url(Some(PASSWORD));
    let service = ServiceProcess::start(&["--redis-url", &url, "--redis-ca", ca]);
    let app = TestApp::attach(service.addr);
    app.update_location("d1", DRIVER).await;
    let ride = id_of(&app.request_driver("ana", RIDER).await);
    assert_eq!(
        app.ride_reaches(&ride, "DRIVER_FOUND").await["driver"]["id"],
        "d1"
    );
    let log = service.log.lock().expect("log").text();
    assert!(!log.contains(PASSWORD), "the password was logged:\n{log}");
    assert!(
        log.contains("rediss://:***@127.0.0.1"),
        "the URL is shown redacted:\n{log}"
    );
    drop(service);

    // The password from the environment, for a URL without one.
    let mut command = tracking_command();
    command.env("TRACKING_REDIS_PASSWORD", PASSWORD);
    let service = ServiceProcess::launch_with(
        command,
        &["--redis-url", &redis.url(None), "--redis-ca", ca],
    );
    let app = TestApp::attach(service.addr);
    assert_eq!(
        app.driver("d1").await["status"],
        "ASSIGNED",
        "the same fleet"
    );
    drop(service);

    // A wrong password, or no CA for a private one: one line, no secret.
    for (args, why) in [
        (
            vec![
                "--redis-url".to_owned(),
                redis.url(Some("wrong-password")),
                "--redis-ca".into(),
                ca.into(),
            ],
            "password",
        ),
        (vec!["--redis-url".to_owned(), url.clone()], "certificate"),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, stderr) = ServiceProcess::run_to_exit(&args);
        assert!(!ok, "{why}: must not start");
        assert_eq!(stderr.trim().lines().count(), 1, "{why}: {stderr}");
        assert!(stderr.contains("Redis"), "{why}: {stderr}");
        assert!(
            !stderr.contains(PASSWORD) && !stderr.contains("wrong-password"),
            "{why}: {stderr}"
        );
    }
}
