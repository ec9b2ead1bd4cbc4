//! A file of a thousand lines with three invalid ones: each reported by number and field,
//! the rest published and delivered; a tenant without a queue reported as unroutable;
//! `--dry-run` validating without connecting.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_lines_with_three_invalid_publish_997_and_the_worker_delivers_them() {
    let app = spawn_app(&["pub-rt"], |_| {}).await;
    let config = app.write_config();
    let (text, newest) = publish_lines("pub-rt");
    let (code, out, err) = publish_file(&config, "changes.jsonl", &text).await;

    assert_eq!(code, 1, "three lines failed: exit 1\n{out}\n{err}");
    let problems = problem_lines(&err);
    assert_eq!(problems.len(), 3, "{err}");
    for ((line, field), problem) in BAD_LINES.iter().zip(&problems) {
        assert!(
            problem.starts_with(&format!("line {line}: invalid: ")) && problem.contains(field),
            "line {line} names {field}: {problem}"
        );
    }
    assert!(
        out.contains("read 1000, invalid 3, published 997, unroutable 0, failed 0"),
        "{out}"
    );

    app.wait_settled("pub-rt", 997).await;
    eventually("the simulator holds every script's newest version", || {
        let state = app.sim_state();
        let held = |target: &scriptsync_sim::TargetState| {
            newest
                .iter()
                .all(|(s, v)| held_version(target, s) == Some(*v))
        };
        let t = state.tenant("pub-rt");
        async move { held(&t.genesys) && held(&t.servicenow) }
    })
    .await;
    assert_eq!(
        app.depth(&app.names.dlq()).await,
        0,
        "nothing dead-lettered"
    );
    app.stop().await;
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_a_queue_is_unroutable_and_not_counted_as_published() {
    let app = spawn_app(&["pub-known"], |_| {}).await;
    let config = app.write_config();
    let text = [
        good_line("pub-known", 1),
        good_line("pub-ghost", 2),
        good_line("pub-ghost", 3),
        good_line("pub-known", 4),
    ]
    .join("\n");
    let (code, out, err) = publish_file(&config, "mixed.jsonl", &text).await;

    assert_eq!(code, 1, "{out}\n{err}");
    let problems = problem_lines(&err);
    assert_eq!(problems.len(), 2, "{err}");
    for (line, problem) in [2, 3].iter().zip(&problems) {
        assert!(
            problem.starts_with(&format!("line {line}: unroutable"))
                && problem.contains(&app.names.tenant_queue("pub-ghost")),
            "{problem}"
        );
    }
    assert!(
        out.contains("read 4, invalid 0, published 2, unroutable 2, failed 0"),
        "{out}"
    );
    // The known tenant's changes arrive; the ghost's were never sent, so the worker (which
    // dead-letters whatever reaches the unrouted queue) has nothing of them.
    app.wait_settled("pub-known", 2).await;
    assert_eq!(app.depth(&app.names.dlq()).await, 0);
    assert_eq!(app.depth(&app.names.unrouted()).await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_validates_without_connecting() {
    let dir = std::env::temp_dir().join(format!("scriptsync-dry-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // Only [broker], no tenants: enough for a publisher. Nothing listens on port 1, so any
    // connection attempt would fail the run.
    let config = write_input(
        &dir,
        "publisher.toml",
        "[broker]\nurl = \"amqp://127.0.0.1:1/%2f\"\nprefix = \"nowhere\"\n",
    );
    let config = config.to_str().unwrap();
    let (text, _) = publish_lines("pub-dry");
    let input = write_input(&dir, "changes.jsonl", &text);
    let (code, out, err) = dry_run(config, &input).await;
    assert_eq!(code, 1, "{out}\n{err}");
    let lines: Vec<String> = problem_lines(&err)
        .iter()
        .map(|p| p.split(':').next().unwrap().to_owned())
        .collect();
    assert_eq!(lines, ["line 100", "line 500", "line 900"], "{err}");
    assert!(
        out.contains("dry run: read 1000, invalid 3, valid 997, published 0"),
        "{out}"
    );

    let clean: String = (1..=20).map(|n| good_line("pub-dry", n) + "\n").collect();
    let clean = write_input(&dir, "clean.jsonl", &clean);
    let (code, out, err) = dry_run(config, &clean).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("valid 20"), "{out}");
    assert!(err.is_empty(), "{err}");

    // The README's config for the simulator serves a publisher as it is: only [broker] is
    // read, so the tenants' secret (SCRIPTSYNC_SIM_SECRET) is not needed.
    let sim_config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/sim.toml");
    let (code, out, err) = dry_run(sim_config, &clean).await;
    assert_eq!(code, 0, "{out}\n{err}");

    // Without --dry-run the same clean file needs the broker, and says it cannot reach it.
    let (code, _, err) = run_cli(&["publish", "--config", config, clean.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(err.contains("cannot connect to RabbitMQ"), "{err}");

    let missing = dir.join("missing.jsonl");
    let (code, _, err) = run_cli(&["publish", "--dry-run", missing.to_str().unwrap()]).await;
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("cannot read input {}", missing.display())),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
