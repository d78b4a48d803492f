//! The run over every input, on every core: one thread finds and fetches the inputs (local files, objects of
//! a trail in S3, several GETs at a time), worker threads decompress, split, read and judge them an input at
//! a time, and the calling thread hands each input's results on in input order, whatever order the workers
//! finished in, so the output is the same on one core or many.
//!
//! Memory stays flat whatever the number of inputs: an input is taken only with a ticket, of which there are
//! a fixed number, and a ticket comes back only when the input's results have been handed on; a trail's
//! listing is walked as objects are needed. What a worker keeps of an input is what the caller's `each`
//! returns for each record (the findings), and the tallies.

use crate::input::{Position, collect_files, for_each_record_in};
use crate::output::Counts;
use crate::trail::{self, Connection, Filters, S3Uri, Window};
use crate::view::{Cloud, View};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tfdrift::drift::{Engine, Verdict};
use tfdrift::gcpaudit::LogKind;
use tfdrift::state::Snapshot;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// One input of the command line.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file, or a folder of them.
    Path(PathBuf),
    /// A trail's bucket (and prefix).
    Trail(S3Uri),
}

/// What to read and how.
pub struct Plan {
    pub inputs: Vec<Input>,
    pub filters: Filters,
    pub connection: Connection,
    /// Most GETs at a time.
    pub concurrency: usize,
    /// Worker threads.
    pub threads: usize,
}

/// What judges the records: the engine, the states, and the window records must be in.
pub struct Judge {
    pub engine: Arc<Engine>,
    pub snapshot: Arc<Snapshot>,
    pub window: Window,
}

/// The tallies of a run (or of one input).
#[derive(Default)]
pub struct Tally {
    pub counts: Counts,
    /// Inputs (files, objects) read.
    pub objects: u64,
    /// Their bytes, as stored (compressed).
    pub bytes: u64,
    /// Records outside the window, not judged.
    pub outside: u64,
    /// Records with no time while a window is set: judged all the same (an unknown time never hides a change).
    pub undated: u64,
}

impl Tally {
    fn merge(&mut self, other: &Tally) {
        let (a, b) = (&mut self.counts, &other.counts);
        a.records += b.records;
        a.aws += b.aws;
        a.gcp += b.gcp;
        a.unrecognised += b.unrecognised;
        a.gcp_not_audit += b.gcp_not_audit;
        a.covered += b.covered;
        a.managed += b.managed;
        a.drift += b.drift;
        a.unmanaged += b.unmanaged;
        a.by_terraform += b.by_terraform;
        self.objects += other.objects;
        self.bytes += other.bytes;
        self.outside += other.outside;
        self.undated += other.undated;
    }

    /// Drift and unmanaged findings.
    pub fn findings(&self) -> u64 {
        (self.counts.drift + self.counts.unmanaged) as u64
    }
}

/// What the fetching side has found so far, for the progress display.
#[derive(Default)]
pub struct Found {
    /// Inputs found (listed, or found in folders).
    pub inputs: AtomicU64,
    /// Every input has been found.
    pub done: AtomicBool,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every input read.
    Complete,
    /// Stopped (Ctrl-C) before: the results are those of the inputs read until then.
    Interrupted,
}

/// A run that stopped on an error: the tallies of every input handed on before it (and of the records the
/// failing input gave before its error), so that a report of the failed run counts what it covers, and the
/// error.
pub struct Failed {
    pub tally: Tally,
    pub error: anyhow::Error,
}

impl Failed {
    /// An error before any input was read.
    fn before_any(error: anyhow::Error) -> Failed {
        Failed {
            tally: Tally::default(),
            error,
        }
    }
}

/// What the progress display is told between inputs.
pub trait Watch {
    fn update(&mut self, tally: &Tally, found: &Found);
}

/// The bytes of one input.
enum Body {
    File(PathBuf),
    Bytes(Vec<u8>),
    Failed(anyhow::Error),
}

struct Job {
    seq: u64,
    name: String,
    body: Body,
    ticket: OwnedSemaphorePermit,
}

struct Done<T> {
    seq: u64,
    items: Vec<T>,
    tally: Tally,
    result: anyhow::Result<()>,
    _ticket: OwnedSemaphorePermit,
}

/// Runs `plan`: `each` on every record in the window (with its verdict) on the worker threads, and `sink` on
/// what it returns, in input order, on this thread. `stop` (set by Ctrl-C) ends the run between inputs: the
/// inputs finished by then are handed on, and the rest dropped; the threads still at work are left to the
/// process's exit. The first input that cannot be read ends the run with its error, after every input before
/// it has been handed on: the error comes with the tallies of what was handed on.
pub fn run<T, F, S>(
    plan: Plan,
    judge: Judge,
    each: F,
    mut sink: S,
    watch: &mut dyn Watch,
    tick: Duration,
    stop: &'static AtomicBool,
) -> Result<(Tally, Outcome), Failed>
where
    T: Send + 'static,
    F: Fn(&View, &Verdict) -> Option<T> + Send + Sync + 'static,
    S: FnMut(T) -> anyhow::Result<()>,
{
    let threads = plan.threads.max(1);
    let concurrency = plan.concurrency.max(1);
    // Inputs between being taken and being handed on: every GET, a queue for each worker, the one each works on.
    let tickets = Arc::new(Semaphore::new(concurrency + 2 * threads));
    let found = Arc::new(Found::default());
    // Stops the fetching side and the workers when the run ends early (an error, Ctrl-C).
    let abort = Arc::new(AtomicBool::new(false));
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel::<Done<T>>();
    {
        let tickets = Arc::clone(&tickets);
        let found = Arc::clone(&found);
        let abort = Arc::clone(&abort);
        std::thread::Builder::new()
            .name("fetch".into())
            .spawn(move || fetch(plan, concurrency, jobs_tx, tickets, &found, &abort))
            .context("cannot start the fetching thread")
            .map_err(Failed::before_any)?;
    }
    let jobs_rx = Arc::new(Mutex::new(jobs_rx));
    let judge = Arc::new(judge);
    let each = Arc::new(each);
    for n in 0..threads {
        let jobs = Arc::clone(&jobs_rx);
        let done = done_tx.clone();
        let judge = Arc::clone(&judge);
        let each = Arc::clone(&each);
        let abort = Arc::clone(&abort);
        std::thread::Builder::new()
            .name(format!("judge-{n}"))
            .spawn(move || {
                loop {
                    // The lock is held while waiting for a job, not while working on one.
                    let job = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if abort.load(Ordering::Relaxed) {
                        continue;
                    }
                    if done.send(work(job, &judge, &*each)).is_err() {
                        return;
                    }
                }
            })
            .context("cannot start a worker thread")
            .map_err(Failed::before_any)?;
    }
    drop(done_tx);

    let mut tally = Tally::default();
    let mut waiting: BTreeMap<u64, Done<T>> = BTreeMap::new();
    let mut next = 0u64;
    // Every way out stops the fetching side and the workers.
    let finish = |result: anyhow::Result<()>, outcome: Outcome, tally: Tally| {
        abort.store(true, Ordering::Relaxed);
        tickets.close();
        match result {
            Ok(()) => Ok((tally, outcome)),
            Err(error) => Err(Failed { tally, error }),
        }
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            // What is finished already is handed on; what is not is dropped.
            while let Ok(done) = done_rx.try_recv() {
                waiting.insert(done.seq, done);
            }
            let handed = hand_on(&mut waiting, &mut next, &mut tally, &mut sink);
            watch.update(&tally, &found);
            return finish(handed, Outcome::Interrupted, tally);
        }
        match done_rx.recv_timeout(tick) {
            Ok(done) => {
                waiting.insert(done.seq, done);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let handed = hand_on(&mut waiting, &mut next, &mut tally, &mut sink);
                watch.update(&tally, &found);
                return finish(handed, Outcome::Complete, tally);
            }
        }
        if let Err(error) = hand_on(&mut waiting, &mut next, &mut tally, &mut sink) {
            watch.update(&tally, &found);
            return finish(Err(error), Outcome::Complete, tally);
        }
        watch.update(&tally, &found);
    }
}

/// Hands on the results of every input that is next in order.
fn hand_on<T>(
    waiting: &mut BTreeMap<u64, Done<T>>,
    next: &mut u64,
    tally: &mut Tally,
    sink: &mut impl FnMut(T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    while let Some(done) = waiting.remove(next) {
        // The records of an input that failed half way are handed on: they were read, and the error says
        // where the input stopped.
        for item in done.items {
            sink(item)?;
        }
        tally.merge(&done.tally);
        *next += 1;
        done.result?;
    }
    Ok(())
}

/// The fetching side: finds the inputs in order and hands them to the workers, each with a ticket.
fn fetch(
    plan: Plan,
    concurrency: usize,
    jobs: mpsc::Sender<Job>,
    tickets: Arc<Semaphore>,
    found: &Found,
    abort: &AtomicBool,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            if let Ok(ticket) = tickets.try_acquire_owned() {
                let _ = jobs.send(Job {
                    seq: 0,
                    name: String::new(),
                    body: Body::Failed(anyhow::anyhow!("cannot start a runtime: {e}")),
                    ticket,
                });
            }
            return;
        }
    };
    runtime.block_on(async {
        let mut seq = 0u64;
        let gets = Arc::new(Semaphore::new(concurrency));
        let mut running = tokio::task::JoinSet::new();
        let mut client = None;
        let count = plan.inputs.len();
        for (n, input) in plan.inputs.into_iter().enumerate() {
            // Every input is found once the last one is listed (the progress display's total is then known).
            let last = n + 1 == count;
            match input {
                Input::Path(path) => {
                    let mut files = Vec::new();
                    let listed = collect_files(&path, &mut files);
                    found
                        .inputs
                        .fetch_add(files.len() as u64, Ordering::Relaxed);
                    if last && listed.is_ok() {
                        found.done.store(true, Ordering::Relaxed);
                    }
                    for file in files {
                        let Ok(ticket) = Arc::clone(&tickets).acquire_owned().await else {
                            return;
                        };
                        if abort.load(Ordering::Relaxed) {
                            return;
                        }
                        let name = file.display().to_string();
                        let _ = jobs.send(Job {
                            seq,
                            name,
                            body: Body::File(file),
                            ticket,
                        });
                        seq += 1;
                    }
                    if let Err(error) = listed {
                        failed(&jobs, &tickets, seq, error).await;
                        return;
                    }
                }
                Input::Trail(uri) => {
                    let s3 = match &client {
                        Some(s3) => s3,
                        None => match trail::client(&plan.connection).await {
                            Ok(s3) => client.insert(s3),
                            Err(error) => {
                                failed(&jobs, &tickets, seq, error).await;
                                return;
                            }
                        },
                    };
                    let (tx, mut rx) = tokio::sync::mpsc::channel(1_000);
                    running.spawn(trail::walk(s3.clone(), uri, plan.filters.clone(), tx));
                    while let Some(object) = rx.recv().await {
                        let object = match object {
                            Ok(object) => object,
                            Err(error) => {
                                failed(&jobs, &tickets, seq, error).await;
                                return;
                            }
                        };
                        found.inputs.fetch_add(1, Ordering::Relaxed);
                        let Ok(ticket) = Arc::clone(&tickets).acquire_owned().await else {
                            return;
                        };
                        let Ok(get) = Arc::clone(&gets).acquire_owned().await else {
                            return;
                        };
                        if abort.load(Ordering::Relaxed) {
                            return;
                        }
                        let (s3, jobs) = (s3.clone(), jobs.clone());
                        running.spawn(async move {
                            let body = match trail::get(&s3, &object).await {
                                Ok(bytes) => Body::Bytes(bytes),
                                Err(error) => Body::Failed(error),
                            };
                            drop(get);
                            let _ = jobs.send(Job {
                                seq,
                                name: object.to_string(),
                                body,
                                ticket,
                            });
                        });
                        seq += 1;
                        while running.try_join_next().is_some() {}
                    }
                    if last {
                        found.done.store(true, Ordering::Relaxed);
                    }
                }
            }
        }
        while running.join_next().await.is_some() {}
        found.done.store(true, Ordering::Relaxed);
    });
}

/// Sends an error as the input at `seq`: the run ends there, after every input before it.
async fn failed(
    jobs: &mpsc::Sender<Job>,
    tickets: &Arc<Semaphore>,
    seq: u64,
    error: anyhow::Error,
) {
    if let Ok(ticket) = Arc::clone(tickets).acquire_owned().await {
        let _ = jobs.send(Job {
            seq,
            name: String::new(),
            body: Body::Failed(error),
            ticket,
        });
    }
}

/// One input read and judged: its records' results and tallies.
fn work<T>(
    job: Job,
    judge: &Judge,
    each: &(dyn Fn(&View, &Verdict) -> Option<T> + Sync),
) -> Done<T> {
    let Job {
        seq,
        name,
        body,
        ticket,
    } = job;
    let mut reader = Reader {
        judge,
        each,
        name: &name,
        hint: Cloud::Aws,
        tally: Tally {
            objects: 1,
            ..Tally::default()
        },
        items: Vec::new(),
    };
    let gz = name.ends_with(".gz");
    let result = match body {
        Body::File(path) => match std::fs::File::open(&path) {
            Ok(file) => {
                reader.tally.bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
                for_each_record_in(file, &name, gz, |text, at| reader.record(text, at))
            }
            Err(e) => Err(anyhow::Error::new(e).context(format!("cannot open {name}"))),
        },
        Body::Bytes(bytes) => {
            reader.tally.bytes = bytes.len() as u64;
            for_each_record_in(&bytes[..], &name, gz, |text, at| reader.record(text, at))
        }
        Body::Failed(error) => Err(error),
    };
    if result.is_err() {
        // Its records read before the error count; the input itself was not read.
        reader.tally.objects = 0;
    }
    Done {
        seq,
        items: reader.items,
        tally: reader.tally,
        result,
        _ticket: ticket,
    }
}

/// The reading of one input.
struct Reader<'r, T> {
    judge: &'r Judge,
    each: &'r (dyn Fn(&View, &Verdict) -> Option<T> + Sync),
    name: &'r str,
    /// The cloud of the last record read: the view tried first on the next, so a file of one cloud's records
    /// is read once per record; the other view reads a record only when the first does not recognise it.
    hint: Cloud,
    tally: Tally,
    items: Vec<T>,
}

impl<T> Reader<'_, T> {
    fn record(&mut self, text: &str, at: Position) -> anyhow::Result<()> {
        let name = self.name;
        let first = View::read(self.hint, text)
            .with_context(|| format!("{name} {at}: not a JSON object"))?;
        let view = if first.recognised() {
            first
        } else {
            match View::read(self.hint.other(), text) {
                Ok(other) if other.recognised() => other,
                _ => {
                    if !self.in_window(&first) {
                        return Ok(());
                    }
                    self.tally.counts.records += 1;
                    // Judged all the same (it may still name something the catalog knows), but counted
                    // apart: the summary says how much of the input tfdrift could not place.
                    self.tally.counts.unrecognised += 1;
                    tracing::warn!(
                        "{name} {at}: neither a CloudTrail record (no eventSource, eventName) nor a Cloud Audit Log \
                         entry (no logName, protoPayload.serviceName, protoPayload.methodName)"
                    );
                    self.judge(&first);
                    return Ok(());
                }
            }
        };
        self.hint = view.cloud();
        if !self.in_window(&view) {
            return Ok(());
        }
        self.tally.counts.records += 1;
        match &view {
            View::Aws(_) => self.tally.counts.aws += 1,
            View::Gcp(entry) => {
                self.tally.counts.gcp += 1;
                if entry.log_kind() == LogKind::Other {
                    self.tally.counts.gcp_not_audit += 1;
                    tracing::debug!("{name} {at}: no Cloud Audit Log's logName: never judged");
                }
            }
        }
        self.judge(&view);
        Ok(())
    }

    /// Whether the record is in the window (with none, every record is); a record with no time is.
    fn in_window(&mut self, view: &View) -> bool {
        let window = &self.judge.window;
        if !window.is_set() {
            return true;
        }
        let time = match view {
            View::Aws(record) => record.event_time.get(),
            View::Gcp(entry) => entry.timestamp.get(),
        };
        match time.and_then(|t| window.holds(t)) {
            Some(true) => true,
            Some(false) => {
                self.tally.outside += 1;
                false
            }
            None => {
                self.tally.undated += 1;
                true
            }
        }
    }

    /// The verdict on one record, tallied and handed to `each`.
    fn judge(&mut self, view: &View) {
        let verdict = view.verdict(&self.judge.engine, &self.judge.snapshot);
        self.tally.counts.add(&verdict);
        if let Some(item) = (self.each)(view, &verdict) {
            self.items.push(item);
        }
    }
}
