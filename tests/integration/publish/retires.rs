//! Retires through `scriptsync publish`: a valid one published and arriving byte for byte,
//! an invalid one refused with a clear message.

use super::*;

/// A retire goes out like a change, from the library and from `scriptsync publish`: routed
/// by tenant, with its id as message id, and its body byte for byte what was given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retire_is_published_and_arrives_byte_for_byte() {
    let app = spawn_app(&["pub-ret"], |_| {}).await;
    // The tenant's queue as the worker would declare it, with no worker consuming it.
    let queue = app.names.tenant_queue("pub-ret-parked");
    app.bind_queue(&queue, "pub-ret-parked").await;

    let mut publisher = ChangePublisher::connect(&app.settings.broker)
        .await
        .unwrap();
    let retire = ScriptChange::retire_builder("lib-retire", "pub-ret-parked", "welcome", 9)
        .priority(scriptsync::change::Priority::Compliance)
        .build()
        .unwrap();
    publisher.publish(&retire).await.unwrap();
    publisher.close().await;
    let (body, id) = next_message(&app, &queue).await;
    assert_eq!(body, serde_json::to_vec(&retire).unwrap());
    assert_eq!(id.as_deref(), Some("lib-retire"));
    let decoded = scriptsync::change::decode(&body, "pub-ret-parked", 65_536).unwrap();
    assert_eq!(
        (decoded.operation(), &decoded),
        (Operation::Retire, &retire)
    );

    let lines = [
        good_line("pub-ret-parked", 1),
        retire_line("pub-ret-parked", 2),
    ];
    let config = app.write_config();
    let (code, out, err) = publish_file(&config, "retire.jsonl", &lines.join("\n")).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("read 2, invalid 0, published 2"), "{out}");
    for line in &lines {
        let (body, _) = next_message(&app, &queue).await;
        assert_eq!(String::from_utf8(body).unwrap(), *line);
    }
    app.delete_queue(&queue).await;
    app.stop().await;
}

/// An invalid retire is refused before anything is sent, saying which line and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_retire_is_refused_with_a_clear_message() {
    let app = spawn_app(&["pub-ret-bad"], |_| {}).await;
    let queue = app.names.tenant_queue("pub-ret-bad-parked");
    app.bind_queue(&queue, "pub-ret-bad-parked").await;
    let good = retire_line("pub-ret-bad-parked", 1);
    let text = [
        good.clone(),
        good.replace(r#""version":41"#, r#""version":41,"version_hash":"h41""#),
        good.replace(r#""version":41"#, r#""version":0"#),
        good.replace("script-retire/v1", "script-retire/v2"),
    ]
    .join("\n");
    let config = app.write_config();
    let (code, out, err) = publish_file(&config, "bad-retires.jsonl", &text).await;
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("read 4, invalid 3, published 1"), "{out}");
    let problems = problem_lines(&err);
    assert_eq!(
        problems,
        [
            "line 2: invalid: not a valid script change: version_hash: unknown field \
             `version_hash`, expected one of `schema`, `id`, `tenant`, `script_id`, `version`, \
             `published_at`, `targets`, `priority`",
            "line 3: invalid: not a valid script change: version must be between 1 and \
             9007199254740991",
            "line 4: invalid: not a valid script change: schema must be \"script-change/v1\" or \
             \"script-retire/v1\", got \"script-retire/v2\"",
        ],
        "{err}"
    );
    app.wait_depth(&queue, 1).await;
    let (body, _) = next_message(&app, &queue).await;
    assert_eq!(String::from_utf8(body).unwrap(), good);
    app.delete_queue(&queue).await;
    app.stop().await;
}
