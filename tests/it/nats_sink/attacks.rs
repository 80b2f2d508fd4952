//! Attacks on `--nats-url`: a refused URL's error must not show the user,
//! password or token a NATS URL commonly carries.

use tracking::dispatch::delivery::NatsSettings;

#[test]
fn atk_a_refused_nats_url_never_shows_its_password_or_token() {
    for url in [
        // An invalid port.
        "nats://ops:hunter2@nats.example.com:99999",
        // Not a NATS scheme.
        "http://ops:hunter2@nats.example.com:4222",
        // A token in a cluster's second URL, with no host.
        "nats://nats.example.com:4222,nats://hunter2@",
    ] {
        let error = NatsSettings::parse_servers(url).expect_err(url);
        assert!(error.contains("--nats-url"), "{url}: {error}");
        assert!(
            !error.contains("hunter2"),
            "the error shows the URL's secret: {error}"
        );
    }
}
