//! Hostile and broken CloudTrail records through the C ABI of the built `libtfdrift.so`: not JSON, truncated,
//! deeply nested, huge, wrong types in every field tfdrift reads, NUL bytes. Every field of every such event
//! is answered (no value, or a value), never an error, never a crash; and the good record after them is still
//! answered right.
//!
//! The good record is a real one (stratus-red-team, Apache-2.0, see tests/data/README.md): it opens port
//! 22 on a security group that the test state holds.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};

/// Every field, the keyed one with keys a rule would use.
fn fields() -> Vec<String> {
    let mut fields: Vec<String> = ALL_FIELDS
        .iter()
        .filter(|f| **f != "tfdrift.attr")
        .map(|f| (*f).to_owned())
        .collect();
    fields.extend(["tfdrift.attr[id]".into(), "tfdrift.attr[ingress]".into()]);
    fields
}

fn config(dir: &std::path::Path, extra: Value) -> String {
    let path = write_state(dir, "sg.tfstate", &security_group_state(7, "web"));
    common::config(&[("main", &path)], extra)
}

/// Runs `hostile` records then the good record through tfdrift, extracting every field of every event (an
/// extraction error fails the test); returns the hostile events' fields, and checks the good one.
fn run_hostile(hostile: &[String], extra: Value) -> Vec<Fields> {
    let dir = tempfile::tempdir().unwrap();
    let mut records = hostile.to_vec();
    records.push(source_sg_record());
    let names = fields();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut out = run(&records, &config(dir.path(), extra), &names);
    let good = out.pop().expect("the good record's event");
    assert_eq!(good.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        good.str("tfdrift.resource_address").as_deref(),
        Some("aws_security_group.web")
    );
    assert_eq!(good.bool("tfdrift.drift"), Some(true));
    out
}

/// No tfdrift value at all: what an event that is not a usable record must give.
fn assert_no_values(fields: &Fields, what: &str) {
    for name in fields.0.keys() {
        if name == "tfdrift.in_maintenance" {
            continue; // false outside a window, whatever the record
        }
        assert!(
            fields.is_none(name),
            "{what}: {name} = {:?}",
            fields.get(name)
        );
    }
}

#[test]
fn records_that_are_not_json_objects_have_no_values() {
    let hostile: Vec<String> = [
        "",
        " ",
        "hello",
        "null",
        "true",
        "42",
        "\"eventName\"",
        "[]",
        "[{\"eventName\":\"AuthorizeSecurityGroupIngress\"}]",
        "{",
        "}",
        "{\"eventName\":}",
        "{\"eventName\" \"x\"}",
        "{'eventName':'x'}",
        "\u{feff}{}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (text, fields) in hostile.iter().zip(run_hostile(&hostile, json!({}))) {
        assert_no_values(&fields, &format!("{text:?}"));
    }
}

#[test]
fn truncated_records_are_answered_without_error() {
    let good = source_sg_record();
    // Every 97th cut, and the last bytes one at a time.
    let mut cuts: Vec<usize> = (0..good.len()).step_by(97).collect();
    cuts.extend(good.len().saturating_sub(8)..good.len());
    let hostile: Vec<String> = cuts
        .iter()
        .filter_map(|&n| good.get(..n).map(str::to_owned))
        .collect();
    assert!(hostile.len() > 10);
    for (text, fields) in hostile.iter().zip(run_hostile(&hostile, json!({}))) {
        // A truncated record is not a record: never a verdict of drift.
        assert_ne!(
            fields.bool("tfdrift.drift"),
            Some(true),
            "{} bytes",
            text.len()
        );
    }
}

#[test]
fn deeply_nested_records_are_refused_without_overflowing_the_stack() {
    let deep = |open: &str, n: usize| open.repeat(n);
    let good: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let mut in_sections = Vec::new();
    // Deep nesting inside each section tfdrift reads: the record parses, the section does not.
    for section in [
        "requestParameters",
        "responseElements",
        "resources",
        "additionalEventData",
        "userIdentity",
    ] {
        let text = good.to_string();
        let marker = format!("\"{section}\":");
        let nested = format!("{marker}{}", deep("[", 100_000));
        let text = if text.contains(&marker) {
            text.replacen(&marker, &format!("{nested}, \"was\":"), 1)
        } else {
            text.replacen('{', &format!("{{{nested}, \"x\":1,"), 1)
        };
        in_sections.push(text);
    }
    let mut hostile = vec![
        deep("[", 100_000),
        deep("{\"a\":", 100_000),
        format!("{}{}", deep("[", 100_000), deep("]", 100_000)),
        format!("{{\"eventName\":{}", deep("[", 100_000)),
        // Nesting just under serde_json's limit of 128, closed: a valid record with a deep parameter.
        good.to_string().replacen(
            "\"requestParameters\":",
            &format!(
                "\"requestParameters\":{{\"deep\":{}{}}},\"was\":",
                deep("[", 120),
                deep("]", 120)
            ),
            1,
        ),
    ];
    hostile.extend(in_sections);
    let out = run_hostile(&hostile, json!({}));
    for fields in &out[..4] {
        assert_no_values(fields, "deep nesting");
    }
}

#[test]
fn huge_records_are_refused_by_the_limit_or_answered() {
    let good: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let mut huge = good.clone();
    huge["requestParameters"]["padding"] = json!("x".repeat(24 << 20));
    let huge = huge.to_string();
    let many_members: String = {
        let mut record = good.clone();
        let members: serde_json::Map<String, Value> =
            (0..400_000).map(|i| (format!("k{i}"), json!(i))).collect();
        record["requestParameters"]["many"] = Value::Object(members);
        record.to_string()
    };
    assert!(huge.len() > 24 << 20 && many_members.len() > 4 << 20);

    // Over the default max_record_bytes (4 MiB): no values, no parse.
    let out = run_hostile(&[huge.clone(), many_members.clone()], json!({}));
    for fields in &out {
        assert_no_values(fields, "over max_record_bytes");
    }

    // Under a raised limit, the same records are read: the call still names the managed security group.
    let out = run_hostile(&[huge, many_members], json!({"max_record_bytes": 64 << 20}));
    for fields in &out {
        assert_eq!(fields.bool("tfdrift.managed"), Some(true));
        assert_eq!(
            fields.str("tfdrift.resource_id").as_deref(),
            Some(SOURCE_SG_ID)
        );
    }
}

/// Values of every JSON type, for fields of the wrong type.
fn wrong_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1.5e300),
        json!(18446744073709551615u64),
        json!(""),
        json!("\u{0}"),
        json!([]),
        json!([[[]]]),
        json!({}),
        json!({"a": {"b": [1, "x", null]}}),
    ]
}

#[test]
fn wrong_types_in_every_field_tfdrift_reads_are_answered_without_error() {
    let good: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let mut pointers: Vec<String> = [
        "eventName",
        "eventSource",
        "eventID",
        "eventTime",
        "awsRegion",
        "recipientAccountId",
        "userAgent",
        "sourceIPAddress",
        "errorCode",
        "readOnly",
        "sessionCredentialFromConsole",
        "userIdentity",
        "requestParameters",
        "responseElements",
        "resources",
        "additionalEventData",
    ]
    .iter()
    .map(|f| format!("/{f}"))
    .collect();
    for f in [
        "type",
        "principalId",
        "arn",
        "accountId",
        "userName",
        "invokedBy",
        "sessionContext",
    ] {
        pointers.push(format!("/userIdentity/{f}"));
    }
    for f in ["sourceIdentity", "sessionIssuer", "sessionIssuer/arn"] {
        pointers.push(format!("/userIdentity/sessionContext/{f}"));
    }
    for f in ["groupId", "ipPermissions", "ipPermissions/items"] {
        pointers.push(format!("/requestParameters/{f}"));
    }
    let mut hostile = Vec::new();
    for pointer in &pointers {
        for value in wrong_values() {
            let mut record = good.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let target = if parent.is_empty() {
                Some(&mut record)
            } else {
                record.pointer_mut(parent)
            };
            if let Some(Value::Object(map)) = target {
                map.insert(key.to_owned(), value);
                hostile.push(record.to_string());
            }
        }
    }
    assert!(hostile.len() > 250, "{} variants", hostile.len());
    let out = run_hostile(&hostile, json!({}));
    assert_eq!(out.len(), hostile.len());
}

#[test]
fn nul_bytes_in_records_are_answered_without_error() {
    let good = source_sg_record();
    let value: Value = serde_json::from_str(&good).unwrap();
    let mut with_escaped_nul = value.clone();
    with_escaped_nul["requestParameters"]["groupId"] = json!(format!("{SOURCE_SG_ID}\u{0}"));
    let mut nul_actor = value.clone();
    nul_actor["userIdentity"]["userName"] = json!("mallory\u{0}admin");
    nul_actor["userIdentity"]["arn"] = json!("arn:aws:iam::1:user/mallory\u{0}");
    let hostile = vec![
        // A raw NUL in the middle of the record (not trailing): not JSON.
        good.replacen(',', ",\u{0}", 1),
        // A NUL where the record starts.
        format!("\u{0}{good}"),
        "\u{0}".repeat(64),
        with_escaped_nul.to_string(),
        nul_actor.to_string(),
    ];
    let out = run_hostile(&hostile, json!({}));
    assert_no_values(&out[2], "NULs only");
    // A value holding a NUL cannot be a C string: the field has no value, never a cut string.
    for fields in &out {
        for name in fields.0.keys() {
            if let falco_plugin_runner::ExtractedField::String(s) = fields.get(name) {
                assert!(!s.to_bytes().contains(&0), "{name}");
            }
        }
    }
    assert!(
        out[4]
            .str("tfdrift.actor")
            .is_none_or(|actor| !actor.starts_with("mallory") || actor.len() > 7),
        "an actor name with a NUL is never cut at the NUL"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_no_record() {
    // Through the library (the test source's config carries text only): the verdict of invalid UTF-8.
    let catalog = std::sync::Arc::new(tfdrift::catalog::Catalog::with_extensions(&[]).unwrap());
    let config =
        tfdrift::config::Config::parse(r#"{"states":[{"name":"a","path":"/x"}]}"#).unwrap();
    let engine = tfdrift::drift::Engine::new(catalog, config.policy().unwrap());
    let snapshot = tfdrift::state::Snapshot::empty();
    let good = source_sg_record();
    for bytes in [
        b"\xff\xfe\xfd".to_vec(),
        [b"{\"eventName\":\"", &b"\xc3\x28"[..], b"\"}"].concat(),
        [good.as_bytes(), b"\xff"].concat(),
        good.as_bytes()[..good.len() / 2]
            .iter()
            .chain(b"\xe2\x82")
            .copied()
            .collect(),
    ] {
        let verdict = engine.evaluate(&bytes, &snapshot);
        assert!(!verdict.drift && verdict.managed.is_none());
    }
}

/// The good record, compact, with `members` (JSON text) added at the start of the top-level object or of the
/// object that `within` names (a top-level member).
fn good_with(within: Option<&str>, members: &str) -> String {
    let good: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let text = good.to_string();
    match within {
        None => text.replacen('{', &format!("{{{members},"), 1),
        Some(member) => {
            let marker = format!("\"{member}\":{{");
            assert!(text.contains(&marker), "{member}");
            text.replacen(&marker, &format!("{marker}{members},"), 1)
        }
    }
}

#[test]
fn the_same_bytes_mean_the_same_record_to_falco_and_tfdrift() {
    // Falco's cloudtrail plugin keeps the first of duplicated members and decodes escaped member names
    // (valyala/fastjson). A forged record that repeats a member must not show Falco one call and tfdrift
    // another: the rules' `ct.readonly = "false"` sees the first readOnly, so tfdrift must too.
    let dir = tempfile::tempdir().unwrap();
    let names = fields();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let config = config(dir.path(), json!({}));
    let answer = |record: String| run(&[record], &config, &names).pop().unwrap();

    // The good record carries readOnly false: a readOnly true after it is not the record's.
    let good: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let text = good.to_string();
    assert!(text.contains(r#""readOnly":false"#));
    let fields = answer(text.replacen(
        r#""readOnly":false"#,
        r#""readOnly":false,"readOnly":true"#,
        1,
    ));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // A second user agent, Terraform's, after the CLI's: the call is the CLI's.
    let fields = answer(good_with(
        None,
        r#""userAgent":"aws-cli/2.13.0 Python/3.11.4","userAgent":"APN/1.0 HashiCorp/1.0 Terraform/1.5.7""#,
    ));
    assert_eq!(fields.bool("tfdrift.by_terraform"), Some(false));
    assert_eq!(
        fields.str("tfdrift.actor_kind").as_deref(),
        Some("sdk_or_cli")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // The first user agent is Terraform's: trusted, the call is Terraform's, whatever follows.
    let fields = answer(good_with(
        None,
        r#""userAgent":"APN/1.0 HashiCorp/1.0 Terraform/1.5.7","userAgent":"aws-cli/2.13.0""#,
    ));
    assert_eq!(fields.bool("tfdrift.by_terraform"), Some(true));
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));

    // An escaped member name is the member it names: "\u0072eadOnly" is readOnly, first here, so the call
    // reads as read-only to both (no verdict beyond who called).
    let fields = answer(good_with(None, r#""\u0072eadOnly":true"#));
    assert_eq!(fields.bool("tfdrift.managed"), None);
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
    // A duplicated identifier inside requestParameters: the first is the one the call names.
    let fields = answer(good_with(
        Some("requestParameters"),
        r#""groupId":"sg-003dc7f1f1c686164","groupId":"sg-0000000000000000a""#,
    ));
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    let fields = answer(good_with(
        Some("requestParameters"),
        r#""group\u0049d":"sg-0000000000000000a""#,
    ));
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
}

#[test]
fn what_cannot_be_read_in_a_section_leaves_a_change_drift() {
    // Valid JSON that a strict reader refuses: a lone surrogate escape in an unrelated description, a number
    // out of range, nesting deeper than 128. The rest of the section is read, the resource is matched, and
    // the change stays drift.
    let deep = format!(r#""deep":{}1{}"#, "[".repeat(200), "]".repeat(200));
    let hostile: Vec<String> = [
        r#""description":"opened for x\ud800y""#,
        r#""dryRun":1e400"#,
        deep.as_str(),
    ]
    .iter()
    .map(|members| good_with(Some("requestParameters"), members))
    .collect();
    for fields in run_hostile(&hostile, json!({})) {
        assert_eq!(fields.bool("tfdrift.managed"), Some(true));
        assert_eq!(
            fields.str("tfdrift.resource_address").as_deref(),
            Some("aws_security_group.web")
        );
        assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    }
}
