//! The metric families of DESIGN §11 (and two operational extras), named once: the
//! Prometheus registry and the OTel instruments both take their names and help texts from
//! here, so `/metrics` and OTLP cannot drift apart.

/// One family: its name (Prometheus-style, counters ending in `_total`) and help text.
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
}

pub(super) const CONSUMED: Family = Family {
    name: "scriptsync_changes_consumed_total",
    help: "Deliveries taken from the tenant queues",
};
pub(super) const PUSHES: Family = Family {
    name: "scriptsync_pushes_total",
    help: "Per-change outcomes at each target",
};
pub(super) const HTTP_REQUESTS: Family = Family {
    name: "scriptsync_http_requests_total",
    help: "HTTP requests sent to targets by status (or error)",
};
pub(super) const RATE_LIMITED: Family = Family {
    name: "scriptsync_rate_limited_total",
    help: "429 (or 503 with Retry-After) answers received",
};
pub(super) const RETRIES: Family = Family {
    name: "scriptsync_retries_total",
    help: "Requests sent again after a retryable failure",
};
pub(super) const GATE_PAUSED_SECONDS: Family = Family {
    name: "scriptsync_gate_paused_seconds_total",
    help: "Seconds a gate was closed by a server-requested pause",
};
pub(super) const GATE_RATE: Family = Family {
    name: "scriptsync_gate_rate_per_minute",
    help: "Current gate rate, requests per minute",
};
pub(super) const DEAD_LETTERED: Family = Family {
    name: "scriptsync_dead_lettered_total",
    help: "Messages published to the DLQ",
};
pub(super) const SUPERSEDED: Family = Family {
    name: "scriptsync_superseded_total",
    help: "Deliveries acked because a newer version won",
};
pub(super) const END_TO_END: Family = Family {
    name: "scriptsync_end_to_end_seconds",
    help: "From a change's published_at to its write at the target (the 5-second disclaimer window)",
};
pub(super) const INFLIGHT: Family = Family {
    name: "scriptsync_inflight",
    help: "Deliveries held unacked",
};
pub(super) const TOKEN_RENEWALS: Family = Family {
    name: "scriptsync_token_renewals_total",
    help: "Access tokens obtained",
};
pub(super) const TASK_PANICS: Family = Family {
    name: "scriptsync_task_panics_total",
    help: "Pipeline tasks that panicked (and were restarted)",
};
pub(super) const RETRY_AFTER_CLAMPED: Family = Family {
    name: "scriptsync_retry_after_clamped_total",
    help: "Server waits beyond retry.max_retry_after (absurd values), clamped to it",
};
pub(super) const GATE_REOPENS_IN: Family = Family {
    name: "scriptsync_gate_reopens_in_seconds",
    help: "Seconds until a paused gate reopens (0 when open)",
};
pub(super) const GATE_CEILING: Family = Family {
    name: "scriptsync_gate_ceiling_per_minute",
    help: "Most requests per minute the gate uses: the configured quota x headroom, capped by what the server reported or the 429 point taught",
};
pub(super) const PARKED: Family = Family {
    name: "scriptsync_parked_total",
    help: "Changes handed to the wait queue because their gate stays closed past the hold limit",
};
pub(super) const DATATABLE_ROWS: Family = Family {
    name: "scriptsync_datatable_rows",
    help: "Rows in the tenant's Genesys data table (listed at lane start, then counted)",
};
pub(super) const RETIRED: Family = Family {
    name: "scriptsync_retired_total",
    help: "Retires carried out at a target (Genesys row deleted, ServiceNow record marked retired)",
};
pub(super) const TENANTS_CONFIGURED: Family = Family {
    name: "scriptsync_tenants_configured",
    help: "Tenants this process knows (main file and tenants directory), owned here or not",
};
pub(super) const TENANT_CONFIG_ERRORS: Family = Family {
    name: "scriptsync_tenant_config_errors",
    help: "Tenant files (or the tenants directory) that cannot be used now; their tenants keep their last good settings",
};
pub(super) const ALLOCATOR_BYTES: Family = Family {
    name: "scriptsync_allocator_bytes",
    help: "What the memory allocator holds, by kind: allocated (the program's data), active, resident (in RAM, freed pages not yet returned included), retained (kept address space)",
};
pub(super) const READY: Family = Family {
    name: "scriptsync_ready",
    help: "1 while /readyz answers 200 (broker connected, writes confirmed, fewer than 3 panics in 5 minutes)",
};
pub(super) const CONSUMING: Family = Family {
    name: "scriptsync_consuming",
    help: "1 while this replica consumes the tenant's queue, 0 for every other configured tenant",
};
pub(super) const TOKEN_FAILURES: Family = Family {
    name: "scriptsync_token_failures_total",
    help: "Access token requests that failed (refused credentials, an unreachable token endpoint)",
};
pub(super) const DLQ_MESSAGES: Family = Family {
    name: "scriptsync_dlq_messages",
    help: "Messages in the dead-letter queue, as the broker counted them last (every 30 s)",
};
pub(super) const BUILD_INFO: Family = Family {
    name: "scriptsync_build_info",
    help: "Always 1; the version label is the running build",
};
pub(super) const HTTP_REQUEST_DURATION: Family = Family {
    name: "scriptsync_http_request_duration_seconds",
    help: "Duration of a request to a target, to its whole answer (token requests excluded)",
};
