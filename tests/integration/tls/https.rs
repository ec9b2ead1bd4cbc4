//! HTTPS targets: with `http.ca_file` naming the test CA the worker delivers through the
//! TLS proxy in front of the simulator; without it the same setup fails on the certificate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_targets_with_the_ca_file_receive_changes() {
    let ca = TestCa::new("https-ok");
    let mut proxy = None;
    let app = spawn_app(&["tls-ok"], |s| {
        proxy = Some(https_to_simulator(s, &ca));
        s.http.ca_file = Some(ca.ca_file.clone());
    })
    .await;
    let proxy = proxy.unwrap();

    app.publish(&change("tls-ok", "s1", 1)).await;
    app.publish(&change("tls-ok", "s2", 3)).await;
    wait_delivered(&app, "tls-ok", "s1", 1).await;
    wait_delivered(&app, "tls-ok", "s2", 3).await;

    let state = app.sim_state().tenant("tls-ok");
    assert!(
        state.genesys.token_requests >= 1,
        "the token came over https too"
    );
    assert!(state.servicenow.token_requests >= 1);
    assert!(
        proxy.handshakes() >= 1,
        "requests went through the TLS proxy"
    );
    assert_eq!(proxy.refused(), 0, "every handshake verified");
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_without_the_ca_file_fails_on_the_certificate() {
    let ca = TestCa::new("https-no-ca");
    let mut proxy = None;
    let app = spawn_app(&["tls-no-ca"], |s| {
        proxy = Some(https_to_simulator(s, &ca));
        s.retry.initial = Duration::from_millis(50);
        s.retry.max_elapsed = Duration::from_secs(2);
    })
    .await;
    let proxy = proxy.unwrap();

    let mut c = change("tls-no-ca", "s1", 1);
    c = c
        .to_builder()
        .targets([scriptsync::change::TargetKind::Genesys])
        .build()
        .unwrap();
    app.publish(&c).await;
    app.wait_dlq(1).await;
    let dead = app.drain_dlq().await;
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    let dead = &dead[0];
    let reason = dead.header("x-scriptsync-reason");
    let error = dead.header("x-scriptsync-error").unwrap_or_default();
    println!("reason {reason:?}, error {error:?}");
    assert_eq!(reason.as_deref(), Some("exhausted"), "{error}");
    assert!(
        error.contains("certificate not trusted"),
        "the dead letter says why: {error}"
    );

    let state = app.sim_state().tenant("tls-no-ca");
    assert_eq!(
        state.genesys.total_requests(),
        0,
        "nothing reached the target"
    );
    assert_eq!(
        state.genesys.token_requests, 0,
        "no token was requested in clear"
    );
    assert!(proxy.refused() >= 1, "the client aborted the handshake");
    assert_eq!(proxy.handshakes(), 0);
    app.stop().await;
}
