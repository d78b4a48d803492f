//! `tfdrift-replay` over Google Cloud Audit Logs entries, alone and beside CloudTrail records: every real entry
//! of `tests/data/gcp-audit/` is read (as JSON Lines, as a gzipped array the way `gcloud logging read
//! --format=json` prints them, pretty-printed one after the other), a state that holds the resource a real
//! entry changes gives a drift finding naming the address, the actor and the cloud, and a folder (or a file)
//! mixing both clouds' logs gives each cloud's findings.
//!
//! What is expected comes from the entries themselves, read here with serde_json, and from the LogEntry format
//! (`shared/docs/gcp-facts.md`): a LogEntry has `logName` and `protoPayload`; Panther's normalised copies that
//! lowercase those keys are no LogEntries, and the command says how many it could not place.

use tfdrift_test_support as common;

use common::{resource, state_v4, write_state};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Output;

const GCP_AUDIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gcp-audit");
const PANTHER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/gcp-audit/panther-analysis.jsonl"
);
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");

fn replay(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tfdrift-replay"));
    for arg in args {
        command.arg(arg);
    }
    command.env("RUST_LOG", "warn");
    command.output().expect("run tfdrift-replay")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "tfdrift-replay failed:\n{}\n{}",
        stdout(output),
        stderr(output)
    );
}

/// The summary line the command ends with on standard error.
fn summary(output: &Output) -> String {
    stderr(output)
        .lines()
        .rfind(|l| l.contains(" records ("))
        .unwrap_or_else(|| panic!("no summary in: {}", stderr(output)))
        .to_owned()
}

/// A Google resource of the state, written by the google provider.
fn google(resource_type: &str, name: &str, attributes: Value) -> Value {
    let mut r = resource("", resource_type, name, attributes);
    r["provider"] = json!("provider[\"registry.terraform.io/hashicorp/google\"]");
    r
}

/// The state the real entries meet: the subnetwork Panther's `v1.compute.subnetworks.patch` entry changes (a
/// person in the Cloud Console turning on its flow logs) and the log sink of its `UpdateSink` entry, as the
/// google provider records them (`id` = the resource's path).
fn gcp_state(dir: &Path) -> PathBuf {
    let state = state_v4(
        7,
        vec![
            google(
                "google_compute_subnetwork",
                "default",
                json!({
                    "id": "projects/test-project/regions/us-central1/subnetworks/default",
                    "name": "default",
                    "project": "test-project",
                    "region": "us-central1",
                    "ip_cidr_range": "10.128.0.0/20",
                    "log_config": [],
                }),
            ),
            google(
                "google_logging_project_sink",
                "audit",
                json!({
                    "id": "projects/gcp-project1/sinks/log-sink",
                    "name": "log-sink",
                    "project": "gcp-project1",
                    "destination": "pubsub.googleapis.com/projects/gcp-project1/topics/gcp-topic1",
                    "exclusions": [],
                }),
            ),
        ],
    );
    write_state(dir, "gcp.tfstate", &state)
}

/// The subnetwork's drift, as a line of the command says it.
const SUBNETWORK_DRIFT: &str = "gcp google_compute_subnetwork.default (google_compute_subnetwork projects/test-project/regions/us-central1/subnetworks/default) modify by user1@company.io [console] via v1.compute.subnetworks.patch";

/// The entries of one JSON Lines file, parsed here.
fn entries(path: &str) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Whether an entry has what a LogEntry has, as Google names it.
fn is_log_entry(entry: &Value) -> bool {
    entry.get("logName").is_some() || entry.get("protoPayload").is_some()
}

fn gzip(path: &Path, text: &str) {
    let file = std::fs::File::create(path).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap();
}

#[test]
fn every_real_entry_is_read_and_printed_with_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let output = replay(&[&"--state", &state, &"--json", &"--all", &GCP_AUDIT]);
    succeeded(&output);

    let mut files: Vec<PathBuf> = std::fs::read_dir(GCP_AUDIT)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let expected: Vec<Value> = files
        .iter()
        .flat_map(|f| entries(f.to_str().unwrap()))
        .collect();
    assert_eq!(expected.len(), 157);
    let printed: Vec<Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // One object per entry, in the files' order, each with every field of the table.
    assert_eq!(printed.len(), expected.len());
    for (entry, out) in expected.iter().zip(&printed) {
        for field in tfdrift::fields::ALL.iter().filter(|f| !f.is_keyed()) {
            assert!(
                out.get(field.name).is_some(),
                "{} missing in {out}",
                field.name
            );
        }
        if is_log_entry(entry) {
            let payload = entry.get("protoPayload");
            assert_eq!(out["evt.source"], "gcp_auditlog", "{out}");
            assert_eq!(
                out["gcp.methodName"],
                payload.map_or(Value::Null, |p| p["methodName"].clone()),
                "{out}"
            );
            assert_eq!(
                out["gcp.serviceName"],
                payload.map_or(Value::Null, |p| p["serviceName"].clone()),
                "{out}"
            );
            assert_eq!(
                out["json.value[/insertId]"],
                entry.get("insertId").cloned().unwrap_or(Value::Null),
                "{out}"
            );
            assert!(out.get("ct.name").is_none(), "{out}");
        }
    }
    // Panther's copies with lowercased `logname` and `protopayload` are no LogEntries: counted apart.
    let neither = expected.iter().filter(|e| !is_log_entry(e)).count();
    assert_eq!(neither, 3);
    assert!(
        summary(&output).starts_with(&format!(
            "157 records (0 CloudTrail, {} GCP audit log, {neither} neither) from {} files",
            157 - neither,
            files.len()
        )),
        "{}",
        summary(&output)
    );
    // The subnetwork's drift is among them, with its address and actor.
    let drift: Vec<&Value> = printed
        .iter()
        .filter(|o| o["tfdrift.drift"] == true)
        .collect();
    assert!(
        drift.iter().any(
            |o| o["tfdrift.resource_address"] == "google_compute_subnetwork.default"
                && o["tfdrift.actor"] == "user1@company.io"
                && o["tfdrift.actor_kind"] == "console"
                && o["gcp.methodName"] == "v1.compute.subnetworks.patch"
        ),
        "{drift:?}"
    );
}

#[test]
fn a_real_console_change_to_a_managed_resource_is_drift() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let output = replay(&[&"--state", &state, &PANTHER]);
    succeeded(&output);
    let out = stdout(&output);
    let line = out
        .lines()
        .find(|l| l.contains("google_compute_subnetwork.default"))
        .unwrap_or_else(|| panic!("no subnetwork finding in:\n{out}"));
    assert!(line.starts_with("DRIFT "), "{line}");
    assert!(line.contains(SUBNETWORK_DRIFT), "{line}");
    assert!(line.ends_with("; state gcp serial 7"), "{line}");
    // Every finding names its cloud; this file has only Google's.
    for line in out.lines() {
        assert_eq!(line.split_whitespace().nth(2), Some("gcp"), "{line}");
    }
    assert!(
        summary(&output).starts_with("61 records (0 CloudTrail, 58 GCP audit log, 3 neither)"),
        "{}",
        summary(&output)
    );
}

/// Panther's `UpdateSink` entry (line 7 of the file) carries `logname`, lowercased by Panther: which audit log
/// it is from is unknown, so tfdrift does not judge it, and the summary says so. With Google's `logName` (and
/// `insertId`) back, the same entry is the console's change to a managed sink.
#[test]
fn the_update_sink_entry_is_drift_once_it_is_a_log_entry_again() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let text = std::fs::read_to_string(PANTHER).unwrap();
    let line = text.lines().nth(6).unwrap();
    assert!(line.contains("google.logging.v2.ConfigServiceV2.UpdateSink"));

    let as_panther = dir.path().join("panther.jsonl");
    std::fs::write(&as_panther, line).unwrap();
    let output = replay(&[&"--state", &state, &as_panther]);
    succeeded(&output);
    assert_eq!(stdout(&output), "");
    assert!(
        summary(&output).contains("1 GCP entries name no Cloud Audit Log (logName)"),
        "{}",
        summary(&output)
    );

    let mut entry: Value = serde_json::from_str(line).unwrap();
    let object = entry.as_object_mut().unwrap();
    for (panther, google) in [("logname", "logName"), ("insertid", "insertId")] {
        let value = object.remove(panther).unwrap();
        object.insert(google.into(), value);
    }
    let as_google = dir.path().join("google.jsonl");
    std::fs::write(&as_google, entry.to_string()).unwrap();
    let output = replay(&[&"--state", &state, &as_google]);
    succeeded(&output);
    let out = stdout(&output);
    assert!(out.starts_with("DRIFT "), "{out}");
    assert!(
        out.contains(
            "gcp google_logging_project_sink.audit (google_logging_project_sink projects/gcp-project1/sinks/log-sink) modify by john@justice.org [console] via google.logging.v2.ConfigServiceV2.UpdateSink"
        ),
        "{out}"
    );
}

/// `gcloud logging read --format=json` prints a pretty JSON array; gzipped, it is read the same.
#[test]
fn a_gzipped_array_of_entries() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let all = entries(PANTHER);
    let path = dir.path().join("read.json.gz");
    gzip(&path, &serde_json::to_string_pretty(&all).unwrap());
    let output = replay(&[&"--state", &state, &path]);
    succeeded(&output);
    assert!(
        stdout(&output).contains(SUBNETWORK_DRIFT),
        "{}",
        stdout(&output)
    );
    assert!(
        summary(&output).starts_with("61 records (0 CloudTrail, 58 GCP audit log, 3 neither)"),
        "{}",
        summary(&output)
    );
}

/// Entries pretty-printed one after the other (`jq . < export.jsonl`), not one a line.
#[test]
fn entries_printed_one_after_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let text: String = entries(PANTHER)
        .iter()
        .map(|e| serde_json::to_string_pretty(e).unwrap() + "\n")
        .collect();
    let path = dir.path().join("pretty.json");
    std::fs::write(&path, text).unwrap();
    let output = replay(&[&"--state", &state, &path]);
    succeeded(&output);
    assert!(
        stdout(&output).contains(SUBNETWORK_DRIFT),
        "{}",
        stdout(&output)
    );
    assert!(
        summary(&output).starts_with("61 records "),
        "{}",
        summary(&output)
    );
}

/// The AWS example's findings (README: 5 drift, 1 unmanaged) and the GCP one, from a folder holding
/// CloudTrail log files, a JSON Lines export and a gzipped array, then from one file mixing both clouds.
#[test]
fn a_folder_and_a_file_mixing_both_clouds() {
    let dir = tempfile::tempdir().unwrap();
    let gcp = gcp_state(dir.path());
    let aws = PathBuf::from(EXAMPLES).join("terraform.tfstate");
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let mut cloudtrail = Vec::new();
    for file in ["panther-analysis.json", "stratus-red-team.json"] {
        let from = PathBuf::from(EXAMPLES).join("cloudtrail").join(file);
        std::fs::copy(&from, logs.join(format!("aws-{file}"))).unwrap();
        let log: Value = serde_json::from_str(&std::fs::read_to_string(&from).unwrap()).unwrap();
        cloudtrail.extend(log["Records"].as_array().unwrap().iter().cloned());
    }
    let google = entries(PANTHER);
    std::fs::copy(PANTHER, logs.join("gcp-panther.jsonl")).unwrap();
    gzip(
        &logs.join("gcp-read.json.gz"),
        &serde_json::to_string(&google[..10]).unwrap(),
    );

    let check = |output: &Output, gcp_records: usize| {
        succeeded(output);
        let out = stdout(output);
        let aws_lines = out
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("aws"))
            .count();
        assert_eq!(aws_lines, 6, "{out}");
        assert!(out.contains(SUBNETWORK_DRIFT), "{out}");
        assert!(
            out.contains("DRIFT     critical aws aws_cloudtrail.audit"),
            "{out}"
        );
        assert!(
            summary(output).contains(&format!(
                "({} CloudTrail, {} GCP audit log, 3 neither)",
                cloudtrail.len(),
                gcp_records
            )),
            "{}",
            summary(output)
        );
    };
    let output = replay(&[&"--state", &aws, &"--state", &gcp, &logs]);
    // The gzipped array holds the first 10 entries again (with the subnetwork's: line 3).
    check(&output, 58 + 10);

    // One file, the two clouds' records interleaved one a line.
    let mut lines = Vec::new();
    let (mut a, mut g) = (cloudtrail.iter(), google.iter());
    loop {
        let (x, y) = (a.next(), g.next());
        if x.is_none() && y.is_none() {
            break;
        }
        lines.extend(x.into_iter().chain(y).map(|v| v.to_string()));
    }
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, lines.join("\n")).unwrap();
    let output = replay(&[&"--state", &aws, &"--state", &gcp, &mixed]);
    check(&output, 58);
}

/// A line that is no JSON object fails the command, naming the file and the line: nothing is skipped unsaid.
#[test]
fn a_broken_line_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let state = gcp_state(dir.path());
    let text = std::fs::read_to_string(PANTHER).unwrap();
    let mut lines: Vec<&str> = text.lines().take(4).collect();
    let cut = &lines[2][..lines[2].len() / 2];
    lines[2] = cut;
    let path = dir.path().join("cut.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let output = replay(&[&"--state", &state, &path]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("cut.jsonl line 3: not a JSON object"),
        "{}",
        stderr(&output)
    );
}

/// The records of one of the example's CloudTrail log files (`{"Records": [...]}`), as its text and its records.
fn example_log(file: &str) -> (String, Vec<Value>) {
    let text =
        std::fs::read_to_string(PathBuf::from(EXAMPLES).join("cloudtrail").join(file)).unwrap();
    let log: Value = serde_json::from_str(&text).unwrap();
    let records = log["Records"].as_array().unwrap().clone();
    (text, records)
}

/// A run that stops on an input it cannot read (a gzipped log file cut short, as an interrupted copy leaves
/// it) after two good ones: the command fails, and its report says that it is partial and counts the records
/// of the files read before, never zero (an auditor would read a clean, empty window). The counts are the
/// records of those files, read here, and the whole count line is that of a run over those files alone.
#[test]
fn a_run_that_fails_reports_what_it_read_before() {
    let dir = tempfile::tempdir().unwrap();
    let state = PathBuf::from(EXAMPLES).join("terraform.tfstate");
    let (panther, panther_records) = example_log("panther-analysis.json");
    let (stratus, stratus_records) = example_log("stratus-red-team.json");
    let before = dir.path().join("before");
    let logs = dir.path().join("logs");
    for folder in [&before, &logs] {
        std::fs::create_dir(folder).unwrap();
        std::fs::write(folder.join("a-panther.json"), &panther).unwrap();
        gzip(&folder.join("b-stratus.json.gz"), &stratus);
    }
    // CloudTrail's own delivery, one {"Records": [...]} line gzipped, cut in the middle of the stream.
    let whole = dir.path().join("whole.json.gz");
    gzip(&whole, &panther);
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(logs.join("c-cut.json.gz"), &bytes[..bytes.len() / 2]).unwrap();
    // Never reached: the run stops at the cut file.
    std::fs::write(logs.join("d-after.json"), &stratus).unwrap();
    let read = panther_records.len() + stratus_records.len();
    assert!(read > 0);
    let counted = format!("{read} records ({read} CloudTrail, 0 GCP audit log)");

    for format in ["json", "markdown"] {
        let clean = replay(&[&"--state", &state, &before, &"--format", &format]);
        succeeded(&clean);
        let failed = replay(&[&"--state", &state, &logs, &"--format", &format]);
        let (out, err) = (stdout(&failed), stderr(&failed));
        assert!(!failed.status.success(), "{format}: {err}");
        assert!(err.contains("c-cut.json.gz"), "{format}: {err}");
        assert!(
            err.contains("the report is partial: it covers the 2 objects read before the error"),
            "{format}: {err}"
        );
        // The summary line on standard error counts what was read, as a run over those files alone does.
        assert!(
            summary(&failed).starts_with(&counted),
            "{}",
            summary(&failed)
        );
        assert_eq!(summary(&failed), summary(&clean), "{format}");
        match format {
            "json" => {
                // The findings of the files read before, as their own run gives them.
                assert_eq!(out, stdout(&clean));
                assert!(!out.is_empty());
            }
            _ => {
                assert!(
                    out.contains("> **Partial report**: the run stopped on an error: "),
                    "{out}"
                );
                assert!(out.contains("c-cut.json.gz"), "{out}");
                let counts = |md: &str| {
                    md.lines()
                        .find(|l| l.contains(" records ("))
                        .unwrap_or_else(|| panic!("no count line in {md}"))
                        .to_owned()
                };
                assert!(counts(&out).contains(&counted), "{}", counts(&out));
                assert_eq!(counts(&out), counts(&stdout(&clean)));
                assert!(!stdout(&clean).contains("Partial report"));
            }
        }
    }
}
