//! The nemesis: carries out the seeded schedule ([`super::plan`]), each fault at its time in a
//! task of its own (so faults overlap), and records each as a history `fault` event from when
//! it began until its effects were lifted (a worker started again, a node back, the
//! simulator's faults cleared).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use scriptsync::change::TargetKind;
use scriptsync_sim::{Faults, InjectedResponse, Outage, OutageMode, SimHandle};
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::broker_ctl::BrokerCtl;
use super::fault::{Breakage, Fault, LoginFailure, StormForm};
use super::fleet::Fleet;
use super::plan::Scheduled;
use super::recorder::{Recorder, sim_target};
use crate::chaos::history::Event;

/// What the faults act on.
#[derive(Clone)]
pub struct Stage {
    pub fleet: Arc<Mutex<Fleet>>,
    pub sim: SimHandle,
    pub broker: Arc<BrokerCtl>,
    pub tenants: Arc<Vec<String>>,
    pub recorder: Recorder,
}

/// Runs the schedule from `start` until its end or `stop`; waits for the faults under way to
/// be lifted before returning.
pub async fn run(schedule: Vec<Scheduled>, stage: Stage, start: Instant, stop: CancellationToken) {
    let mut running = tokio::task::JoinSet::new();
    for s in schedule {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep_until(start + s.at) => {}
        }
        let stage = stage.clone();
        running.spawn(async move {
            let at_ms = stage.recorder.now_ms();
            let detail = match inflict(&s.fault, &stage).await {
                Ok(detail) => detail,
                Err(e) => format!("failed: {e:#}"),
            };
            stage.recorder.record(Event::Fault {
                at_ms,
                until_ms: stage.recorder.now_ms(),
                kind: s.fault.kind().to_owned(),
                detail,
            });
        });
    }
    while running.join_next().await.is_some() {}
}

/// Does one fault and lifts it; returns what it did, in words.
async fn inflict(fault: &Fault, stage: &Stage) -> anyhow::Result<String> {
    let tenant = |i: &usize| stage.tenants[*i].clone();
    match fault {
        Fault::Kill { worker, down } => {
            let id = stage.fleet.lock().await.id(*worker).to_owned();
            stage.fleet.lock().await.signal(*worker, "KILL")?;
            tokio::time::sleep(*down).await;
            stage
                .fleet
                .lock()
                .await
                .restart(*worker, &stage.sim)
                .await?;
            Ok(format!("{id} killed, started again after {down:?}"))
        }
        Fault::Term { worker } => {
            let mut fleet = stage.fleet.lock().await;
            let id = fleet.id(*worker).to_owned();
            fleet.signal(*worker, "TERM")?;
            let drained = fleet.exited(*worker, Duration::from_secs(60)).await;
            if !drained {
                fleet.signal(*worker, "KILL")?;
            }
            fleet.restart(*worker, &stage.sim).await?;
            Ok(format!(
                "{id} terminated (drained: {drained}), started again"
            ))
        }
        Fault::Stop { worker, stopped } => {
            let id = stage.fleet.lock().await.id(*worker).to_owned();
            stage.fleet.lock().await.signal(*worker, "STOP")?;
            tokio::time::sleep(*stopped).await;
            stage.fleet.lock().await.signal(*worker, "CONT")?;
            Ok(format!("{id} stopped for {stopped:?}"))
        }
        Fault::CloseConnections => {
            let closed = stage.broker.close_worker_connections().await?;
            // The workers reconnect with a backoff; the fault lasts until they could.
            tokio::time::sleep(Duration::from_secs(3)).await;
            Ok(format!("{closed} worker connections closed"))
        }
        Fault::StopNode { node, down } => {
            stage.broker.stop_node(*node).await?;
            tokio::time::sleep(*down).await;
            stage.broker.start_node(*node).await?;
            Ok(format!("node {} stopped for {down:?}", node + 1))
        }
        Fault::Storm {
            tenant: t,
            target,
            form,
            count,
            wait_s,
        } => {
            let answer = storm_answer(*form, *wait_s).times(*count);
            let faults = Faults {
                inject: vec![answer],
                ..Faults::default()
            };
            let lasting = Duration::from_secs(u64::from(count * wait_s) + 5);
            for_a_while(stage, &tenant(t), *target, faults, lasting).await;
            Ok(format!(
                "{} {target}: {count} × {form:?}, {wait_s} s each",
                tenant(t)
            ))
        }
        Fault::Broken {
            tenant: t,
            target,
            how,
            lasting,
        } => {
            let outage = |mode| Some(Outage::new(mode, *lasting));
            let faults = match how {
                Breakage::ServerErrors => Faults {
                    error_rate: 0.7,
                    ..Faults::default()
                },
                Breakage::Unavailable => Faults {
                    outage: outage(OutageMode::Unavailable),
                    ..Faults::default()
                },
                Breakage::Hang => Faults {
                    outage: outage(OutageMode::Hang),
                    ..Faults::default()
                },
                Breakage::Reset => Faults {
                    outage: outage(OutageMode::Drop),
                    ..Faults::default()
                },
                Breakage::Slow => Faults {
                    latency: Duration::from_secs(3),
                    ..Faults::default()
                },
            };
            for_a_while(stage, &tenant(t), *target, faults, *lasting).await;
            Ok(format!("{} {target}: {how:?} for {lasting:?}", tenant(t)))
        }
        Fault::Login {
            tenant: t,
            target,
            how,
            lasting,
        } => {
            let mode = match how {
                LoginFailure::Unavailable => OutageMode::Unavailable,
                LoginFailure::Reset => OutageMode::Drop,
                LoginFailure::Hang => OutageMode::Hang,
                LoginFailure::Nonsense => OutageMode::Nonsense,
            };
            let faults = Faults {
                login_outage: Some(Outage::new(mode, *lasting)),
                ..Faults::default()
            };
            stage.sim.expire_tokens(Some(&tenant(t)));
            for_a_while(stage, &tenant(t), *target, faults, *lasting).await;
            Ok(format!(
                "{} {target}: tokens expired, logins {how:?} for {lasting:?}",
                tenant(t)
            ))
        }
        Fault::TableFull { tenant: t, lasting } => {
            let faults = Faults {
                table_full: true,
                ..Faults::default()
            };
            for_a_while(stage, &tenant(t), TargetKind::Genesys, faults, *lasting).await;
            Ok(format!("{}: data table full for {lasting:?}", tenant(t)))
        }
    }
}

/// Sets `faults` on (tenant, target) for `lasting`, then clears them.
async fn for_a_while(
    stage: &Stage,
    tenant: &str,
    target: TargetKind,
    faults: Faults,
    lasting: Duration,
) {
    let target = sim_target(target);
    stage.sim.set_faults(Some(tenant), target, faults);
    tokio::time::sleep(lasting).await;
    stage
        .sim
        .set_faults(Some(tenant), target, Faults::default());
}

/// The answer a storm of `form` gives, asking for `wait_s` seconds.
fn storm_answer(form: StormForm, wait_s: u32) -> InjectedResponse {
    match form {
        StormForm::RetryAfterSeconds => {
            InjectedResponse::new(429).with_retry_after(wait_s.to_string())
        }
        StormForm::RetryAfterDate => {
            // Whole seconds, rounded up, so the date is never sooner than the wait.
            let at = SystemTime::now() + Duration::from_secs(u64::from(wait_s) + 1);
            InjectedResponse::new(429).with_retry_after(httpdate::fmt_http_date(at))
        }
        StormForm::GenesysBody => InjectedResponse::new(429).with_genesys_body_seconds(wait_s),
        StormForm::Unavailable => InjectedResponse::new(503).with_retry_after(wait_s.to_string()),
        StormForm::NoHint => InjectedResponse::new(429),
    }
}
