//! [`Outcome`]: what the import transform did with one record, rendered as one element of an
//! Import Set API response's `result` (`status` inserted, updated, ignored, skipped or error;
//! `error_message` for errors, `status_message` otherwise).

use serde_json::{Value, json};

use super::transform::{TARGET_TABLE, TRANSFORM_MAP};

/// The outcome of one record, as one element of an import response's `result`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// inserted, updated, ignored, skipped or error.
    pub(crate) status: &'static str,
    pub(crate) script_id: String,
    pub(crate) sys_id: String,
    pub(crate) message: Option<String>,
}

impl Outcome {
    /// The import response's `result` element.
    pub(crate) fn to_json(&self, base_url: &str) -> Value {
        let mut result = json!({
            "transform_map": TRANSFORM_MAP,
            "table": TARGET_TABLE,
            "display_name": "u_script_id",
            "display_value": self.script_id,
            "record_link": format!("{base_url}/api/now/table/{TARGET_TABLE}/{}", self.sys_id),
            "status": self.status,
            "sys_id": self.sys_id,
        });
        let key = if self.status == "error" {
            "error_message"
        } else {
            "status_message"
        };
        if let Some(message) = &self.message {
            result[key] = json!(message);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_to_the_field_of_their_status() {
        let outcome = |status, message: &str| Outcome {
            status,
            script_id: "s1".into(),
            sys_id: "abc".into(),
            message: Some(message.into()),
        };
        let error = outcome("error", "bad").to_json("http://x");
        assert_eq!(
            (error["error_message"].clone(), error.get("status_message")),
            (json!("bad"), None)
        );
        let skipped = outcome("skipped", "older").to_json("http://x");
        assert_eq!(skipped["status_message"], "older");
        assert_eq!(
            skipped["record_link"],
            "http://x/api/now/table/u_scriptsync_script/abc"
        );
    }
}
