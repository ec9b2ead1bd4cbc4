//! Publishing script changes: the library API behind `scriptsync publish`, for Rust programs
//! that feed scriptsync.
//!
//! A [`ChangePublisher`] sends a [`ScriptChange`](crate::change::ScriptChange), an upsert
//! (`script-change/v1`) or a retire (`script-retire/v1`) alike, the way the worker expects it
//! (DESIGN §3): to the exchange `<prefix>` with routing key = tenant,
//! persistent, `content_type` `application/json`, `message_id` = the change's id, `timestamp`
//! and a W3C `traceparent`, and waits for the broker's confirm. A tenant with no queue is
//! refused as [`PublishFailure::Unroutable`] before anything is sent: the main exchange's
//! alternate exchange would otherwise swallow the change ([`routes`] explains the check).
//!
//! # Layout
//! - [`publisher`]: [`ChangePublisher`], one change at a time or many in flight.
//! - [`routes`]: is there a queue for this tenant? (one passive declare per tenant)
//! - [`input`]: JSON Lines or JSON documents → numbered entries, validated by the decoder;
//!   [`documents`] splits the JSON documents.
//! - [`driver`]: many entries → outcomes: send in order, a window of pending confirms, `--rate`.
//! - [`summary`]: outcomes, the counts of a run, the progress line.
//! - [`command`]: `scriptsync publish` (arguments, config, output, exit code).
//!
//! # Example
//! ```no_run
//! use scriptsync::change::ScriptChange;
//! use scriptsync::config::BrokerSettings;
//! use scriptsync::publish::{ChangePublisher, PublishFailure};
//!
//! # async fn example() -> anyhow::Result<()> {
//! let broker = BrokerSettings {
//!     url: "amqp://127.0.0.1:5672/%2f".into(),
//!     prefix: "scriptsync".into(),
//!     ..BrokerSettings::default()
//! };
//! let mut publisher = ChangePublisher::connect(&broker).await?;
//! let change = ScriptChange::builder("chg-0001", "acme", "welcome", 7, "sha256:9f2c")
//!     .disclaimer("This call is recorded for quality purposes.")
//!     .build()?;
//! match publisher.publish(&change).await {
//!     Ok(()) => println!("confirmed"),
//!     Err(PublishFailure::Unroutable { tenant, .. }) => eprintln!("no worker serves {tenant}"),
//!     Err(e) => return Err(e.into()),
//! }
//!
//! // Many at once: send in order, then await the confirms.
//! let mut pending = Vec::new();
//! for version in 8..=10 {
//!     let id = format!("chg-welcome-{version}");
//!     let change = ScriptChange::builder(id, "acme", "welcome", version, "h").build()?;
//!     pending.push(publisher.send(&change).await?);
//! }
//! for p in pending {
//!     p.confirmed().await?;
//! }
//!
//! // Retire the script: a version above every change it should win over.
//! let retire = ScriptChange::retire_builder("chg-welcome-retire", "acme", "welcome", 11).build()?;
//! publisher.publish(&retire).await?;
//! publisher.close().await;
//! # Ok(())
//! # }
//! ```

pub mod command;
pub mod documents;
pub mod driver;
pub mod input;
pub mod publisher;
pub mod routes;
pub mod summary;

pub use command::PublishArgs;
pub use driver::{Options, WINDOW, publish_entries};
pub use input::{Entries, Entry, Position};
pub use publisher::{ChangePublisher, Pending, PublishFailure};
pub use summary::{Outcome, Summary};
