//! The reload thread's counters, for the plugin's metrics. Written by the reload thread only; read by
//! `get_metrics`, never on the event path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct ReloadStats {
    pub(super) states_loaded: AtomicU64,
    pub(super) resources_indexed: AtomicU64,
    /// Unix seconds of the oldest "last successful check" over every state and source.
    pub(super) oldest_refresh: AtomicU64,
    pub(super) refresh_failures: AtomicU64,
    pub(super) rollbacks_refused: AtomicU64,
    pub(super) state_loads: AtomicU64,
    pub(super) state_checks: AtomicU64,
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadCounts {
    /// States in the index now.
    pub states_loaded: u64,
    /// Resource instances in the index now.
    pub resources_indexed: u64,
    /// Seconds since the least recently confirmed state (or source) was last checked successfully: a
    /// state whose source fails, or whose newest version was refused, grows older every second.
    pub seconds_since_refresh_max: u64,
    /// Polls that failed or were refused (one per state per refresh, or per source when it cannot be listed).
    pub refresh_failures: u64,
    /// New versions refused because their serial is lower than the loaded one's, same lineage.
    pub rollbacks_refused: u64,
    /// New versions parsed and swapped in.
    pub state_loads: u64,
    /// Successful checks of a state, changed or not.
    pub state_checks: u64,
}

impl ReloadStats {
    pub fn read(&self) -> ReloadCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let now = unix_seconds(SystemTime::now());
        ReloadCounts {
            states_loaded: get(&self.states_loaded),
            resources_indexed: get(&self.resources_indexed),
            seconds_since_refresh_max: now.saturating_sub(get(&self.oldest_refresh)),
            refresh_failures: get(&self.refresh_failures),
            rollbacks_refused: get(&self.rollbacks_refused),
            state_loads: get(&self.state_loads),
            state_checks: get(&self.state_checks),
        }
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }
}

pub(super) fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}
