//! Snapshots swapped out but maybe still in use by the event thread (whose per-event cache keeps the last
//! event's snapshot). Freeing an index of tens of thousands of instances takes tens of milliseconds; were
//! the event thread to hold the last reference, that time would be spent on Falco's thread, stalling one
//! event. So the reload thread keeps every old snapshot until it holds the only reference, checking often
//! while it has any, and frees it itself.

use crate::state::Snapshot;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Default)]
pub(super) struct Retired(Vec<Arc<Snapshot>>);

impl Retired {
    /// How often to look again while an old snapshot is still in use.
    const POLL: Duration = Duration::from_millis(50);

    pub(super) fn keep(&mut self, old: Arc<Snapshot>) {
        self.0.push(old);
    }

    /// Frees the old snapshots nobody else holds any more.
    pub(super) fn release(&mut self) {
        self.0.retain(|old| Arc::strong_count(old) > 1);
    }

    /// How long to sleep before the next refresh (due at `next_refresh`) or the next check.
    pub(super) fn wait(&self, next_refresh: Instant) -> Duration {
        let until_refresh = next_refresh.saturating_duration_since(Instant::now());
        if self.0.is_empty() {
            until_refresh
        } else {
            until_refresh.min(Self::POLL)
        }
    }
}
