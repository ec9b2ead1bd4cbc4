//! The Python and Node examples run as a publisher would run them: their changes and retires
//! are published with the right properties and the worker delivers them.

use super::*;

#[tokio::test]
async fn python_and_node_examples_publish_changes_the_worker_delivers() {
    let mut runnable = Vec::new();
    for example in [&PYTHON, &NODE] {
        if should_run(example).await {
            runnable.push(example);
        }
    }
    if runnable.is_empty() {
        return;
    }

    let app = spawn_app(&["acme"], |s| {
        for tenant in &mut s.tenants {
            if let Some(genesys) = &mut tenant.genesys {
                genesys.publish_scripts = true;
            }
        }
    })
    .await;
    // A second queue on the tenant's key sees the same messages as the worker: the
    // properties are read there.
    let copies = app.bind_parking_queue("acme").await;
    // Retires go to a tenant no worker serves: only what the examples send is checked here.
    let retired = app.names.tenant_queue("acme-retired");
    app.bind_queue(&retired, "acme-retired").await;

    for (i, example) in runnable.iter().enumerate() {
        let script = format!("example-{}", example.script.replace('.', "-"));
        let version = 3 + i as u64;
        let id = format!("example-{}", uuid::Uuid::new_v4());
        run_example(example, &example_args(&app, "acme", &script, version, &id)).await;
        let change = assert_properties(&app, &copies, "acme", &id, example.name).await;
        assert_eq!(change.operation(), Operation::Upsert, "{}", example.name);

        let retire_id = format!("example-retire-{}", uuid::Uuid::new_v4());
        let args = retire_args(&app, "acme-retired", &script, version + 1, &retire_id);
        run_example(example, &args).await;
        let retire =
            assert_properties(&app, &retired, "acme-retired", &retire_id, example.name).await;
        assert_eq!(retire.operation(), Operation::Retire, "{}", example.name);
        assert_eq!(
            (retire.script_id(), retire.version()),
            (script.as_str(), version + 1)
        );

        eventually(
            &format!("{}: v{version} of {script} at both targets", example.name),
            || async {
                let acme = app.sim_state().tenant("acme");
                [&acme.genesys, &acme.servicenow].iter().all(|target| {
                    target
                        .held
                        .get(&script)
                        .is_some_and(|h| h.version == version && h.change_id == id)
                })
            },
        )
        .await;
        let genesys = app.sim_state().tenant("acme").genesys;
        assert_eq!(
            genesys.held[&script].disclaimer.as_deref(),
            Some("Calls are recorded — gravações (example)")
        );
        eventually(&format!("{}: {script} published", example.name), || async {
            let published = app.sim_state().tenant("acme").genesys.published;
            published
                .iter()
                .any(|p| p.script_id == script && p.version_id == GENESYS_VERSION_ID)
        })
        .await;
    }

    // No queue for this tenant: the broker confirms (the alternate exchange takes it), and the
    // worker dead-letters it as unknown_tenant.
    let example = runnable[0];
    let id = format!("example-unrouted-{}", uuid::Uuid::new_v4());
    run_example(example, &example_args(&app, "initech", "s", 1, &id)).await;
    app.wait_dlq(1).await;
    let letters = app.drain_dlq().await;
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].header("x-scriptsync-reason").as_deref(),
        Some("unknown_tenant")
    );
    assert_eq!(
        letters[0].header("x-scriptsync-routing-key").as_deref(),
        Some("initech")
    );

    app.delete_queue(&copies).await;
    app.delete_queue(&retired).await;
    assert_eq!(app.sim_state().total_violations(), 0);
    app.stop().await;
}
