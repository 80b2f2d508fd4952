//! Attacks on the webhook flags: what a refused URL's error shows, and a
//! secret that holds a comma.

use std::time::Duration;

use tracking::{domain::ServiceAreas, startup::Config};

/// The delivery plan `args` make, or its one-line error.
fn plan(args: &[&str]) -> Result<usize, String> {
    let mut all = vec!["tracking"];
    all.extend_from_slice(args);
    let config = Config::parse_ignoring_env(all).map_err(|e| e.to_string())?;
    config
        .events
        .delivery_plan(&ServiceAreas::everywhere(), Duration::from_secs(10))
        .map(|plan| plan.map_or(0, |p| p.routes.len()))
}

/// A URL's user info, path and query may hold a secret (the code says so:
/// logs show scheme, host and port only). A URL refused at start must not
/// print them either: the error goes to the terminal and the logs.
#[test]
fn atk_a_refused_webhook_url_never_shows_its_password_or_token() {
    for url in [
        // An invalid port: not a URL.
        "https://ops:hunter2@hooks.example.com:99999/in?token=s3cr3t",
        // A scheme the service does not send to.
        "ftp://ops:hunter2@hooks.example.com/in?token=s3cr3t",
    ] {
        let error = plan(&["--webhook", url, "--webhook-secret", "k"])
            .expect_err("a bad webhook URL is refused");
        assert!(
            !error.contains("hunter2") && !error.contains("s3cr3t"),
            "the error shows the URL's secrets: {error}"
        );
    }
}

/// `--webhook-secret` is documented as repeatable (one secret a flag), not
/// as comma-separated: a secret holding a comma must sign as itself (or be
/// refused at start), never silently become two other secrets, whose
/// signatures no receiver holding the real secret can verify.
#[test]
fn atk_a_webhook_secret_with_a_comma_is_not_split_into_two() {
    let secret = "Zk9,q8#x";
    let mut all = vec!["tracking", "--webhook", "http://127.0.0.1:9/x"];
    all.extend(["--webhook-secret", secret]);
    match Config::parse_ignoring_env(all) {
        Err(_) => {}
        Ok(config) => assert_eq!(
            config.events.webhook_secrets,
            [secret],
            "the secret given is the secret that signs"
        ),
    }
}
