//! What a source is: the [`StateSource`] trait, what one poll found for each state ([`Fetch`]), and what a
//! poll may use ([`PollContext`]). A source is transport: it finds and downloads bytes and parses nothing.

use super::reload::ReloadStats;
use crate::state::Limits;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// A place one or more states are read from.
pub trait StateSource: Send {
    /// The configured name; a source holding several states names them `name/workspace`.
    fn name(&self) -> &str;
    /// A description for logs (a path, a bucket and key, a URL without its query); never carries a secret.
    fn describe(&self) -> String;
    /// Checks the source: hands `deliver` every state it holds now, by name (`name/workspace` for one of
    /// several), each with what changed since the last poll. A state not delivered is gone (a deleted
    /// workspace). `Err` means the source could not even be listed, or the poll was cut short: everything it
    /// delivered is dropped, and every state it held is kept as it was.
    fn poll(&mut self, ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()>;
}

/// Where a poll hands each state it found, one at a time as it goes: a new version is parsed as soon as it
/// is delivered, so a poll over many workspaces holds one download at a time.
pub type Deliver<'a> = dyn FnMut(String, Fetch) + 'a;

/// What a poll found for one state, before anything is parsed.
#[derive(Debug)]
pub enum Fetch {
    /// The same version as the last one this source returned (loaded or refused): no download.
    Unchanged,
    /// A new version's bytes, for the reloader to parse, and what a refusal calls it (`s3://bucket/key`,
    /// `state version sv-1`; `None`: nothing more than the state's name and source, which every message has).
    New(Vec<u8>, Option<String>),
    /// A new version the source will not read (over the size limit, not a regular file): refused, and not
    /// fetched again until it changes.
    Refused(anyhow::Error),
    /// No longer there (deleted between a listing and its download): as if missing from the listing.
    Gone,
    /// The source could not be read this time (network, credentials, server): tried again next refresh.
    Failed(anyhow::Error),
}

/// What a source may use while polling: the limits on a state, its thread's runtime, and the poll's deadline.
pub struct PollContext<'a> {
    /// The limits a state is held to.
    pub limits: &'a Limits,
    pub(super) runtime: &'a Runtime,
    pub(super) stop: &'a watch::Receiver<bool>,
    /// When the poll as a whole must be over ([`Limits::poll_timeout`] after it began): every request of the
    /// poll shares it.
    pub(super) deadline: Instant,
    /// The reloader's counters, for the requests a source counts.
    pub(super) stats: &'a ReloadStats,
}

impl PollContext<'_> {
    /// Runs `work` on the source's runtime. Gives up after `limit` or at the poll's deadline, whichever
    /// comes first, and at once when the plugin is going away (whatever the request is doing: a slow
    /// download included).
    pub fn block_on<T>(
        &self,
        limit: Duration,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let (limit, why) = if left < limit {
            (left, "the poll ran out of its time (poll_timeout)")
        } else {
            (limit, "no answer in time")
        };
        let mut stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => {
                    Err(anyhow::anyhow!("interrupted: tfdrift is stopping"))
                }
                outcome = tokio::time::timeout(limit, work) => match outcome {
                    Ok(result) => result,
                    Err(_) => Err(anyhow::anyhow!("{why}: no answer within {} seconds", limit.as_secs())),
                },
            }
        })
    }

    /// Counts a listing request (one page).
    pub fn count_listing(&self) {
        ReloadStats::add(&self.stats.listings, 1);
    }

    /// The counters a request of the poll adds to (usable inside a future that outlives no poll).
    pub(super) fn stats(&self) -> &ReloadStats {
        self.stats
    }

    /// Whether the plugin is going away.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_gives_up_on_stop_and_on_time() {
        let (stop_tx, stop) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let limits = Limits::default();
        let stats = ReloadStats::default();
        let ctx = PollContext {
            limits: &limits,
            runtime: &runtime,
            stop: &stop,
            deadline: Instant::now() + Duration::from_secs(60),
            stats: &stats,
        };
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        };
        let started = std::time::Instant::now();
        let e = ctx.block_on(Duration::from_millis(50), slow()).unwrap_err();
        assert!(e.to_string().contains("no answer"), "{e}");
        let _ = stop_tx.send(true);
        assert!(ctx.stopping());
        let e = ctx.block_on(Duration::from_secs(30), slow()).unwrap_err();
        assert!(e.to_string().contains("stopping"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
