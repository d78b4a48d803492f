//! Estate (issue 20): a Terragrunt-shaped estate of 2,000 states and 100,000 resources
//! (`live/<account>/<region>/<module>/terraform.tfstate`, 50 resources each, as Terraform writes them) in
//! moto's S3 on loopback, discovered from one source entry by key pattern and scoped from the key.
//!
//! - First load: from the reloader's start to its first index, every state listed, downloaded (8 at a time),
//!   parsed and indexed. Baseline of the same run: the same 2,000 states' bytes parsed and indexed from
//!   memory, one after the other on one thread (no transport at all).
//! - Unchanged refresh: a round asked for (`Reloader::refresh_now`) until its poll is applied; the requests
//!   and parses it cost (the reloader's counters), and its time; the median of several.
//! - Memory, each in a fresh process (this benchmark again): the heap held by the index of the 2,000 states
//!   (parsed from memory, their bytes dropped) and by the whole reloader after its first load (index, the
//!   SDK's client, the runtimes, what each state's slot keeps), against the states' total size; and the
//!   resident set's growth.
//!
//! moto is a Python server: the time of the upload (not part of any figure) is shown, to tell what moto
//! costs.

mod support;

use serde_json::{Value, json};
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::Report;
use tfdrift::config::Config;
use tfdrift::sources::Reloader;
use tfdrift::state::{Index, Limits};
use tfdrift_test_support::{EstateState, MotoServer, estate, test_environment};

/// Counts the bytes live on the heap, and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as the caller promises for `GlobalAlloc::alloc`.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
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
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as the caller promises for `GlobalAlloc::realloc`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const BUCKET: &str = "estate";

/// The process's resident set, in bytes.
fn rss() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn bytes(state: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(state).expect("a state serialises")
}

fn config(endpoint: &str) -> Config {
    Config::from_value(json!({
        "states": [{
            "name": "estate",
            "s3": {
                "bucket": BUCKET,
                "region": "us-east-1",
                "endpoint": endpoint,
                "discover": {
                    "pattern": "live/*/*/*/terraform.tfstate",
                    "scope": "live/{account}/{region}/**",
                },
            },
        }],
        "refresh_interval": 3600,
    }))
    .expect("a valid configuration")
}

fn start(config: &Config) -> Reloader {
    Reloader::start(
        config.sources(),
        config.catalog().expect("the catalog"),
        config.reload_options(),
    )
    .expect("the reloader starts")
}

/// The size of the estate: (states, resources per state).
fn size() -> (usize, usize) {
    if support::smoke() {
        (40, 5)
    } else {
        (2_000, 50)
    }
}

/// Memory, in a fresh process: `index` (the states parsed from memory) or `reloader` (from moto at
/// `TFDRIFT_ESTATE_ENDPOINT`). Prints `memory <heap held> <rss growth>`.
fn child_memory(what: &str) {
    let (states, resources) = size();
    let estate = estate(states, resources);
    let texts: Vec<Vec<u8>> = estate.iter().map(|s| bytes(&s.state)).collect();
    drop(estate);
    let (live0, rss0) = (LIVE.load(Ordering::Relaxed), rss());
    let held: Box<dyn std::any::Any> = if what == "index" {
        let catalog = support::catalog();
        let limits = Limits::default();
        let parsed = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Arc::new(tfdrift::state::parse(&format!("s{i}"), t, &limits).expect("a state"))
            })
            .collect();
        Box::new(Index::build(parsed, &*catalog))
    } else {
        let endpoint = std::env::var("TFDRIFT_ESTATE_ENDPOINT").expect("the endpoint");
        let reloader = start(&config(&endpoint));
        assert_eq!(reloader.stats().read().states_loaded, states as u64);
        Box::new(reloader)
    };
    black_box(&held);
    let held_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(live0);
    let rss_growth = rss() as isize - rss0 as isize;
    println!("memory {held_bytes} {rss_growth}");
}

fn memory_in_child(what: &str, endpoint: &str) -> (usize, isize) {
    let exe = std::env::current_exe().expect("this benchmark's path");
    // `--bench`: the child measures the same estate as this run (without it, it would be a smoke run's).
    let mut command = std::process::Command::new(exe);
    if !support::smoke() {
        command.arg("--bench");
    }
    let out = command
        .env("TFDRIFT_ESTATE_MEMORY", what)
        .env("TFDRIFT_ESTATE_ENDPOINT", endpoint)
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
    let held = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let rss = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (held, rss)
}

fn main() {
    test_environment();
    if let Ok(what) = std::env::var("TFDRIFT_ESTATE_MEMORY") {
        child_memory(&what);
        return;
    }
    let (states, resources) = size();
    let estate: Vec<EstateState> = estate(states, resources);
    let texts: Vec<Vec<u8>> = estate.iter().map(|s| bytes(&s.state)).collect();
    let total_bytes: usize = texts.iter().map(Vec::len).sum();

    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let t = Instant::now();
    for (state, text) in estate.iter().zip(&texts) {
        moto.put(BUCKET, &state.key, text);
    }
    let upload = t.elapsed();

    // Baseline: the same states parsed and indexed from memory, on one thread.
    let catalog = support::catalog();
    let limits = Limits::default();
    let t = Instant::now();
    let parsed = texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Arc::new(tfdrift::state::parse(&format!("s{i}"), t, &limits).expect("a state"))
        })
        .collect();
    let index = Index::build(parsed, &*catalog);
    let baseline = t.elapsed();
    let instances = index.instance_count();
    drop(index);

    // The first load, from moto.
    let config = config(&moto.endpoint());
    let t = Instant::now();
    let reloader = start(&config);
    let first_load = t.elapsed();
    let first = reloader.stats().read();
    assert_eq!(first.states_loaded, states as u64, "{first:?}");
    assert_eq!(first.resources_indexed, instances as u64);
    let scoped = reloader
        .snapshot()
        .index
        .states()
        .iter()
        .filter(|s| s.scope.account.is_some() && s.scope.region.is_some())
        .count();

    // Unchanged refreshes.
    let rounds = if support::smoke() { 2 } else { 5 };
    let mut times = Vec::new();
    let mut before = first;
    let mut costs = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        reloader.refresh_now();
        while reloader.stats().read().polls == before.polls {
            std::thread::sleep(Duration::from_millis(1));
        }
        times.push(t.elapsed().as_nanos() as f64);
        let after = reloader.stats().read();
        costs.push((
            after.listings - before.listings,
            after.downloads - before.downloads,
            after.parses - before.parses,
        ));
        before = after;
    }
    let refresh = support::median(&mut times);
    drop(reloader);
    // Printed now, so that a failure of the memory measurement loses none of it.
    eprintln!(
        "estate: {states} states, {instances} instances, {total_bytes} bytes; upload {upload:?}; baseline {baseline:?}; first load {first_load:?} ({first:?}); unchanged refresh median {:?}, costs {costs:?}; scoped {scoped}",
        Duration::from_nanos(refresh as u64)
    );

    // One listing of the estate: 1,000 keys a page.
    let list_pages = (states as u64).div_ceil(1000);

    let (index_held, index_rss) = memory_in_child("index", &moto.endpoint());
    let (reloader_held, reloader_rss) = memory_in_child("reloader", &moto.endpoint());

    let mut report = Report::new("estate");
    report.line(format!(
        "machine: {}; moto {} on loopback",
        support::machine(),
        "(Python, one process)"
    ));
    report.line(format!(
        "\nestate: {states} states, {instances} resource instances, {} in all (Terraform's indentation); upload to moto {:.1} s (not timed below)\n",
        support::mib(total_bytes as f64),
        upload.as_secs_f64()
    ));
    report.line("| | time | requests | parses |");
    report.line("|---|---:|---:|---:|");
    report.line(format!(
        "| first load from moto (list, GET 8 at a time, parse, index) | {} | {} listing pages, {} GETs | {} |",
        support::human_ns(first_load.as_nanos() as f64),
        first.listings,
        first.downloads,
        first.parses
    ));
    report.line(format!(
        "| baseline: parse + index the same bytes from memory, one thread | {} | none | {states} |",
        support::human_ns(baseline.as_nanos() as f64)
    ));
    let (lists, gets, parses) = costs.last().copied().unwrap_or_default();
    report.line(format!(
        "| unchanged refresh (median of {rounds}) | {} | {lists} listing pages ({list_pages} expected), {gets} GETs | {parses} |",
        support::human_ns(refresh)
    ));
    report.line(format!(
        "\nstates scoped from their key: {scoped} of {states}\n"
    ));
    report.line(
        "| memory (fresh process) | heap held | / states' size | RSS growth | / states' size |",
    );
    report.line("|---|---:|---:|---:|---:|");
    let index_label = format!("index of the {states} states (parsed from memory)");
    for (what, held, rss) in [
        (index_label.as_str(), index_held, index_rss),
        (
            "reloader after its first load from moto",
            reloader_held,
            reloader_rss,
        ),
    ] {
        report.line(format!(
            "| {what} | {} | {:.2} | {} | {:.2} |",
            support::mib(held as f64),
            held as f64 / total_bytes as f64,
            support::mib(rss as f64),
            rss as f64 / total_bytes as f64
        ));
    }
    report.line("");
    report.target(
        "first load of the estate from S3 < 30 s",
        support::human_ns(first_load.as_nanos() as f64),
        first_load < Duration::from_secs(30),
    );
    report.target(
        "unchanged refresh: one listing, no GET, no parse",
        format!("{lists} listing pages, {gets} GETs, {parses} parses"),
        costs
            .iter()
            .all(|&(l, g, p)| l == list_pages && g == 0 && p == 0),
    );
    let ratio = index_held.max(index_rss.max(0) as usize) as f64 / total_bytes as f64;
    report.target(
        "index memory <= 1.5 x the states' total size (the larger of heap held and RSS growth)",
        format!("{ratio:.2}"),
        ratio <= 1.5,
    );
    report.finish();
}
