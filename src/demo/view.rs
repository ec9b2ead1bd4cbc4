//! The demo's live view, read from the worker's own metrics: a progress bar per tenant on a
//! terminal, or a plain line every two seconds otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::metrics::Metrics;

/// How often the view refreshes.
const TICK: Duration = Duration::from_millis(200);
/// How often plain mode prints a line.
const PLAIN_EVERY: u32 = 10;

/// Deliveries of `tenant` settled so far (acked or dead-lettered).
pub fn settled(metrics: &Metrics, tenant: &str) -> u64 {
    let consumed = metrics.counter_sum("scriptsync_changes_consumed_total", &[("tenant", tenant)]);
    let inflight = metrics.counter_sum("scriptsync_inflight", &[("tenant", tenant)]);
    (consumed - inflight).max(0.0) as u64
}

/// Shows progress until every tenant has settled `per_tenant` deliveries or `deadline`.
/// Returns true when everything settled in time.
pub async fn watch(
    metrics: Arc<Metrics>,
    tenants: &[String],
    per_tenant: u64,
    deadline: tokio::time::Instant,
    plain: bool,
) -> bool {
    let tty = !plain && std::io::stderr().is_terminal();
    let multi = MultiProgress::with_draw_target(if tty {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    });
    let style =
        ProgressStyle::with_template("{prefix:>10} [{bar:30.cyan/blue}] {pos:>4}/{len} {msg}")
            .expect("static template")
            .progress_chars("=> ");
    let bars: Vec<ProgressBar> = tenants
        .iter()
        .map(|t| {
            let bar = multi.add(ProgressBar::new(per_tenant));
            bar.set_style(style.clone());
            bar.set_prefix(t.clone());
            bar
        })
        .collect();
    let status = multi.add(ProgressBar::new_spinner());
    let mut ticks = 0u32;
    loop {
        let mut done = true;
        for (tenant, bar) in tenants.iter().zip(&bars) {
            let n = settled(&metrics, tenant);
            bar.set_position(n.min(per_tenant));
            bar.set_message(format!(
                "in flight {}",
                metrics
                    .counter_sum("scriptsync_inflight", &[("tenant", tenant)])
                    .round() as u64
            ));
            done &= n >= per_tenant;
        }
        let line = status_line(&metrics);
        status.set_message(line.clone());
        if !tty && ticks % PLAIN_EVERY == 0 {
            let total: u64 = tenants.iter().map(|t| settled(&metrics, t)).sum();
            eprintln!(
                "progress: settled {total}/{} | {line}",
                per_tenant * tenants.len() as u64
            );
        }
        if done || tokio::time::Instant::now() >= deadline {
            for bar in &bars {
                bar.finish();
            }
            status.finish_and_clear();
            return done;
        }
        ticks += 1;
        tokio::time::sleep(TICK).await;
    }
}

fn status_line(m: &Metrics) -> String {
    let count =
        |family: &str, labels: &[(&str, &str)]| m.counter_sum(family, labels).round() as u64;
    let delivered = |t: &str| {
        count(
            "scriptsync_pushes_total",
            &[("target", t), ("outcome", "delivered")],
        )
    };
    format!(
        "genesys {} · servicenow {} · superseded {} · 429s {} · retries {} · dead-lettered {}",
        delivered("genesys"),
        delivered("servicenow"),
        count("scriptsync_superseded_total", &[]),
        count("scriptsync_rate_limited_total", &[]),
        count("scriptsync_retries_total", &[]),
        count("scriptsync_dead_lettered_total", &[]),
    )
}
