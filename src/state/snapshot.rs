//! The published index: what the verdict reads, and the event thread's handle on it. The reload thread
//! (`crate::sources`) builds each snapshot and swaps it in; nothing here depends on how states are reloaded.

use super::{Index, State};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::time::SystemTime;

/// What extraction reads: an index over the last good version of every state, and when each was loaded.
pub struct Snapshot {
    /// The states and the index over them.
    pub index: Index,
    /// Aligned with `index.states()`.
    pub loaded_at: Vec<SystemTime>,
}

impl Snapshot {
    /// A snapshot with no state, until the first load.
    pub fn empty() -> Snapshot {
        Snapshot {
            index: Index::empty(),
            loaded_at: Vec::new(),
        }
    }

    /// When the given state (one of `index.states()`) was loaded.
    pub fn loaded_at(&self, state: &State) -> Option<SystemTime> {
        let position = self
            .index
            .states()
            .iter()
            .position(|s| std::ptr::eq(&**s, state))?;
        self.loaded_at.get(position).copied()
    }
}

/// The event thread's handle on the published snapshot. While no reload swaps it, a look is one relaxed
/// atomic load and a comparison: no reference count is touched, so no cache line is shared with the reload
/// thread or written per event. A new snapshot is cloned once, at the first look after the swap.
pub struct SnapshotReader(arc_swap::Cache<Arc<ArcSwap<Snapshot>>, Arc<Snapshot>>);

impl SnapshotReader {
    /// A reader of what the reload thread publishes.
    pub fn new(published: Arc<ArcSwap<Snapshot>>) -> Self {
        SnapshotReader(arc_swap::Cache::new(published))
    }

    /// The current snapshot. Never blocks.
    pub fn current(&mut self) -> &Arc<Snapshot> {
        self.0.load()
    }
}
