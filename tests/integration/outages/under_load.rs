//! Found by the chaos run (seed 20261204): a ServiceNow outage shorter than the retry budget
//! (503 without `Retry-After`, 20 s; the default budget's backoff alone spans 81 s) while the
//! tenant's changes keep flowing must dead-letter nothing: every change is delivered after it.

use super::*;

const SHORT_OUTAGE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_outage_under_steady_load_dead_letters_nothing() {
    const TENANT: &str = "out-load";
    // The production retry settings: 10 attempts, 200 ms doubling to 30 s, 300 s.
    let app = spawn_app(&[TENANT], |_| {}).await;
    let mut published = Published::default();
    published.versions(&app, TENANT, 0..40, 1..=1).await;
    app.wait_settled(TENANT, published.messages).await;
    app.sim.set_faults(
        Some(TENANT),
        SimTarget::Servicenow,
        Faults {
            outage: Some(Outage::new(OutageMode::Unavailable, SHORT_OUTAGE)),
            ..Faults::default()
        },
    );
    let started = Instant::now();
    // Eight changes a second on 40 scripts, through the outage and a little after.
    let mut version = 2;
    while started.elapsed() < SHORT_OUTAGE + Duration::from_secs(5) {
        let scripts = (version as usize * 8) % 40;
        for i in scripts..scripts + 8 {
            let c = change(TENANT, &format!("s{}", i % 40), version);
            published.publish(&app, &c).await;
        }
        version += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    within("every change settled", Duration::from_secs(120), || async {
        app.settled(TENANT) >= published.messages
    })
    .await;
    let dead = app.drain_dlq().await;
    let reasons: Vec<String> = dead
        .iter()
        .map(|d| {
            format!(
                "{} attempts {}",
                d.header("x-scriptsync-reason").unwrap_or_default(),
                d.header("x-scriptsync-attempts").unwrap_or_default()
            )
        })
        .collect();
    assert!(dead.is_empty(), "dead-lettered: {reasons:?}");
    assert_nothing_lost(&app, TENANT, &published, &dead).await;
    println!(
        "a {SHORT_OUTAGE:?} ServiceNow outage under {} changes: nothing dead-lettered, {} \
         requests answered 503",
        published.messages,
        app.sim_state().tenant(TENANT).servicenow.answered(503)
    );
    app.stop().await;
}
