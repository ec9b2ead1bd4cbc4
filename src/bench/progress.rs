//! ScenarioProgress of the running scenario: an indicatif bar on a terminal, or a plain line every
//! two seconds with `--plain` or when stderr is not a terminal (CI logs).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use tokio::time::Instant;

/// How often plain mode prints a line.
const PLAIN_EVERY: Duration = Duration::from_secs(2);

/// The progress display of one scenario step.
pub struct ScenarioProgress {
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    last_line: Option<Instant>,
}

impl ScenarioProgress {
    /// A display for `label`, counting up to `total`.
    pub fn new(label: &str, total: u64, plain: bool) -> Self {
        let bar = (!plain && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total);
            let style = ProgressStyle::with_template(
                "{prefix:<22} [{bar:30.cyan/blue}] {pos:>8}/{len:<8} {elapsed:>4} {msg}",
            )
            .expect("static template")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self {
            bar,
            label: label.to_owned(),
            total,
            last_line: None,
        }
    }

    /// Moves to `pos` with a short status message.
    pub fn update(&mut self, pos: u64, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(pos.min(self.total));
                bar.set_message(msg.to_owned());
            }
            None => {
                let due = self.last_line.is_none_or(|t| t.elapsed() >= PLAIN_EVERY);
                if due {
                    eprintln!("bench {}: {pos}/{} {msg}", self.label, self.total);
                    self.last_line = Some(Instant::now());
                }
            }
        }
    }

    /// Ends the display with a final message.
    pub fn finish(self, msg: &str) {
        match self.bar {
            Some(bar) => bar.finish_with_message(msg.to_owned()),
            None => eprintln!("bench {}: done, {msg}", self.label),
        }
    }
}
