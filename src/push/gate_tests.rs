//! Unit tests of the gate on paused tokio time: rate, shared pause, concurrency cap, AIMD.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn gate(per_minute: f64, burst: u32, max_concurrency: usize) -> Arc<Gate> {
    let config = GateConfig {
        per_minute,
        burst,
        max_concurrency,
        headroom: 0.9,
        recovery_period: crate::push::rate::RECOVERY_PERIOD,
        window: crate::push::rate::RECOVERY_PERIOD,
        learns_from_429: false,
    };
    Arc::new(Gate::new(
        "t1",
        TargetKind::Genesys,
        config,
        Arc::new(Metrics::new()),
    ))
}

pub(super) fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

#[tokio::test(start_paused = true)]
async fn the_bucket_spaces_requests_at_the_rate() {
    let g = gate(60.0, 1, 10);
    let start = Instant::now();
    for _ in 0..4 {
        drop(g.acquire(far()).await.unwrap());
    }
    // 60/min, burst 1: t=0, 1, 2, 3 s.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_burst_goes_at_once_then_the_rate_holds() {
    let g = gate(60.0, 3, 10);
    let start = Instant::now();
    for _ in 0..3 {
        drop(g.acquire(far()).await.unwrap());
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(start.elapsed(), Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn nothing_passes_while_paused() {
    let g = gate(6000.0, 10, 10);
    let start = Instant::now();
    g.pause_until(start + Duration::from_secs(5));
    assert!(g.paused_for().is_some());
    let permit = g.acquire(far()).await.unwrap();
    assert!(permit.issued_at() >= start + Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_pause_set_while_waiting_for_a_token_is_honoured() {
    // Burst used up: the next caller waits ~1 s for a token; meanwhile a 429 pauses 10 s.
    let g = gate(60.0, 1, 10);
    let start = Instant::now();
    drop(g.acquire(far()).await.unwrap());
    let waiter = tokio::spawn({
        let g = g.clone();
        async move { g.acquire(far()).await.unwrap().issued_at() }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    g.pause_until(start + Duration::from_secs(10));
    let issued = waiter.await.unwrap();
    assert!(
        issued >= start + Duration::from_secs(10),
        "{:?}",
        issued - start
    );
}

#[tokio::test(start_paused = true)]
async fn the_pause_is_never_shortened() {
    let g = gate(6000.0, 10, 10);
    let start = Instant::now();
    g.pause_until(start + Duration::from_secs(10));
    g.pause_until(start + Duration::from_secs(3));
    assert_eq!(g.paused_for(), Some(Duration::from_secs(10)));
}

#[tokio::test(start_paused = true)]
async fn a_pause_past_the_deadline_fails_now() {
    let g = gate(6000.0, 10, 10);
    let start = Instant::now();
    g.pause_until(start + Duration::from_secs(30));
    let got = g.acquire(start + Duration::from_secs(20)).await;
    assert_eq!(got.unwrap_err(), ClosedPastDeadline);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_capped_until_permits_drop() {
    let g = gate(60_000.0, 100, 2);
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (g, running, peak) = (g.clone(), running.clone(), peak.clone());
            tokio::spawn(async move {
                let _permit = g.acquire(far()).await.unwrap();
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    assert_eq!(g.snapshot().in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn aimd_halves_once_per_wave_and_recovers_per_clean_minute() {
    let g = gate(100.0, 10, 4);
    drop(g.acquire(far()).await.unwrap()); // the first request probes alone; now open
    let permits: Vec<_> = [
        g.acquire(far()).await.unwrap(),
        g.acquire(far()).await.unwrap(),
    ]
    .into();
    // Both requests were in flight when the first 429 came back: one cut only.
    g.on_rate_limited(permits[0].issued_at(), None);
    g.on_rate_limited(permits[1].issued_at(), None);
    assert_eq!(g.snapshot().per_minute, 50.0);
    drop(permits);
    // A request sent after the cut that is refused again cuts again.
    tokio::time::advance(Duration::from_millis(10)).await;
    let p = g.acquire(far()).await.unwrap();
    g.on_rate_limited(p.issued_at(), None);
    assert_eq!(g.snapshot().per_minute, 25.0);
    drop(p);
    // Two clean minutes give back 2 × 10 % of the ceiling.
    tokio::time::advance(Duration::from_secs(120)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, 45.0);
    // Never above the ceiling.
    tokio::time::advance(Duration::from_secs(3600)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, 100.0);
}

#[tokio::test(start_paused = true)]
async fn the_end_of_the_servers_window_undoes_a_cut_made_in_it() {
    let g = gate(100.0, 10, 4);
    g.align_window(Instant::now() + Duration::from_secs(20));
    tokio::time::advance(Duration::from_secs(5)).await;
    g.on_rate_limited(Instant::now(), None);
    assert_eq!(g.snapshot().per_minute, 50.0);
    // Still inside the window: the cut holds.
    tokio::time::advance(Duration::from_secs(14)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, 50.0);
    // The window ends: the new one has the whole quota, long before a clean minute.
    tokio::time::advance(Duration::from_secs(1)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, 100.0);
    // A cut after that window, with no newer window known, recovers by clean minutes only.
    g.on_rate_limited(Instant::now(), None);
    g.align_window(Instant::now() - Duration::from_secs(1)); // stale: ignored
    tokio::time::advance(Duration::from_secs(30)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, 50.0);
}

#[tokio::test(start_paused = true)]
async fn a_conservative_start_has_no_burst() {
    let g = gate(60.0, 10, 10);
    g.start_conservatively();
    let start = Instant::now();
    for _ in 0..3 {
        drop(g.acquire(far()).await.unwrap());
    }
    // Three requests at 1/s with an empty bucket: the third waits two seconds.
    assert!(Instant::now() - start >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn aimd_floor_is_one_per_minute() {
    let g = gate(4.0, 1, 4);
    drop(g.acquire(far()).await.unwrap()); // the first request probes alone; now open
    // Ten separate refusals (no pause between them: each one an episode of its own).
    for _ in 0..10 {
        g.on_rate_limited(Instant::now(), None);
        tokio::time::advance(Duration::from_millis(1)).await;
    }
    assert_eq!(g.snapshot().per_minute, MIN_PER_MINUTE);
}

#[test]
fn a_scaled_window_scales_the_rate_and_the_recovery() {
    // 40 per 2 s at headroom 0.9: 36 per 2 s = 1080/min, 4 spare for the burst.
    let g = GateConfig::learning_window(40, Duration::from_secs(2), 0.9, 4);
    assert!((g.per_minute - 1080.0).abs() < 1e-9, "{}", g.per_minute);
    assert_eq!(g.burst, 4);
    assert_eq!(g.recovery_period, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn no_fixed_window_ever_sees_more_than_the_quota() {
    // The simulator's (and Genesys's) windows are fixed and their alignment is unknown to
    // us: whatever the offset, a window never holds more than the quota.
    let (quota, window) = (20, Duration::from_secs(3));
    let config = GateConfig::learning_window(quota, window, 0.9, 4);
    let g = Arc::new(Gate::new(
        "t1",
        TargetKind::Genesys,
        config,
        Arc::new(Metrics::new()),
    ));
    let start = Instant::now();
    let mut issued = Vec::new();
    for _ in 0..200 {
        let permit = g.acquire(far()).await.unwrap();
        issued.push(permit.issued_at() - start);
    }
    let span = *issued.last().unwrap();
    for offset_ms in (0..3000).step_by(50) {
        let offset = Duration::from_millis(offset_ms);
        let mut from = Duration::ZERO;
        while from <= span {
            let (lo, hi) = (from.saturating_sub(offset), from + window - offset);
            let n = issued.iter().filter(|t| **t >= lo && **t < hi).count();
            assert!(n <= quota as usize, "{n} in [{lo:?}, {hi:?})");
            from += window;
        }
    }
    // And the quota is used: 200 requests at 18 per 3 s take about 33 s.
    assert!(span <= Duration::from_secs(34), "{span:?}");
}

#[tokio::test(start_paused = true)]
async fn aimd_recovers_one_step_per_clean_scaled_window() {
    let config = GateConfig::learning_window(100, Duration::from_secs(2), 0.9, 4);
    let ceiling = config.per_minute;
    let g = Gate::new("t1", TargetKind::Genesys, config, Arc::new(Metrics::new()));
    g.on_rate_limited(Instant::now(), None);
    assert_eq!(g.snapshot().per_minute, ceiling / 2.0);
    tokio::time::advance(Duration::from_secs(2)).await;
    drop(g.acquire(far()).await.unwrap());
    assert!((g.snapshot().per_minute - ceiling * 0.6).abs() < 1e-6);
    tokio::time::advance(Duration::from_secs(60)).await;
    drop(g.acquire(far()).await.unwrap());
    assert_eq!(g.snapshot().per_minute, ceiling, "never above the ceiling");
}

#[tokio::test(start_paused = true)]
async fn after_a_pause_one_probe_goes_alone() {
    let g = gate(60_000.0, 100, 4);
    let start = Instant::now();
    let probe = g.acquire(far()).await.unwrap();
    g.pause_until(start + Duration::from_secs(2)); // the probe was answered 429
    drop(probe);
    let next_probe = g.acquire(far()).await.unwrap();
    assert!(next_probe.issued_at() >= start + Duration::from_secs(2));
    let follower = tokio::spawn({
        let g = g.clone();
        async move { g.acquire(far()).await.unwrap().issued_at() }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        !follower.is_finished(),
        "nobody goes while the probe is out"
    );
    drop(next_probe); // answered without a new pause: open for everyone
    let issued = follower.await.unwrap();
    assert!(
        issued >= start + Duration::from_secs(7),
        "{:?}",
        issued - start
    );
}
