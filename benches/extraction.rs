//! Extraction: what tfdrift adds to one CloudTrail record, or one GCP audit log entry, against parsing the
//! same bytes into a `serde_json::Value` (the baseline, in the same run).
//!
//! One "extraction" is the plugin's library path for one event: load the snapshot, `Engine::evaluate` the
//! record's bytes (`Engine::evaluate_gcp` for an entry), read the five fields of a typical rule set (`tfdrift.drift`, `tfdrift.resource_address`,
//! `tfdrift.changed_attrs`, `tfdrift.actor`, `tfdrift.severity`) as the plugin makes them (C strings). The
//! state holds the resources the real records and entries touch, among 50,000 generated ones
//! (`scripts/gen_state.py`).
//!
//! Records: every real record of `tests/data/cloudtrail` (the mix), then its classes: successful mutating
//! calls in the catalog (full verdict), read-only and failed calls (the cheap part), mutating calls outside
//! the catalog (the fallback scan). Then the same rows for every real entry of `tests/data/gcp-audit` (one
//! LogEntry each, as the gcpaudit plugin hands it over).
//!
//! `TFDRIFT_PROFILE=<event name>` runs only that record's extraction in a loop (`TFDRIFT_PROFILE_LOOPS`
//! times, default 20,000), for `valgrind --tool=callgrind` or `perf record`.

mod support;

use arc_swap::ArcSwap;
use criterion::Throughput;
use std::hint::black_box;
use std::sync::Arc;
use support::{Class, Extractor, RealRecord, Report, Snapshots, Source};

/// A row of the table: its label, the records' source and the records.
type Row<'r> = (&'static str, Source, Vec<&'r RealRecord>);

/// Generated resources around the records' own.
const STATE_RESOURCES: usize = 50_000;
const SMOKE_STATE_RESOURCES: usize = 500;

fn main() {
    let catalog = support::catalog();
    let records = support::real_records(&catalog);
    let entries = support::real_gcp_entries(&catalog);
    let mut include = support::touched_resources(&catalog, &records);
    include.extend(support::touched_resources(&catalog, &entries));
    let size = if support::smoke() {
        SMOKE_STATE_RESOURCES
    } else {
        STATE_RESOURCES
    };
    let path = support::generated_state(size, 1, &include);
    let snapshot = Arc::new(ArcSwap::from_pointee(support::snapshot_of(&path, &catalog)));
    let mut extractor = Extractor::new(
        support::engine(Arc::clone(&catalog)),
        Snapshots::Fixed(snapshot),
    );

    if let Ok(wanted) = std::env::var("TFDRIFT_PROFILE") {
        profile(&mut extractor, &records, &wanted);
        return;
    }

    let classes: Vec<Row> = vec![
        (
            "mix (every real record)",
            Source::CloudTrail,
            records.iter().collect(),
        ),
        (
            "mutating, covered, successful",
            Source::CloudTrail,
            of_class(&records, &[Class::MutatingCovered]),
        ),
        (
            "read-only and failed",
            Source::CloudTrail,
            of_class(&records, &[Class::ReadOnly, Class::Failed]),
        ),
        (
            "read-only",
            Source::CloudTrail,
            of_class(&records, &[Class::ReadOnly]),
        ),
        (
            "mutating outside the catalog (fallback)",
            Source::CloudTrail,
            of_class(&records, &[Class::Uncovered]),
        ),
        (
            "GCP mix (every real audit entry)",
            Source::GcpAudit,
            entries.iter().collect(),
        ),
        (
            "GCP mutating, covered, successful",
            Source::GcpAudit,
            of_class(&entries, &[Class::MutatingCovered]),
        ),
        (
            "GCP read-only and failed",
            Source::GcpAudit,
            of_class(&entries, &[Class::ReadOnly, Class::Failed]),
        ),
        (
            "GCP mutating outside the catalog (fallback)",
            Source::GcpAudit,
            of_class(&entries, &[Class::Uncovered]),
        ),
    ];

    let mut c = support::criterion();
    for (label, source, set) in &classes {
        if set.is_empty() {
            continue;
        }
        let mut group = c.benchmark_group(format!("extraction/{label}"));
        group.throughput(Throughput::Elements(set.len() as u64));
        group.bench_function("tfdrift: verdict + 5 fields", |b| match source {
            Source::CloudTrail => b.iter(|| {
                for r in set {
                    black_box(extractor.event(black_box(&r.bytes)));
                }
            }),
            Source::GcpAudit => b.iter(|| {
                for r in set {
                    black_box(extractor.gcp_event(black_box(&r.bytes)));
                }
            }),
        });
        group.bench_function("baseline: serde_json::from_slice::<Value>", |b| {
            b.iter(|| {
                for r in set {
                    black_box(
                        serde_json::from_slice::<serde_json::Value>(black_box(&r.bytes)).ok(),
                    );
                }
            })
        });
        group.finish();
    }
    let mut group = c.benchmark_group("extraction/one record");
    if let Some(sg) = records.iter().find(|r| {
        r.event_name == "AuthorizeSecurityGroupIngress" && r.class == Class::MutatingCovered
    }) {
        group.bench_function("AuthorizeSecurityGroupIngress: tfdrift", |b| {
            b.iter(|| extractor.event(black_box(&sg.bytes)))
        });
        group.bench_function("AuthorizeSecurityGroupIngress: serde_json::Value", |b| {
            b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&sg.bytes)).ok())
        });
    }
    group.finish();
    c.final_summary();

    report(&mut extractor, &records, &entries, &classes, &path);
}

fn of_class<'r>(records: &'r [RealRecord], classes: &[Class]) -> Vec<&'r RealRecord> {
    records
        .iter()
        .filter(|r| classes.contains(&r.class))
        .collect()
}

/// The same-run ratios, measured by alternating rounds of the two contenders over each set.
fn report(
    extractor: &mut Extractor,
    records: &[RealRecord],
    entries: &[RealRecord],
    classes: &[Row],
    path: &std::path::Path,
) {
    let smoke = support::smoke();
    let rounds = if smoke { 3 } else { 41 };
    let mut report = Report::new("extraction");
    report.line(format!("machine: {}", support::machine()));
    let state_bytes = std::fs::metadata(path).map_or(0, |m| m.len());
    let instances = extractor.index_instances();
    report.line(format!(
        "state: {instances} instances ({} of Terraform's indented JSON), holding the resources the real records and entries touch\n",
        support::mib(state_bytes as f64)
    ));
    report.line(
        "| records | n | tfdrift (verdict + 5 fields) | serde_json::Value | ratio | target |",
    );
    report.line("|---|---:|---:|---:|---:|---|");
    let mut targets = Vec::new();
    for (label, source, set) in classes {
        if set.is_empty() {
            continue;
        }
        let (ours, base) = alternate(rounds, *source, set, extractor);
        let ratio = ours / base;
        let (goal, met) = match *label {
            l if l.starts_with("mix") || l.starts_with("GCP mix") => ("< 1.0", ratio < 1.0),
            l if l.starts_with("read-only and failed") => ("< 0.2 (5x faster)", ratio < 0.2),
            _ => ("", true),
        };
        report.line(format!(
            "| {label} | {} | {} | {} | {ratio:.3} | {goal} |",
            set.len(),
            support::human_ns(ours),
            support::human_ns(base),
        ));
        if !goal.is_empty() {
            targets.push((format!("{label}: ratio {goal}"), format!("{ratio:.3}"), met));
        }
    }
    report.line("");
    for (what, figure, met) in targets {
        report.target(&what, figure, met);
    }

    // Per record: the records whose extraction costs most against their own parse.
    let calls = if smoke { 3 } else { 61 };
    per_record(&mut report, extractor, records, calls, "records", 12);
    per_record(
        &mut report,
        extractor,
        entries,
        calls,
        "GCP audit entries",
        8,
    );
    report.finish();
}

/// The records of one source whose extraction costs most against their own parse, each measured alone.
fn per_record(
    report: &mut Report,
    extractor: &mut Extractor,
    records: &[RealRecord],
    calls: usize,
    what: &str,
    top: usize,
) {
    let mut per_record: Vec<(f64, f64, &RealRecord)> = records
        .iter()
        .map(|r| {
            let ours = support::median_ns(calls, || {
                black_box(extractor.record(black_box(r)));
            });
            let base = support::median_ns(calls, || {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(&r.bytes)).ok());
            });
            (ours, base, r)
        })
        .collect();
    let over = per_record.iter().filter(|(o, b, _)| o >= b).count();
    let over_by_class: Vec<String> = [
        Class::MutatingCovered,
        Class::ReadOnly,
        Class::Failed,
        Class::Uncovered,
    ]
    .iter()
    .map(|c| {
        let n = per_record
            .iter()
            .filter(|(o, b, r)| o >= b && r.class == *c)
            .count();
        format!("{c:?} {n}")
    })
    .collect();
    per_record.sort_by(|a, b| (b.0 / b.1).total_cmp(&(a.0 / a.1)));
    report.line(format!(
        "\nper record (median of {calls} calls each): {over} of {} {what} cost more than their own parse ({}); the highest ratios:\n",
        records.len(),
        over_by_class.join(", ")
    ));
    report.line("| record | call | class | bytes | tfdrift | serde_json::Value | ratio |");
    report.line("|---|---|---|---:|---:|---:|---:|");
    for (ours, base, r) in per_record.iter().take(top) {
        report.line(format!(
            "| {} | {} | {:?} | {} | {} | {} | {:.2} |",
            r.origin,
            r.event_name,
            r.class,
            r.bytes.len(),
            support::human_ns(*ours),
            support::human_ns(*base),
            ours / base
        ));
    }
}

/// Nanoseconds per record of the extraction and of the baseline over `set`, alternating one round of each
/// so that both see the same machine; the median round of each.
fn alternate(
    rounds: usize,
    source: Source,
    set: &[&RealRecord],
    extractor: &mut Extractor,
) -> (f64, f64) {
    let mut ours = Vec::with_capacity(rounds);
    let mut base = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        ours.push(match source {
            Source::CloudTrail => support::ns_per_item(set, 1, |r| {
                black_box(extractor.event(black_box(&r.bytes)));
            }),
            Source::GcpAudit => support::ns_per_item(set, 1, |r| {
                black_box(extractor.gcp_event(black_box(&r.bytes)));
            }),
        });
        base.push(support::ns_per_item(set, 1, |r| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&r.bytes)).ok());
        }));
    }
    (support::median(&mut ours), support::median(&mut base))
}

/// Runs extractions in a loop, for a profiler (`--toggle-collect='extraction::profile_loop'`): of one
/// record (by event name, a mutating covered one first, or by origin), or of a whole class (`mix`,
/// `mutating`, `read-only`, `failed`, `fallback`).
fn profile(extractor: &mut Extractor, records: &[RealRecord], wanted: &str) {
    let class = match wanted {
        "mix" => Some(None),
        "mutating" => Some(Some(Class::MutatingCovered)),
        "read-only" => Some(Some(Class::ReadOnly)),
        "failed" => Some(Some(Class::Failed)),
        "fallback" => Some(Some(Class::Uncovered)),
        _ => None,
    };
    let set: Vec<&RealRecord> = match class {
        Some(class) => records
            .iter()
            .filter(|r| class.is_none_or(|c| r.class == c))
            .collect(),
        None => vec![
            records
                .iter()
                .find(|r| r.event_name == wanted && r.class == Class::MutatingCovered)
                .or_else(|| {
                    records
                        .iter()
                        .find(|r| r.event_name == wanted || r.origin == wanted)
                })
                .unwrap_or_else(|| panic!("no real record named {wanted}")),
        ],
    };
    let loops: usize = std::env::var("TFDRIFT_PROFILE_LOOPS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000);
    let baseline = std::env::var_os("TFDRIFT_PROFILE_BASELINE").is_some();
    let texts: Vec<&[u8]> = set.iter().map(|r| r.bytes.as_slice()).collect();
    profile_loop(extractor, &texts, loops, baseline);
    if let [one] = set.as_slice() {
        let fields = extractor.event(&one.bytes);
        eprintln!(
            "{} ({:?}, {} bytes): drift {:?}, address {:?}, changed {:?}, actor {:?}, severity {:?}",
            one.origin,
            one.class,
            one.bytes.len(),
            fields.drift,
            fields.address,
            fields.changed,
            fields.actor,
            fields.severity
        );
    }
    eprintln!("{loops} loops over {} records", set.len());
}

#[inline(never)]
fn profile_loop(extractor: &mut Extractor, texts: &[&[u8]], loops: usize, baseline: bool) {
    for _ in 0..loops {
        for bytes in texts {
            if baseline {
                black_box(serde_json::from_slice::<serde_json::Value>(black_box(bytes)).ok());
            } else {
                black_box(extractor.event(black_box(bytes)));
            }
        }
    }
}
