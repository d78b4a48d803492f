//! `tfdrift-replay --format`: every format over the embedded example's real CloudTrail records (5 drift, 1
//! unmanaged: examples/README.md) and a real Google audit entry, checked against the records themselves (read
//! here with serde_json): when, where, from where and by whom each finding was made. Secrets the state marks
//! stay redacted in every format; values a log's writer chooses (a user agent holding a script, a formula,
//! Markdown's table syntax) stay text in every format; and the HTML page, loaded in headless Chromium, shows
//! the findings, runs nothing and logs nothing on its console.
//!
//! `docs/examples/audit-report.md` and `.html` are the reports of the example, checked here (rewritten with
//! `TFDRIFT_BLESS=1`).

use tfdrift_test_support as common;

use common::{resource, state_v4, write_state};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn examples() -> PathBuf {
    Path::new(ROOT).join("examples")
}

fn replay(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tfdrift-replay"));
    // From the repository's root, so that the inputs a report names are the same on every machine.
    command.args(args).env("RUST_LOG", "warn").current_dir(ROOT);
    let output = command.output().expect("run tfdrift-replay");
    assert!(
        output.status.success(),
        "tfdrift-replay failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// The example's state and records, in a format.
fn example_report(format: &str) -> String {
    // Relative to the root the command runs from: the report says what it read.
    let state = Path::new("examples/terraform.tfstate");
    let logs = Path::new("examples/cloudtrail");
    stdout(&replay(&[&"--state", &state, &logs, &"--format", &format]))
}

/// The example's CloudTrail records, by eventID.
fn example_records() -> Vec<Value> {
    let mut records = Vec::new();
    for file in ["panther-analysis.json", "stratus-red-team.json"] {
        let text = std::fs::read_to_string(examples().join("cloudtrail").join(file)).unwrap();
        let log: Value = serde_json::from_str(&text).unwrap();
        records.extend(log["Records"].as_array().unwrap().iter().cloned());
    }
    records
}

fn record_by_id(records: &[Value], id: &str) -> Value {
    records
        .iter()
        .find(|r| r["eventID"] == id)
        .unwrap_or_else(|| panic!("no record {id}"))
        .clone()
}

/// The addresses of the example's drift (examples/README.md) and its one unmanaged resource.
const DRIFT_ADDRESSES: [&str; 5] = [
    "module.network.aws_security_group.web",
    "aws_cloudtrail.audit",
    "module.network.aws_flow_log.vpc",
    "aws_lambda_function.worker[\"simple\"]",
    "module.storage.aws_s3_bucket_versioning.data",
];

/// A minimal RFC 4180 reader: quoted cells, doubled quotes, CRLF row ends.
fn read_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, '\n') => panic!("a row ended by LF alone"),
            (false, c) => cell.push(c),
        }
    }
    assert!(!quoted, "an unterminated quoted cell");
    assert!(row.is_empty() && cell.is_empty(), "a row without CRLF");
    rows
}

#[test]
fn json_and_csv_carry_when_where_and_from_where_from_the_records() {
    let records = example_records();
    let json = example_report("json");
    let objects: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 6, "{json}");
    // `--json` is `--format json`, byte for byte but for the state's age, which is read at print time.
    let state = examples().join("terraform.tfstate");
    let logs = examples().join("cloudtrail");
    let alias = stdout(&replay(&[&"--state", &state, &logs, &"--json"]));
    let without_age = |text: &str| -> Vec<Value> {
        text.lines()
            .map(|l| {
                let mut v: Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("tfdrift.state_age");
                v
            })
            .collect()
    };
    assert_eq!(without_age(&alias), without_age(&json));

    let csv = read_csv(&example_report("csv"));
    let header = &csv[0];
    assert_eq!(csv.len(), 7, "{csv:?}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (object, row) in objects.iter().zip(&csv[1..]) {
        let id = object["ct.id"].as_str().unwrap();
        let record = record_by_id(&records, id);
        // Every field of the table, as --json always printed it.
        for field in tfdrift::fields::ALL.iter().filter(|f| !f.is_keyed()) {
            assert!(object.get(field.name).is_some(), "{} missing", field.name);
        }
        assert_eq!(object["finding.time"], record["eventTime"]);
        assert_eq!(object["finding.account"], record["recipientAccountId"]);
        assert_eq!(object["finding.region"], record["awsRegion"]);
        assert_eq!(object["finding.service"], record["eventSource"]);
        assert_eq!(object["finding.call"], record["eventName"]);
        assert_eq!(object["finding.source_ip"], record["sourceIPAddress"]);
        assert_eq!(object["finding.user_agent"], record["userAgent"]);
        assert_eq!(object["finding.cloud"], "aws");
        // The import id of an unmanaged resource is the plugin field's, as the import blocks show it.
        assert_eq!(object["finding.import_id"], object["tfdrift.import_id"]);
        let kind = object["finding.kind"].as_str().unwrap();
        // Only what no state holds can be imported.
        if object["tfdrift.import_id"].is_string() {
            assert_eq!(kind, "unmanaged");
        }
        assert_eq!(object["tfdrift.drift"], kind == "drift");
        assert_eq!(object["tfdrift.unmanaged"], kind == "unmanaged");

        assert_eq!(row.len(), header.len());
        for (name, value) in [
            ("time", &record["eventTime"]),
            ("account", &record["recipientAccountId"]),
            ("source_ip", &record["sourceIPAddress"]),
            ("event_id", &record["eventID"]),
            ("actor", &object["tfdrift.actor"]),
            ("resource_address", &object["tfdrift.resource_address"]),
            ("diff", &object["tfdrift.diff"]),
        ] {
            assert_eq!(row[column(name)], value.as_str().unwrap_or(""), "{name}");
        }
        assert_eq!(row[column("kind")], kind);
    }
    let addresses: Vec<&str> = objects
        .iter()
        .filter_map(|o| o["tfdrift.resource_address"].as_str())
        .collect();
    for address in DRIFT_ADDRESSES {
        assert!(addresses.contains(&address), "{address}: {addresses:?}");
    }
}

#[test]
fn markdown_groups_drift_by_address_with_both_resolutions() {
    let md = example_report("markdown");
    assert!(md.contains("**5 drift**"), "{md}");
    assert!(md.contains("**1 unmanaged**"), "{md}");
    for address in DRIFT_ADDRESSES {
        let escaped = address
            .replace('_', "\\_")
            .replace('[', "\\[")
            .replace(']', "\\]");
        assert!(md.contains(&format!("### {escaped}\n")), "{address}");
        // Both ways to resolve it, with the address quoted for a shell where it needs to be.
        let target = if address.contains('"') {
            format!("'-target={address}'")
        } else {
            format!("-target={address}")
        };
        assert!(
            md.contains(&format!("terraform apply -refresh-only {target}\n")),
            "{address}"
        );
        assert!(
            md.contains(&format!("terraform apply {target}\n")),
            "{address}"
        );
    }
    assert!(
        md.contains("### aws\\_iam\\_user malicious-iam-user"),
        "{md}"
    );
    // The flow log's call deleted it: accepting that means removing it from the code.
    assert!(
        md.contains("remove module.network.aws_flow_log.vpc from the code"),
        "{md}"
    );
    // Every table row has as many cells as its header.
    let mut columns = 0;
    for line in md.lines() {
        if !line.starts_with('|') {
            columns = 0;
            continue;
        }
        let cells = unescaped_pipes(line) - 1;
        if columns == 0 {
            columns = cells;
        }
        assert_eq!(cells, columns, "{line}");
    }
}

/// The `|` of a Markdown table line that are not backslash-escaped.
fn unescaped_pipes(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == '|' {
            count += 1;
        }
    }
    count
}

/// The example's state with the function's environment holding `secret` under the variable `name`: as the
/// example has it (the state marks `environment` sensitive), or as Terraform before 1.8 wrote it (nothing
/// marked: the AWS provider's schema marks it).
fn state_with_secret(dir: &Path, name: &str, secret: &str, marked: bool) -> PathBuf {
    let text = std::fs::read_to_string(examples().join("terraform.tfstate")).unwrap();
    let mut state: Value = serde_json::from_str(&text).unwrap();
    let mut found = false;
    for resource in state["resources"].as_array_mut().unwrap() {
        let lambda = resource["type"] == "aws_lambda_function";
        for instance in resource["instances"].as_array_mut().unwrap() {
            if !marked {
                instance
                    .as_object_mut()
                    .unwrap()
                    .remove("sensitive_attributes");
            }
            if lambda {
                let variables = &mut instance["attributes"]["environment"][0]["variables"];
                assert_eq!(variables["API_TOKEN"], "example-not-a-real-token");
                *variables = json!({ name: secret });
                found = true;
            }
        }
    }
    assert!(found);
    if !marked {
        state["terraform_version"] = json!("1.5.7");
    }
    write_state(dir, "secret.tfstate", &state)
}

#[test]
fn secrets_stay_redacted_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let logs = examples().join("cloudtrail");
    for (name, secret, marked) in [
        ("API_TOKEN", "sk_live_do-not-leak-report-7f3a", true),
        ("GREETING", "an-unmarked-value-3c1d", false),
    ] {
        let state = state_with_secret(dir.path(), name, secret, marked);
        for format in ["text", "json", "markdown", "html", "csv"] {
            let out = stdout(&replay(&[&"--state", &state, &logs, &"--format", &format]));
            assert!(out.contains("environment"), "{format}: {out}");
            assert!(!out.contains(secret), "{format} shows the secret:\n{out}");
            assert!(!out.contains(name), "{format} shows the variable:\n{out}");
            if format != "text" {
                assert!(out.contains("redacted"), "{format}: {out}");
            }
        }
    }
}

/// What a log's writer may put in a user agent: a script, an element with a handler, a formula, Markdown's
/// cell separator and code span, a line break and a terminal escape.
const HOSTILE_AGENT: &str = "=HYPERLINK(\"http://attacker.example\")|`rm`<script>console.error(\"tfdrift-injected\")</script><img src=x onerror=\"console.error('tfdrift-img')\">\nnext\u{1b}[2J";

/// An IAM user name with a terminal escape and a line break that would forge a second finding's line.
const HOSTILE_USER: &str = "christophe\u{1b}[2J\nUNMANAGED critical aws aws_iam_user (forged)";

/// The security group's real record with a hostile user agent and user name, and a state that manages the group.
fn hostile_input(dir: &Path) -> (PathBuf, PathBuf) {
    let records = example_records();
    let mut record = records
        .iter()
        .find(|r| r["eventName"] == "AuthorizeSecurityGroupIngress")
        .unwrap()
        .clone();
    record["userAgent"] = json!(HOSTILE_AGENT);
    record["userIdentity"]["userName"] = json!(HOSTILE_USER);
    let logs = dir.join("hostile.json");
    std::fs::write(&logs, json!({"Records": [record]}).to_string()).unwrap();
    (examples().join("terraform.tfstate"), logs)
}

#[test]
fn values_a_log_writer_chooses_stay_text_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let (state, logs) = hostile_input(dir.path());
    let run = |format: &str| stdout(&replay(&[&"--state", &state, &logs, &"--format", &format]));

    let text = run("text");
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    assert!(
        text.contains(r"christophe\u{1b}[2J\u{a}UNMANAGED"),
        "{text}"
    );

    let json: Value = serde_json::from_str(run("json").trim()).unwrap();
    assert_eq!(json["finding.user_agent"], HOSTILE_AGENT.trim());

    let csv = read_csv(&run("csv"));
    let agent = csv[0].iter().position(|h| h == "user_agent").unwrap();
    assert_eq!(csv[1][agent], format!("'{}", HOSTILE_AGENT.trim()));

    let md = run("markdown");
    // `\<` is a literal `<` in Markdown, never the start of a tag.
    let unescaped = md.replace("\\<", "");
    assert!(!unescaped.contains("<script"), "{md}");
    assert!(!unescaped.contains("<img"), "{md}");
    assert!(md.contains(r"\|\`rm\`\<script\>"), "{md}");
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(!line.contains("next") || line.contains(" next"), "{line}");
    }

    let html = run("html");
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(
        html.contains("&lt;script&gt;console.error(&quot;tfdrift-injected&quot;)&lt;/script&gt;"),
        "{html}"
    );
}

/// The Google subnetwork entry a person changed in the console (tests/replay.rs), and a state managing it.
fn gcp_input(dir: &Path) -> (PathBuf, PathBuf) {
    let mut r = resource(
        "",
        "google_compute_subnetwork",
        "default",
        json!({
            "id": "projects/test-project/regions/us-central1/subnetworks/default",
            "name": "default", "project": "test-project", "region": "us-central1",
            "ip_cidr_range": "10.128.0.0/20", "log_config": [],
        }),
    );
    r["provider"] = json!("provider[\"registry.terraform.io/hashicorp/google\"]");
    let state = write_state(dir, "gcp.tfstate", &state_v4(7, vec![r]));
    let entries = Path::new(ROOT).join("tests/data/gcp-audit/panther-analysis.jsonl");
    (state, entries)
}

#[test]
fn a_google_finding_names_its_project_caller_and_method() {
    let dir = tempfile::tempdir().unwrap();
    let (state, entries) = gcp_input(dir.path());
    let out = stdout(&replay(&[
        &"--state",
        &state,
        &entries,
        &"--format",
        &"json",
    ]));
    let finding: Value = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|o| o["tfdrift.resource_address"] == "google_compute_subnetwork.default")
        .unwrap_or_else(|| panic!("{out}"));
    let text = std::fs::read_to_string(&entries).unwrap();
    let entry: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["protoPayload"]["methodName"] == "v1.compute.subnetworks.patch")
        .unwrap();
    let payload = &entry["protoPayload"];
    assert_eq!(finding["finding.cloud"], "gcp");
    assert_eq!(finding["finding.time"], entry["timestamp"]);
    assert_eq!(
        finding["finding.account"],
        entry["resource"]["labels"]["project_id"]
    );
    assert_eq!(finding["finding.service"], payload["serviceName"]);
    assert_eq!(finding["finding.call"], payload["methodName"]);
    assert_eq!(finding["finding.event_id"], entry["insertId"]);
    assert_eq!(
        finding["finding.source_ip"],
        payload["requestMetadata"]["callerIp"]
    );
    assert_eq!(
        finding["finding.user_agent"],
        payload["requestMetadata"]["callerSuppliedUserAgent"]
    );
}

/// Where Chromium is: Debian's package installs it as /usr/bin/chromium (`.ci/run` installs it).
fn chromium() -> PathBuf {
    let candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser"];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!(
                "Chromium is needed to check the HTML report and is not installed: \
                 `apt-get update && apt-get install -y chromium` (CI installs it in .ci/run)"
            )
        })
}

/// The page as Chromium's DOM holds it after loading, and every message its console printed. Chromium's
/// output goes to files (no pipe to fill while it runs); a Chromium that has not finished after two minutes is
/// killed and the test fails, rather than hanging.
fn load_in_chromium(page: &Path) -> (String, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let (dom_path, log_path) = (
        work.path().join("dom.html"),
        work.path().join("chromium.log"),
    );
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!(
            "--user-data-dir={}",
            work.path().join("profile").display()
        ))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdout(std::fs::File::create(&dom_path).unwrap())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("run chromium");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish loading the page in two minutes");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(status.success(), "chromium failed:\n{log}");
    // Chromium prints what a page logs as `[...:INFO:CONSOLE:<line>] "<message>", source: <url> (<line>)`,
    // the page's errors and Content-Security-Policy violations included.
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    (std::fs::read_to_string(&dom_path).unwrap(), console)
}

#[test]
fn the_html_report_loads_in_chromium_and_shows_the_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (gcp_state, gcp_entries) = gcp_input(dir.path());
    let (state, hostile) = hostile_input(dir.path());
    let logs = examples().join("cloudtrail");
    let html = stdout(&replay(&[
        &"--state",
        &state,
        &"--state",
        &gcp_state,
        &logs,
        &hostile,
        &gcp_entries,
        &"--format",
        &"html",
    ]));
    let page = dir.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let (dom, console) = load_in_chromium(&page);

    assert!(
        console.is_empty(),
        "the page logged:\n{}",
        console.join("\n")
    );
    assert!(dom.contains("<main id=\"report\""), "{dom}");
    // The example's 5 drift, the hostile copy of one of them and the Google subnetwork; the IAM user.
    assert!(
        dom.contains("data-drift=\"7\" data-unmanaged=\"1\""),
        "{dom}"
    );
    assert_eq!(
        dom.matches("<tr class=\"finding\" data-kind=\"drift\"")
            .count(),
        7
    );
    assert_eq!(
        dom.matches("<tr class=\"finding\" data-kind=\"unmanaged\"")
            .count(),
        1
    );
    for address in DRIFT_ADDRESSES
        .iter()
        .chain(&["google_compute_subnetwork.default"])
    {
        assert!(dom.contains(&format!("<h3>{address}</h3>")), "{address}");
    }
    assert!(
        dom.contains("<h3>aws_iam_user malicious-iam-user</h3>"),
        "{dom}"
    );
    // Who, from where, what changed: the security group's record and the subnetwork's entry.
    assert!(dom.contains("253.243.215.253"), "{dom}");
    assert!(
        dom.contains("ingress: +tcp 22 cidr 208.236.235.254/0"),
        "{dom}"
    );
    assert!(dom.contains("user1@company.io"), "{dom}");
    assert!(dom.contains("<svg"), "no timeline");
    // The hostile user agent is text in the page, never an element.
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("&lt;script&gt;console.error(\"tfdrift-injected\")&lt;/script&gt;"),
        "{dom}"
    );
    // Nothing is loaded from anywhere: no URL in an attribute but the SVG namespace.
    for attribute in ["src=\"", "href=\""] {
        assert!(!html.contains(attribute), "{attribute} in the page");
    }
}

/// Checks `file` against `generated`, or rewrites it with `TFDRIFT_BLESS=1`.
fn check_generated(file: &str, generated: &str) {
    let path = Path::new(ROOT).join(file);
    if std::env::var_os("TFDRIFT_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{file} is out of date with tfdrift-replay: run `TFDRIFT_BLESS=1 cargo test --test replay_report`"
    );
}

#[test]
fn the_docs_example_reports_are_the_examples_reports() {
    let markdown = example_report("markdown");
    check_generated("docs/examples/audit-report.md", &markdown);
    check_generated("docs/examples/audit-report.html", &example_report("html"));

    // docs/AUDIT.md quotes one resource of it, between its markers.
    let start = markdown
        .find("### module.network.aws\\_security\\_group.web")
        .expect("the security group's section");
    let rest = &markdown[start..];
    let end = rest[4..].find("\n### ").map_or(rest.len(), |i| i + 5);
    let excerpt = &rest[..end];
    let page = std::fs::read_to_string(Path::new(ROOT).join("docs/AUDIT.md")).unwrap();
    let (open, close) = ("<!-- example:start -->\n", "<!-- example:end -->");
    let from = page.find(open).expect("the example's start marker") + open.len();
    let to = page.find(close).expect("the example's end marker");
    let quoted = excerpt
        .replace("\n### ", "\n#### ")
        .replacen("### ", "#### ", 1);
    let mut updated = page.clone();
    updated.replace_range(from..to, &quoted);
    check_generated("docs/AUDIT.md", &updated);
}
