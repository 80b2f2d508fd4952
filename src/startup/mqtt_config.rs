//! The OwnTracks-over-MQTT flags (`--mqtt-url`, `--mqtt-topic`, …),
//! flattened into `Config`, and the ingest settings they make: the URL and
//! the credentials checked (a password given twice, an unreadable password
//! or CA file, a topic without its two `+` levels stop the start), and
//! `--device-credentials` required (topics name devices; the file maps
//! them to drivers). An unreachable broker is not an error: it is retried.

use std::path::PathBuf;

use super::error::StartError;
use crate::http::mqtt::{broker, topic, Broker, BrokerUrl, MqttSettings, TopicFilter};

/// The MQTT ingest's flags.
#[derive(Debug, Clone, clap::Args)]
pub struct MqttConfig {
    /// Subscribe to OwnTracks locations on this MQTT broker
    /// (`mqtt://host:1883`, or `mqtts://host:8883`); needs
    /// --device-credentials. A user and password in the URL are never
    /// logged.
    #[arg(long = "mqtt-url", env = "TRACKING_MQTT_URL", hide_env_values = true)]
    pub mqtt_url: Option<String>,

    /// The PEM CA bundle an `mqtts://` broker's certificate is checked
    /// against, as the only root (by default the system's roots).
    #[arg(long = "mqtt-ca", env = "TRACKING_MQTT_CA")]
    pub mqtt_ca: Option<PathBuf>,

    /// The user name given to the broker (instead of the URL's).
    #[arg(long = "mqtt-username", env = "TRACKING_MQTT_USERNAME")]
    pub mqtt_username: Option<String>,

    /// The password given to the broker (never logged).
    #[arg(
        long = "mqtt-password",
        env = "TRACKING_MQTT_PASSWORD",
        hide_env_values = true,
        conflicts_with = "mqtt_password_file"
    )]
    pub mqtt_password: Option<String>,

    /// A file holding the password given to the broker (its first line).
    #[arg(long = "mqtt-password-file", env = "TRACKING_MQTT_PASSWORD_FILE")]
    pub mqtt_password_file: Option<PathBuf>,

    /// The topic filter subscribed to; its two `+` levels are the
    /// OwnTracks user and device, mapped to a driver by --device-credentials.
    #[arg(
        long = "mqtt-topic",
        env = "TRACKING_MQTT_TOPIC",
        default_value = "owntracks/+/+"
    )]
    pub mqtt_topic: String,

    /// The shared subscription's group (`$share/<group>/<topic>`):
    /// instances with the same group split the messages between them.
    #[arg(
        long = "mqtt-group",
        env = "TRACKING_MQTT_GROUP",
        default_value = "tracking"
    )]
    pub mqtt_group: String,

    /// The MQTT client id, unique per instance (by default
    /// `tracking-<random>`, new at each start); a fixed one lets a
    /// restarted instance take back its session within 5 minutes.
    #[arg(long = "mqtt-client-id", env = "TRACKING_MQTT_CLIENT_ID")]
    pub mqtt_client_id: Option<String>,
}

/// The longest password file read.
const MAX_PASSWORD_FILE_BYTES: u64 = 64 * 1024;

impl MqttConfig {
    /// The ingest's settings when `--mqtt-url` is given (`None` without
    /// it); `device_credentials`: whether `--device-credentials` is.
    pub fn settings(&self, device_credentials: bool) -> Result<Option<MqttSettings>, StartError> {
        let config = |message: String| StartError::Config(message);
        let Some(url) = &self.mqtt_url else {
            if self.mqtt_ca.is_some()
                || self.mqtt_username.is_some()
                || self.mqtt_password.is_some()
                || self.mqtt_password_file.is_some()
                || self.mqtt_client_id.is_some()
            {
                return Err(config(
                    "--mqtt-ca, --mqtt-username, --mqtt-password(-file) and \
                     --mqtt-client-id need --mqtt-url"
                        .into(),
                ));
            }
            return Ok(None);
        };
        if !device_credentials {
            return Err(config(
                "--mqtt-url needs --device-credentials: the file that maps each \
                 OwnTracks user and device (the topic's two `+` levels) to a driver"
                    .into(),
            ));
        }
        let url = BrokerUrl::parse(url).map_err(config)?;
        let topic = TopicFilter::parse(&self.mqtt_topic).map_err(config)?;
        topic::check_group(&self.mqtt_group).map_err(config)?;
        if self.mqtt_ca.is_some() && !url.tls {
            return Err(config("--mqtt-ca needs an mqtts:// --mqtt-url".into()));
        }
        let flag_password = match (&self.mqtt_password, &self.mqtt_password_file) {
            (Some(password), _) => Some(password.clone()),
            (None, Some(file)) => Some(read_password(file)?),
            (None, None) => None,
        };
        if flag_password.is_some() && url.password.is_some() {
            return Err(config(
                "the MQTT password is given twice (in --mqtt-url and as a flag); give it once"
                    .into(),
            ));
        }
        let username = self.mqtt_username.clone().or(url.username);
        let password = flag_password.or(url.password);
        if password.is_some() && username.is_none() {
            return Err(config(
                "an MQTT password needs a user name (--mqtt-username or in --mqtt-url)".into(),
            ));
        }
        let tls = match url.tls {
            true => Some(std::sync::Arc::new(
                broker::tls_config(self.mqtt_ca.as_deref()).map_err(config)?,
            )),
            false => None,
        };
        let client_id = match &self.mqtt_client_id {
            Some(id) if id.is_empty() || id.len() > 256 => {
                return Err(config("--mqtt-client-id must be 1 to 256 bytes".into()))
            }
            Some(id) => id.clone(),
            None => format!("tracking-{:016x}", rand::random::<u64>()),
        };
        Ok(Some(MqttSettings {
            broker: Broker {
                host: url.host,
                port: url.port,
                tls,
                username,
                password,
            },
            topic,
            group: self.mqtt_group.clone(),
            client_id,
        }))
    }
}

/// The password in `file`: its first line.
fn read_password(file: &std::path::Path) -> Result<String, StartError> {
    let shown = file.display();
    let too_big = std::fs::metadata(file)
        .map(|m| m.len() > MAX_PASSWORD_FILE_BYTES)
        .unwrap_or(false);
    if too_big {
        return Err(StartError::Config(format!(
            "--mqtt-password-file {shown} is larger than {MAX_PASSWORD_FILE_BYTES} bytes"
        )));
    }
    let text = std::fs::read_to_string(file).map_err(|e| {
        StartError::Config(format!("cannot read --mqtt-password-file {shown}: {e}"))
    })?;
    let password = text.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        return Err(StartError::Config(format!(
            "--mqtt-password-file {shown} holds no password on its first line"
        )));
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        mqtt: MqttConfig,
    }

    fn settings(args: &[&str]) -> Result<Option<MqttSettings>, String> {
        let flags = Flags::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        flags.mqtt.settings(true).map_err(|e| e.to_string())
    }

    #[test]
    fn flags_make_the_settings() {
        let made = settings(&["--mqtt-url", "mqtt://ingest:s3cret@127.0.0.1:1884"])
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("settings"));
        assert_eq!(made.broker.shown(), "mqtt://127.0.0.1:1884");
        assert_eq!(made.broker.password.as_deref(), Some("s3cret"));
        assert_eq!(
            made.topic.shared(&made.group),
            "$share/tracking/owntracks/+/+"
        );
        assert!(made.client_id.starts_with("tracking-"));
        assert!(!format!("{made:?}").contains("s3cret"), "{made:?}");
        assert!(settings(&[]).unwrap_or_else(|e| panic!("{e}")).is_none());
    }

    #[test]
    fn contradictions_stop_the_start() {
        for bad in [
            &["--mqtt-url", "mqtt://u:p@h", "--mqtt-password", "q"][..],
            &["--mqtt-url", "mqtt://h", "--mqtt-password", "q"],
            &["--mqtt-url", "mqtt://h", "--mqtt-ca", "/nonexistent.pem"],
            &["--mqtt-url", "mqtt://h", "--mqtt-topic", "owntracks/#"],
            &["--mqtt-url", "mqtt://h", "--mqtt-group", "a/b"],
            &["--mqtt-topic", "x/+/+", "--mqtt-username", "u"],
            &["--mqtt-url", "mqtts://h", "--mqtt-ca", "/nonexistent.pem"],
            &[
                "--mqtt-url",
                "mqtt://h",
                "--mqtt-username",
                "u",
                "--mqtt-password-file",
                "/nonexistent",
            ],
        ] {
            assert!(settings(bad).is_err(), "{bad:?} accepted");
        }
        let flags = Flags::try_parse_from(["t", "--mqtt-url", "mqtt://h"])
            .unwrap_or_else(|e| panic!("{e}"));
        let refused = flags.mqtt.settings(false).err().map(|e| e.to_string());
        assert!(
            refused.unwrap_or_default().contains("--device-credentials"),
            "MQTT without a credentials file"
        );
    }
}
