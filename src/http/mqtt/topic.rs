//! The topic the ingest subscribes to (`--mqtt-topic`, default
//! `owntracks/+/+`) and what a message's topic names: the levels matched
//! by the filter's two `+` are the OwnTracks user and device, which the
//! credentials file maps to a driver.

/// The longest `--mqtt-topic` or `--mqtt-group`, in bytes.
const MAX_FILTER_BYTES: usize = 512;

/// A topic filter with exactly two single-level wildcards: the user's
/// level and the device's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFilter {
    text: String,
    levels: usize,
    user: usize,
    device: usize,
}

impl TopicFilter {
    /// Parses `--mqtt-topic`: `/`-separated levels, two of them `+` (the
    /// user's, then the device's), no `#` (a subtopic such as
    /// `owntracks/<user>/<device>/event` is not a location) and no other
    /// wildcard.
    pub fn parse(text: &str) -> Result<Self, String> {
        let expected = "it needs two `+` levels, the user's and the device's, \
                        such as owntracks/+/+";
        if text.is_empty() || text.len() > MAX_FILTER_BYTES || text.starts_with('$') {
            return Err(format!(
                "--mqtt-topic {text:?} is not a topic filter ({expected})"
            ));
        }
        let levels: Vec<&str> = text.split('/').collect();
        let wild: Vec<usize> = (0..levels.len()).filter(|&i| levels[i] == "+").collect();
        let stray = levels
            .iter()
            .any(|l| *l != "+" && (l.contains('+') || l.contains('#')) || l.contains('\0'));
        if wild.len() != 2 || stray {
            return Err(format!("--mqtt-topic {text:?}: {expected} (and no `#`)"));
        }
        Ok(Self {
            text: text.to_owned(),
            levels: levels.len(),
            user: wild[0],
            device: wild[1],
        })
    }

    /// The filter as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The shared subscription of `group`: `$share/<group>/<filter>`.
    pub fn shared(&self, group: &str) -> String {
        format!("$share/{group}/{}", self.text)
    }

    /// The user and device a message's topic names; `None` when the topic
    /// does not fit the filter or names an empty user or device.
    pub fn user_device<'t>(&self, topic: &'t str) -> Option<(&'t str, &'t str)> {
        let mut user = None;
        let mut device = None;
        let mut count = 0;
        for (i, level) in topic.split('/').enumerate() {
            count += 1;
            if i == self.user {
                user = Some(level);
            } else if i == self.device {
                device = Some(level);
            }
        }
        match (user, device) {
            (Some(u), Some(d)) if count == self.levels && !u.is_empty() && !d.is_empty() => {
                Some((u, d))
            }
            _ => None,
        }
    }
}

/// Checks `--mqtt-group`: a share name (no `/`, `+` or `#`).
pub fn check_group(group: &str) -> Result<(), String> {
    if group.is_empty() || group.len() > MAX_FILTER_BYTES || group.contains(['/', '+', '#', '\0']) {
        return Err(format!(
            "--mqtt-group {group:?} is not a share name (letters, digits, `-`, `_`; no `/`, `+` or `#`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_filter_names_user_and_device() {
        let filter = TopicFilter::parse("owntracks/+/+").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            filter.user_device("owntracks/alice/phone"),
            Some(("alice", "phone"))
        );
        assert_eq!(filter.user_device("owntracks/alice/phone/event"), None);
        assert_eq!(filter.user_device("owntracks/alice"), None);
        assert_eq!(filter.user_device("owntracks//phone"), None);
        assert_eq!(filter.shared("tracking"), "$share/tracking/owntracks/+/+");
    }

    #[test]
    fn other_filters_place_the_wildcards_anywhere() {
        let filter = TopicFilter::parse("fleet/+/gps/+").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            filter.user_device("fleet/bob/gps/tab"),
            Some(("bob", "tab"))
        );
    }

    #[test]
    fn filters_without_two_wildcards_are_refused() {
        for bad in [
            "",
            "owntracks/#",
            "owntracks/+",
            "owntracks/+/+/#",
            "a/b+/+/+",
            "$SYS/+/+",
        ] {
            assert!(TopicFilter::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_group("tracking").is_ok());
        for bad in ["", "a/b", "a+", "#"] {
            assert!(check_group(bad).is_err(), "{bad:?} accepted");
        }
    }
}
