//! State: parsing and indexing synthetic states of 10,000, 50,000 and 200,000 resource instances made by
//! `scripts/gen_state.py` from the shapes of the real states, and the memory the index then holds.
//!
//! Time: `tfdrift::state::parse` + `Index::build` with the embedded catalog as `KeySpec` (what every reload
//! does), on one thread, the median of several runs; `Scope::infer` (which a reload adds when the
//! configuration leaves the scope to be inferred) and the drop of the index are shown beside it.
//! Memory: the bytes the index (with its states) holds once built and the file's bytes dropped, counted by a
//! global allocator that tracks live bytes; the peak while parsing; and the process's resident set growth.
//!
//! Multi-second iterations do not suit criterion's sampling, so this benchmark times with its own loop.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use support::Report;
use tfdrift::state::{Index, Limits, Scope};

/// Counts the bytes live on the heap, and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promises for `GlobalAlloc::alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller promises for `GlobalAlloc::dealloc`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promises for `GlobalAlloc::alloc_zeroed`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promises for `GlobalAlloc::realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The process's resident set, in bytes.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

struct Figures {
    instances: usize,
    file_bytes: usize,
    parse_ns: f64,
    build_ns: f64,
    infer_ns: f64,
    drop_ns: f64,
    held: usize,
    peak: usize,
    rss_growth: isize,
}

fn measure(resources: usize, runs: usize, catalog: &tfdrift::catalog::Catalog) -> Figures {
    let path = support::generated_state(resources, 7, &[]);
    let limits = Limits::default();
    let (mut parse, mut build, mut infer, mut drop) = (vec![], vec![], vec![], vec![]);
    let mut instances = 0;
    let bytes = std::fs::read(&path).expect("read the state");
    for _ in 0..runs {
        let t0 = Instant::now();
        let state = tfdrift::state::parse("bench", black_box(&bytes), &limits).expect("a state");
        let t1 = Instant::now();
        let scope = Scope::infer(&state);
        let t2 = Instant::now();
        instances = state.instances.len();
        let index = Index::build(vec![Arc::new(state)], catalog);
        let t3 = Instant::now();
        black_box((&index, scope));
        std::mem::drop(index);
        let t4 = Instant::now();
        parse.push((t1 - t0).as_nanos() as f64);
        infer.push((t2 - t1).as_nanos() as f64);
        build.push((t3 - t2).as_nanos() as f64);
        drop.push((t4 - t3).as_nanos() as f64);
    }
    let file_bytes = bytes.len();
    std::mem::drop(bytes);
    let (held, peak, rss_growth) = memory_in_child(&path);

    Figures {
        instances,
        file_bytes,
        parse_ns: support::median(&mut parse),
        build_ns: support::median(&mut build),
        infer_ns: support::median(&mut infer),
        drop_ns: support::median(&mut drop),
        held,
        peak,
        rss_growth,
    }
}

/// Memory is measured in a fresh process (this benchmark again, with `TFDRIFT_STATE_MEMORY` naming the
/// file), so that no earlier run's freed memory is reused and the resident set's growth is the index's.
fn memory_in_child(path: &std::path::Path) -> (usize, usize, isize) {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let out = std::process::Command::new(exe)
        .env("TFDRIFT_STATE_MEMORY", path)
        .output()
        .expect("run the memory measurement");
    assert!(
        out.status.success(),
        "the memory measurement failed: {out:?}"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("memory "))
        .expect("the memory measurement's line");
    let mut parts = line.split_whitespace();
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<isize>().ok())
            .unwrap_or(0)
    };
    (next() as usize, next() as usize, next())
}

/// In the child: from before the file is read to after the index is built and the file's bytes dropped.
fn measure_memory(path: &std::path::Path) {
    let catalog = support::catalog();
    let limits = Limits::default();
    let (live0, rss0) = (LIVE.load(Ordering::Relaxed), rss());
    PEAK.store(live0, Ordering::Relaxed);
    let bytes = std::fs::read(path).expect("read the state");
    let state = tfdrift::state::parse("bench", &bytes, &limits).expect("a state");
    let index = Index::build(vec![Arc::new(state)], &*catalog);
    std::mem::drop(bytes);
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(live0);
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(live0);
    let rss_growth = rss() as isize - rss0 as isize;
    black_box(&index);
    println!("memory {held} {peak} {rss_growth}");
}

fn main() {
    if let Some(path) = std::env::var_os("TFDRIFT_STATE_MEMORY") {
        measure_memory(std::path::Path::new(&path));
        return;
    }
    let catalog = support::catalog();
    let sizes: &[(usize, usize)] = if support::smoke() {
        &[(1_000, 1)]
    } else {
        &[(10_000, 7), (50_000, 5), (200_000, 3)]
    };
    // Generate first, so that no timing shares the machine with the generator.
    for (resources, _) in sizes {
        support::generated_state(*resources, 7, &[]);
    }
    let figures: Vec<Figures> = sizes
        .iter()
        .map(|(resources, runs)| measure(*resources, *runs, &catalog))
        .collect();

    let mut report = Report::new("state");
    report.line(format!("machine: {}; one thread", support::machine()));
    report.line(
        "\n| instances | file | parse | Index::build | parse + build | per instance | MB/s | Scope::infer | drop |",
    );
    report.line("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for f in &figures {
        let total = f.parse_ns + f.build_ns;
        report.line(format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {} | {} |",
            f.instances,
            support::mib(f.file_bytes as f64),
            support::human_ns(f.parse_ns),
            support::human_ns(f.build_ns),
            support::human_ns(total),
            support::human_ns(total / f.instances as f64),
            f.file_bytes as f64 / total * 1e3,
            support::human_ns(f.infer_ns),
            support::human_ns(f.drop_ns),
        ));
    }
    report.line(
        "\n| instances | file | heap held by the index | held / file | peak while loading (file included) | RSS growth | RSS growth / file |",
    );
    report.line("|---:|---:|---:|---:|---:|---:|---:|");
    for f in &figures {
        report.line(format!(
            "| {} | {} | {} | {:.2} | {} | {} | {:.2} |",
            f.instances,
            support::mib(f.file_bytes as f64),
            support::mib(f.held as f64),
            f.held as f64 / f.file_bytes as f64,
            support::mib(f.peak as f64),
            support::mib(f.rss_growth as f64),
            f.rss_growth as f64 / f.file_bytes as f64,
        ));
    }
    report.line("");
    if let Some(f) = figures.iter().find(|f| f.instances == 50_000) {
        let total = f.parse_ns + f.build_ns;
        report.target(
            "50,000 instances parse + index < 1 s",
            support::human_ns(total),
            total < 1e9,
        );
        let ratio = f.held.max(f.rss_growth.max(0) as usize) as f64 / f.file_bytes as f64;
        report.target(
            "index memory < 1.5 x file size (the larger of heap held and RSS growth)",
            format!("{ratio:.2}"),
            ratio < 1.5,
        );
    }
    report.finish();
}
