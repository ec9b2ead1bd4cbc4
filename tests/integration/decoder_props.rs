//! Property tests over the message decoder: no input, however hostile, makes it panic, and
//! whatever it accepts (a change or a retire) re-encodes to a body it accepts again.

use proptest::prelude::*;
use scriptsync::change::{Operation, ScriptChange, decode};

const LIMIT: usize = 64 * 1024;

fn json_like() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        "[a-z0-9._-]{0,20}".prop_map(|s| format!("\"{s}\"")),
        Just("\"script-change/v1\"".to_string()),
        Just("\"script-retire/v1\"".to_string()),
        Just("\"2026-11-27T10:00:00Z\"".to_string()),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(
                (
                    prop_oneof![
                        Just("schema"),
                        Just("id"),
                        Just("tenant"),
                        Just("script_id"),
                        Just("version"),
                        Just("version_hash"),
                        Just("published_at"),
                        Just("targets"),
                        Just("attributes"),
                        Just("x"),
                    ],
                    inner
                ),
                0..10
            )
            .prop_map(|kv| format!(
                "{{{}}}",
                kv.iter()
                    .map(|(k, v)| format!("\"{k}\":{v}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..2048), key in "[a-z]{0,8}") {
        let _ = decode(&body, &key, LIMIT);
    }

    #[test]
    fn json_shaped_input_never_panics(body in json_like(), key in "[a-z]{1,8}") {
        let _ = decode(body.as_bytes(), &key, LIMIT);
    }

    #[test]
    fn accepted_changes_round_trip(tenant in "[A-Za-z0-9][A-Za-z0-9._-]{0,20}", script in ".{1,40}", version in 1u64..9_007_199_254_740_991, hash in "[a-f0-9]{1,64}", disclaimer in proptest::option::of(".{0,200}")) {
        let mut builder = ScriptChange::builder("id-1", tenant.clone(), script, version, hash)
            .published_at("2026-11-27T10:00:00Z");
        if let Some(d) = disclaimer {
            builder = builder.disclaimer(d);
        }
        let change = builder.build().expect("generated fields satisfy the schema");
        let body = serde_json::to_vec(&change).unwrap();
        let decoded = decode(&body, &tenant, LIMIT).expect("a valid change decodes");
        prop_assert_eq!(decoded, change);
    }

    #[test]
    fn accepted_retires_round_trip(tenant in "[A-Za-z0-9][A-Za-z0-9._-]{0,20}", script in ".{1,40}", version in 1u64..9_007_199_254_740_991) {
        let retire = ScriptChange::retire_builder("id-1", tenant.clone(), script, version)
            .published_at("2026-11-27T10:00:00Z")
            .build()
            .expect("generated fields satisfy the schema");
        let body = serde_json::to_vec(&retire).unwrap();
        let decoded = decode(&body, &tenant, LIMIT).expect("a valid retire decodes");
        prop_assert_eq!(decoded.operation(), Operation::Retire);
        prop_assert_eq!(decoded, retire);
    }
}
