//! The progress bar: sent, acknowledged and failed counts and the current rate, redrawn a few
//! times a second on standard error, and drawn only when standard error is a terminal.

use std::{io::IsTerminal, sync::Arc, time::Duration};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stats::Stats;

/// How often the bar is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// A running progress bar; [`Progress::finish`] clears it.
pub struct Progress {
    bar: ProgressBar,
    task: JoinHandle<()>,
}

impl Progress {
    /// Starts a bar over `total` events (`None` when the run has no end), drawing only when
    /// `wanted` and standard error is a terminal.
    pub fn start(stats: Arc<Stats>, total: Option<u64>, wanted: bool) -> Self {
        let target = if wanted && std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(total, target);
        let template = if total.is_some() {
            "{spinner} {elapsed_precise} [{bar:30}] {percent:>3}% {msg}"
        } else {
            "{spinner} {elapsed_precise} {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the progress template is valid")
                .progress_chars("=> "),
        );
        let shown = bar.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(REDRAW);
            let mut last = stats.snapshot();
            let mut rate = 0.0;
            loop {
                tick.tick().await;
                let now = stats.snapshot();
                let done = now.acknowledged + now.failed;
                // A smoothed rate over the last few redraws.
                let instant = (now.acknowledged - last.acknowledged) as f64 / REDRAW.as_secs_f64();
                rate = 0.7 * rate + 0.3 * instant;
                last = now;
                shown.set_position(done);
                shown.set_message(format!(
                    "sent {} · acknowledged {} · failed {} · {:.0} events/s",
                    now.sent, now.acknowledged, now.failed, rate
                ));
            }
        });
        Self { bar, task }
    }

    /// Stops and clears the bar.
    pub fn finish(self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}
