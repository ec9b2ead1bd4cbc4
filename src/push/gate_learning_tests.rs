//! Unit tests of how a Genesys gate learns its share of the org's quota from a 429 (the
//! requests it let through in the window the 429 ends), probes upward from it, never cuts
//! deeper than half at once, and cuts once per throttling episode (a storm of refusals until
//! a probe comes back clean; a 503 is no refusal of the quota); on paused tokio time.

use super::tests::far;
use super::*;

/// A Genesys gate for a quota of `quota` per 60 s window.
fn genesys_gate(quota: u32) -> Gate {
    let config = GateConfig::learning_window(quota, Duration::from_secs(60), 0.9, 4);
    assert!(config.learns_from_429);
    Gate::new("t1", TargetKind::Genesys, config, Arc::new(Metrics::new()))
}

#[tokio::test(start_paused = true)]
async fn a_429_teaches_the_share_the_window_really_gave() {
    let g = genesys_gate(40);
    assert_eq!(g.snapshot().ceiling_per_minute, 36.0);
    // 30 requests 0.5 s apart from the window's start; the one let through 15 s in is
    // refused, and the answer comes back at 15.5 s: the window ends in 44.5 s.
    let t0 = Instant::now();
    for i in 0..30 {
        g.note_issued(t0 + Duration::from_millis(500 * i));
    }
    let refused = t0 + Duration::from_secs(15);
    g.note_issued(refused);
    tokio::time::advance(Duration::from_millis(15_500)).await;
    g.on_rate_limited(refused, Some(Duration::from_millis(44_500)));
    let snap = g.snapshot();
    // 30 let through before the refused one, × 0.9 headroom, per 60 s window.
    assert_eq!((snap.per_minute, snap.ceiling_per_minute), (27.0, 27.0));
    // A second 429 for a request that was in flight with it teaches nothing new.
    g.on_rate_limited(
        refused - Duration::from_millis(1),
        Some(Duration::from_secs(44)),
    );
    assert_eq!(g.snapshot().per_minute, 27.0);
    // The windows are fixed: one ends 44.5 s after the 429, the next 60 s later.
    let now = Instant::now();
    let end = now + Duration::from_millis(44_500);
    assert_eq!(g.window_end_after(now), Some(end));
    tokio::time::advance(Duration::from_secs(50)).await;
    assert_eq!(
        g.window_end_after(Instant::now()),
        Some(end + Duration::from_secs(60))
    );
}

#[tokio::test(start_paused = true)]
async fn a_learned_share_is_probed_upward_by_growing_steps_up_to_the_configured_ceiling() {
    let g = genesys_gate(120);
    let t0 = Instant::now();
    for _ in 0..100 {
        g.note_issued(t0);
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    g.on_rate_limited(Instant::now(), Some(Duration::from_secs(59)));
    assert_eq!(
        g.snapshot().ceiling_per_minute,
        90.0,
        "100 × 0.9 per minute"
    );
    // Clean windows probe upward by 2 %, 4 %, 8 %, … (at most 32 %).
    tokio::time::advance(Duration::from_secs(60)).await;
    drop(g.acquire(far()).await.unwrap());
    assert!((g.snapshot().ceiling_per_minute - 91.8).abs() < 1e-6);
    tokio::time::advance(Duration::from_secs(120)).await;
    drop(g.acquire(far()).await.unwrap());
    let probed = g.snapshot().ceiling_per_minute;
    assert!((probed - 91.8 * 1.04 * 1.08).abs() < 1e-6, "{probed}");
    // A few windows later the probe has met the configured ceiling, and stays there.
    tokio::time::advance(Duration::from_secs(180)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().ceiling_per_minute, 108.0);
}

#[tokio::test(start_paused = true)]
async fn a_429_point_never_cuts_deeper_than_half_at_once() {
    // Configured for 3× what the org gives: the first 429 point (few requests seen yet, e.g.
    // a 429 that was about another limit) halves the rate at most, like AIMD.
    let g = genesys_gate(900);
    assert_eq!(g.snapshot().ceiling_per_minute, 810.0);
    g.on_rate_limited(Instant::now(), Some(Duration::from_secs(30)));
    assert_eq!(g.snapshot().ceiling_per_minute, 405.0);
}

#[tokio::test(start_paused = true)]
async fn a_reported_limit_caps_the_ceiling_and_a_long_wait_teaches_nothing() {
    let g = genesys_gate(900);
    // The org says 300 per window: 270 per minute after headroom.
    g.observe_limit(300);
    assert_eq!(g.snapshot().ceiling_per_minute, 270.0);
    assert_eq!(g.snapshot().per_minute, 270.0);
    // A 429 whose wait is longer than the window (a daily limit) is no window's end: the
    // rate is halved (AIMD) and nothing is learned.
    g.on_rate_limited(Instant::now(), Some(Duration::from_secs(3_600)));
    let snap = g.snapshot();
    assert_eq!((snap.per_minute, snap.ceiling_per_minute), (135.0, 270.0));
    assert_eq!(g.window_end_after(Instant::now()), None);
}

/// `g` told by the server to wait `wait` (kept whole) for a request let through at `at`.
fn refuse(g: &Gate, at: Instant, refusal: Refusal, wait: Option<Duration>) -> Option<Duration> {
    g.throttled(at, refusal, wait, |w| w, Duration::from_millis(200))
}

/// The next request let through (the probe, after a pause) is refused.
async fn refuse_next(g: &Gate, wait: Option<Duration>) {
    let permit = g.acquire(far()).await.unwrap();
    refuse(g, permit.issued_at(), Refusal::Quota, wait);
}

#[tokio::test(start_paused = true)]
async fn a_busy_server_pauses_the_gate_but_teaches_nothing_of_the_quota() {
    let g = genesys_gate(300);
    let t0 = Instant::now();
    for _ in 0..20 {
        g.note_issued(t0);
    }
    tokio::time::advance(Duration::from_secs(1)).await;
    let wait = Some(Duration::from_secs(3));
    let kept = refuse(&g, Instant::now(), Refusal::Busy, wait);
    // 503 with Retry-After: the wait is kept, the rate is not touched.
    assert_eq!(kept, Some(Duration::from_secs(3)));
    assert_eq!(g.paused_for(), Some(Duration::from_secs(3)));
    let snap = g.snapshot();
    assert_eq!((snap.per_minute, snap.ceiling_per_minute), (270.0, 270.0));
    // The same answer as a 429 is the quota's: 20 requests in the window teach a share (never
    // below half the rate it had).
    tokio::time::advance(Duration::from_secs(4)).await;
    refuse(&g, Instant::now(), Refusal::Quota, wait);
    assert_eq!(g.snapshot().ceiling_per_minute, 135.0);
}

#[tokio::test(start_paused = true)]
async fn a_storm_of_refusals_cuts_once_until_a_probe_comes_back_clean() {
    let g = genesys_gate(300);
    drop(g.acquire(far()).await.unwrap()); // the first request probes alone; now open
    // Five 429s in a row without a hint, each on the probe after the last one's pause.
    for _ in 0..5 {
        refuse_next(&g, None).await;
    }
    assert_eq!(g.snapshot().per_minute, 135.0, "one episode, one cut");
    // A probe comes back clean: the episode is over, and the next refusal cuts again.
    drop(g.acquire(far()).await.unwrap());
    refuse_next(&g, None).await;
    assert_eq!(g.snapshot().per_minute, 67.5);
    // The same with waits that end the window: the first teaches (never below half), the
    // storm's later ones teach nothing more.
    let g = genesys_gate(300);
    drop(g.acquire(far()).await.unwrap());
    for _ in 0..4 {
        refuse_next(&g, Some(Duration::from_secs(2))).await;
    }
    assert_eq!(g.snapshot().ceiling_per_minute, 135.0);
}
