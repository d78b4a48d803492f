//! Through the C ABI: events per second for the whole plugin, the built `libtfdrift.so` loaded as Falco
//! loads it, in `falco_plugin_runner` beside a test source plugin that emits the real CloudTrail records as
//! `aws_cloudtrail` events (tests/support), reading the five fields of a typical rule set per event; then
//! the same beside the gcpaudit stand-in (`GCPAUDIT_SOURCE_API`) emitting the real GCP audit log entries as
//! `gcp_auditlog` events.
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
use support::{Extractor, RealRecord, Report, Snapshots, Source};

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
    let entries = support::real_gcp_entries(&catalog);
    let mut include = support::touched_resources(&catalog, &records);
    include.extend(support::touched_resources(&catalog, &entries));
    let size = if smoke { 500 } else { STATE_RESOURCES };
    let path = support::generated_state(size, 1, &include);
    let config = support::plugin_config(&path);
    // Each source repeats its records in order, without end (for any run this benchmark makes).
    let mut capture = common::start(&support::texts(&records), 1 << 40, 0, &config)
        .expect("tfdrift starts in the runner");
    let mut gcp_capture = common::start_gcp_repeated(&support::texts(&entries), 1 << 40, &config)
        .expect("tfdrift starts in the runner beside the gcpaudit stand-in");
    let snapshot = Arc::new(ArcSwap::from_pointee(support::snapshot_of(&path, &catalog)));
    let mut extractor = Extractor::new(
        support::engine(Arc::clone(&catalog)),
        Snapshots::Fixed(snapshot),
    );

    // Both sides must agree on what they answer (the same records, the same state).
    agree(&mut capture, &mut extractor, &records);
    agree(&mut gcp_capture, &mut extractor, &entries);

    let mut c = support::criterion();
    for (group, capture, set) in [
        ("abi/one event of the mix", &mut capture, &records),
        (
            "abi/one GCP audit entry of the mix",
            &mut gcp_capture,
            &entries,
        ),
    ] {
        let mut group = c.benchmark_group(group);
        group.throughput(Throughput::Elements(1));
        group.bench_function("runner + source alone (next_event)", |b| {
            b.iter(|| black_box(next(capture)))
        });
        group.bench_function("runner + source + tfdrift (5 fields via the C ABI)", |b| {
            b.iter(|| event_with_fields(capture))
        });
        let mut i = 0;
        group.bench_function("library path (evaluate + 5 fields)", |b| {
            b.iter(|| {
                i = (i + 1) % set.len();
                black_box(extractor.record(black_box(&set[i])))
            })
        });
        group.finish();
    }
    c.final_summary();

    let rounds = if smoke { 3 } else { 31 };
    let mut report = Report::new("abi");
    report.line(format!("machine: {}", support::machine()));
    report.line(format!(
        "state of {} instances; 5 fields read per event\n",
        extractor.index_instances()
    ));
    table(
        &mut report,
        &format!(
            "{} real CloudTrail records emitted in turn by the test source (`aws_cloudtrail`)",
            records.len()
        ),
        &same_run(
            rounds,
            &mut capture,
            &mut extractor,
            &records,
            Source::CloudTrail,
        ),
    );
    table(
        &mut report,
        &format!(
            "{} real GCP audit log entries emitted in turn by the gcpaudit stand-in (`gcp_auditlog`)",
            entries.len()
        ),
        &same_run(
            rounds,
            &mut gcp_capture,
            &mut extractor,
            &entries,
            Source::GcpAudit,
        ),
    );
    report.finish();
}

/// The plugin through the runner and the library path give the same `tfdrift.resource_address` for one
/// cycle of the source.
fn agree(capture: &mut CapturingPluginRunner, extractor: &mut Extractor, records: &[RealRecord]) {
    let mut disagree = 0;
    for r in records {
        let event = next(capture);
        let ours = extractor.record(r);
        let theirs = capture.extract_field(&event, "tfdrift.resource_address");
        let theirs = match theirs {
            Some(Ok(falco_plugin_runner::ExtractedField::String(s))) => Some(s),
            _ => None,
        };
        disagree += usize::from(ours.address != theirs);
    }
    assert_eq!(disagree, 0, "the plugin and the library answer differently");
}

/// Nanoseconds per event of: the runner and source alone, the whole plugin, the library path, and the
/// baseline parse. Rounds of one pass over the records for each, in turn; the median round of each. Each
/// pass takes exactly one cycle of the source, so every contender sees the same records.
fn same_run(
    rounds: usize,
    capture: &mut CapturingPluginRunner,
    extractor: &mut Extractor,
    records: &[RealRecord],
    source: Source,
) -> [f64; 4] {
    let (mut alone, mut plugin, mut library, mut parse) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        alone.push(support::ns_per_item(records, 1, |_| {
            black_box(next(capture));
        }));
        plugin.push(support::ns_per_item(records, 1, |_| {
            event_with_fields(capture)
        }));
        library.push(match source {
            Source::CloudTrail => support::ns_per_item(records, 1, |r| {
                black_box(extractor.event(black_box(&r.bytes)));
            }),
            Source::GcpAudit => support::ns_per_item(records, 1, |r| {
                black_box(extractor.gcp_event(black_box(&r.bytes)));
            }),
        });
        parse.push(support::ns_per_item(records, 1, |r| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&r.bytes)).ok());
        }));
    }
    [alone, plugin, library, parse].map(|mut v| support::median(&mut v))
}

/// One source's same-run table.
fn table(report: &mut Report, what: &str, [alone, plugin, library, parse]: &[f64; 4]) {
    let through_abi = plugin - alone;
    let boundary = through_abi - library;
    report.line(format!("{what}:\n"));
    report.line("| what | per event | events/s |");
    report.line("|---|---:|---:|");
    let row =
        |what: &str, ns: f64| format!("| {what} | {} | {:.0} |", support::human_ns(ns), 1e9 / ns);
    report.line(row("runner + test source alone", *alone));
    report.line(row(
        "runner + test source + tfdrift (whole plugin)",
        *plugin,
    ));
    report.line(row(
        "tfdrift through the C ABI (the two above, subtracted)",
        through_abi,
    ));
    report.line(row("tfdrift library path (evaluate + 5 fields)", *library));
    report.line(row(
        "the SDK boundary and the runner's per-field work (C ABI less library)",
        boundary,
    ));
    report.line(row(
        "baseline: serde_json::Value parse of the record",
        *parse,
    ));
    report.line(format!(
        "\nthe boundary is {:.0}% of tfdrift's cost through the C ABI ({} per field read); tfdrift through the C ABI costs {:.2} x the baseline parse\n",
        100.0 * boundary / through_abi,
        support::human_ns(boundary / FIELDS.len() as f64),
        through_abi / parse,
    ));
}
