//! AMQPS: with `broker.ca_file` the worker consumes and delivers through the TLS proxy in
//! front of the local RabbitMQ; without it the connection is refused on the certificate.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_with_the_ca_file_consumes_and_delivers() {
    let ca = TestCa::new("amqps-ok");
    let rabbit: SocketAddr = "127.0.0.1:5672".parse().unwrap();
    let proxy = TlsProxy::start(ca.acceptor.clone(), rabbit);
    let amqps = format!("amqps://localhost:{}/%2f", proxy.addr.port());
    let app = spawn_app(&["amqps-ok"], |s| {
        s.broker.url = amqps.clone();
        s.broker.ca_file = Some(ca.ca_file.clone());
    })
    .await;

    // The worker's only broker URL is the amqps:// one: a delivery proves it consumed (and
    // acked) over TLS.
    app.publish(&change("amqps-ok", "s1", 2)).await;
    wait_delivered(&app, "amqps-ok", "s1", 2).await;
    app.wait_settled("amqps-ok", 1).await;
    assert!(
        proxy.handshakes() >= 2,
        "the test's connection and the worker's both went through TLS"
    );
    assert_eq!(proxy.refused(), 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqps_without_the_ca_file_is_refused_on_the_certificate() {
    let ca = TestCa::new("amqps-no-ca");
    let proxy = TlsProxy::start(ca.acceptor.clone(), "127.0.0.1:5672".parse().unwrap());
    let mut settings = Settings::default();
    settings.broker.url = format!("amqps://localhost:{}/%2f", proxy.addr.port());

    let attempt = tokio::time::timeout(DEADLINE, broker::connect(&settings.broker, "tls test"))
        .await
        .expect("the connection attempt ends");
    let Err(err) = attempt else {
        panic!("an untrusted broker certificate must be refused");
    };
    let err = format!("{err:#}");
    println!("{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    assert_eq!(proxy.handshakes(), 0);
}
