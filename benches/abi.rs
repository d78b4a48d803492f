//! Through the C ABI: events per second for the whole plugin, the built `libtfdrift.so` loaded as Falco
//! loads it, in `falco_plugin_runner` beside a test source plugin that emits the real CloudTrail records as
//! `aws_cloudtrail` events (tests/support), reading the five fields of a typical rule set per event.
//!
//! Beside it, in the same run: the runner and the source alone (no field read), the library path of the
//! same events (`Engine::evaluate` + the five fields, as in `extraction.rs`) and the baseline parse into a
//! `serde_json::Value`. What the SDK's boundary costs is the plugin's time in the runner, less the runner
//! and source's own, less the library path's.

use tfdrift_test_support as common;
mod support;

use arc_swap::ArcSwap;
use criterion::Throughput;
use falco_plugin_runner::CapturingPluginRunner;
use std::hint::black_box;
use std::sync::Arc;
use support::{Extractor, Report, Snapshots};

const STATE_RESOURCES: usize = 50_000;

/// The fields a typical rule set reads.
const FIELDS: [&str; 5] = [
    "tfdrift.drift",
    "tfdrift.resource_address",
    "tfdrift.changed_attrs",
    "tfdrift.actor",
    "tfdrift.severity",
];

/// The next event of the endless source.
fn next(capture: &mut CapturingPluginRunner) -> falco_plugin_runner::Event {
    common::next(capture).expect("the source repeats its records without end")
}

/// One event through the runner with the five fields read through tfdrift's C ABI.
fn event_with_fields(capture: &mut CapturingPluginRunner) {
    let event = next(capture);
    for field in FIELDS {
        match capture.extract_field(&event, field) {
            Some(Ok(value)) => {
                black_box(value);
            }
            other => panic!("extracting {field}: {other:?}"),
        }
    }
}

fn main() {
    let smoke = support::smoke();
    let catalog = support::catalog();
    let records = support::real_records(&catalog);
    let include = support::touched_resources(&catalog, &records);
    let size = if smoke { 500 } else { STATE_RESOURCES };
    let path = support::generated_state(size, 1, &include);
    let texts = support::texts(&records);
    let config = support::plugin_config(&path);
    // The source repeats the records in order, without end (for any run this benchmark makes).
    let mut capture =
        common::start(&texts, 1 << 40, 0, &config).expect("tfdrift starts in the runner");
    let snapshot = Arc::new(ArcSwap::from_pointee(support::snapshot_of(&path, &catalog)));
    let mut extractor = Extractor::new(
        support::engine(Arc::clone(&catalog)),
        Snapshots::Fixed(snapshot),
    );

    // Both sides must agree on what they answer (the same records, the same state).
    let mut disagree = 0;
    for r in &records {
        let event = next(&mut capture);
        let ours = extractor.event(&r.bytes);
        let theirs = capture.extract_field(&event, "tfdrift.resource_address");
        let theirs = match theirs {
            Some(Ok(falco_plugin_runner::ExtractedField::String(s))) => Some(s),
            _ => None,
        };
        disagree += usize::from(ours.address != theirs);
    }
    assert_eq!(disagree, 0, "the plugin and the library answer differently");

    let mut c = support::criterion();
    let mut group = c.benchmark_group("abi/one event of the mix");
    group.throughput(Throughput::Elements(1));
    group.bench_function("runner + source alone (next_event)", |b| {
        b.iter(|| black_box(next(&mut capture)))
    });
    group.bench_function("runner + source + tfdrift (5 fields via the C ABI)", |b| {
        b.iter(|| event_with_fields(&mut capture))
    });
    let mut i = 0;
    group.bench_function("library path (evaluate + 5 fields)", |b| {
        b.iter(|| {
            i = (i + 1) % records.len();
            black_box(extractor.event(black_box(&records[i].bytes)))
        })
    });
    group.finish();
    c.final_summary();

    // The same-run table: rounds of one pass over the mix for each, in turn; the median round of each.
    // Each pass takes exactly one cycle of the source, so every contender sees the same records.
    let rounds = if smoke { 3 } else { 31 };
    let n = records.len();
    let (mut alone, mut plugin, mut library, mut parse) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        alone.push(support::ns_per_item(&records, 1, |_| {
            black_box(next(&mut capture));
        }));
        plugin.push(support::ns_per_item(&records, 1, |_| {
            event_with_fields(&mut capture)
        }));
        library.push(support::ns_per_item(&records, 1, |r| {
            black_box(extractor.event(black_box(&r.bytes)));
        }));
        parse.push(support::ns_per_item(&records, 1, |r| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&r.bytes)).ok());
        }));
    }
    let [alone, plugin, library, parse] =
        [alone, plugin, library, parse].map(|mut v| support::median(&mut v));
    let through_abi = plugin - alone;
    let boundary = through_abi - library;

    let mut report = Report::new("abi");
    report.line(format!("machine: {}", support::machine()));
    report.line(format!(
        "{n} real records emitted in turn by the test source; state of {} instances; 5 fields read per event\n",
        extractor.index_instances()
    ));
    report.line("| what | per event | events/s |");
    report.line("|---|---:|---:|");
    let row =
        |what: &str, ns: f64| format!("| {what} | {} | {:.0} |", support::human_ns(ns), 1e9 / ns);
    report.line(row("runner + test source alone", alone));
    report.line(row("runner + test source + tfdrift (whole plugin)", plugin));
    report.line(row(
        "tfdrift through the C ABI (the two above, subtracted)",
        through_abi,
    ));
    report.line(row("tfdrift library path (evaluate + 5 fields)", library));
    report.line(row(
        "the SDK boundary and the runner's per-field work (C ABI less library)",
        boundary,
    ));
    report.line(row(
        "baseline: serde_json::Value parse of the record",
        parse,
    ));
    report.line(format!(
        "\nthe boundary is {:.0}% of tfdrift's cost through the C ABI ({} per field read); tfdrift through the C ABI costs {:.2} x the baseline parse",
        100.0 * boundary / through_abi,
        support::human_ns(boundary / FIELDS.len() as f64),
        through_abi / parse,
    ));
    report.finish();
}
