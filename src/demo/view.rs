//! The demo's live view, read from the worker's status board: a progress bar per tenant on
//! a terminal, or a plain line every two seconds otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use scriptsync::change::TargetKind;
use scriptsync::status::{PushOutcomeLabel, StatusBoard, StatusSnapshot};

/// How often the view refreshes.
const TICK: Duration = Duration::from_millis(200);
/// How often plain mode prints a line.
const PLAIN_EVERY: u32 = 10;

/// Shows progress until every tenant has settled `per_tenant` deliveries or `deadline`.
/// Returns true when everything settled in time.
pub async fn watch(
    board: Arc<StatusBoard>,
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
        let now = board.snapshot();
        let mut done = true;
        for (tenant, bar) in tenants.iter().zip(&bars) {
            let t = now.tenant(tenant);
            bar.set_position(t.settled.min(per_tenant));
            bar.set_message(format!("in flight {}", t.inflight));
            done &= t.settled >= per_tenant;
        }
        let line = status_line(&now);
        status.set_message(line.clone());
        if !tty && ticks.is_multiple_of(PLAIN_EVERY) {
            let total: u64 = tenants.iter().map(|t| now.tenant(t).settled).sum();
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

fn status_line(now: &StatusSnapshot) -> String {
    let delivered =
        |target| now.total(|t| t.target(target).pushes.get(PushOutcomeLabel::Delivered));
    format!(
        "genesys {} · servicenow {} · retired {} · superseded {} · 429s {} · retries {} · dead-lettered {}",
        delivered(TargetKind::Genesys),
        delivered(TargetKind::Servicenow),
        now.total(|t| t.sum_targets(|x| x.retired)),
        now.total(|t| t.superseded),
        now.total(|t| t.sum_targets(|x| x.rate_limited)),
        now.total(|t| t.sum_targets(|x| x.retries)),
        now.total(|t| t.dead_lettered_total()),
    )
}
