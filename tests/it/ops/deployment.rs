//! Running on Redis: every key under the configured prefix, a Redis that
//! cannot be used stopping the start with one clear line, and a managed
//! Redis (TLS with a private CA, a password) that never shows the password.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

use crate::common::{
    eventually, free_port, id_of, keys::certificates, north_of, process::tracking_command,
    RedisServer, ServiceProcess, TestApp, DRIVER, RIDER,
};

/// Everything lives under the configured prefix, inside one hash tag, and
/// two fleets with different prefixes share a Redis without seeing each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_stay_under_the_prefix() {
    let redis = Arc::new(RedisServer::start().await);
    let fleet = TestApp::spawn_with(Some(redis.clone()), |c| {
        c.redis_prefix = "fleet7".into();
        c.request_timeout = Duration::from_millis(300);
    })
    .await;
    let other = TestApp::spawn_with(Some(redis.clone()), |c| c.redis_prefix = "other".into()).await;
    let mut conn = redis.connection().await;
    let _: () = redis::cmd("SET")
        .arg("unrelated")
        .arg("keep me")
        .query_async(&mut conn)
        .await
        .expect("SET");

    fleet.update_location("1", DRIVER).await;
    fleet.update_location("2", north_of(DRIVER, 1.0)).await;
    let matched = id_of(&fleet.request_driver("r1", RIDER).await);
    fleet.ride_reaches(&matched, "DRIVER_FOUND").await;
    let expiring = id_of(&fleet.request_driver("r2", north_of(RIDER, 60.0)).await);
    fleet.ride_reaches(&expiring, "EXPIRED").await;
    fleet.complete(&matched).await;
    fleet.go_offline("2").await;
    // The seed's flaw: cancel with a key's name.
    for name in ["unrelated", "{fleet7}:drivers:available", "0"] {
        let body = fleet.cancel(name).await;
        assert!(body["errors"].is_array(), "{body}");
    }

    assert!(
        other.nearby(RIDER, 50.0, 10).await.is_empty(),
        "another prefix is another fleet"
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    for key in &keys {
        assert!(
            key.starts_with("{fleet7}:") || key.starts_with("{other}:") || key == "unrelated",
            "stray key {key}"
        );
    }
    assert!(keys.iter().any(|k| k == "{fleet7}:drivers:available"));
    let kept: String = redis::cmd("GET")
        .arg("unrelated")
        .query_async(&mut conn)
        .await
        .expect("GET");
    assert_eq!(kept, "keep me");
    let kind: String = redis::cmd("TYPE")
        .arg("{fleet7}:drivers:available")
        .query_async(&mut conn)
        .await
        .expect("TYPE");
    assert_eq!(kind, "zset", "the drivers set was not overwritten");
}

#[tokio::test]
async fn a_bad_or_unreachable_redis_stops_start_up_with_one_clear_line() {
    // A socket path nothing listens on (nobody else can be there).
    let dir = std::env::temp_dir().join(format!("tracking-no-redis-{}", std::process::id()));
    let unreachable = format!("unix://{}/redis.sock", dir.display());
    for url in ["not-a-url", "http://example/", unreachable.as_str()] {
        let (ok, stderr) = ServiceProcess::run_to_exit(&["--redis-url", url]);
        assert!(!ok, "{url}: must exit non-zero");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{url}: one line, got {stderr:?}"
        );
        assert!(stderr.contains("Redis"), "{url}: {stderr}");
        assert!(!stderr.contains("panicked"), "{url}: {stderr}");
    }
}

const PASSWORD: &str = "s3cret-for-the-test";

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
