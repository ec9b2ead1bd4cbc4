//! `Duration` fields written as text, the way people write them in a configuration file:
//! "250ms", "30s", "5m", "1h 30m" (the `humantime` crate's syntax: several parts add up, and
//! units may be spelled out, "2 hours", "1min"). Printed back the way `humantime` formats
//! them: "1h 30m", "250ms", "0s". Use it with `#[serde(with = "duration_text")]`.
//!
//! Text only: a number without a unit, or any other type, is refused with "expected a
//! duration". The simulator's configuration and the worker's both read durations through this
//! one adapter (the worker depends on this crate; nothing here depends on the worker).

use std::fmt;
use std::time::Duration;

use serde::{Deserializer, Serializer, de};

/// Writes `duration` as text ("1h 30m").
pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&humantime::format_duration(*duration).to_string())
}

/// Reads a duration from text ("30s", "1h 30m").
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(DurationText)
}

struct DurationText;

impl de::Visitor<'_> for DurationText {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        humantime::parse_duration(text)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        wait: Duration,
    }

    fn read(json: &str) -> Result<Duration, String> {
        serde_json::from_str::<Holder>(json)
            .map(|h| h.wait)
            .map_err(|e| e.to_string())
    }

    fn text_of(wait: Duration) -> String {
        let json = serde_json::to_value(Holder { wait }).unwrap();
        json["wait"].as_str().unwrap().to_owned()
    }

    #[test]
    fn every_written_form_is_read() {
        let secs = Duration::from_secs;
        for (text, want) in [
            ("250ms", Duration::from_millis(250)),
            ("30s", secs(30)),
            ("5m", secs(300)),
            ("1h", secs(3600)),
            ("1h 30m", secs(5400)),
            ("1h30m", secs(5400)),
            ("2 hours", secs(7200)),
            ("1min 5sec", secs(65)),
            ("1d", secs(86_400)),
            ("1s 500ms", Duration::from_millis(1500)),
            ("0s", Duration::ZERO),
        ] {
            assert_eq!(read(&format!(r#"{{"wait":"{text}"}}"#)), Ok(want), "{text}");
        }
    }

    #[test]
    fn durations_print_as_humantime_text_and_read_back() {
        for (wait, text) in [
            (Duration::from_millis(100), "100ms"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(1800), "30m"),
            (Duration::from_secs(5400), "1h 30m"),
            (Duration::from_secs(86_400), "1day"),
            (Duration::from_millis(1500), "1s 500ms"),
            (Duration::ZERO, "0s"),
        ] {
            assert_eq!(text_of(wait), text);
            assert_eq!(read(&format!(r#"{{"wait":"{text}"}}"#)), Ok(wait));
        }
    }

    #[test]
    fn bad_text_is_refused_naming_it() {
        let bad = |json: &str| read(json).unwrap_err();
        assert!(
            bad(r#"{"wait":"5 parsecs"}"#)
                .starts_with(r#"invalid value: string "5 parsecs", expected a duration"#)
        );
        assert!(
            bad(r#"{"wait":"30"}"#)
                .starts_with(r#"invalid value: string "30", expected a duration"#),
            "a number needs its unit"
        );
        assert!(bad(r#"{"wait":""}"#).contains("expected a duration"));
        assert!(
            bad(r#"{"wait":30}"#).starts_with("invalid type: integer `30`, expected a duration")
        );
    }
}
