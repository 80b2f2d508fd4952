//! A webhook the service cannot use stops the start with one line naming
//! it: a malformed URL, no secret to sign with, an unknown event type, too
//! many webhooks. An unreachable one does not.

use crate::common::ServiceProcess;

fn refused(args: &[&str], expected: &str) {
    let (ok, stderr) = ServiceProcess::run_to_exit(args);
    assert!(!ok, "{args:?}: must not start");
    assert_eq!(stderr.trim().lines().count(), 1, "{args:?}: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: {stderr}");
}

#[test]
fn a_webhook_the_service_cannot_use_stops_the_start_in_one_line() {
    refused(
        &["--webhook", "ftp://example.com/x", "--webhook-secret", "s"],
        "http:// or https://",
    );
    refused(&["--webhook", "not a url", "--webhook-secret", "s"], "not a URL");
    refused(&["--webhook", "http://127.0.0.1:9/x"], "--webhook-secret");
    refused(
        &[
            "--webhook",
            "http://127.0.0.1:9/x",
            "--webhook-secret",
            "s",
            "--webhook-types",
            "RIDE_COMPLETED,RIDE_EXPLODED",
        ],
        "RIDE_EXPLODED",
    );
    let many: Vec<String> = (0..17).map(|i| format!("http://127.0.0.1:9/{i}")).collect();
    let mut args = vec!["--webhook-secret", "s"];
    for url in &many {
        args.extend(["--webhook", url.as_str()]);
    }
    refused(&args, "at most 16");
}
