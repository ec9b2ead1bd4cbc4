//! `scriptsync chaos`: randomized combined faults against the real worker ([`run`]), and the
//! guarantees checked over the whole history. `scriptsync chaos check FILE` reads a history ([`history`], JSON Lines) and judges every guarantee ([`checker`]):
//! nothing lost, never older over newer, no request into a pause, no cross-tenant
//! credential, duplicates bounded, latency outside fault windows, memory flat. A failed
//! guarantee prints the smallest window of history that shows it, and the run's seed. A
//! module of the binary, not of the worker's library: it only judges what the worker did.

pub mod checker;
// `node_serving` and `list_queues` serve the broker_cluster tests, which compile this too.
#[allow(dead_code)]
pub mod cluster;
pub mod history;
mod run;

use std::process::ExitCode;

use checker::{Limits, Verdict, began, check};

use crate::cli::{ChaosArgs, ChaosCommand};

/// Runs `scriptsync chaos …`.
pub async fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => run::run(args.run).await,
        Some(ChaosCommand::Check { history }) => {
            let events = history::read(&history)?;
            let verdicts = check(&events, &Limits::default());
            let seed = began(&events).map(|b| b.0);
            print!("{}", report(&verdicts, seed));
            let all_held = verdicts.iter().all(|v| v.held);
            Ok(if all_held {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// One line per guarantee; under each failed one, its evidence, one event a line.
pub fn report(verdicts: &[Verdict], seed: Option<u64>) -> String {
    let mut out = String::new();
    for v in verdicts {
        let mark = if v.held { "held  " } else { "FAILED" };
        out.push_str(&format!("{mark} {}: {}\n", v.guarantee, v.figure));
        for e in &v.evidence {
            let line = serde_json::to_string(e).unwrap_or_else(|e| e.to_string());
            out.push_str(&format!("         {line}\n"));
        }
    }
    if verdicts.iter().any(|v| !v.held) {
        let seed = seed.map_or_else(|| "unknown".to_owned(), |s| s.to_string());
        out.push_str(&format!("the run's seed: {seed}\n"));
    }
    out
}
