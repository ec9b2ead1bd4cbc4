//! The faults a chaos run's nemesis can inflict ([`Fault`]), each with the thing it occupies
//! (two faults on one thing never overlap) and about how long its effects last.

use std::time::Duration;

use scriptsync::change::TargetKind;

/// How a 429 storm (or its 503 cousin) tells the worker to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StormForm {
    /// 429 with `Retry-After: N`.
    RetryAfterSeconds,
    /// 429 with `Retry-After: <HTTP-date>`.
    RetryAfterDate,
    /// Genesys 429 whose body says "Retry the request in [N] seconds", no header.
    GenesysBody,
    /// 503 with `Retry-After: N`.
    Unavailable,
    /// 429 with no hint at all: the worker's own backoff.
    NoHint,
}

/// How a target fails for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    /// 500s on most requests.
    ServerErrors,
    /// 503 on every request.
    Unavailable,
    /// Connections held without an answer.
    Hang,
    /// Connections reset.
    Reset,
    /// Answers that take seconds.
    Slow,
}

/// How the token endpoint fails (after every token was expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    Unavailable,
    Reset,
    Hang,
    Nonsense,
}

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SIGKILL worker `worker`, start it again after `down`.
    Kill { worker: usize, down: Duration },
    /// SIGTERM worker `worker` (a graceful drain), start it again once it has exited.
    Term { worker: usize },
    /// SIGSTOP worker `worker`, SIGCONT after `stopped`.
    Stop { worker: usize, stopped: Duration },
    /// The broker closes every worker connection.
    CloseConnections,
    /// Broker node `node` stopped for `down` (cluster runs only).
    StopNode { node: usize, down: Duration },
    /// The next `count` requests of `tenant` at `target` are told to wait `wait_s` seconds.
    Storm {
        tenant: usize,
        target: TargetKind,
        form: StormForm,
        count: u32,
        wait_s: u32,
    },
    /// `tenant`'s `target` broken this way for `lasting`.
    Broken {
        tenant: usize,
        target: TargetKind,
        how: Breakage,
        lasting: Duration,
    },
    /// `tenant`'s tokens at `target` expired and its logins failing for `lasting`.
    Login {
        tenant: usize,
        target: TargetKind,
        how: LoginFailure,
        lasting: Duration,
    },
    /// `tenant`'s Genesys data table full for `lasting`.
    TableFull { tenant: usize, lasting: Duration },
}

impl Fault {
    /// The kind, as the history and the report name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Kill { .. } => "sigkill",
            Fault::Term { .. } => "sigterm",
            Fault::Stop { .. } => "sigstop",
            Fault::CloseConnections => "close_connections",
            Fault::StopNode { .. } => "stop_node",
            Fault::Storm { .. } => "storm_429",
            Fault::Broken { how, .. } => match how {
                Breakage::ServerErrors => "5xx",
                Breakage::Unavailable => "503",
                Breakage::Hang => "hang",
                Breakage::Reset => "reset",
                Breakage::Slow => "slow",
            },
            Fault::Login { .. } => "token_endpoint",
            Fault::TableFull { .. } => "table_full",
        }
    }

    /// What it occupies: two faults on the same thing never overlap.
    pub(super) fn resource(&self) -> String {
        match self {
            Fault::Kill { worker, .. } | Fault::Term { worker } | Fault::Stop { worker, .. } => {
                format!("worker {worker}")
            }
            Fault::CloseConnections | Fault::StopNode { .. } => "broker".into(),
            Fault::Storm { tenant, target, .. }
            | Fault::Broken { tenant, target, .. }
            | Fault::Login { tenant, target, .. } => format!("{tenant} {target}"),
            Fault::TableFull { tenant, .. } => format!("{tenant} {}", TargetKind::Genesys),
        }
    }

    /// About how long its effects last (a slot's length when drawing the schedule).
    pub(super) fn span(&self) -> Duration {
        match self {
            Fault::Kill { down, .. } => *down + Duration::from_secs(10),
            Fault::Term { .. } => Duration::from_secs(20),
            Fault::Stop { stopped, .. } => *stopped + Duration::from_secs(10),
            Fault::CloseConnections => Duration::from_secs(10),
            Fault::StopNode { down, .. } => *down + Duration::from_secs(30),
            Fault::Storm { count, wait_s, .. } => Duration::from_secs(u64::from(count * wait_s)),
            Fault::Broken { lasting, .. }
            | Fault::Login { lasting, .. }
            | Fault::TableFull { lasting, .. } => *lasting,
        }
    }
}
