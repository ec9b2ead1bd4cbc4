//! Tenant isolation end to end: two tenants with different credentials on
//! one simulator, the real worker and RabbitMQ.
//!
//! A change of tenant A is only ever sent with A's token to A's configured endpoints, and
//! nothing in a message chooses a URL or host: hostile script ids become literal row keys in
//! A's own data table (one percent-encoded path segment) and literal `u_script_id`s in A's
//! ServiceNow records. Asserted on the simulator's records: which principal wrote each tenant's
//! rows and records (`tokens_seen`), every path each principal's token reached (`paths`), the
//! requests no endpoint matched (`unrouted`) and the logins (`token_requests`).

use crate::common;

use std::collections::BTreeSet;

use common::{change, spawn_app_with_sim};
use scriptsync::config::{Secret, SecretString};
use scriptsync_sim::{SimTarget, fixtures};

const A: &str = "iso-a";
const B: &str = "iso-b";

/// Script ids that would reach another path, host or tenant if they were spliced into a URL.
const HOSTILE: &[&str] = &[
    "../../oauth/token",
    "../../../../oauth_token.do",
    "http://evil.example/x",
    "//evil.example/x",
    "%2e%2e/x",
    "%2F..%2Frows",
    "a/b?c#d",
    "?grant_type=client_credentials",
    "#frag",
    "/api/v2/flows/datatables/table-iso-b/rows/stolen",
    "...",
    "..;/x",
    "x\\..\\y",
    "s p a c e",
    "ünïcødé/→",
];

/// Dot-segments: no URL path can hold them as a row key (even encoded, they address the
/// parent path), so the Genesys push refuses them without a request; ServiceNow, where the id
/// travels in the body, takes them literally.
const DOTS: &[&str] = &[".", ".."];

/// The ids Genesys cannot take as row keys (dot-segments, `/`, `\`): dead-lettered as
/// `invalid_key` for Genesys at intake, delivered literally to ServiceNow.
fn not_a_key(id: &str) -> bool {
    scriptsync::targets::genesys::table::key_problem(id).is_some()
}

fn table(tenant: &str) -> String {
    format!("table-{tenant}")
}

fn secret(tenant: &str) -> String {
    format!("secret-of-{tenant}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_is_sent_with_its_own_token_to_its_own_endpoints_and_ids_stay_literal() {
    let sim = fixtures::accepting([(A, secret(A)), (B, secret(B))]);
    let app = spawn_app_with_sim(&[A, B], sim, |s| {
        for t in &mut s.tenants {
            let g = t.genesys.as_mut().unwrap();
            g.client_secret = Secret::inline(SecretString::from(secret(&t.id).as_str()));
            g.datatable_id = table(&t.id);
            let sn = t.servicenow.as_mut().unwrap();
            sn.client_secret = Some(Secret::inline(SecretString::from(secret(&t.id).as_str())));
        }
    })
    .await;

    // A: every hostile id, plus one script B also has; B: its own ids and the shared one.
    let mut a_ids: BTreeSet<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    a_ids.insert("shared".into());
    let dots: BTreeSet<String> = DOTS.iter().map(|s| s.to_string()).collect();
    let b_ids: BTreeSet<String> = ["shared", "b-only", "stolen"].map(String::from).into();
    for id in a_ids.iter().chain(&dots) {
        app.publish(&change(A, id, 7)).await;
    }
    for id in &b_ids {
        app.publish(&change(B, id, 1)).await;
    }
    // A message on A's routing key naming B as its tenant: refused, never sent as either.
    let forged = serde_json::to_vec(&change(B, "forged", 9)).unwrap();
    app.publish_raw(A, &forged).await;

    app.wait_settled(A, (a_ids.len() + dots.len()) as u64 + 1)
        .await;
    app.wait_settled(B, b_ids.len() as u64).await;

    // A second round: the rows exist now, so every id is written through its own row path
    // (`PUT …/rows/{id}`), which proves each id travels as one literal path segment.
    for id in &a_ids {
        app.publish(&change(A, id, 8)).await;
    }
    for id in &b_ids {
        app.publish(&change(B, id, 2)).await;
    }
    app.wait_settled(A, (2 * a_ids.len() + dots.len()) as u64 + 1)
        .await;
    app.wait_settled(B, 2 * b_ids.len() as u64).await;

    // Each id Genesys cannot take is refused once per version published: the dots once, the
    // other hostile ones in both rounds.
    let refused: BTreeSet<String> = a_ids.iter().filter(|id| not_a_key(id)).cloned().collect();
    assert!(dots.iter().all(|d| not_a_key(d)));
    app.wait_dlq(1 + dots.len() as u32 + 2 * refused.len() as u32)
        .await;
    let mut dead: Vec<_> = app
        .drain_dlq()
        .await
        .iter()
        .map(|d| {
            let c: serde_json::Value = serde_json::from_slice(&d.body).unwrap();
            let header = |h| d.header(h).unwrap_or_default();
            (
                c["script_id"].as_str().unwrap_or_default().to_string(),
                header("x-scriptsync-reason"),
                header("x-scriptsync-targets"),
            )
        })
        .collect();
    dead.sort();
    let letter = |id: &String| (id.clone(), "invalid_key".to_string(), "genesys".to_string());
    let mut expected: Vec<(String, String, String)> = dots
        .iter()
        .map(letter)
        .chain(refused.iter().flat_map(|id| [letter(id), letter(id)]))
        .collect();
    expected.push(("forged".into(), "invalid".into(), String::new()));
    expected.sort();
    assert_eq!(
        dead.iter()
            .map(|(id, reason, targets)| (id.clone(), reason.clone(), {
                if reason == "invalid" {
                    String::new()
                } else {
                    targets.clone()
                }
            }))
            .collect::<Vec<(String, String, String)>>(),
        expected,
        "the forged tenant is invalid; ids that cannot be row keys are refused for Genesys only"
    );
    assert_eq!(app.depth(&app.names.tenant_queue(A)).await, 0);
    assert_eq!(app.depth(&app.names.tenant_queue(B)).await, 0);

    let state = app.sim_state();
    assert!(
        state.unrouted.is_empty(),
        "requests reached no endpoint: {:?}",
        state.unrouted
    );
    assert_eq!(
        state.tenants.keys().collect::<Vec<_>>(),
        [A, B],
        "no other principal or tenant was recorded"
    );
    for (tenant, ids, version) in [(A, &a_ids, 8), (B, &b_ids, 2)] {
        let t = state.tenant(tenant);
        for target in [SimTarget::Genesys, SimTarget::Servicenow] {
            let s = t.target(target);
            let held: BTreeSet<String> = s.held.keys().cloned().collect();
            let mut expected = ids.clone();
            match target {
                SimTarget::Servicenow if tenant == A => expected.extend(dots.iter().cloned()),
                SimTarget::Genesys => expected.retain(|id| !not_a_key(id)),
                SimTarget::Servicenow => {}
            }
            assert_eq!(
                held, expected,
                "{tenant} {target:?}: exactly its ids, literally"
            );
            // Dot ids went once (round one, version 7); the rest twice.
            let expected_version = |id: &String| if dots.contains(id) { 7 } else { version };
            assert!(
                s.held
                    .iter()
                    .all(|(id, h)| h.version == expected_version(id))
            );
            assert_eq!(
                s.tokens_seen,
                BTreeSet::from([tenant.to_string()]),
                "{tenant} {target:?}: written with its own token only"
            );
            assert_eq!(s.token_requests, 1, "{tenant} {target:?}: one login");
            assert_eq!(s.answered(401), 0);
        }
        // Every path the tenant's Genesys token reached is in its own data table; each row
        // key is one path segment (the simulator refuses a PUT whose path key differs from
        // the body's key, so a held key proves the path decoded to the literal id).
        let rows = format!("/api/v2/flows/datatables/{}/rows", table(tenant));
        for path in t.genesys.paths.keys() {
            // The org's limits and the listing at start, creations (new rows), then
            // updates by row path.
            let limits = "GET /api/v2/organizations/limits/namespaces/platform.api";
            let ok = path == limits
                || path == &format!("GET {rows}")
                || path == &format!("POST {rows}")
                || path
                    .strip_prefix(&format!("PUT {rows}/"))
                    .is_some_and(|key| !key.is_empty() && !key.contains(['/', '?', '#']));
            assert!(ok, "{tenant}: Genesys request outside its table: {path}");
        }
        let puts = t
            .genesys
            .paths
            .keys()
            .filter(|p| p.starts_with("PUT "))
            .count();
        let keys = ids.iter().filter(|id| !not_a_key(id)).count();
        assert_eq!(puts, keys, "{tenant}: one row path per script id");
        let sn_paths: Vec<_> = t.servicenow.paths.keys().collect();
        assert_eq!(
            sn_paths,
            ["POST /api/now/v1/batch"],
            "{tenant}: ServiceNow paths"
        );
    }
    println!(
        "isolation: {} hostile ids of {A} held literally ({} that cannot be row keys, and \".\" \
         and \"..\", refused for Genesys without a request, held literally by ServiceNow) in \
         its own table and records; {A} \
         wrote with {:?}/{:?}, {B} with {:?}/{:?}; Genesys paths {A}: {}, {B}: {}; 0 unrouted; \
         forged tenant dead-lettered as invalid",
        HOSTILE.len(),
        refused.len(),
        state.tenant(A).genesys.tokens_seen,
        state.tenant(A).servicenow.tokens_seen,
        state.tenant(B).genesys.tokens_seen,
        state.tenant(B).servicenow.tokens_seen,
        state.tenant(A).genesys.paths.len(),
        state.tenant(B).genesys.paths.len(),
    );
    app.stop().await;
}
