//! Where Terraform states come from, and the reload thread that keeps the index current.
//!
//! This module owns everything that happens on reload: polling each source, refusing what must not be
//! loaded (a rollback of a loaded state; the sources themselves refuse what is not a state, too large or
//! truncated), scoping each state to its account and region, building a new [`Index`] and swapping it in
//! atomically, and counting what happened for the plugin's metrics. Extraction only ever calls
//! [`Reloader::snapshot`], an `ArcSwap` load that never blocks and never waits for a reload. A failed
//! reload keeps the last good version of every state.
//!
//! The reload thread owns a current-thread tokio runtime; the network sources (S3, HTTP, HCP Terraform)
//! run their requests on it through [`PollContext::block_on`], which bounds every request in time and gives
//! up at once when the plugin is going away. Nothing here runs on Falco's event thread.
//!
//! Sources: [`local`] (a file), [`s3`] (an S3 object, with workspace discovery), [`http`] (Terraform's
//! `http` backend), [`hcp`] (HCP Terraform and Terraform Enterprise). A source may hold several states
//! (one per workspace): each is a [`Member`] with its own name.

pub mod hcp;
pub mod http;
pub mod local;
pub mod s3;
mod web;

use crate::catalog::Catalog;
use crate::state::{Index, Limits, Scope, State};
use arc_swap::ArcSwap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// A place one or more states are read from.
pub trait StateSource: Send {
    /// The configured name; a source holding several states names them `name/workspace`.
    fn name(&self) -> &str;
    /// A description for logs (a path, a bucket and key, a URL without its query); never carries a secret.
    fn describe(&self) -> String;
    /// The account and region the configuration gives this source's states.
    fn scope(&self) -> ScopeConfig {
        ScopeConfig::default()
    }
    /// Checks the source: every state it holds now, each with what changed since the last poll. A state
    /// missing from the list is gone (a deleted workspace). `Err` means the source could not even be listed:
    /// every state it held is kept as it was.
    fn poll(&mut self, ctx: &PollContext) -> anyhow::Result<Vec<Member>>;
}

/// One state a source holds, and what a poll found.
#[derive(Debug)]
pub struct Member {
    pub name: String,
    pub outcome: Outcome,
}

impl Member {
    pub fn new(name: impl Into<String>, outcome: Outcome) -> Self {
        Member {
            name: name.into(),
            outcome,
        }
    }
}

/// What a poll found for one state.
#[derive(Debug)]
pub enum Outcome {
    /// The same version as the last one this source returned (loaded or refused): no download, no parse.
    Unchanged,
    /// A new version, parsed.
    Changed(State),
    /// A new version that is not usable (not a state, too large, cut short): refused, and not fetched again
    /// until it changes.
    Refused(anyhow::Error),
    /// The source could not be read this time (network, credentials, server): tried again next refresh.
    Failed(anyhow::Error),
}

/// How the configuration scopes a source's states: each part is given, `*` (any), or inferred from the
/// state's ARNs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeConfig {
    pub account: ScopeSetting,
    pub region: ScopeSetting,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ScopeSetting {
    /// From the state's ARNs, when they agree.
    #[default]
    Infer,
    /// Not scoped.
    Any,
    Is(Box<str>),
}

impl ScopeSetting {
    /// `None` infers, `*` is any, anything else is that value.
    pub fn from_config(value: Option<&str>) -> ScopeSetting {
        match value {
            None => ScopeSetting::Infer,
            Some("*") => ScopeSetting::Any,
            Some(value) => ScopeSetting::Is(value.into()),
        }
    }

    fn resolve(&self, inferred: Option<Box<str>>) -> Option<Box<str>> {
        match self {
            ScopeSetting::Infer => inferred,
            ScopeSetting::Any => None,
            ScopeSetting::Is(value) => Some(value.clone()),
        }
    }
}

impl ScopeConfig {
    fn resolve(&self, state: &State) -> Scope {
        let inferred = if self.account == ScopeSetting::Infer || self.region == ScopeSetting::Infer
        {
            Scope::infer(state)
        } else {
            Scope::default()
        };
        Scope {
            account: self.account.resolve(inferred.account),
            region: self.region.resolve(inferred.region),
        }
    }
}

/// A source with the scope its configuration gives.
struct Scoped {
    inner: Box<dyn StateSource>,
    scope: ScopeConfig,
}

/// Gives `source`'s states the configured scope (parts left to [`ScopeSetting::Infer`] are inferred).
pub fn with_scope(source: Box<dyn StateSource>, scope: ScopeConfig) -> Box<dyn StateSource> {
    Box::new(Scoped {
        inner: source,
        scope,
    })
}

impl StateSource for Scoped {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn scope(&self) -> ScopeConfig {
        self.scope.clone()
    }
    fn poll(&mut self, ctx: &PollContext) -> anyhow::Result<Vec<Member>> {
        self.inner.poll(ctx)
    }
}

/// What a source may use while polling: the limits on a state, and the reload thread's runtime.
pub struct PollContext<'a> {
    pub limits: &'a Limits,
    runtime: &'a Runtime,
    stop: &'a watch::Receiver<bool>,
}

impl PollContext<'_> {
    /// Runs `work` on the reload thread's runtime. Gives up after `limit`, and at once when the plugin is
    /// going away (whatever the request is doing: a slow download included).
    pub fn block_on<T>(
        &self,
        limit: Duration,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        let mut stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => {
                    Err(anyhow::anyhow!("interrupted: tfdrift is stopping"))
                }
                outcome = tokio::time::timeout(limit, work) => match outcome {
                    Ok(result) => result,
                    Err(_) => Err(anyhow::anyhow!("no answer within {} seconds", limit.as_secs())),
                },
            }
        })
    }

    /// Whether the plugin is going away.
    pub fn stopping(&self) -> bool {
        *self.stop.borrow() || self.stop.has_changed().is_err()
    }
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

/// Counters of the reload thread, for the plugin's metrics. Written by the reload thread only; read by
/// `get_metrics`, never on the event path.
#[derive(Debug, Default)]
pub struct ReloadStats {
    states_loaded: AtomicU64,
    resources_indexed: AtomicU64,
    /// Unix seconds of the oldest "last successful check" over every state and source.
    oldest_refresh: AtomicU64,
    refresh_failures: AtomicU64,
    rollbacks_refused: AtomicU64,
    state_loads: AtomicU64,
    state_checks: AtomicU64,
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

    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// One source, and the states it holds.
struct SourceSlot {
    source: Box<dyn StateSource>,
    members: Vec<MemberSlot>,
    /// Last time the source answered (even with no state).
    last_ok: Option<SystemTime>,
    /// The last failure logged, so a failure that repeats is logged once.
    last_error: Option<String>,
}

/// One state of a source: its last good version and how current it is.
struct MemberSlot {
    name: String,
    loaded: Option<Loaded>,
    /// The newest version the source has was refused: the loaded one is not current.
    refused: bool,
    /// Last time the loaded version was confirmed current.
    last_ok: Option<SystemTime>,
    last_error: Option<String>,
}

impl MemberSlot {
    fn new(name: String) -> Self {
        MemberSlot {
            name,
            loaded: None,
            refused: false,
            last_ok: None,
            last_error: None,
        }
    }
}

/// The sources, their last good states, and how to turn them into a snapshot.
struct Sources {
    slots: Vec<SourceSlot>,
    catalog: Arc<Catalog>,
    limits: Limits,
    runtime: Runtime,
    stop: watch::Receiver<bool>,
    stats: Arc<ReloadStats>,
    started: SystemTime,
}

/// What a refresh did.
struct Refreshed {
    /// The set of loaded states changed: the index must be rebuilt.
    changed: bool,
    /// One message per failure, naming the state and its source.
    failures: Vec<String>,
}

impl Sources {
    fn new(
        sources: Vec<Box<dyn StateSource>>,
        catalog: Arc<Catalog>,
        limits: Limits,
        stop: watch::Receiver<bool>,
        stats: Arc<ReloadStats>,
    ) -> std::io::Result<Sources> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("tfdrift-reload")
            .build()?;
        Ok(Sources {
            slots: sources
                .into_iter()
                .map(|source| SourceSlot {
                    source,
                    members: Vec::new(),
                    last_ok: None,
                    last_error: None,
                })
                .collect(),
            catalog,
            limits,
            runtime,
            stop,
            stats,
            started: SystemTime::now(),
        })
    }

    /// Polls every source (stopping early if the plugin is going away). Failures are logged (once while
    /// they repeat) and keep the last good version.
    fn refresh(&mut self) -> Refreshed {
        let Sources {
            slots,
            limits,
            runtime,
            stop,
            stats,
            ..
        } = self;
        let ctx = PollContext {
            limits,
            runtime,
            stop,
        };
        let mut refreshed = Refreshed {
            changed: false,
            failures: Vec::new(),
        };
        for slot in slots.iter_mut() {
            if ctx.stopping() {
                break;
            }
            let polled = slot.source.poll(&ctx);
            let now = SystemTime::now();
            match polled {
                Err(error) => {
                    let message = format!("{error:#}");
                    if slot.last_error.as_deref() != Some(&message) {
                        tracing::warn!(
                            state = slot.source.name(),
                            source = %slot.source.describe(),
                            "cannot read the source, keeping its states as they are: {message}"
                        );
                    }
                    refreshed.failures.push(format!(
                        "{} ({}): {message}",
                        slot.source.name(),
                        slot.source.describe()
                    ));
                    slot.last_error = Some(message);
                    ReloadStats::add(&stats.refresh_failures, 1);
                }
                Ok(members) => {
                    if slot.last_error.take().is_some() {
                        tracing::info!(state = slot.source.name(), "the source answers again");
                    }
                    slot.last_ok = Some(now);
                    apply(slot, members, now, stats, &mut refreshed);
                }
            }
        }
        refreshed
    }

    fn loaded(&self) -> impl Iterator<Item = &Loaded> {
        self.slots
            .iter()
            .flat_map(|slot| &slot.members)
            .filter_map(|member| member.loaded.as_ref())
    }

    fn snapshot(&self) -> Snapshot {
        let loaded: Vec<&Loaded> = self.loaded().collect();
        Snapshot {
            index: Index::build(
                loaded.iter().map(|l| Arc::clone(&l.state)).collect(),
                &*self.catalog,
            ),
            loaded_at: loaded.iter().map(|l| l.loaded_at).collect(),
        }
    }

    /// Publishes the counters that describe the current set of states.
    fn publish_stats(&self, snapshot: Option<&Snapshot>) {
        let stats = &self.stats;
        stats
            .states_loaded
            .store(self.loaded().count() as u64, Ordering::Relaxed);
        if let Some(snapshot) = snapshot {
            stats
                .resources_indexed
                .store(snapshot.index.instance_count() as u64, Ordering::Relaxed);
        }
        let oldest = self
            .slots
            .iter()
            .flat_map(|slot| {
                std::iter::once(slot.last_ok).chain(slot.members.iter().map(|m| m.last_ok))
            })
            .map(|at| at.unwrap_or(self.started))
            .min()
            .unwrap_or_else(SystemTime::now);
        stats
            .oldest_refresh
            .store(unix_seconds(oldest), Ordering::Relaxed);
    }

    /// Waits `interval`; false if the plugin is going away.
    fn wait(&self, interval: Duration) -> bool {
        let mut stop = self.stop.clone();
        self.runtime.block_on(async move {
            tokio::select! {
                _ = stop.wait_for(|stopping| *stopping) => false,
                _ = tokio::time::sleep(interval) => true,
            }
        })
    }
}

/// Applies one successful poll of a source to its states.
fn apply(
    slot: &mut SourceSlot,
    members: Vec<Member>,
    now: SystemTime,
    stats: &ReloadStats,
    refreshed: &mut Refreshed,
) {
    let scope = slot.source.scope();
    let describe = slot.source.describe();
    let mut previous = std::mem::take(&mut slot.members);
    for Member { name, outcome } in members {
        if slot.members.iter().any(|m| m.name == name) {
            continue;
        }
        let mut member = match previous.iter().position(|m| m.name == name) {
            Some(i) => previous.swap_remove(i),
            None => MemberSlot::new(name),
        };
        let failure = match outcome {
            Outcome::Unchanged => {
                ReloadStats::add(&stats.state_checks, 1);
                if !member.refused {
                    member.last_ok = Some(now);
                }
                None
            }
            Outcome::Changed(mut state) => {
                ReloadStats::add(&stats.state_checks, 1);
                match rollback(member.loaded.as_ref(), &state) {
                    Some(problem) => {
                        ReloadStats::add(&stats.rollbacks_refused, 1);
                        member.refused = true;
                        Some(problem)
                    }
                    None => {
                        state.name = Arc::from(member.name.as_str());
                        state.scope = scope.resolve(&state);
                        tracing::info!(
                            state = %member.name,
                            source = %describe,
                            serial = state.serial,
                            instances = state.instances.len(),
                            account = state.scope.account.as_deref().unwrap_or("any"),
                            region = state.scope.region.as_deref().unwrap_or("any"),
                            "state loaded"
                        );
                        member.loaded = Some(Loaded {
                            state: Arc::new(state),
                            loaded_at: now,
                        });
                        member.refused = false;
                        member.last_ok = Some(now);
                        member.last_error = None;
                        ReloadStats::add(&stats.state_loads, 1);
                        refreshed.changed = true;
                        None
                    }
                }
            }
            Outcome::Refused(error) => {
                member.refused = true;
                Some(format!("refused: {error:#}"))
            }
            Outcome::Failed(error) => Some(format!("{error:#}")),
        };
        if let Some(message) = failure {
            let kept = if member.loaded.is_some() {
                "keeping the last good version"
            } else {
                "no version loaded yet"
            };
            if member.last_error.as_deref() != Some(&message) {
                tracing::warn!(
                    state = %member.name,
                    source = %describe,
                    "state reload failed, {kept}: {message}"
                );
            }
            refreshed
                .failures
                .push(format!("{} ({describe}): {message}", member.name));
            member.last_error = Some(message);
            ReloadStats::add(&stats.refresh_failures, 1);
        }
        slot.members.push(member);
    }
    for gone in previous {
        if gone.loaded.is_some() {
            tracing::info!(state = %gone.name, source = %describe, "state no longer in its source; dropped");
            refreshed.changed = true;
        }
    }
}

/// Why a new version must not replace the loaded one: same lineage, lower serial.
fn rollback(loaded: Option<&Loaded>, new: &State) -> Option<String> {
    let old = &loaded?.state;
    let same_lineage = old.lineage.is_some() && old.lineage == new.lineage;
    (same_lineage && new.serial < old.serial).then(|| {
        format!(
            "refused: serial {} is lower than the loaded serial {} of the same lineage (a rollback); restart tfdrift to accept it",
            new.serial, old.serial
        )
    })
}

/// Loads every source once, with no thread: for hosts that read a fixed set of states (the replay command).
/// Returns the snapshot and a message for each source that failed.
pub fn load_once(
    sources: Vec<Box<dyn StateSource>>,
    catalog: Arc<Catalog>,
    limits: Limits,
) -> (Snapshot, Vec<String>) {
    let (_keep_going, stop) = watch::channel(false);
    let stats = Arc::new(ReloadStats::default());
    match Sources::new(sources, catalog, limits, stop, stats) {
        Ok(mut sources) => {
            let refreshed = sources.refresh();
            (sources.snapshot(), refreshed.failures)
        }
        Err(e) => (
            Snapshot::empty(),
            vec![format!("cannot start the runtime that reads states: {e}")],
        ),
    }
}

/// The reload thread and the snapshot it publishes.
pub struct Reloader {
    current: Arc<ArcSwap<Snapshot>>,
    stats: Arc<ReloadStats>,
    stop: Option<watch::Sender<bool>>,
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
    /// Starts the reload thread, which loads every source once while the caller waits (so a plugin can
    /// refuse to start), then polls them every `interval`.
    pub fn start(
        sources: Vec<Box<dyn StateSource>>,
        catalog: Arc<Catalog>,
        options: ReloadOptions,
    ) -> anyhow::Result<Reloader> {
        let (stop, stopped) = watch::channel(false);
        let stats = Arc::new(ReloadStats::default());
        let (ready, first_load) = std::sync::mpsc::sync_channel::<anyhow::Result<_>>(1);
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("tfdrift-reload".into())
            .spawn(move || {
                let count = sources.len();
                let mut sources =
                    match Sources::new(sources, catalog, options.limits, stopped, thread_stats) {
                        Ok(sources) => sources,
                        Err(e) => {
                            let _ = ready.send(Err(anyhow::anyhow!(
                                "cannot start the runtime that reads states: {e}"
                            )));
                            return;
                        }
                    };
                let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let refreshed = sources.refresh();
                    let snapshot = sources.snapshot();
                    sources.publish_stats(Some(&snapshot));
                    (refreshed, snapshot)
                }));
                let Ok((refreshed, snapshot)) = first else {
                    let _ = ready.send(Err(anyhow::anyhow!(
                        "internal error while loading the states"
                    )));
                    return;
                };
                let loaded = snapshot.index.states().len();
                if loaded == 0 && count > 0 && options.require_state_on_start {
                    let _ = ready.send(Err(anyhow::anyhow!(
                        "no Terraform state could be loaded (set require_state_on_start to false to start anyway): {}",
                        if refreshed.failures.is_empty() {
                            "no source holds a state".to_owned()
                        } else {
                            refreshed.failures.join("; ")
                        }
                    )));
                    return;
                }
                if loaded == 0 && count > 0 {
                    tracing::warn!(
                        "no Terraform state loaded yet: tfdrift starts with an empty index and tries again every {} seconds",
                        options.interval.as_secs()
                    );
                } else if !refreshed.failures.is_empty() {
                    tracing::warn!(
                        "{loaded} states loaded; the others are retried every refresh"
                    );
                }
                let current = Arc::new(ArcSwap::from_pointee(snapshot));
                if ready.send(Ok(Arc::clone(&current))).is_err() {
                    return;
                }
                let mut retired = Retired::default();
                let mut next_refresh = Instant::now() + options.interval;
                while sources.wait(retired.wait(next_refresh)) {
                    retired.release();
                    if Instant::now() < next_refresh {
                        continue;
                    }
                    next_refresh = Instant::now() + options.interval;
                    // A panic while reloading must not take the process down nor stop future reloads.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let refreshed = sources.refresh();
                        if refreshed.changed {
                            let snapshot = sources.snapshot();
                            tracing::debug!(
                                instances = snapshot.index.instance_count(),
                                "index swapped in"
                            );
                            sources.publish_stats(Some(&snapshot));
                            retired.keep(current.swap(Arc::new(snapshot)));
                        } else {
                            sources.publish_stats(None);
                        }
                    }));
                    if outcome.is_err() {
                        tracing::error!("state reload panicked; keeping the last good index");
                    }
                }
            })?;
        let current = match first_load.recv() {
            Ok(Ok(current)) => current,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                let _ = thread.join();
                anyhow::bail!("the state reload thread ended before loading the states");
            }
        };
        Ok(Reloader {
            current,
            stats,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The current snapshot. Never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// A handle for the event thread, which looks at the snapshot once per event.
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader::new(Arc::clone(&self.current))
    }

    /// The reload thread's counters.
    pub fn stats(&self) -> &ReloadStats {
        &self.stats
    }
}

/// The event thread's handle on the published snapshot. While no reload swaps it, a look is one relaxed
/// atomic load and a comparison: no reference count is touched, so no cache line is shared with the reload
/// thread or written per event. A new snapshot is cloned once, at the first look after the swap.
pub struct SnapshotReader(arc_swap::Cache<Arc<ArcSwap<Snapshot>>, Arc<Snapshot>>);

impl SnapshotReader {
    pub fn new(published: Arc<ArcSwap<Snapshot>>) -> Self {
        SnapshotReader(arc_swap::Cache::new(published))
    }

    /// The current snapshot. Never blocks.
    pub fn current(&mut self) -> &Arc<Snapshot> {
        self.0.load()
    }
}

/// Snapshots swapped out but maybe still in use by the event thread (whose per-event cache keeps the last
/// event's snapshot). Freeing an index of tens of thousands of instances takes tens of milliseconds; were
/// the event thread to hold the last reference, that time would be spent on Falco's thread, stalling one
/// event. So the reload thread keeps every old snapshot until it holds the only reference, checking often
/// while it has any, and frees it itself.
#[derive(Default)]
struct Retired(Vec<Arc<Snapshot>>);

impl Retired {
    /// How often to look again while an old snapshot is still in use.
    const POLL: Duration = Duration::from_millis(50);

    fn keep(&mut self, old: Arc<Snapshot>) {
        self.0.push(old);
    }

    /// Frees the old snapshots nobody else holds any more.
    fn release(&mut self) {
        self.0.retain(|old| Arc::strong_count(old) > 1);
    }

    /// How long to sleep before the next refresh (due at `next_refresh`) or the next check.
    fn wait(&self, next_refresh: Instant) -> Duration {
        let until_refresh = next_refresh.saturating_duration_since(Instant::now());
        if self.0.is_empty() {
            until_refresh
        } else {
            until_refresh.min(Self::POLL)
        }
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Reloader {
    /// Stops the reload thread and waits for it; the next call (and the drop) does nothing. The plugin calls
    /// it under its panic guard on destroy.
    pub fn shutdown(&mut self) {
        // Wakes the thread at once, whatever it is waiting for: the interval, or a request.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("state reload thread ended with a panic");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::parse;

    fn state(serial: u64, lineage: &str) -> State {
        let text = format!(
            r#"{{"version":4,"serial":{serial},"lineage":"{lineage}","resources":[
              {{"mode":"managed","type":"aws_iam_role","name":"r","instances":[
                {{"attributes":{{"id":"r","arn":"arn:aws:iam::111111111111:role/r"}}}}]}}]}}"#
        );
        match parse("t", text.as_bytes(), &Limits::default()) {
            Ok(state) => state,
            Err(e) => panic!("{e}"),
        }
    }

    /// A source that returns what a test queued, one poll at a time.
    struct Scripted {
        polls: std::collections::VecDeque<anyhow::Result<Vec<Member>>>,
    }

    impl StateSource for Scripted {
        fn name(&self) -> &str {
            "s"
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn poll(&mut self, _ctx: &PollContext) -> anyhow::Result<Vec<Member>> {
            self.polls.pop_front().unwrap_or_else(|| Ok(Vec::new()))
        }
    }

    /// Sources over one scripted source, and the sender that keeps them from stopping.
    fn sources(
        polls: Vec<anyhow::Result<Vec<Member>>>,
        scope: ScopeConfig,
    ) -> (watch::Sender<bool>, Sources) {
        let (keep, stop) = watch::channel(false);
        let source = with_scope(
            Box::new(Scripted {
                polls: polls.into(),
            }),
            scope,
        );
        let catalog = Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"));
        let sources = Sources::new(
            vec![source],
            catalog,
            Limits::default(),
            stop,
            Arc::new(ReloadStats::default()),
        )
        .expect("a runtime");
        (keep, sources)
    }

    fn serials(sources: &Sources) -> Vec<(String, u64)> {
        sources
            .loaded()
            .map(|l| (l.state.name.to_string(), l.state.serial))
            .collect()
    }

    #[test]
    fn rollbacks_are_refused_and_the_last_good_version_kept() {
        let (_keep, mut s) = sources(
            vec![
                Ok(vec![Member::new("a", Outcome::Changed(state(5, "L")))]),
                Ok(vec![Member::new("a", Outcome::Changed(state(4, "L")))]),
                Ok(vec![Member::new("a", Outcome::Unchanged)]),
                Ok(vec![Member::new("a", Outcome::Changed(state(6, "L")))]),
                Ok(vec![Member::new("a", Outcome::Changed(state(1, "other")))]),
            ],
            ScopeConfig::default(),
        );
        assert!(s.refresh().changed);
        let refused = s.refresh();
        assert!(!refused.changed);
        assert!(
            refused.failures[0].contains("rollback"),
            "{:?}",
            refused.failures
        );
        assert_eq!(serials(&s), [("a".to_owned(), 5)]);
        // Still the refused version at the source: the loaded one is not current.
        s.refresh();
        assert!(s.slots[0].members[0].refused);
        assert!(s.refresh().changed);
        assert_eq!(serials(&s), [("a".to_owned(), 6)]);
        // Another lineage is another state: accepted.
        assert!(s.refresh().changed);
        assert_eq!(serials(&s), [("a".to_owned(), 1)]);
        let counts = s.stats.read();
        assert_eq!(
            (
                counts.rollbacks_refused,
                counts.refresh_failures,
                counts.state_loads
            ),
            (1, 1, 3)
        );
    }

    #[test]
    fn members_come_and_go_and_failures_keep_them() {
        let (_keep, mut s) = sources(
            vec![
                Ok(vec![
                    Member::new("n/a", Outcome::Changed(state(1, "A"))),
                    Member::new("n/b", Outcome::Changed(state(1, "B"))),
                ]),
                Err(anyhow::anyhow!("listing failed")),
                Ok(vec![
                    Member::new("n/b", Outcome::Unchanged),
                    Member::new("n/c", Outcome::Failed(anyhow::anyhow!("down"))),
                ]),
            ],
            ScopeConfig::default(),
        );
        s.refresh();
        assert_eq!(serials(&s).len(), 2);
        let failed = s.refresh();
        assert!(!failed.changed && failed.failures.len() == 1);
        assert_eq!(serials(&s).len(), 2);
        let third = s.refresh();
        assert!(third.changed);
        assert_eq!(serials(&s), [("n/b".to_owned(), 1)]);
        assert_eq!(s.slots[0].members.len(), 2);
    }

    #[test]
    fn scope_is_configured_or_inferred() {
        let (_keep, mut s) = sources(
            vec![Ok(vec![Member::new("a", Outcome::Changed(state(1, "L")))])],
            ScopeConfig {
                account: ScopeSetting::Infer,
                region: ScopeSetting::Is("eu-west-1".into()),
            },
        );
        s.refresh();
        let scope = s.loaded().next().map(|l| l.state.scope.clone());
        assert_eq!(
            scope,
            Some(Scope {
                account: Some("111111111111".into()),
                region: Some("eu-west-1".into()),
            })
        );
        let (_keep_any, mut any) = sources(
            vec![Ok(vec![Member::new("a", Outcome::Changed(state(1, "L")))])],
            ScopeConfig {
                account: ScopeSetting::Any,
                region: ScopeSetting::Infer,
            },
        );
        any.refresh();
        assert_eq!(
            any.loaded().next().map(|l| l.state.scope.clone()),
            Some(Scope::default())
        );
    }

    #[test]
    fn block_on_gives_up_on_stop_and_on_time() {
        let (stop_tx, stop) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let limits = Limits::default();
        let ctx = PollContext {
            limits: &limits,
            runtime: &runtime,
            stop: &stop,
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
