//! Where Terraform states come from, and the reload thread that keeps the index current.
//!
//! This module owns everything that happens on reload: polling each source, parsing what changed, building a
//! new [`Index`] and swapping it in atomically. Extraction only ever calls [`Reloader::snapshot`], an
//! `ArcSwap` load that never blocks and never waits for a reload. A failed reload keeps the last good state.

pub mod local;

use crate::catalog::Catalog;
use crate::state::{Index, Limits, State};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

/// A place a state is read from. `poll` returns `Ok(None)` when the state has not changed since the last
/// poll, so an unchanged state costs no parse.
pub trait StateSource: Send {
    fn name(&self) -> &str;
    /// A description for logs (a path, a bucket and key); never carries a secret.
    fn describe(&self) -> String;
    fn poll(&mut self, limits: &Limits) -> anyhow::Result<Option<State>>;
}

/// One state as loaded, and when.
pub struct Loaded {
    pub state: Arc<State>,
    pub loaded_at: SystemTime,
}

/// What extraction reads: an index over the last good version of every state, and when each was loaded.
pub struct Snapshot {
    pub index: Index,
    /// Aligned with `index.states()`.
    pub loaded_at: Vec<SystemTime>,
}

impl Snapshot {
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

/// The sources, their last good states, and how to turn them into a snapshot.
struct Sources {
    sources: Vec<Box<dyn StateSource>>,
    loaded: Vec<Option<Loaded>>,
    catalog: Arc<Catalog>,
    limits: Limits,
}

impl Sources {
    /// Polls every source; returns whether anything changed. Failures are logged and keep the last good state.
    fn refresh(&mut self) -> (bool, Vec<String>) {
        let mut changed = false;
        let mut failures = Vec::new();
        for (source, slot) in self.sources.iter_mut().zip(self.loaded.iter_mut()) {
            match source.poll(&self.limits) {
                Ok(Some(state)) => {
                    tracing::info!(
                        state = source.name(),
                        source = %source.describe(),
                        serial = state.serial,
                        instances = state.instances.len(),
                        "state loaded"
                    );
                    *slot = Some(Loaded {
                        state: Arc::new(state),
                        loaded_at: SystemTime::now(),
                    });
                    changed = true;
                }
                Ok(None) => {}
                Err(error) => {
                    let kept = if slot.is_some() {
                        "keeping the last good version"
                    } else {
                        "no version loaded yet"
                    };
                    tracing::warn!(
                        state = source.name(),
                        source = %source.describe(),
                        "state reload failed, {kept}: {error:#}"
                    );
                    failures.push(format!(
                        "{} ({}): {error:#}",
                        source.name(),
                        source.describe()
                    ));
                }
            }
        }
        (changed, failures)
    }

    fn snapshot(&self) -> Snapshot {
        let loaded: Vec<&Loaded> = self.loaded.iter().flatten().collect();
        let states = loaded.iter().map(|l| Arc::clone(&l.state)).collect();
        Snapshot {
            index: Index::build(states, &*self.catalog),
            loaded_at: loaded.iter().map(|l| l.loaded_at).collect(),
        }
    }
}

/// Loads every source once, with no thread: for hosts that read a fixed set of states (the replay command).
/// Returns the snapshot and a message for each source that failed.
pub fn load_once(
    sources: Vec<Box<dyn StateSource>>,
    catalog: Arc<Catalog>,
    limits: Limits,
) -> (Snapshot, Vec<String>) {
    let mut sources = Sources {
        loaded: (0..sources.len()).map(|_| None).collect(),
        sources,
        catalog,
        limits,
    };
    let (_, failures) = sources.refresh();
    (sources.snapshot(), failures)
}

/// The reload thread and the snapshot it publishes.
pub struct Reloader {
    current: Arc<ArcSwap<Snapshot>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// How the reloader starts.
pub struct ReloadOptions {
    pub interval: Duration,
    /// Refuse to start when no state at all can be loaded.
    pub require_state_on_start: bool,
    pub limits: Limits,
}

impl Reloader {
    /// Loads every source once, on the caller's thread (so a plugin can refuse to start), then starts the
    /// thread that polls them every `interval`.
    pub fn start(
        sources: Vec<Box<dyn StateSource>>,
        catalog: Arc<Catalog>,
        options: ReloadOptions,
    ) -> anyhow::Result<Reloader> {
        let count = sources.len();
        let mut sources = Sources {
            loaded: (0..count).map(|_| None).collect(),
            sources,
            catalog,
            limits: options.limits,
        };
        let (_, failures) = sources.refresh();
        let loaded = sources.loaded.iter().flatten().count();
        if loaded == 0 && count > 0 && options.require_state_on_start {
            anyhow::bail!(
                "no Terraform state could be loaded (set require_state_on_start to false to start anyway): {}",
                failures.join("; ")
            );
        }
        if loaded < count {
            tracing::warn!(
                "{loaded} of {count} states loaded; the others are retried every refresh"
            );
        }
        let current = Arc::new(ArcSwap::from_pointee(sources.snapshot()));

        let (stop, stopped) = mpsc::channel::<()>();
        let publish = Arc::clone(&current);
        let interval = options.interval;
        let thread = std::thread::Builder::new()
            .name("tfdrift-reload".into())
            .spawn(move || {
                // Any message, or the sender dropped, means the plugin is going away.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(interval) {
                    // A panic while reloading must not take the process down nor stop future reloads.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let (changed, _) = sources.refresh();
                        if changed {
                            let snapshot = sources.snapshot();
                            tracing::debug!(
                                instances = snapshot.index.instance_count(),
                                "index swapped in"
                            );
                            publish.store(Arc::new(snapshot));
                        }
                    }));
                    if outcome.is_err() {
                        tracing::error!("state reload panicked; keeping the last good index");
                    }
                }
            })?;
        Ok(Reloader {
            current,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The current snapshot. Never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        // Dropping the sender wakes the thread at once, whatever the interval.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("state reload thread ended with a panic");
        }
    }
}
