//! A JSON array on stdin published with the worker's AMQP properties, and the library
//! publisher (`ChangePublisher`) refusing an unknown tenant and confirming a known one.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_on_stdin_is_published_with_the_worker_s_properties() {
    let app = spawn_app(&["pub-props"], |_| {}).await;
    // The tenant's queue as the worker would declare it, with no worker consuming it.
    let queue = app.names.tenant_queue("pub-parked");
    app.bind_queue(&queue, "pub-parked").await;
    let config = app.write_config();
    let changes: Vec<ScriptChange> = (1..=3)
        .map(|n| serde_json::from_str(&good_line("pub-parked", n)).unwrap())
        .collect();
    let array = serde_json::to_string_pretty(&changes).unwrap();
    let (code, out, err) = run_cli_with_stdin(
        &["publish", "--config", config.to_str().unwrap(), "-"],
        array.as_bytes(),
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("read 3, invalid 0, published 3"), "{out}");

    let ch = app.conn.create_channel().await.unwrap();
    for expected in &changes {
        let msg = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .expect("each change is in the tenant's queue, in order");
        let props = &msg.delivery.properties;
        let body: ScriptChange = serde_json::from_slice(&msg.delivery.data).unwrap();
        assert_eq!(&body, expected);
        assert_eq!(msg.delivery.routing_key.as_str(), "pub-parked");
        assert_eq!(props.delivery_mode(), &Some(2), "persistent");
        assert_eq!(
            props.content_type().as_ref().map(|c| c.as_str()),
            Some("application/json")
        );
        assert_eq!(
            props.message_id().as_ref().map(|m| m.as_str()),
            Some(expected.id())
        );
        let now = time::OffsetDateTime::now_utc().unix_timestamp() as u64;
        assert!(props.timestamp().is_some_and(|t| t > 0 && t <= now));
        let headers = props.headers().clone().unwrap_or_default();
        let traceparent = match headers.inner().get("traceparent") {
            Some(AMQPValue::LongString(s)) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
            other => panic!("traceparent header: {other:?}"),
        };
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [2, 32, 16, 2]
        );
    }
    app.delete_queue(&queue).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_library_publisher_refuses_an_unknown_tenant_and_confirms_a_known_one() {
    let app = spawn_app(&["pub-api"], |_| {}).await;
    let mut publisher = ChangePublisher::connect(&app.settings.broker)
        .await
        .unwrap();
    let known = ScriptChange::builder("api-1", "pub-api", "welcome", 1, "h1")
        .build()
        .unwrap();
    publisher.publish(&known).await.unwrap();
    let ghost = ScriptChange::builder("api-2", "pub-api-ghost", "welcome", 1, "h1")
        .build()
        .unwrap();
    let refused = publisher.publish(&ghost).await.unwrap_err();
    assert!(
        matches!(&refused, PublishFailure::Unroutable { tenant, .. } if tenant == "pub-api-ghost"),
        "{refused}"
    );
    app.wait_settled("pub-api", 1).await;
    publisher.close().await;

    // A prefix whose topology nobody declared is a clear error, not a failed publish later.
    let mut elsewhere = app.settings.broker.clone();
    elsewhere.prefix = format!("{}-undeclared", elsewhere.prefix);
    let err = ChangePublisher::connect(&elsewhere).await.err().unwrap();
    assert!(err.to_string().contains("does not exist"), "{err}");
    app.stop().await;
}
