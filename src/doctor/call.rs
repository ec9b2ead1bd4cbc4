//! One request of the doctor: sent once (no retry: the doctor reports, it does not insist),
//! its body read up to a limit, its answer kept as status + JSON + a one-line description in
//! the server's words (code and message, never a credential).

use reqwest::Method;
use serde_json::Value;
use url::Url;

use crate::push::body::{BodyError, MAX_TARGET_BODY, read_limited};
use crate::push::reply;
use crate::push::{Credential, endpoint};

/// A server's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The body, when it is JSON.
    pub json: Option<Value>,
    /// "status code: message", at most [`reply::MAX_ERROR_BYTES`].
    pub describe: String,
}

impl Answer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The error body's `code` (Genesys), if any.
    pub fn code(&self) -> &str {
        self.json
            .as_ref()
            .and_then(|j| j["code"].as_str())
            .unwrap_or_default()
    }

    /// The permissions a Genesys 403 says are missing: the bracketed list of "You are
    /// missing the following permission(s): [a, b]", or the `messageParams` values.
    pub fn missing_permissions(&self) -> Option<String> {
        let json = self.json.as_ref()?;
        let message = json["message"].as_str().unwrap_or_default();
        let listed = message
            .split_once('[')
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(inside, _)| inside.trim().to_owned())
            .filter(|s| s.contains(':'));
        listed.or_else(|| {
            let params = json["messageParams"].as_object()?;
            let names: Vec<&str> = params.values().filter_map(Value::as_str).collect();
            (!names.is_empty()).then(|| names.join(", "))
        })
    }
}

/// `base` + `segments` (each percent-encoded), or an error naming the base.
pub fn url(base: &Url, segments: &[&str]) -> Result<Url, String> {
    endpoint(base, segments).ok_or_else(|| format!("{base} cannot hold a path"))
}

/// Sends `method url` with `credential` and an optional JSON body; `Err` is a transport
/// failure or an unreadable answer, described.
pub async fn send(
    http: &reqwest::Client,
    credential: &Credential,
    method: Method,
    url: Url,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let mut request = credential.apply(http.request(method, url.clone()));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{}: {}", host_of(&url), transport(&e)))?;
    let status = response.status().as_u16();
    let bytes = read_limited(response, MAX_TARGET_BODY)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit } => format!("answer over {limit} bytes"),
            BodyError::Transport(e) => transport(&e),
        })?;
    Ok(Answer {
        status,
        json: serde_json::from_slice(&bytes).ok(),
        describe: reply::describe("", status, &bytes)
            .trim_start_matches(": ")
            .to_owned(),
    })
}

/// `host:port` of `url`, for messages.
pub fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => url.to_string(),
    }
}

fn transport(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer before the timeout".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        "the connection failed".into()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn answer(json: Value) -> Answer {
        Answer {
            status: 403,
            json: Some(json),
            describe: String::new(),
        }
    }

    #[test]
    fn missing_permissions_are_read_from_the_message_or_the_params() {
        let listed = answer(json!({"code": "missing.permissions",
            "message": "You are missing the following permission(s): [architect:datatableRow:add]"}));
        assert_eq!(
            listed.missing_permissions().as_deref(),
            Some("architect:datatableRow:add")
        );
        assert_eq!(listed.code(), "missing.permissions");
        let params = answer(
            json!({"message": "Unable to perform the requested action. You are missing the following permission(s): {0}",
            "messageParams": {"0": "scripter:publishedScript:add"}}),
        );
        assert_eq!(
            params.missing_permissions().as_deref(),
            Some("scripter:publishedScript:add")
        );
        assert_eq!(
            answer(json!({"message": "Forbidden [x]"})).missing_permissions(),
            None
        );
    }
}
