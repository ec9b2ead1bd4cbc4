//! The only place tracing subscribers are built. JSON lines by default for the worker,
//! pretty lines for the demo and the simulator; the level comes from `RUST_LOG`, else the
//! config, else `info`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber once; later calls do nothing.
pub fn init_logs(settings: &LogSettings, default_format: LogFormat) {
    init_logs_with_level(settings, default_format, "info");
}

/// Like [`init_logs`] with a different default level (the demo uses `warn`).
pub fn init_logs_with_level(
    settings: &LogSettings,
    default_format: LogFormat,
    default_level: &str,
) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            settings
                .level
                .clone()
                .unwrap_or_else(|| default_level.to_owned()),
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format.unwrap_or(default_format) {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
