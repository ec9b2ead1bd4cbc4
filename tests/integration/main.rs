//! The integration tests, one module per capability, in one test binary: one link instead of
//! two dozen (most of a cold test build on two cores was linking the same dependencies into
//! each binary), and the long tests (backlog, outages, lanes) overlap with the rest instead of
//! running one binary after another. Every test here shares the local RabbitMQ only through
//! its own random name prefix and runs the simulator on port 0, so they can run side by side.
//!
//! The tests that stop the machine's broker (`broker_faults`) or run their own cluster
//! (`broker_cluster`) are their own binaries, run after this one, never beside it. One module:
//! `cargo test --test integration outages:: -- --nocapture`.

#[path = "../common/mod.rs"]
mod common;

mod alert_rules;
mod backlog;
mod bench;
mod chaos_check;
mod chart_sizing;
mod config;
mod data_action;
mod decoder_props;
mod demo;
mod dlq_tool;
mod docs_links;
mod docs_snippets;
mod doctor;
mod hostile_input;
mod inflight_budget;
mod isolation;
mod kubelet_volume;
mod lanes;
mod long_pauses;
mod manifest;
mod module_cycles;
mod observability;
mod outages;
mod pipeline;
mod process_faults;
mod prometheus_scrape;
mod publish;
mod publisher_examples;
mod real_services;
mod retry_engine;
mod scale_out;
mod schema_agreement;
mod secrets;
mod sim_api;
mod targets_sim;
mod tenant_files;
mod tls;
