//! Reload: the latency of each extraction (the library path of one event, as in `extraction.rs`) while
//! idle, and while the reload thread re-reads, parses, indexes and swaps in a 50,000-instance state over
//! and over; the 99.9th percentile under reload against the idle one, in the same run.
//!
//! The reload is tfdrift's own: a `Reloader` over a `LocalFile`, its modification time bumped every 20 ms
//! so that every poll (every 20 ms) finds a new version. The extraction keeps each event's snapshot until
//! the next event, as the plugin's per-event cache does; a second run under reload drops it at once, to
//! show where the old index is freed.

mod support;

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};
use support::{Extractor, RealRecord, Report, Snapshots};
use tfdrift::sources::local::LocalFile;
use tfdrift::sources::{Registration, ReloadOptions, Reloader, ScopeConfig, ScopeSetting};
use tfdrift::state::Limits;

const STATE_RESOURCES: usize = 50_000;

/// Latencies of one kind of window, gathered over every window of that kind.
struct Latencies {
    label: &'static str,
    /// Nanoseconds; sorted once every window ran.
    sorted: Vec<u64>,
    seconds: f64,
    reloads: u64,
}

impl Latencies {
    fn new(label: &'static str, capacity: usize) -> Self {
        // Touch the memory now, so that no page fault lands inside a measurement.
        let mut sorted = vec![0u64; capacity];
        sorted.clear();
        Latencies {
            label,
            sorted,
            seconds: 0.0,
            reloads: 0,
        }
    }
    fn q(&self, q: f64) -> u64 {
        support::quantile(&self.sorted, q)
    }
    fn over(&self, ns: u64) -> usize {
        self.sorted.len() - self.sorted.partition_point(|&v| v <= ns)
    }
}

/// Extractions over the record mix, in order and round again, for `seconds`; each one timed into `into`.
fn run(into: &mut Latencies, extractor: &mut Extractor, records: &[RealRecord], seconds: f64) {
    let before = reloads(extractor);
    let started = Instant::now();
    let limit = Duration::from_secs_f64(seconds);
    let mut n = 0usize;
    'outer: loop {
        for r in records {
            let t0 = Instant::now();
            black_box(extractor.event(black_box(&r.bytes)));
            into.sorted.push(t0.elapsed().as_nanos() as u64);
            n += 1;
            if n.is_multiple_of(256) && started.elapsed() >= limit {
                break 'outer;
            }
        }
    }
    into.seconds += started.elapsed().as_secs_f64();
    into.reloads += reloads(extractor) - before;
}

/// New versions the reload thread has swapped in so far.
fn reloads(extractor: &Extractor) -> u64 {
    match &extractor.snapshots {
        Snapshots::Reloaded(r) => r.stats().read().state_loads,
        Snapshots::Fixed(_) => 0,
    }
}

/// Bumps the file's modification time every 20 ms while `active`, until `stop`.
fn toucher(
    path: &Path,
    active: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        let mut bump = 0u64;
        while !stop.load(Ordering::Relaxed) {
            if active.load(Ordering::Relaxed) {
                bump += 1;
                let when = SystemTime::now() + Duration::from_secs(bump);
                if let Ok(file) = std::fs::File::options().write(true).open(&path) {
                    let _ = file.set_modified(when);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    })
}

/// Waits until the reload thread has swapped in no new version for `quiet`.
fn settle(extractor: &Extractor, quiet: Duration) {
    let mut last = reloads(extractor);
    loop {
        std::thread::sleep(quiet);
        let now = reloads(extractor);
        if now == last {
            return;
        }
        last = now;
    }
}

fn main() {
    let smoke = support::smoke();
    let catalog = support::catalog();
    let records = support::real_records(&catalog);
    let include = support::touched_resources(&catalog, &records);
    let size = if smoke { 500 } else { STATE_RESOURCES };
    let generated = support::generated_state(size, 1, &include);
    // A copy whose modification time this benchmark may change.
    let dir = support::work_dir().join("reload");
    std::fs::create_dir_all(&dir).expect("create the reload directory");
    let path = dir.join("reloaded.tfstate");
    std::fs::copy(&generated, &path).expect("copy the state");

    let source = Registration {
        source: Box::new(LocalFile::new("bench", &path)),
        scope: ScopeConfig {
            account: ScopeSetting::Any,
            region: ScopeSetting::Any,
            project: ScopeSetting::Any,
            key: None,
        },
    };
    let reloader = Reloader::start(
        vec![source],
        Arc::clone(&catalog),
        ReloadOptions {
            interval: Duration::from_millis(20),
            require_state_on_start: true,
            limits: Limits::default(),
        },
    )
    .expect("the reloader starts");
    let mut extractor = Extractor::new(
        support::engine(Arc::clone(&catalog)),
        Snapshots::Reloaded(reloader),
    );

    // Windows of each kind in turn (idle, reloading, reloading with the snapshot dropped at once), so that
    // whatever else the machine does falls on all of them alike.
    let (cycles, window) = if smoke { (1, 0.3) } else { (4, 2.0) };
    let capacity = (cycles as f64 * window * 400_000.0) as usize;
    let mut idle = Latencies::new("idle", capacity);
    let mut under = Latencies::new(
        "reloading (snapshot kept until the next event, as the plugin does)",
        capacity,
    );
    let mut dropped = Latencies::new("reloading (snapshot dropped after each event)", capacity);
    let mut warm_up = Latencies::new("warm-up", capacity);
    run(&mut warm_up, &mut extractor, &records, window / 4.0);
    let active = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let touch = toucher(&path, Arc::clone(&active), Arc::clone(&stop));
    for _ in 0..cycles {
        // The first events after a reload window free the last index it swapped in: not idle yet.
        for r in &records {
            black_box(extractor.event(&r.bytes));
        }
        run(&mut idle, &mut extractor, &records, window);
        active.store(true, Ordering::Relaxed);
        // Let the first reload of the window start.
        std::thread::sleep(Duration::from_millis(50));
        extractor.keep = true;
        run(&mut under, &mut extractor, &records, window);
        extractor.keep = false;
        run(&mut dropped, &mut extractor, &records, window);
        extractor.keep = true;
        active.store(false, Ordering::Relaxed);
        settle(
            &extractor,
            Duration::from_millis(if smoke { 50 } else { 800 }),
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = touch.join();
    for l in [&mut idle, &mut under, &mut dropped] {
        l.sorted.sort_unstable();
    }

    let mut report = Report::new("reload");
    report.line(format!("machine: {}", support::machine()));
    report.line(format!(
        "extraction (verdict + 5 fields) over the {} real records in turn, in {cycles} windows of {window} s of each kind taken in turn; the reload thread re-reads a {}-instance state ({}) whenever it changes (its modification time is bumped every 20 ms)\n",
        records.len(),
        extractor.index_instances(),
        support::mib(std::fs::metadata(&path).map_or(0, |m| m.len()) as f64)
    ));
    report.line("| run | events | events/s | reloads | p50 | p99 | p99.9 | max | events > 1 ms |");
    report.line("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in [&idle, &under, &dropped] {
        report.line(format!(
            "| {} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
            l.label,
            l.sorted.len(),
            l.sorted.len() as f64 / l.seconds,
            l.reloads,
            support::human_ns(l.q(0.5) as f64),
            support::human_ns(l.q(0.99) as f64),
            support::human_ns(l.q(0.999) as f64),
            support::human_ns(*l.sorted.last().unwrap_or(&0) as f64),
            l.over(1_000_000),
        ));
    }
    report.line("");
    let ratio = under.q(0.999) as f64 / idle.q(0.999).max(1) as f64;
    report.target(
        "p99.9 while reloading <= 2 x idle p99.9",
        format!(
            "{ratio:.2} ({} vs {}, {} reloads)",
            support::human_ns(under.q(0.999) as f64),
            support::human_ns(idle.q(0.999) as f64),
            under.reloads
        ),
        ratio <= 2.0 && under.reloads > 0,
    );
    report.finish();
}
