//! Where Terraform states come from, and the reload thread that keeps the index current.
//!
//! This module owns everything that happens on reload: polling each source, refusing what must not be
//! loaded (a rollback of a loaded state; the sources themselves refuse what is not a state, too large or
//! truncated), scoping each state to its account and region, building a new [`Index`] and swapping it in
//! atomically, and counting what happened for the plugin's metrics. Extraction only ever calls
//! [`Reloader::snapshot`], an `ArcSwap` load that never blocks and never waits for a reload. A failed
//! reload keeps the last good version of every state.
//!
//! Every source is polled on a thread of its own, with a current-thread tokio runtime on which the network
//! sources (S3, HTTP, HCP Terraform) run their requests through [`PollContext::block_on`], which bounds every
//! request in time and gives up at once when the plugin is going away. The reload thread asks them all at each
//! refresh and applies each answer as it comes: a source that blocks (a FIFO, a hung network mount, a server
//! that trickles) holds up only its own thread, and the others' states are swapped in without it. Init waits
//! at most [`INIT_WAIT`] for the first answers; a source still busy then is loaded when it answers. On
//! shutdown nothing waits for a source: a thread stuck in a read is left behind. Nothing here runs on Falco's
//! event thread.
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
use std::collections::HashMap;
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

/// What a source may use while polling: the limits on a state, its thread's runtime, and the poll's deadline.
pub struct PollContext<'a> {
    pub limits: &'a Limits,
    runtime: &'a Runtime,
    stop: &'a watch::Receiver<bool>,
    /// When the poll as a whole must be over ([`Limits::poll_timeout`] after it began): every request of the
    /// poll shares it.
    deadline: Instant,
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

/// An answer from a source's thread: the source's position, and what its poll found.
type Answer = (usize, anyhow::Result<Vec<Member>>);

/// A source's own thread, which polls when asked and sends the answer back.
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
                        Ok(runtime) => {
                            let ctx = PollContext {
                                limits: &limits,
                                runtime,
                                stop: &stop,
                                deadline: Instant::now() + limits.poll_timeout,
                            };
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                source.poll(&ctx)
                            }))
                            .unwrap_or_else(|_| {
                                Err(anyhow::anyhow!("internal error while reading the source"))
                            })
                        }
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

/// One state of a source: its last good version and how current it is.
struct MemberSlot {
    name: String,
    loaded: Option<Loaded>,
    /// The newest version the source has was refused: the loaded one is not current.
    refused: bool,
    /// Last time the loaded version was confirmed current.
    last_ok: Option<SystemTime>,
    last_error: Option<String>,
    /// The highest serial of every lineage this state has served, so that switching lineage and back cannot
    /// bring an old version in (A/10, then B/1, then A/5).
    serials: HashMap<String, u64>,
    /// Since when the source no longer lists this state (a workspace whose object left a listing).
    missing_since: Option<SystemTime>,
}

/// At most this many lineages are remembered per state; past it, the one with the lowest serial is forgotten.
const MAX_LINEAGES: usize = 1024;

/// A state its source no longer lists is kept (its drift is still drift) for this long, then dropped.
pub const MISSING_GRACE: Duration = Duration::from_secs(24 * 3600);

impl MemberSlot {
    fn new(name: String) -> Self {
        MemberSlot {
            name,
            loaded: None,
            refused: false,
            last_ok: None,
            last_error: None,
            serials: HashMap::new(),
            missing_since: None,
        }
    }

    /// Remembers the serial of a version served, per lineage.
    fn remember(&mut self, state: &State) {
        let Some(lineage) = &state.lineage else {
            return;
        };
        let highest = self.serials.entry(lineage.clone()).or_insert(state.serial);
        *highest = (*highest).max(state.serial);
        if self.serials.len() > MAX_LINEAGES
            && let Some(lowest) = self
                .serials
                .iter()
                .filter(|(l, _)| *l != lineage)
                .min_by_key(|(_, serial)| **serial)
                .map(|(l, _)| l.clone())
        {
            self.serials.remove(&lowest);
        }
    }
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
}

/// What a refresh did.
#[derive(Default)]
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
        let (send, answers) = tokio::sync::mpsc::unbounded_channel();
        let mut slots = Vec::with_capacity(sources.len());
        for (index, source) in sources.into_iter().enumerate() {
            slots.push(SourceSlot {
                name: source.name().to_owned(),
                describe: source.describe(),
                scope: source.scope(),
                worker: Worker::spawn(index, source, limits.clone(), stop.clone(), send.clone())?,
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

    /// Waits until `until` for an answer (or the stop signal).
    fn wake(&mut self, until: Instant) -> Wake {
        if let Ok(answer) = self.answers.try_recv() {
            return Wake::Answer(answer);
        }
        let Sources {
            runtime,
            answers,
            stop,
            ..
        } = self;
        let mut stop = stop.clone();
        runtime.block_on(async move {
            tokio::select! {
                biased;
                _ = stop.wait_for(|stopping| *stopping) => Wake::Stop,
                answer = answers.recv() => answer.map_or(Wake::Stop, Wake::Answer),
                _ = tokio::time::sleep_until(until.into()) => Wake::Time,
            }
        })
    }

    /// Applies answers until every source asked has answered, `until` passes, or the plugin stops; then
    /// reports the polls that are late.
    fn collect(&mut self, until: Instant, refreshed: &mut Refreshed) {
        while self.busy() {
            match self.wake(until) {
                Wake::Answer(answer) => self.answer(answer, refreshed),
                Wake::Stop | Wake::Time => break,
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

    /// Reports, once per poll, every source busy past its deadline and [`LATE_MARGIN`]: its states are kept, and it counts
    /// as a failure (so the metrics say a state is stale).
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
        let stats = &self.stats;
        let Some(slot) = self.slots.get_mut(index) else {
            return;
        };
        slot.worker.asked_at = None;
        let now = SystemTime::now();
        match polled {
            Err(error) => {
                let message = format!("{error:#}");
                let key = failure_key(&message);
                if slot.last_error.as_deref() != Some(&key) {
                    tracing::warn!(
                        state = %slot.name,
                        source = %slot.describe,
                        "cannot read the source, keeping its states as they are: {message}"
                    );
                }
                refreshed
                    .failures
                    .push(format!("{} ({}): {message}", slot.name, slot.describe));
                slot.last_error = Some(key);
                ReloadStats::add(&stats.refresh_failures, 1);
            }
            Ok(members) => {
                if slot.last_error.take().is_some() {
                    tracing::info!(state = %slot.name, "the source answers again");
                }
                slot.last_ok = Some(now);
                apply(slot, members, now, stats, refreshed);
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
}

/// Applies one successful poll of a source to its states.
fn apply(
    slot: &mut SourceSlot,
    members: Vec<Member>,
    now: SystemTime,
    stats: &ReloadStats,
    refreshed: &mut Refreshed,
) {
    let scope = slot.scope.clone();
    let describe = slot.describe.clone();
    let mut previous = std::mem::take(&mut slot.members);
    for Member { name, outcome } in members {
        if slot.members.iter().any(|m| m.name == name) {
            continue;
        }
        let mut member = match previous.iter().position(|m| m.name == name) {
            Some(i) => previous.swap_remove(i),
            None => MemberSlot::new(name),
        };
        member.missing_since = None;
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
                match rollback(&member.serials, &state) {
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
                        member.remember(&state);
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
            let key = failure_key(&message);
            if member.last_error.as_deref() != Some(&key) {
                tracing::warn!(
                    state = %member.name,
                    source = %describe,
                    "state reload failed, {kept}: {message}"
                );
            }
            refreshed
                .failures
                .push(format!("{} ({describe}): {message}", member.name));
            member.last_error = Some(key);
            ReloadStats::add(&stats.refresh_failures, 1);
        }
        slot.members.push(member);
    }
    // A state the source no longer lists may have been deleted by whoever can write the bucket, which would
    // turn its drift into "unmanaged": it is kept, with a warning, for MISSING_GRACE, and counts as stale.
    for mut gone in previous {
        if gone.loaded.is_none() {
            continue;
        }
        let since = *gone.missing_since.get_or_insert(now);
        let missing_for = now.duration_since(since).unwrap_or_default();
        if missing_for >= MISSING_GRACE {
            tracing::warn!(
                state = %gone.name,
                source = %describe,
                "state no longer in its source for {} hours; dropped",
                missing_for.as_secs() / 3600
            );
            refreshed.changed = true;
            continue;
        }
        let message = format!(
            "no longer in its source; the last good version is kept for {} hours after it left",
            MISSING_GRACE.as_secs() / 3600
        );
        let key = failure_key(&message);
        if gone.last_error.as_deref() != Some(&key) {
            tracing::warn!(state = %gone.name, source = %describe, "{message}");
        }
        refreshed
            .failures
            .push(format!("{} ({describe}): {message}", gone.name));
        gone.last_error = Some(key);
        ReloadStats::add(&stats.refresh_failures, 1);
        slot.members.push(gone);
    }
}

/// What makes two failure messages the same failure: the message with every token that holds a digit and is
/// longer than three characters (a request id, a date, a time) blanked, so that a failure that repeats is
/// logged once although S3 stamps each answer with its own request id, while an HTTP status (`403`) still
/// tells failures apart.
fn failure_key(message: &str) -> String {
    let mut key = String::with_capacity(message.len());
    let mut token = String::new();
    let flush = |token: &mut String, key: &mut String| {
        if token.len() > 3 && token.bytes().any(|b| b.is_ascii_digit()) {
            key.push('#');
        } else {
            key.push_str(token);
        }
        token.clear();
    };
    for c in message.chars() {
        if c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | ',' | ';' | '(' | ')' | '[' | ']' | '{' | '}' | '=' | '<' | '>'
            )
        {
            flush(&mut token, &mut key);
            key.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut key);
    key
}

/// Why a new version must not replace the loaded one: its lineage has served a higher serial (a rollback),
/// whether or not another lineage was loaded in between.
fn rollback(serials: &HashMap<String, u64>, new: &State) -> Option<String> {
    let highest = *serials.get(new.lineage.as_ref()?)?;
    (new.serial < highest).then(|| {
        format!(
            "refused: serial {} is lower than serial {highest} this lineage already served (a rollback); restart tfdrift to accept it",
            new.serial
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
                    let refreshed = sources.refresh(INIT_WAIT);
                    let snapshot = sources.snapshot();
                    sources.publish_stats(Some(&snapshot));
                    (refreshed, snapshot)
                }));
                let Ok((mut refreshed, snapshot)) = first else {
                    let _ = ready.send(Err(anyhow::anyhow!(
                        "internal error while loading the states"
                    )));
                    return;
                };
                // Sources still reading are not waited for: they are loaded when they answer.
                for slot in sources.slots.iter().filter(|slot| slot.worker.asked_at.is_some()) {
                    refreshed.failures.push(format!(
                        "{} ({}): no answer within {} seconds; loaded when it answers",
                        slot.name,
                        slot.describe,
                        INIT_WAIT.as_secs()
                    ));
                }
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
                loop {
                    let wake = sources.wake(Instant::now() + retired.wait(next_refresh));
                    retired.release();
                    // A panic while reloading must not take the process down nor stop future reloads.
                    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut refreshed = Refreshed::default();
                        match wake {
                            Wake::Stop => return false,
                            // A source that answers late (after its round settled): swapped in now.
                            Wake::Answer(answer) => {
                                sources.answer(answer, &mut refreshed);
                                sources.collect(Instant::now() + SETTLE, &mut refreshed);
                            }
                            Wake::Time if Instant::now() >= next_refresh => {
                                next_refresh = Instant::now() + options.interval;
                                sources.dispatch();
                                sources.collect(Instant::now() + SETTLE, &mut refreshed);
                            }
                            Wake::Time => {
                                sources.report_late(&mut refreshed);
                                return true;
                            }
                        }
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
                        true
                    }));
                    match outcome {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(_) => {
                            tracing::error!("state reload panicked; keeping the last good index")
                        }
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
    fn a_failure_that_repeats_is_the_same_whatever_its_request_id_and_date() {
        let first = "s3://b/k: service error: AccessDenied: Access Denied (request id: 4442587FB7D0A2F9, extended: vDx1Lr0F8Q+2Yq, date: Tue, 03 Jun 2025 09:12:44 GMT)";
        let again = "s3://b/k: service error: AccessDenied: Access Denied (request id: 9A1C2D3E4F5B6A7C, extended: Qk29xPz1mW+8Lt, date: Tue, 03 Jun 2025 09:13:14 GMT)";
        assert_eq!(failure_key(first), failure_key(again));
        assert_ne!(failure_key("HTTP 403"), failure_key("HTTP 404"));
        assert_ne!(
            failure_key("access denied"),
            failure_key("no state stored there")
        );
    }

    #[test]
    fn a_lineage_switched_away_and_back_cannot_roll_back() {
        // A/10, then B/1 (another lineage: accepted), then A/5: A has served 10, so 5 is a rollback.
        let (_keep, mut s) = sources(
            vec![
                Ok(vec![Member::new("a", Outcome::Changed(state(10, "A")))]),
                Ok(vec![Member::new("a", Outcome::Changed(state(1, "B")))]),
                Ok(vec![Member::new("a", Outcome::Changed(state(5, "A")))]),
                Ok(vec![Member::new("a", Outcome::Changed(state(11, "A")))]),
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
        fn poll(&mut self, _ctx: &PollContext) -> anyhow::Result<Vec<Member>> {
            let _ = self.release.recv();
            Ok(vec![Member::new("stuck", Outcome::Changed(state(3, "S")))])
        }
    }

    #[test]
    fn a_source_that_blocks_delays_no_other() {
        let (_keep, stop) = watch::channel(false);
        let (release, blocked) = std::sync::mpsc::channel();
        let catalog = Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"));
        let scripted = Scripted {
            polls: vec![
                Ok(vec![Member::new("ok", Outcome::Changed(state(1, "O")))]),
                Ok(vec![Member::new("ok", Outcome::Unchanged)]),
            ]
            .into(),
        };
        let mut s = Sources::new(
            vec![Box::new(Blocking { release: blocked }), Box::new(scripted)],
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
            vec![Ok(vec![Member::new("a", Outcome::Changed(state(1, "L")))])],
            ScopeConfig {
                account: ScopeSetting::Infer,
                region: ScopeSetting::Is("eu-west-1".into()),
            },
        );
        s.refresh(Duration::from_secs(30));
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
        any.refresh(Duration::from_secs(30));
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
            deadline: Instant::now() + Duration::from_secs(60),
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
