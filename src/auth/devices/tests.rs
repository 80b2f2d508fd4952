//! The credentials file's checks, names to drivers, and HTTP Basic: right
//! and wrong passwords, the cache, the failed-attempt limit, reloads.

use std::path::PathBuf;

use super::{
    verify::{FAILURE_WINDOW, MAX_FAILURES},
    *,
};

/// A file in a fresh temporary directory (removed by the caller's guard).
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tracking-devices-{}-{name}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("devices.json");
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        Self(path)
    }

    fn write(&self, text: &str) {
        std::fs::write(&self.0, text).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap_or_else(|e| panic!("{e}"))
}

fn parse(text: &str) -> Result<DeviceCredentials, DeviceFileError> {
    DeviceCredentials::parse(text.as_bytes())
}

fn driver(id: &str) -> Option<DriverId> {
    Some(DriverId::parse(id).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn names_map_to_drivers_an_entry_with_a_device_only_for_that_device() {
    let creds = parse(
        r#"{"devices": [
            {"user": "alice", "driver": "d-1"},
            {"user": "alice", "driver": "d-2", "device": "ipad"},
            {"user": "bob", "driver": "d-3", "device": "phone"}
        ]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(creds.len(), 3);
    assert_eq!(creds.driver_for("alice", None), driver("d-1"));
    assert_eq!(creds.driver_for("alice", Some("iphone")), driver("d-1"));
    assert_eq!(creds.driver_for("alice", Some("ipad")), driver("d-2"));
    assert_eq!(creds.driver_for("bob", Some("phone")), driver("d-3"));
    assert_eq!(creds.driver_for("bob", Some("tablet")), None);
    assert_eq!(creds.driver_for("bob", None), None);
    assert_eq!(creds.driver_for("carol", None), None);
}

#[test]
fn a_bad_file_is_refused_naming_the_entry_and_the_reason() {
    for (text, says) in [
        (
            r#"{"devices": [{"user": "", "driver": "d-1"}]}"#,
            "user must not be empty",
        ),
        (
            r#"{"devices": [{"user": "a/b", "driver": "d-1"}]}"#,
            "contains '/'",
        ),
        (
            r#"{"devices": [{"user": "a", "driver": "d 1"}]}"#,
            "driver \"d 1\"",
        ),
        (
            r#"{"devices": [{"user": "a", "driver": "d-1", "password": "secret"}]}"#,
            "not a bcrypt hash",
        ),
        (
            r#"{"devices": [{"user": "a", "driver": "d-1"}, {"user": "a", "driver": "d-2"}]}"#,
            "entry 1: user \"a\" is listed twice",
        ),
        (
            r#"{"devices": [{"user": "a", "driver": "d-1", "device": "x"}, {"user": "a", "driver": "d-2", "device": "x"}]}"#,
            "listed twice",
        ),
        (
            r#"{"devices": [{"user": "a", "drivr": "d-1"}]}"#,
            "unknown field",
        ),
        (r#"[1, 2]"#, "not valid"),
    ] {
        match parse(text) {
            Ok(_) => panic!("{text} was accepted"),
            Err(e) => assert!(e.to_string().contains(says), "{text}: {e}"),
        }
    }
}

#[test]
fn htpasswd_and_python_hashes_are_accepted() {
    // `htpasswd -nbB u secret` writes $2y$, Python's bcrypt $2b$.
    let two_b = hash("secret");
    let two_y = two_b.replacen("$2b$", "$2y$", 1);
    let text = format!(
        r#"{{"devices": [{{"user": "a", "driver": "d-1", "password": "{two_b}"}},
            {{"user": "b", "driver": "d-2", "password": "{two_y}"}}]}}"#
    );
    let creds = parse(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(creds.stand_in_cost(), 4);
    assert!(bcrypt::verify("secret", &two_y).unwrap_or(false));
}

#[test]
fn a_missing_or_oversized_file_is_refused() {
    let missing = DeviceCredentials::load(std::path::Path::new("/nonexistent/devices.json"));
    assert!(matches!(missing, Err(DeviceFileError::Read { .. })));
    let big = TempFile::new("big", &" ".repeat(MAX_FILE_BYTES as usize + 1));
    assert!(matches!(
        DeviceCredentials::load(&big.0),
        Err(DeviceFileError::TooLarge { .. })
    ));
}

fn devices(text: &str) -> Devices {
    Devices::new(parse(text).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn basic_credentials_give_the_driver_and_wrong_ones_are_all_refused_alike() {
    let text = format!(
        r#"{{"devices": [{{"user": "alice", "driver": "d-1", "password": "{}"}},
            {{"user": "nopass", "driver": "d-2"}}]}}"#,
        hash("right")
    );
    let devices = devices(&text);
    assert_eq!(
        devices.verify_basic("alice", "right", None).await.ok(),
        driver("d-1")
    );
    // Cached: the same again answers without a check.
    assert_eq!(
        devices.verify_basic("alice", "right", Some("x")).await.ok(),
        driver("d-1")
    );
    for (user, password) in [("alice", "wrong"), ("nobody", "right"), ("nopass", "")] {
        assert_eq!(
            devices.verify_basic(user, password, None).await,
            Err(DeviceAuthError::Rejected),
            "{user}"
        );
    }
}

#[tokio::test]
async fn failed_attempts_lock_a_user_out_but_not_others() {
    let text = format!(
        r#"{{"devices": [{{"user": "alice", "driver": "d-1", "password": "{h}"}},
            {{"user": "bob", "driver": "d-2", "password": "{h}"}}]}}"#,
        h = hash("right")
    );
    let devices = devices(&text);
    for _ in 0..MAX_FAILURES {
        assert_eq!(
            devices.verify_basic("alice", "wrong", None).await,
            Err(DeviceAuthError::Rejected)
        );
    }
    match devices.verify_basic("alice", "right", None).await {
        Err(DeviceAuthError::TooManyAttempts { retry_after }) => {
            assert!(retry_after <= FAILURE_WINDOW)
        }
        other => panic!("not locked out: {other:?}"),
    }
    assert_eq!(
        devices.verify_basic("bob", "right", None).await.ok(),
        driver("d-2")
    );
}

#[tokio::test]
async fn a_reload_replaces_the_set_and_forgets_verified_passwords_and_a_bad_one_keeps_it() {
    let file = TempFile::new(
        "reload",
        &format!(
            r#"{{"devices": [{{"user": "alice", "driver": "d-1", "password": "{}"}}]}}"#,
            hash("old")
        ),
    );
    let devices = Devices::new(DeviceCredentials::load(&file.0).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(
        devices.verify_basic("alice", "old", None).await.ok(),
        driver("d-1")
    );
    file.write(&format!(
        r#"{{"devices": [{{"user": "alice", "driver": "d-9", "password": "{}"}}]}}"#,
        hash("new")
    ));
    devices.reload(&file.0).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        devices.verify_basic("alice", "old", None).await,
        Err(DeviceAuthError::Rejected)
    );
    assert_eq!(
        devices.verify_basic("alice", "new", None).await.ok(),
        driver("d-9")
    );
    file.write("{not json");
    assert!(devices.reload(&file.0).is_err());
    assert_eq!(devices.current().driver_for("alice", None), driver("d-9"));
}
