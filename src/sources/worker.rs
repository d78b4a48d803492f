//! A source's own thread: polls the source when the reload thread asks, parses what it fetched (with the
//! reloader's [`parse_fetch`]), and sends the answer back. A source that blocks holds up only this thread.

use super::members::{Found, parse_fetch};
use super::source::{PollContext, StateSource};
use crate::state::Limits;
use std::thread::JoinHandle;
use std::time::Instant;
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// An answer from a source's thread: the source's position, and what its poll found for each state.
pub(super) type Answer = (usize, anyhow::Result<Vec<(String, Found)>>);

pub(super) struct Worker {
    pub(super) ask: std::sync::mpsc::Sender<()>,
    pub(super) thread: Option<JoinHandle<()>>,
    /// When the poll it is busy with was asked for; `None` while it is idle.
    pub(super) asked_at: Option<Instant>,
    /// The poll it is busy with has been reported late.
    pub(super) late: bool,
}

impl Worker {
    /// Starts the thread that owns `source`.
    pub(super) fn spawn(
        index: usize,
        mut source: Box<dyn StateSource>,
        limits: Limits,
        stop: watch::Receiver<bool>,
        answers: tokio::sync::mpsc::UnboundedSender<Answer>,
    ) -> std::io::Result<Worker> {
        let (ask, asked) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("tfdrift-source-{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                // Each ask gets one answer; the thread ends when the reload thread is gone.
                while asked.recv().is_ok() {
                    let polled = match &runtime {
                        Ok(runtime) => poll(&mut *source, &limits, runtime, &stop),
                        Err(e) => Err(anyhow::anyhow!(
                            "cannot start the runtime that reads this source: {e}"
                        )),
                    };
                    if answers.send((index, polled)).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker {
            ask,
            thread: Some(thread),
            asked_at: None,
            late: false,
        })
    }
}

/// One poll of `source`, each new version parsed as it is delivered. A panic (in the source or the parser)
/// is a failure of this poll, not of the thread.
fn poll(
    source: &mut dyn StateSource,
    limits: &Limits,
    runtime: &Runtime,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<(String, Found)>> {
    let ctx = PollContext {
        limits,
        runtime,
        stop,
        deadline: Instant::now() + limits.poll_timeout,
    };
    let mut found = Vec::new();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        source.poll(&ctx, &mut |name, fetch| {
            let parsed = parse_fetch(&name, fetch, limits);
            found.push((name, parsed));
        })
    }))
    .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error while reading the source")))
    .map(|()| found)
}
