//! What tfdrift and its rules pack cost Falco: throughput of a source's rules run as Falco runs them
//! (support/falco.rs: every rule in file order until the first match, short-circuit, each field extracted
//! again by every comparison that reads it, the matching rule's output fields extracted), in
//! `falco_plugin_runner`, over the real CloudTrail records.
//!
//! - baseline: a stand-in for the cloudtrail plugin (support/standin.rs: one DOM parse per event, as fast as
//!   the real plugin or faster) with the cloudtrail plugin's own rules (tests/data/rules);
//! - with tfdrift: the same, plus the built `libtfdrift.so` loaded through its C ABI and `rules/
//!   tfdrift_rules.yaml` after the cloudtrail rules (and, as a check of the order, before them).
//!
//! The throughput ratio (baseline time / time with tfdrift) is the share of Falco's throughput that is left;
//! the target is at least 0.8 (issue: adding tfdrift and its rules costs at most 20%). A state of 50,000
//! instances that holds every resource the records touch makes every covered call a managed one: the
//! expensive path, more often than in life.

use tfdrift_test_support as common;
#[path = "support/falco.rs"]
mod falco;
#[path = "support/standin.rs"]
mod standin;
mod support;

use falco::Ruleset;
use falco_plugin_runner::{CapturingPluginRunner, PluginRunner};
use standin::CLOUDTRAIL_STANDIN_API;
use std::ffi::CString;
use std::hint::black_box;
use support::Report;

const STATE_RESOURCES: usize = 50_000;
const CLOUDTRAIL_RULES: &str = include_str!(
    "../tests/data/rules/falcosecurity-plugins/plugins/cloudtrail/rules/aws_cloudtrail_rules.yaml"
);
const TFDRIFT_RULES: &str = include_str!("../rules/tfdrift_rules.yaml");

/// A capture of the stand-in emitting `texts` without end, with tfdrift beside it when `tfdrift` is given.
fn capture(texts: &[String], tfdrift: Option<&str>) -> CapturingPluginRunner {
    let mut runner = PluginRunner::new();
    let config = CString::new(serde_json::to_string(texts).unwrap()).unwrap();
    runner
        .register_plugin(&CLOUDTRAIL_STANDIN_API, &config)
        .expect("the stand-in starts");
    if let Some(config) = tfdrift {
        let config = CString::new(config).unwrap();
        runner
            .register_plugin(common::load_tfdrift(), &config)
            .expect("tfdrift starts");
    }
    runner.start_capture().expect("the capture starts")
}

/// One pass over the records: ns per event, and how many events each rule matched.
fn pass(
    capture: &mut CapturingPluginRunner,
    rules: &Ruleset,
    n: usize,
) -> (f64, Vec<usize>, (usize, usize)) {
    pass_again(capture, rules, None, n)
}

/// Like [`pass`]; with `again` (tfdrift's rules alone, and the number of rules before them in `rules`), every
/// event that reached tfdrift's rules has them evaluated a second time, exactly as the first (same reads, same
/// match, same output fields), with the event's verdict already made: the difference from a plain pass is what
/// the pack's field reads cost by themselves, whatever the verdict costs.
fn pass_again(
    capture: &mut CapturingPluginRunner,
    rules: &Ruleset,
    again: Option<(&Ruleset, usize)>,
    n: usize,
) -> (f64, Vec<usize>, (usize, usize)) {
    let mut matched = vec![0; rules.rules.len()];
    let mut extractions = (0, 0);
    let start = std::time::Instant::now();
    for _ in 0..n {
        let event = capture.next_event().expect("the stand-in never ends");
        let outcome = rules.run(capture, &event);
        if let Some((pack, before)) = again
            && outcome.matched.is_none_or(|i| i >= before)
        {
            let second = pack.run(capture, &event);
            // The second evaluation must be the first's: the same rule, or none.
            assert_eq!(
                second.matched.map(|i| i + before),
                outcome.matched,
                "tfdrift's rules evaluated again matched another rule"
            );
            black_box(second);
        }
        extractions.0 += outcome.extractions;
        extractions.1 += outcome.tfdrift_extractions;
        if let Some(i) = outcome.matched {
            matched[i] += 1;
        }
        black_box(outcome);
    }
    (
        start.elapsed().as_nanos() as f64 / n as f64,
        matched,
        extractions,
    )
}

fn main() {
    let smoke = support::smoke();
    let catalog = support::catalog();
    let records = support::real_records(&catalog);
    let include = support::touched_resources(&catalog, &records);
    let size = if smoke { 500 } else { STATE_RESOURCES };
    let path = support::generated_state(size, 1, &include);
    // The same size of state holding none of them: every covered call is then about an unmanaged resource.
    let unmanaged_path = support::generated_state(size, 2, &[]);
    let texts = support::texts(&records);
    let config = support::plugin_config(&path);
    let unmanaged_config = support::plugin_config(&unmanaged_path);
    let n = texts.len();

    let base_rules = Ruleset::load(&[CLOUDTRAIL_RULES]);
    // TFDRIFT_BENCH_RULES names another tfdrift pack to measure (yours, or a variant of this one).
    let own = std::env::var("TFDRIFT_BENCH_RULES")
        .ok()
        .map(|p| std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")));
    let tfdrift_rules = own.as_deref().unwrap_or(TFDRIFT_RULES);
    let full_rules = Ruleset::load(&[CLOUDTRAIL_RULES, tfdrift_rules]);
    // TFDRIFT_BENCH_ALSO names a second pack measured in the same rounds (the pack before a change, say), so
    // that two packs compare against one baseline.
    let also = std::env::var("TFDRIFT_BENCH_ALSO").ok().map(|p| {
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        (p, Ruleset::load(&[CLOUDTRAIL_RULES, &text]))
    });
    let first_rules = Ruleset::load(&[tfdrift_rules, CLOUDTRAIL_RULES]);
    // tfdrift's rules alone, evaluated a second time on each event that reached them (see `pass_again`).
    let pack_alone = Ruleset::load(&[tfdrift_rules]);
    let again = Some((&pack_alone, base_rules.rules.len()));
    let mut base = capture(&texts, None);
    let mut full = capture(&texts, Some(&config));
    let mut first = capture(&texts, Some(&config));
    let mut unmanaged = capture(&texts, Some(&unmanaged_config));
    let mut also_capture = also.as_ref().map(|_| capture(&texts, Some(&config)));
    // The same, with every caller that has an identity Terraform's: their verdicts stop before the index
    // unless a rule reads a field that needs the match (src/drift, `Stage`).
    let mut terraform_config: serde_json::Value = serde_json::from_str(&config).unwrap();
    terraform_config["terraform"]["principals"] = serde_json::json!(["*"]);
    let mut terraform = capture(&texts, Some(&terraform_config.to_string()));

    // The model must be exercising both packs: the cloudtrail rules fire on the records they were written
    // for, and tfdrift's drift rules fire on the records that change a resource the state holds.
    let (_, base_matched, base_reads) = pass(&mut base, &base_rules, n);
    let (_, full_matched, full_reads) = pass(&mut full, &full_rules, n);
    let fired = |rules: &Ruleset, matched: &[usize], name: &str| {
        rules
            .rules
            .iter()
            .zip(matched)
            .find(|(r, _)| r.name == name)
            .map(|(_, m)| *m)
            .unwrap_or_else(|| panic!("no rule {name}"))
    };
    assert!(fired(&base_rules, &base_matched, "Create AWS user") > 0);
    assert!(fired(&base_rules, &base_matched, "Put Bucket Policy") > 0);
    if own.is_none() {
        assert!(
            fired(
                &full_rules,
                &full_matched,
                "Terraform Drift On Critical Resource"
            ) > 0
        );
    }
    let tfdrift_alerts: usize = full_rules
        .rules
        .iter()
        .zip(&full_matched)
        .filter(|(r, _)| tfdrift_rules.contains(&format!("- rule: {}\n", r.name)))
        .map(|(_, m)| m)
        .sum();
    assert!(
        own.is_some() || tfdrift_alerts > 0,
        "tfdrift's rules never fired"
    );

    // Rounds of one pass each, in turn; the median round of each.
    let rounds = if smoke {
        3
    } else {
        std::env::var("TFDRIFT_BENCH_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(41)
    };
    let (_, _, unmanaged_reads) = pass(&mut unmanaged, &full_rules, n);
    let (_, _, terraform_reads) = pass(&mut terraform, &full_rules, n);
    let also_reads = match (&also, &mut also_capture) {
        (Some((_, rules)), Some(c)) => pass(c, rules, n).2,
        _ => (0, 0),
    };
    let (mut b, mut f, mut t, mut u, mut a) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut fr, mut ur, mut tf) = (vec![], vec![], vec![]);
    for _ in 0..rounds {
        if let (Some((_, rules)), Some(c)) = (&also, &mut also_capture) {
            a.push(pass(c, rules, n).0);
        }
        b.push(pass(&mut base, &base_rules, n).0);
        f.push(pass(&mut full, &full_rules, n).0);
        t.push(pass(&mut first, &first_rules, n).0);
        u.push(pass(&mut unmanaged, &full_rules, n).0);
        fr.push(pass_again(&mut full, &full_rules, again, n).0);
        ur.push(pass_again(&mut unmanaged, &full_rules, again, n).0);
        tf.push(pass(&mut terraform, &full_rules, n).0);
    }
    let [b, f, t, u, fr, ur, tf] = [b, f, t, u, fr, ur, tf].map(|mut v| support::median(&mut v));
    let a = (!a.is_empty()).then(|| support::median(&mut a));
    let ratio = b / f;
    let ratio_first = b / t;

    let mut report = Report::new("rules");
    report.line(format!("machine: {}", support::machine()));
    report.line(format!(
        "{n} real records emitted in turn; state of {size} generated instances holding every resource the records touch; {} cloudtrail rules, {} tfdrift rules enabled\n",
        base_rules.rules.len(),
        full_rules.rules.len() - base_rules.rules.len(),
    ));
    report.line(
        "| Falco's rules run | per event | events/s | field reads per event | of which tfdrift.* |",
    );
    report.line("|---|---:|---:|---:|---:|");
    let row = |what: &str, ns: f64, reads: (usize, usize)| {
        format!(
            "| {what} | {} | {:.0} | {:.1} | {:.1} |",
            support::human_ns(ns),
            1e9 / ns,
            reads.0 as f64 / n as f64,
            reads.1 as f64 / n as f64,
        )
    };
    report.line(row(
        "baseline: cloudtrail stand-in + the cloudtrail plugin's rules",
        b,
        base_reads,
    ));
    report.line(row(
        "+ tfdrift and its rules, after the cloudtrail rules",
        f,
        full_reads,
    ));
    report.line(row("+ tfdrift and its rules, before them", t, full_reads));
    report.line(row(
        "+ tfdrift and its rules, after them; a state holding none of the touched resources",
        u,
        unmanaged_reads,
    ));
    report.line(row(
        "+ tfdrift and its rules, after them; every caller Terraform (terraform.principals [\"*\"])",
        tf,
        terraform_reads,
    ));
    if let (Some((path, _)), Some(a)) = (&also, a) {
        report.line(row(
            &format!("+ tfdrift and the pack {path}, after the cloudtrail rules"),
            a,
            also_reads,
        ));
    }
    report.line(format!(
        "\nalerts over one pass: cloudtrail rules {}, tfdrift rules {tfdrift_alerts}",
        base_matched.iter().sum::<usize>(),
    ));
    report.line(format!(
        "\nthroughput left with a state holding none of the touched resources: {:.2}",
        b / u
    ));
    report.line(format!(
        "throughput left with every caller Terraform: {:.2}",
        b / tf
    ));
    if let Some(a) = a {
        report.line(format!(
            "throughput left with the pack of TFDRIFT_BENCH_ALSO: {:.2}",
            b / a
        ));
    }
    // What the pack's reads cost by themselves (the verdict already made): the share of the baseline's time
    // that no verdict, however fast, can give back. The target (0.8 of the throughput) leaves tfdrift 0.25 of
    // the baseline's time in all.
    let reads_alone = |again: f64, once: f64| (again - once).max(0.0) / b;
    report.line(format!(
        "\nthe pack's field reads alone, with the event's verdict already made (tfdrift's rules evaluated a second time; share of the baseline's time, the target leaves 0.25 in all): {:.2} with the state holding the touched resources, {:.2} with the state holding none",
        reads_alone(fr, f),
        reads_alone(ur, u),
    ));
    report.line(format!(
        "the verdict and everything else tfdrift adds (share of the baseline's time): {:.2} and {:.2}",
        ((f - b) / b - reads_alone(fr, f)).max(0.0),
        ((u - b) / b - reads_alone(ur, u)).max(0.0),
    ));
    report.target(
        "throughput left with tfdrift and its rules (baseline / with), at least 0.8",
        format!("{ratio:.2} after, {ratio_first:.2} before"),
        ratio.min(ratio_first) >= 0.8,
    );
    report.finish();
}
