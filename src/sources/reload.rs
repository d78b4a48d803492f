//! The reload thread: asks every source for a poll at each refresh, applies the answers as they come, builds
//! a new [`Index`] and swaps it in atomically. Extraction only ever calls [`Reloader::snapshot`] (or reads
//! through a [`SnapshotReader`]), an `ArcSwap` load that never blocks and never waits for a reload. A failed
//! reload keeps the last good version of every state.
//!
//! Every source is polled on a [`Worker`] thread of its own, which also parses (with the reloader's code, not
//! the source's) each new version as the source delivers it. Parsing there rather than on the reload thread
//! is deliberate: a source that blocks (a FIFO, a hung network mount, a server that trickles) or a huge state
//! that takes seconds to parse holds up only its own thread, and the others' states are swapped in without
//! it; and a poll over many workspaces holds one download at a time, not all of them. The reload thread
//! only applies parsed states (rollback, scope) and builds the index. Init waits at most [`INIT_WAIT`] for the
//! first answers; a source still busy then is loaded when it answers. On shutdown nothing waits for a
//! source: a thread stuck in a read is left behind. Nothing here runs on Falco's event thread.

use super::members::{
    Budget, Found, Loaded, MemberSlot, Refreshed, ScopeConfig, apply, parse_fetch,
};
use super::source::{Fetch, PollContext, StateSource};
use crate::catalog::Catalog;
use crate::state::{Index, Limits, Snapshot, SnapshotReader};
use arc_swap::ArcSwap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;
use tokio::sync::watch;

/// How long plugin init waits for the sources' first answers, all together; a source that has not answered
/// by then is loaded in the background when it does.
pub const INIT_WAIT: Duration = Duration::from_secs(60);

/// After a refresh round's first answers, how long the others are awaited before the index is swapped in
/// without them (they are swapped in when they answer).
const SETTLE: Duration = Duration::from_secs(2);

/// A poll that has not answered this long after its deadline ([`Limits::poll_timeout`]) is stuck in something
/// that does not heed it (a read of a hung mount): it is reported as a failure (once), and the source is not
/// asked again until it answers. The network sources give up on their own at the deadline.
const LATE_MARGIN: Duration = Duration::from_secs(10);

/// A source as the reloader takes it: the source, and the scope its configuration gives its states.
pub struct Registration {
    /// The source.
    pub source: Box<dyn StateSource>,
    /// The account and region its states cover.
    pub scope: ScopeConfig,
}

/// One source, and the states it holds.
struct SourceSlot {
    name: String,
    describe: String,
    scope: ScopeConfig,
    worker: Worker,
    members: Vec<MemberSlot>,
    /// Last time the source answered (even with no state).
    last_ok: Option<SystemTime>,
    /// The last failure logged, so a failure that repeats is logged once.
    last_error: Option<String>,
}

/// The sources, their last good states, and how to turn them into a snapshot.
struct Sources {
    slots: Vec<SourceSlot>,
    catalog: Arc<Catalog>,
    /// The reload thread's runtime, to wait on answers, timers and the stop signal together.
    runtime: Runtime,
    answers: tokio::sync::mpsc::UnboundedReceiver<Answer>,
    stop: watch::Receiver<bool>,
    stats: Arc<ReloadStats>,
    started: SystemTime,
    /// When a poll counts as late: its deadline and [`LATE_MARGIN`].
    late: Duration,
    /// [`Limits::max_total_instances`].
    max_total_instances: usize,
    /// The state counts last logged, so that they are logged when they change.
    last_counts: (u64, u64, u64, u64),
    /// Asks for a round now ([`Reloader::refresh_now`]).
    kick: Arc<tokio::sync::Notify>,
    /// Polls answered since the counters were last published.
    answered: u64,
}

impl Drop for Sources {
    /// Ends the sources' threads: an idle one ends as soon as its channel closes and is waited for; one busy
    /// with a poll is left to end when the poll does (a network poll ends at once, the stop signal being
    /// sent; a read of a hung mount may never), so that stopping never waits on a source.
    fn drop(&mut self) {
        let idle: Vec<JoinHandle<()>> = self
            .slots
            .iter_mut()
            .filter(|slot| slot.worker.asked_at.is_none())
            .filter_map(|slot| slot.worker.thread.take())
            .collect();
        // Closing the channels ends the idle threads' wait.
        self.slots.clear();
        for thread in idle {
            let _ = thread.join();
        }
    }
}

/// What the reload thread woke up for.
enum Wake {
    Stop,
    Answer(Answer),
    Time,
    /// A round asked for now.
    Kick,
}

impl Sources {
    fn new(
        sources: Vec<Registration>,
        catalog: Arc<Catalog>,
        limits: Limits,
        stop: watch::Receiver<bool>,
        stats: Arc<ReloadStats>,
    ) -> std::io::Result<Sources> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("tfdrift-reload")
            .build()?;
        let (send, answers) = tokio::sync::mpsc::unbounded_channel();
        let mut slots = Vec::with_capacity(sources.len());
        for (index, Registration { source, scope }) in sources.into_iter().enumerate() {
            slots.push(SourceSlot {
                name: source.name().to_owned(),
                describe: source.describe(),
                scope,
                worker: Worker::spawn(
                    index,
                    source,
                    limits.clone(),
                    stop.clone(),
                    send.clone(),
                    Arc::clone(&stats),
                )?,
                members: Vec::new(),
                last_ok: None,
                last_error: None,
            });
        }
        Ok(Sources {
            slots,
            catalog,
            runtime,
            answers,
            stop,
            stats,
            started: SystemTime::now(),
            late: limits.poll_timeout + LATE_MARGIN,
            max_total_instances: limits.max_total_instances,
            last_counts: (0, 0, 0, 0),
            kick: Arc::new(tokio::sync::Notify::new()),
            answered: 0,
        })
    }

    /// Asks every idle source for a poll. A source still busy with an earlier one is not asked again: its
    /// answer is applied when it comes.
    fn dispatch(&mut self) {
        let now = Instant::now();
        for slot in &mut self.slots {
            let worker = &mut slot.worker;
            if worker.asked_at.is_none() && worker.ask.send(()).is_ok() {
                worker.asked_at = Some(now);
                worker.late = false;
            }
        }
    }

    /// Whether a source has been asked and has not answered yet.
    fn busy(&self) -> bool {
        self.slots.iter().any(|slot| slot.worker.asked_at.is_some())
    }

    /// Waits until `until` for an answer (or the stop signal; or, with `kick`, a round asked for now).
    fn wake_or_kick(&mut self, until: Instant, kick: bool) -> Wake {
        if let Ok(answer) = self.answers.try_recv() {
            return Wake::Answer(answer);
        }
        let Sources {
            runtime,
            answers,
            stop,
            kick: kicked,
            ..
        } = self;
        let mut stop = stop.clone();
        runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => Wake::Stop,
                answer = answers.recv() => answer.map_or(Wake::Stop, Wake::Answer),
                _ = kicked.notified(), if kick => Wake::Kick,
                _ = tokio::time::sleep_until(until.into()) => Wake::Time,
            }
        })
    }

    /// Waits until `until` for an answer (or the stop signal).
    fn wake(&mut self, until: Instant) -> Wake {
        self.wake_or_kick(until, false)
    }

    /// Applies answers until every source asked has answered, `until` passes, or the plugin stops; then
    /// reports the polls that are late.
    fn collect(&mut self, until: Instant, refreshed: &mut Refreshed) {
        while self.busy() {
            match self.wake(until) {
                Wake::Answer(answer) => self.answer(answer, refreshed),
                Wake::Stop | Wake::Time | Wake::Kick => break,
            }
        }
        self.report_late(refreshed);
    }

    /// Asks every idle source and waits up to `wait` for the answers: a refresh round, for init and for hosts
    /// that load once. Failures are logged (once while they repeat) and keep the last good version.
    fn refresh(&mut self, wait: Duration) -> Refreshed {
        let mut refreshed = Refreshed::default();
        self.dispatch();
        self.collect(Instant::now() + wait, &mut refreshed);
        refreshed
    }

    /// Reports, once per poll, every source busy past its deadline and [`LATE_MARGIN`]: its states are kept,
    /// and it counts as a failure (so the metrics say a state is stale).
    fn report_late(&mut self, refreshed: &mut Refreshed) {
        for slot in &mut self.slots {
            let worker = &mut slot.worker;
            let Some(asked_at) = worker.asked_at else {
                continue;
            };
            if worker.late || asked_at.elapsed() < self.late {
                continue;
            }
            worker.late = true;
            let message = format!(
                "no answer for {} seconds (a file that blocks or a hung mount?); its states are kept and it is asked again once it answers",
                asked_at.elapsed().as_secs()
            );
            tracing::warn!(state = %slot.name, source = %slot.describe, "{message}");
            refreshed
                .failures
                .push(format!("{} ({}): {message}", slot.name, slot.describe));
            ReloadStats::add(&self.stats.refresh_failures, 1);
        }
    }

    /// Applies one source's answer to its states.
    fn answer(&mut self, (index, polled): Answer, refreshed: &mut Refreshed) {
        let mut budget = Budget {
            used: self.loaded().map(|l| l.state.instances.len()).sum(),
            max: self.max_total_instances,
        };
        let stats = &self.stats;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        slot.worker.asked_at = None;
        self.answered += 1;
        let now = SystemTime::now();
        match polled {
            Err(error) => refreshed.fail(
                stats,
                &mut slot.last_error,
                &slot.name,
                &slot.describe,
                "cannot read the source, keeping its states as they are: ",
                &format!("{error:#}"),
            ),
            Ok(found) => {
                if slot.last_error.take().is_some() {
                    tracing::info!(state = %slot.name, "the source answers again");
                }
                slot.last_ok = Some(now);
                apply(
                    &mut slot.members,
                    found,
                    &slot.scope,
                    &slot.describe,
                    now,
                    stats,
                    &mut budget,
                    refreshed,
                );
            }
        }
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
    fn publish_stats(&mut self, snapshot: Option<&Snapshot>) {
        let stats = &self.stats;
        // Published with the snapshot they produced: once `polls` counts a poll, its states are in.
        ReloadStats::add(&stats.polls, std::mem::take(&mut self.answered));
        let loaded = self.loaded().count() as u64;
        ReloadStats::set(&stats.states_loaded, loaded);
        let members = || self.slots.iter().flat_map(|slot| &slot.members);
        let discovered = members().count() as u64;
        let stale = members().filter(|m| m.stale()).count() as u64;
        let failed = members().filter(|m| m.failed()).count() as u64;
        ReloadStats::set(&stats.states_discovered, discovered);
        ReloadStats::set(&stats.states_stale, stale);
        ReloadStats::set(&stats.states_failed, failed);
        // One line when the counts change, whatever the number of states; each state's own change has its
        // line (loaded, refused, failing, missing), logged once while it lasts.
        let counts = (discovered, loaded, stale, failed);
        if counts != self.last_counts {
            self.last_counts = counts;
            tracing::info!(discovered, loaded, stale, failed, "states");
        }
        if let Some(snapshot) = snapshot {
            ReloadStats::set(
                &stats.resources_indexed,
                snapshot.index.instance_count() as u64,
            );
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
        ReloadStats::set(&stats.oldest_refresh, unix_seconds(oldest));
    }

    /// The first load, while plugin init waits: every source asked, answers awaited up to [`INIT_WAIT`]. Fails
    /// when no state at all loaded and `options` require one.
    fn first_load(&mut self, options: &ReloadOptions) -> anyhow::Result<Snapshot> {
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let refreshed = self.refresh(INIT_WAIT);
            let snapshot = self.snapshot();
            self.publish_stats(Some(&snapshot));
            (refreshed, snapshot)
        }));
        let Ok((mut refreshed, snapshot)) = first else {
            anyhow::bail!("internal error while loading the states");
        };
        // Sources still reading are not waited for: they are loaded when they answer.
        for slot in self
            .slots
            .iter()
            .filter(|slot| slot.worker.asked_at.is_some())
        {
            refreshed.failures.push(format!(
                "{} ({}): no answer within {} seconds; loaded when it answers",
                slot.name,
                slot.describe,
                INIT_WAIT.as_secs()
            ));
        }
        let loaded = snapshot.index.states().len();
        let count = self.slots.len();
        if loaded == 0 && count > 0 && options.require_state_on_start {
            anyhow::bail!(
                "no Terraform state could be loaded (set require_state_on_start to false to start anyway): {}",
                if refreshed.failures.is_empty() {
                    "no source holds a state".to_owned()
                } else {
                    refreshed.failures.join("; ")
                }
            );
        }
        if loaded == 0 && count > 0 {
            tracing::warn!(
                "no Terraform state loaded yet: tfdrift starts with an empty index and tries again every {} seconds",
                options.interval.as_secs()
            );
        } else if !refreshed.failures.is_empty() {
            tracing::warn!("{loaded} states loaded; the others are retried every refresh");
        }
        Ok(snapshot)
    }

    /// Reloads until the plugin stops: a round every `interval`, a late answer applied when it comes, every
    /// change swapped into `current`.
    fn run(mut self, current: &ArcSwap<Snapshot>, interval: Duration) {
        let mut retired = Retired::default();
        let mut next_refresh = Instant::now() + interval;
        loop {
            let mut wake = self.wake_or_kick(Instant::now() + retired.wait(next_refresh), true);
            if let Wake::Kick = wake {
                next_refresh = Instant::now();
                wake = Wake::Time;
            }
            retired.release();
            // A panic while reloading must not take the process down nor stop future reloads.
            let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                self.step(wake, &mut next_refresh, interval, current, &mut retired)
            }));
            match step {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => tracing::error!("state reload panicked; keeping the last good index"),
            }
        }
    }

    /// Handles one wake of the reload thread: a late answer, a round due, or a check for late polls; swaps a
    /// new snapshot in if the states changed. `false` when the plugin is stopping.
    fn step(
        &mut self,
        wake: Wake,
        next_refresh: &mut Instant,
        interval: Duration,
        current: &ArcSwap<Snapshot>,
        retired: &mut Retired,
    ) -> bool {
        let mut refreshed = Refreshed::default();
        match wake {
            Wake::Stop => return false,
            // A source that answers late (after its round settled): swapped in now.
            Wake::Answer(answer) => {
                self.answer(answer, &mut refreshed);
                self.collect(Instant::now() + SETTLE, &mut refreshed);
            }
            Wake::Time if Instant::now() >= *next_refresh => {
                *next_refresh = Instant::now() + interval;
                self.dispatch();
                self.collect(Instant::now() + SETTLE, &mut refreshed);
            }
            Wake::Time | Wake::Kick => {
                self.report_late(&mut refreshed);
                return true;
            }
        }
        if refreshed.changed {
            let snapshot = self.snapshot();
            tracing::debug!(
                instances = snapshot.index.instance_count(),
                "index swapped in"
            );
            let snapshot = Arc::new(snapshot);
            retired.keep(current.swap(Arc::clone(&snapshot)));
            self.publish_stats(Some(&snapshot));
        } else {
            self.publish_stats(None);
        }
        true
    }
}

/// Loads every source once, with no thread: for hosts that read a fixed set of states (the replay command).
/// Returns the snapshot and a message for each source that failed.
pub fn load_once(
    sources: Vec<Registration>,
    catalog: Arc<Catalog>,
    limits: Limits,
) -> (Snapshot, Vec<String>) {
    let (_keep_going, stop) = watch::channel(false);
    let stats = Arc::new(ReloadStats::default());
    match Sources::new(sources, catalog, limits, stop, stats) {
        Ok(mut sources) => {
            // A one-off load waits for every source as long as a source may take.
            let wait = sources.late;
            let refreshed = sources.refresh(wait);
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
    kick: Arc<tokio::sync::Notify>,
    stop: Option<watch::Sender<bool>>,
    thread: Option<JoinHandle<()>>,
}

/// How the reloader starts.
pub struct ReloadOptions {
    /// Time between polls of every source.
    pub interval: Duration,
    /// Refuse to start when no state at all can be loaded.
    pub require_state_on_start: bool,
    /// The limits every state is held to.
    pub limits: Limits,
}

impl Reloader {
    /// Starts the reload thread, which loads every source once while the caller waits (so a plugin can
    /// refuse to start), then polls them every `interval`.
    pub fn start(
        sources: Vec<Registration>,
        catalog: Arc<Catalog>,
        options: ReloadOptions,
    ) -> anyhow::Result<Reloader> {
        let (stop, stopped) = watch::channel(false);
        let stats = Arc::new(ReloadStats::default());
        let (ready, first_load) = std::sync::mpsc::sync_channel::<anyhow::Result<_>>(1);
        let kick = Arc::new(tokio::sync::Notify::new());
        let thread_kick = Arc::clone(&kick);
        let thread_stats = Arc::clone(&stats);
        let thread = std::thread::Builder::new()
            .name("tfdrift-reload".into())
            .spawn(move || {
                let limits = options.limits.clone();
                let started = Sources::new(sources, catalog, limits, stopped, thread_stats)
                    .map_err(|e| anyhow::anyhow!("cannot start the runtime that reads states: {e}"))
                    .and_then(|mut sources| {
                        sources.kick = thread_kick;
                        let snapshot = sources.first_load(&options)?;
                        Ok((sources, Arc::new(ArcSwap::from_pointee(snapshot))))
                    });
                match started {
                    Ok((sources, current)) => {
                        if ready.send(Ok(Arc::clone(&current))).is_ok() {
                            sources.run(&current, options.interval);
                        }
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
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
            kick,
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

    /// Asks for a refresh round now rather than at the next interval (sources still busy with a poll are not
    /// asked again). [`ReloadCounts::polls`] tells when their answers are in.
    pub fn refresh_now(&self) {
        self.kick.notify_one();
    }

    /// The reload thread's counters.
    pub fn stats(&self) -> &ReloadStats {
        &self.stats
    }

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

impl Drop for Reloader {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An answer from a source's thread: the source's position, and what its poll found for each state.
type Answer = (usize, anyhow::Result<Vec<(String, Found)>>);

/// A source's own thread: polls the source when the reload thread asks, parses what it fetched (with the
/// reloader's [`parse_fetch`]), and sends the answer back. A source that blocks holds up only this thread.
struct Worker {
    ask: std::sync::mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
    /// When the poll it is busy with was asked for; `None` while it is idle.
    asked_at: Option<Instant>,
    /// The poll it is busy with has been reported late.
    late: bool,
}

impl Worker {
    /// Starts the thread that owns `source`.
    fn spawn(
        index: usize,
        mut source: Box<dyn StateSource>,
        limits: Limits,
        stop: watch::Receiver<bool>,
        answers: tokio::sync::mpsc::UnboundedSender<Answer>,
        stats: Arc<ReloadStats>,
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
                        Ok(runtime) => poll(&mut *source, &limits, runtime, &stop, &stats),
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
    stats: &ReloadStats,
) -> anyhow::Result<Vec<(String, Found)>> {
    let ctx = PollContext {
        limits,
        runtime,
        stop,
        deadline: Instant::now() + limits.poll_timeout,
        stats,
    };
    let mut found = Vec::new();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        source.poll(&ctx, &mut |name, fetch| {
            if let Fetch::New(..) = fetch {
                ReloadStats::add(&stats.parses, 1);
            }
            let parsed = parse_fetch(&name, fetch, limits);
            found.push((name, parsed));
        })
    }))
    .unwrap_or_else(|_| Err(anyhow::anyhow!("internal error while reading the source")))
    .map(|()| found)
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

/// The reload thread's counters, for the plugin's metrics. Written by the reload thread only; read by
/// `get_metrics`, never on the event path.
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
    pub(super) states_discovered: AtomicU64,
    pub(super) states_stale: AtomicU64,
    pub(super) states_failed: AtomicU64,
    pub(super) polls: AtomicU64,
    pub(super) parses: AtomicU64,
    pub(super) listings: AtomicU64,
    pub(super) downloads: AtomicU64,
    pub(super) not_modified: AtomicU64,
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
    /// States the sources hold now (listed, or kept while missing), loaded or not.
    pub states_discovered: u64,
    /// Loaded states whose loaded version is not their source's newest: refused, failing, or no longer
    /// listed (kept for [`super::MISSING_GRACE`]).
    pub states_stale: u64,
    /// States that failed and have no version loaded.
    pub states_failed: u64,
    /// Polls answered (one per source per refresh, failed ones included), counted once what they found is
    /// in the published snapshot.
    pub polls: u64,
    /// New versions parsed (loaded or refused).
    pub parses: u64,
    /// Listing requests (pages) sent by the sources that list (S3 discovery and workspaces).
    pub listings: u64,
    /// Object GETs sent by the sources that count them (S3), conditional or not.
    pub downloads: u64,
    /// Of those, the ones answered `304 Not Modified`.
    pub not_modified: u64,
}

impl ReloadStats {
    /// The counters now.
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
            states_discovered: get(&self.states_discovered),
            states_stale: get(&self.states_stale),
            states_failed: get(&self.states_failed),
            polls: get(&self.polls),
            parses: get(&self.parses),
            listings: get(&self.listings),
            downloads: get(&self.downloads),
            not_modified: get(&self.not_modified),
        }
    }

    pub(super) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn set(counter: &AtomicU64, value: u64) {
        counter.store(value, Ordering::Relaxed);
    }
}

fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::members::{MISSING_GRACE, ScopeSetting};
    use crate::sources::source::Deliver;
    use crate::state::Scope;

    /// A new version of a state of one IAM role.
    fn state(serial: u64, lineage: &str) -> Fetch {
        let text = format!(
            r#"{{"version":4,"serial":{serial},"lineage":"{lineage}","resources":[
              {{"mode":"managed","type":"aws_iam_role","name":"r","instances":[
                {{"attributes":{{"id":"r","arn":"arn:aws:iam::111111111111:role/r"}}}}]}}]}}"#
        );
        Fetch::New(text.into_bytes(), None)
    }

    fn member(name: &str, fetch: Fetch) -> (String, Fetch) {
        (name.to_owned(), fetch)
    }

    /// A source that returns what a test queued, one poll at a time.
    struct Scripted {
        polls: std::collections::VecDeque<anyhow::Result<Vec<(String, Fetch)>>>,
    }

    impl StateSource for Scripted {
        fn name(&self) -> &str {
            "s"
        }
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn poll(&mut self, _ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
            self.polls
                .pop_front()
                .unwrap_or_else(|| Ok(Vec::new()))
                .map(|members| {
                    for (name, fetch) in members {
                        deliver(name, fetch);
                    }
                })
        }
    }

    /// Sources over one scripted source, and the sender that keeps them from stopping.
    fn sources(
        polls: Vec<anyhow::Result<Vec<(String, Fetch)>>>,
        scope: ScopeConfig,
    ) -> (watch::Sender<bool>, Sources) {
        let (keep, stop) = watch::channel(false);
        let source = Registration {
            source: Box::new(Scripted {
                polls: polls.into(),
            }),
            scope,
        };
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
                Ok(vec![member("a", state(5, "L"))]),
                Ok(vec![member("a", state(4, "L"))]),
                Ok(vec![member("a", Fetch::Unchanged)]),
                Ok(vec![member("a", state(6, "L"))]),
                Ok(vec![member("a", state(1, "other"))]),
            ],
            ScopeConfig::default(),
        );
        assert!(s.refresh(Duration::from_secs(30)).changed);
        let refused = s.refresh(Duration::from_secs(30));
        assert!(!refused.changed);
        assert!(
            refused.failures[0].contains("rollback"),
            "{:?}",
            refused.failures
        );
        assert_eq!(serials(&s), [("a".to_owned(), 5)]);
        // Still the refused version at the source: the loaded one is not current.
        s.refresh(Duration::from_secs(30));
        assert!(s.slots[0].members[0].refused);
        assert!(s.refresh(Duration::from_secs(30)).changed);
        assert_eq!(serials(&s), [("a".to_owned(), 6)]);
        // Another lineage is another state: accepted.
        assert!(s.refresh(Duration::from_secs(30)).changed);
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
                    member("n/a", state(1, "A")),
                    member("n/b", state(1, "B")),
                ]),
                Err(anyhow::anyhow!("listing failed")),
                Ok(vec![
                    member("n/b", Fetch::Unchanged),
                    member("n/c", Fetch::Failed(anyhow::anyhow!("down"))),
                ]),
            ],
            ScopeConfig::default(),
        );
        s.refresh(Duration::from_secs(30));
        assert_eq!(serials(&s).len(), 2);
        let failed = s.refresh(Duration::from_secs(30));
        assert!(!failed.changed && failed.failures.len() == 1);
        assert_eq!(serials(&s).len(), 2);
        // n/a left the listing: kept (its drift stays drift), reported, for MISSING_GRACE.
        let third = s.refresh(Duration::from_secs(30));
        assert!(!third.changed);
        assert!(
            third
                .failures
                .iter()
                .any(|f| f.contains("n/a") && f.contains("no longer in its source")),
            "{:?}",
            third.failures
        );
        let mut loaded = serials(&s);
        loaded.sort();
        assert_eq!(loaded, [("n/a".to_owned(), 1), ("n/b".to_owned(), 1)]);
        assert_eq!(s.slots[0].members.len(), 3);
        // Once it has been missing for longer than that, it is dropped.
        let gone = s.slots[0]
            .members
            .iter_mut()
            .find(|m| m.name == "n/a")
            .unwrap();
        gone.missing_since = Some(SystemTime::now() - MISSING_GRACE);
        let fourth = s.refresh(Duration::from_secs(30));
        assert!(fourth.changed);
        assert_eq!(serials(&s), [("n/b".to_owned(), 1)]);
    }

    #[test]
    fn a_lineage_switched_away_and_back_cannot_roll_back() {
        // A/10, then B/1 (another lineage: accepted), then A/5: A has served 10, so 5 is a rollback.
        let (_keep, mut s) = sources(
            vec![
                Ok(vec![member("a", state(10, "A"))]),
                Ok(vec![member("a", state(1, "B"))]),
                Ok(vec![member("a", state(5, "A"))]),
                Ok(vec![member("a", state(11, "A"))]),
            ],
            ScopeConfig::default(),
        );
        assert!(s.refresh(Duration::from_secs(30)).changed);
        assert!(s.refresh(Duration::from_secs(30)).changed);
        let refused = s.refresh(Duration::from_secs(30));
        assert!(!refused.changed);
        assert!(
            refused.failures[0].contains("rollback"),
            "{:?}",
            refused.failures
        );
        assert_eq!(serials(&s), [("a".to_owned(), 1)]);
        assert!(s.refresh(Duration::from_secs(30)).changed);
        assert_eq!(serials(&s), [("a".to_owned(), 11)]);
    }

    /// A source whose poll blocks until the test lets it go, as a read of a hung mount does.
    struct Blocking {
        release: std::sync::mpsc::Receiver<()>,
    }

    impl StateSource for Blocking {
        fn name(&self) -> &str {
            "stuck"
        }
        fn describe(&self) -> String {
            "a hung mount".into()
        }
        fn poll(&mut self, _ctx: &PollContext, deliver: &mut Deliver<'_>) -> anyhow::Result<()> {
            let _ = self.release.recv();
            deliver("stuck".into(), state(3, "S"));
            Ok(())
        }
    }

    #[test]
    fn a_source_that_blocks_delays_no_other() {
        let (_keep, stop) = watch::channel(false);
        let (release, blocked) = std::sync::mpsc::channel();
        let catalog = Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"));
        let scripted = Scripted {
            polls: vec![
                Ok(vec![member("ok", state(1, "O"))]),
                Ok(vec![member("ok", Fetch::Unchanged)]),
            ]
            .into(),
        };
        let mut s = Sources::new(
            vec![
                Registration {
                    source: Box::new(Blocking { release: blocked }),
                    scope: ScopeConfig::default(),
                },
                Registration {
                    source: Box::new(scripted),
                    scope: ScopeConfig::default(),
                },
            ],
            catalog,
            Limits::default(),
            stop,
            Arc::new(ReloadStats::default()),
        )
        .expect("the sources");
        s.late = Duration::from_millis(100);
        // The round waits for the blocked source no longer than it is given, and the other is loaded.
        let first = s.refresh(Duration::from_millis(300));
        assert!(first.changed);
        assert_eq!(serials(&s), [("ok".to_owned(), 1)]);
        assert!(
            first
                .failures
                .iter()
                .any(|f| f.contains("stuck") && f.contains("no answer")),
            "{:?}",
            first.failures
        );
        assert_eq!(s.stats.read().refresh_failures, 1);
        // Still busy: not asked again, not reported again.
        let second = s.refresh(Duration::from_millis(200));
        assert!(second.failures.is_empty(), "{:?}", second.failures);
        // Once it answers, its state is applied.
        release.send(()).unwrap();
        let mut refreshed = Refreshed::default();
        s.collect(Instant::now() + Duration::from_secs(10), &mut refreshed);
        assert!(refreshed.changed);
        let mut loaded = serials(&s);
        loaded.sort();
        assert_eq!(loaded, [("ok".to_owned(), 1), ("stuck".to_owned(), 3)]);
    }

    #[test]
    fn scope_is_configured_or_inferred() {
        let (_keep, mut s) = sources(
            vec![Ok(vec![member("a", state(1, "L"))])],
            ScopeConfig {
                account: ScopeSetting::Infer,
                region: ScopeSetting::Is("eu-west-1".into()),
                project: ScopeSetting::Is("acme-prod".into()),
                key: None,
            },
        );
        s.refresh(Duration::from_secs(30));
        let scope = s.loaded().next().map(|l| l.state.scope.clone());
        assert_eq!(
            scope,
            Some(Scope {
                account: Some("111111111111".into()),
                region: Some("eu-west-1".into()),
                project: Some("acme-prod".into()),
            })
        );
        let (_keep_any, mut any) = sources(
            vec![Ok(vec![member("a", state(1, "L"))])],
            ScopeConfig {
                account: ScopeSetting::Any,
                region: ScopeSetting::Infer,
                project: ScopeSetting::Infer,
                key: None,
            },
        );
        any.refresh(Duration::from_secs(30));
        assert_eq!(
            any.loaded().next().map(|l| l.state.scope.clone()),
            Some(Scope::default())
        );
    }
}
