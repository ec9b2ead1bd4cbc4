//! `dlq purge`: without `--yes` it refuses, says how many letters match and deletes nothing
//! (the CLI and the library alike); with `--yes` only the matching letters go.

use crate::common::{run_cli, spawn_app};
use scriptsync::dlq::Filter;
use scriptsync::dlq::list::inspect;
use scriptsync::dlq::purge::purge;

use super::{fill_dlq, tenant, tool_publisher};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_without_yes_refuses_and_deletes_nothing() {
    let app = spawn_app(&["pg"], |_| {}).await;
    fill_dlq(&app, "pg", 5).await;
    fill_dlq(&app, "other", 3).await;
    app.wait_dlq(8).await;
    let before = app.peek_dlq().await;
    let config = app.write_config();
    let config = config.to_str().unwrap();
    let (code, out, err) = run_cli(&["dlq", "--config", config, "purge", "--tenant", "pg"]).await;
    assert_eq!(code, 2, "refused: {out} {err}");
    assert!(err.contains("refusing to purge without --yes"), "{err}");
    assert!(err.contains("5 message(s) match"), "{err}");
    app.wait_depth(&app.names.dlq(), 8).await;
    assert_eq!(app.peek_dlq().await, before, "nothing deleted");
    let publisher = tool_publisher(&app).await;
    let refused = purge(
        &app.conn,
        &app.names,
        &publisher,
        &tenant("pg"),
        None,
        false,
    )
    .await
    .unwrap();
    assert!(refused.refused && refused.deleted == 0);
    app.wait_depth(&app.names.dlq(), 8).await;
    assert_eq!(app.peek_dlq().await, before, "nothing deleted");
    // With --yes: only the matches go.
    let (code, out, err) = run_cli(&[
        "dlq", "--config", config, "purge", "--tenant", "pg", "--yes",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("purged 5 deleted, 3 kept"), "{out}");
    app.wait_depth(&app.names.dlq(), 3).await;
    let left = inspect(&app.conn, &app.names, &publisher, &Filter::default(), None)
        .await
        .unwrap();
    assert_eq!(left.matched.len(), 3);
    assert!(
        left.matched
            .iter()
            .all(|r| r.tenant.as_deref() == Some("other"))
    );
    app.stop().await;
}
