//! How far a run is, on standard error: a bar on a terminal (inputs read of those found, records, findings,
//! rate, time left), plain lines every few seconds otherwise (a CI log, a file), nothing with `--quiet`.

use crate::pipeline::{Found, Tally, Watch};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How progress is shown.
pub enum Mode {
    /// A bar redrawn in place (standard error is a terminal).
    Bar,
    /// A line every so often.
    Lines(Duration),
    /// Nothing.
    Quiet,
}

pub struct Progress {
    mode: Mode,
    bar: Option<ProgressBar>,
    started: Instant,
    last_line: Instant,
}

impl Progress {
    pub fn new(mode: Mode) -> Progress {
        let bar = matches!(mode, Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:30}] {pos}/{len} objects, {msg}, ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let now = Instant::now();
        Progress {
            mode,
            bar,
            started: now,
            last_line: now,
        }
    }

    /// Takes the bar away before the summary.
    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    fn line(&self, tally: &Tally, found: &Found) -> String {
        let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
        let listed = found.inputs.load(Ordering::Relaxed);
        let done = found.done.load(Ordering::Relaxed);
        let rate = tally.counts.records as f64 / elapsed;
        let mib = tally.bytes as f64 / elapsed / (1 << 20) as f64;
        let eta = if done && tally.objects > 0 {
            let left = listed.saturating_sub(tally.objects) as f64;
            format!("{:.0}s", left * elapsed / tally.objects as f64)
        } else {
            "unknown (still finding inputs)".to_owned()
        };
        format!(
            "progress: {}/{}{} objects, {} records, {} findings, {rate:.0} records/s ({mib:.1} MiB/s read), ETA {eta}",
            tally.objects,
            listed,
            if done { "" } else { "+" },
            tally.counts.records,
            tally.findings(),
        )
    }
}

impl Watch for Progress {
    fn update(&mut self, tally: &Tally, found: &Found) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Bar => {
                if let Some(bar) = &self.bar {
                    let elapsed = self.started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_length(found.inputs.load(Ordering::Relaxed));
                    bar.set_position(tally.objects);
                    let listing = if found.done.load(Ordering::Relaxed) {
                        ""
                    } else {
                        " (finding inputs)"
                    };
                    bar.set_message(format!(
                        "{} records, {} findings, {:.0} records/s{listing}",
                        tally.counts.records,
                        tally.findings(),
                        tally.counts.records as f64 / elapsed
                    ));
                }
            }
            Mode::Lines(every) => {
                if self.last_line.elapsed() >= *every {
                    self.last_line = Instant::now();
                    eprintln!("{}", self.line(tally, found));
                }
            }
        }
    }
}
