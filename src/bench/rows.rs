//! Rows of scenarios A, B and C: the ceilings, and the throughput runs divided by them.
//! (D, E, G and H build their own rows beside their runs.)

use super::ceilings;
use super::context::Ctx;
use super::report::{Row, RowVerdict};
use super::throughput::{self, Throughput};

/// The ceilings measured in this run (None: not measured or failed).
#[derive(Debug, Default)]
pub struct Ceilings {
    pub broker: Option<f64>,
    pub http: Option<f64>,
}

/// Measures A(a) and A(b); returns their rows when `emit`.
pub async fn ceilings(ctx: &Ctx, out: &mut Ceilings, emit: bool) -> Vec<Row> {
    let n = ctx.size(100_000, 10_000);
    let mut rows = Vec::new();
    let what_a = format!(
        "broker alone: {n} messages, publish with confirms + consume with ack, 20 quorum queues"
    );
    match ceilings::broker_alone(ctx, n).await {
        Ok(rate) => {
            out.broker = Some(rate);
            let mut row = Row::new("A(a)", &what_a);
            row.figure = format!("{rate:.0} msg/s");
            row.value("messages_per_second", rate);
            rows.push(row);
        }
        Err(e) => rows.push(Row::failed("A(a)", &what_a, &e)),
    }
    let what_b =
        format!("HTTP alone: {n} changes, 1 row request each + Batch API per 100, 20 tenants");
    match ceilings::http_alone(ctx, n).await {
        Ok(rate) => {
            out.http = Some(rate);
            let mut row = Row::new("A(b)", &what_b);
            row.figure = format!("{rate:.0} changes/s");
            row.value("changes_per_second", rate);
            rows.push(row);
        }
        Err(e) => rows.push(Row::failed("A(b)", &what_b, &e)),
    }
    if emit { rows } else { Vec::new() }
}

/// B: distinct scripts, no quota; target ≥ 5,000/s and ≥ 0.5 × A(b).
pub async fn throughput_b(ctx: &Ctx, ceilings: &Ceilings) -> Row {
    let n = ctx.size(100_000, 10_000);
    let what = format!("throughput, {n} changes, each a different script, 20 tenants, no quota");
    match throughput::run(ctx, "B distinct scripts", n, 1).await {
        Ok(t) => throughput_row("B", &what, &t, ceilings.http, "A(b)", 5_000.0, 0.5),
        Err(e) => Row::failed("B", &what, &e),
    }
}

/// C: 10 versions per script; target ≥ 20,000/s and ≥ 0.3 × A(a).
pub async fn throughput_c(ctx: &Ctx, ceilings: &Ceilings) -> Row {
    let n = ctx.size(100_000, 10_000);
    let what = format!("throughput, {n} changes, 10 versions per script (coalescing), 20 tenants");
    match throughput::run(ctx, "C coalescing", n, 10).await {
        Ok(t) => throughput_row("C", &what, &t, ceilings.broker, "A(a)", 20_000.0, 0.3),
        Err(e) => Row::failed("C", &what, &e),
    }
}

fn throughput_row(
    id: &str,
    what: &str,
    t: &Throughput,
    ceiling: Option<f64>,
    ceiling_name: &str,
    min_rate: f64,
    min_ratio: f64,
) -> Row {
    let mut row = Row::new(id, what);
    row.figure = format!(
        "{:.0} changes/s; {:.2} CPU-s per 1,000; peak RSS {:.1} MiB; {:.2} Genesys requests per change",
        t.per_second, t.cpu_per_1000, t.peak_rss_mib, t.genesys_per_change
    );
    let ratio = ceiling.map(|c| t.per_second / c);
    row.ratio = ratio.map_or("n/a".into(), |r| format!("{r:.2} × {ceiling_name}"));
    row.target = format!("≥ {min_rate:.0}/s and ≥ {min_ratio} × {ceiling_name}");
    row.verdict = RowVerdict::all(&[
        t.per_second >= min_rate,
        ratio.is_some_and(|r| r >= min_ratio),
    ]);
    row.value("changes_per_second", t.per_second)
        .value("cpu_seconds_per_1000", t.cpu_per_1000)
        .value("peak_rss_mib", t.peak_rss_mib)
        .value("genesys_requests_per_change", t.genesys_per_change);
    if let Some(r) = ratio {
        row.value("ratio", r);
    }
    row
}
