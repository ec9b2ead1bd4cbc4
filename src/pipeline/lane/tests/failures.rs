//! How a lane lives through failures: every 429 form pauses it for the server's wait with
//! nothing sent into the pause, 5xx back off until the failure budget is spent, waits the
//! server asked for spend none of it, and a permanent refusal gives up at once.

use std::time::SystemTime;

use super::*;

#[tokio::test(start_paused = true)]
async fn every_429_form_pauses_the_lane_for_the_servers_wait_and_nothing_goes_into_it() {
    let in_secs = |n: u64| SystemTime::now() + Duration::from_secs(n);
    let date = httpdate::fmt_http_date(in_secs(10));
    let reset = in_secs(12)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let body = r#"{"message":"Rate limit exceeded the maximum. Retry the request in [8] seconds","status":429}"#;
    // (form, target, the answer, the least gap before the retry)
    let rows: Vec<(&str, TargetKind, Scripted, Duration)> = vec![
        (
            "Retry-After seconds",
            G,
            http(429, &[("retry-after", "7")], ""),
            Duration::from_secs(7),
        ),
        (
            "Retry-After HTTP-date",
            G,
            http(429, &[("retry-after", &date)], ""),
            Duration::from_secs(8),
        ),
        (
            "Genesys body seconds",
            G,
            http(429, &[], body),
            Duration::from_secs(8),
        ),
        (
            "503 with Retry-After",
            S,
            http(503, &[("retry-after", "6")], ""),
            Duration::from_secs(6),
        ),
        (
            "X-RateLimit-Reset",
            S,
            http(429, &[("x-ratelimit-reset", &reset)], ""),
            Duration::from_secs(10),
        ),
        (
            "no hint: the throttle backoff",
            G,
            Scripted::status(429),
            Duration::from_millis(100),
        ),
    ];
    for (form, kind, answer, least) in rows {
        let lane = answering(kind, vec![answer]);
        lane.offer("s", 1, Priority::Normal);
        lane.until(form, |r, _| reached(r, "s", 1)).await;
        let requests = lane.requests();
        assert_eq!(requests.len(), 2, "{form}: one 429, one retry");
        let gap = requests[1].at - requests[0].at;
        assert!(
            gap >= least,
            "{form}: retried after {gap:?}, before {least:?}"
        );
        assert!(
            requests.iter().all(|r| !r.into_pause),
            "{form}: a request went into the pause"
        );
        assert!(failed(&lane.reports.lock()).is_none(), "{form}");
    }
}

#[tokio::test(start_paused = true)]
async fn five_hundreds_back_off_until_the_failure_budget_is_spent() {
    let retry = RetrySettings {
        max_attempts: 3,
        ..RetrySettings::default()
    };
    let target = ScriptedTarget::new(G, 1, vec![Scripted::status(503); 5]);
    let lane = start(target, retry.clone(), Duration::from_secs(3_600));
    lane.offer("s", 1, Priority::Normal);
    lane.until("the change fails", |r, _| failed(r).is_some())
        .await;
    let failure = failed(&lane.reports.lock()).cloned().unwrap();
    assert_eq!(
        (failure.reason, failure.attempts),
        (FailureReason::Exhausted, 3)
    );
    assert_eq!(lane.requests().len(), 3);

    // Two failures, then an answer: within the budget, the change is delivered.
    let answers = vec![Scripted::status(502), Scripted::status(500)];
    let lane = start(
        ScriptedTarget::new(G, 1, answers),
        retry,
        Duration::from_secs(3_600),
    );
    lane.offer("s", 1, Priority::Normal);
    lane.until("delivered on the third try", |r, _| reached(r, "s", 1))
        .await;
    assert_eq!(lane.requests().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn waits_the_server_asked_for_spend_none_of_the_failure_budget() {
    let retry = RetrySettings {
        max_attempts: 1,
        ..RetrySettings::default()
    };
    let answers = vec![http(429, &[("retry-after", "1")], ""); 5];
    let lane = start(
        ScriptedTarget::new(G, 1, answers),
        retry,
        Duration::from_secs(3_600),
    );
    lane.offer("s", 1, Priority::Normal);
    lane.until("delivered after five 429s", |r, _| reached(r, "s", 1))
        .await;
    assert_eq!(lane.requests().len(), 6);
    assert!(failed(&lane.reports.lock()).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_permanent_refusal_gives_up_after_one_request() {
    let lane = answering(G, vec![Scripted::status(400)]);
    lane.offer("s", 1, Priority::Normal);
    lane.until("the change fails", |r, _| failed(r).is_some())
        .await;
    let failure = failed(&lane.reports.lock()).cloned().unwrap();
    assert_eq!(
        (failure.reason, failure.attempts),
        (FailureReason::Permanent, 1)
    );
    assert_eq!(lane.requests().len(), 1);
}
