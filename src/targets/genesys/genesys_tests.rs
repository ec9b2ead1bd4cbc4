//! Unit tests of the row's shape and of reading a row's version.

use super::*;

fn change(disclaimer: Option<&str>) -> ScriptChange {
    let mut v = json!({
        "schema": "script-change/v1", "id": "c-1", "tenant": "t1", "script_id": "s/1",
        "version": 7, "version_hash": "h7", "published_at": "2026-01-01T00:00:00Z",
    });
    if let Some(d) = disclaimer {
        v["disclaimer"] = json!(d);
    }
    serde_json::from_value(v).unwrap()
}

#[test]
fn row_body_has_the_design_fields_and_omits_absent_ones() {
    let row = row_body(&change(Some("Calls are recorded")));
    assert_eq!(
        row,
        json!({"key": "s/1", "version": 7, "versionHash": "h7", "disclaimer": "Calls are recorded",
               "changeId": "c-1", "publishedAt": "2026-01-01T00:00:00Z"})
    );
    let row = row_body(&change(None));
    assert!(row.get("disclaimer").is_none() && row.get("campaignId").is_none());
}

#[test]
fn row_version_accepts_numbers_and_strings() {
    let reply = |body: &str| Reply {
        status: 200,
        headers: Default::default(),
        body: body.as_bytes().to_vec(),
        attempts: 1,
        correlation_id: None,
    };
    assert_eq!(row_version(&reply(r#"{"key":"s","version":5}"#)), Some(5));
    assert_eq!(row_version(&reply(r#"{"key":"s","version":"6"}"#)), Some(6));
    assert_eq!(row_version(&reply(r#"{"key":"s","version":7.0}"#)), Some(7));
    assert_eq!(row_version(&reply(r#"{"key":"s"}"#)), None);
    assert_eq!(row_version(&reply("nope")), None);
}
