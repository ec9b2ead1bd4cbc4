//! Genesys answering nonsense: a row that cannot be read is transient and never overwritten,
//! a written row with a nonsense body is delivered, and absurd `Retry-After` values wait
//! nothing, back off or are clamped.

use super::*;

#[tokio::test]
async fn genesys_a_row_that_cannot_be_read_is_transient_never_overwritten() {
    for body in [
        "<html>Service Unavailable</html>",
        r#"{"key":"s","version":"#,
    ] {
        let base = serve(vec![text(200, body)]).await;
        let target = genesys(&base);
        let mut jobs = [job("s", true)];
        let got = attempt(&target, &mut jobs).await;
        let e = failure(&got[0]);
        assert_eq!((e.class, e.status), (Class::Transient, Some(200)), "{body}");
        assert!(e.message.contains("unreadable row"), "{}", e.message);
        assert!(
            !jobs[0].steps.row_written,
            "no write after an unreadable row"
        );
    }
}

#[tokio::test]
async fn genesys_a_written_row_with_a_nonsense_body_is_delivered() {
    // The status says the row was written; the body of a write is never used.
    for body in ["<html>ok</html>", "", "{\"truncated"] {
        let base = serve(vec![text(200, body)]).await;
        let target = genesys(&base);
        let got = attempt(&target, &mut [job("s", false)]).await;
        assert!(matches!(got[0], Attempted::Delivered), "{body:?}: {got:?}");
    }
}

#[tokio::test]
async fn absurd_retry_after_values_wait_nothing_back_off_or_clamp() {
    let max = Duration::from_secs(300);
    // (Retry-After, the wait used: None = no hint, so the backoff step decides)
    let cases: [(&str, Option<(Duration, Duration)>); 7] = [
        ("-1", Some((Duration::ZERO, Duration::ZERO))),
        ("1e12", None),
        ("Infinity", None),
        (
            "Thu, 01 Jan 1970 00:00:00 GMT",
            Some((Duration::ZERO, Duration::ZERO)),
        ),
        ("Tue, 01 Jan 2999 00:00:00 GMT", Some((max, max + max / 10))),
        ("Wed, 01 Jan 2999 00:00:00 GMT", None), // a date with the wrong weekday
        ("99999999999999999999999", Some((max, max + max / 10))),
    ];
    for (value, expected) in cases {
        let base = serve(vec![(
            429,
            vec![("retry-after", value.into())],
            String::new(),
        )])
        .await;
        let target = genesys(&base);
        let got = attempt(&target, &mut [job("s", false)]).await;
        let e = failure(&got[0]);
        assert_eq!(e.status, Some(429), "{value}");
        assert!(
            matches!(e.class, Class::RateLimited { .. }),
            "{value}: {e:?}"
        );
        match expected {
            None => assert_eq!(e.wait, None, "{value}"),
            Some((low, high)) => {
                let wait = e.wait.unwrap_or_else(|| panic!("{value}: no wait"));
                assert!(low <= wait && wait <= high, "{value}: {wait:?}");
            }
        }
    }
}
