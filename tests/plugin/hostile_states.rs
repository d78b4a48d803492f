//! Hostile and broken Terraform states: empty, truncated, of unknown versions, with duplicate addresses, with
//! more instances than `max_state_instances`, with huge attribute values, deeply nested. Through the C ABI of
//! the built `libtfdrift.so` (refused at init with the reason, or loaded and answering), and through
//! `state::parse` for the cases cheaper to check there. Never a crash, never an unbounded allocation.
//!
//! The good record is a real one (stratus-red-team, Apache-2.0, see tests/data/README.md).

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;
use tfdrift::state::{Limits, StateError, parse};

/// The error tfdrift's init fails with for a state file holding `bytes` (and the extra config keys).
fn init_error_for(bytes: &[u8], extra: Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.tfstate");
    std::fs::write(&path, bytes).unwrap();
    init_error(&config(&[("hostile", &path)], extra))
}

/// Starts on `state` (and the good security-group state beside it): the good record is still answered.
fn answers_beside(state: &Path, extra: Value) {
    let dir = tempfile::tempdir().unwrap();
    let good = write_state(dir.path(), "sg.tfstate", &security_group_state(1, "web"));
    let config = config(
        &[("hostile", state), ("good", &good)],
        extra
            .as_object()
            .cloned()
            .map(Value::Object)
            .unwrap_or(json!({})),
    );
    let out = run(
        &[source_sg_record()],
        &config,
        &[
            "tfdrift.managed",
            "tfdrift.state",
            "tfdrift.resource_address",
        ],
    );
    assert_eq!(out[0].bool("tfdrift.managed"), Some(true));
}

#[test]
fn empty_and_blank_states_are_refused_with_the_reason() {
    for bytes in [&b""[..], b"   \n", b"{}", b"null", b"[]", b"\0\0\0"] {
        let error = init_error_for(bytes, json!({}));
        assert!(
            error.contains("no Terraform state could be loaded"),
            "{bytes:?}: {error}"
        );
    }
}

#[test]
fn truncated_states_are_refused_and_the_others_load() {
    let full = serde_json::to_vec(&security_group_state(2, "web")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in (1..full.len()).step_by(41) {
        let error = init_error_for(&full[..cut], json!({}));
        assert!(
            error.contains("no Terraform state could be loaded"),
            "{cut}: {error}"
        );
        let path = dir.path().join(format!("cut-{cut}.tfstate"));
        std::fs::write(&path, &full[..cut]).unwrap();
        if cut % 5 == 1 {
            answers_beside(&path, json!({}));
        }
    }
}

#[test]
fn unknown_versions_are_refused_with_the_version_named() {
    for version in [json!(0), json!(5), json!(99), json!(u64::MAX)] {
        let mut state = security_group_state(1, "web");
        state["version"] = version.clone();
        let error = init_error_for(&serde_json::to_vec(&state).unwrap(), json!({}));
        assert!(
            error.contains("unsupported state format version"),
            "{version}: {error}"
        );
    }
    for version in [json!(-1), json!("4"), json!(4.5), json!(null), json!([4])] {
        let mut state = security_group_state(1, "web");
        state["version"] = version.clone();
        let error = init_error_for(&serde_json::to_vec(&state).unwrap(), json!({}));
        assert!(
            error.contains("no Terraform state could be loaded"),
            "{version}: {error}"
        );
    }
}

#[test]
fn duplicate_addresses_load_and_answer() {
    let attrs = json!({"id": SOURCE_SG_ID, "name": "web", "ingress": []});
    let twice = state_v4(
        1,
        vec![
            resource("", "aws_security_group", "web", attrs.clone()),
            resource("", "aws_security_group", "web", attrs.clone()),
            resource("module.a", "aws_security_group", "web", attrs.clone()),
            resource("module.a", "aws_security_group", "web", attrs),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "dup.tfstate", &twice);
    let out = run(
        &[source_sg_record()],
        &config(&[("dup", &path)], json!({})),
        &["tfdrift.managed", "tfdrift.resource_addresses"],
    );
    assert_eq!(out[0].bool("tfdrift.managed"), Some(true));
    let addresses = out[0].list("tfdrift.resource_addresses");
    assert!(
        addresses.contains(&"aws_security_group.web".to_owned())
            && addresses.contains(&"module.a.aws_security_group.web".to_owned()),
        "{addresses:?}"
    );
}

/// A state of one resource with `n` empty instances: about 16 bytes of file each.
fn tiny_instances(n: usize) -> Vec<u8> {
    let mut text = String::with_capacity(n * 18 + 200);
    text.push_str(
        r#"{"version":4,"serial":1,"lineage":"l","resources":[{"mode":"managed","type":"aws_iam_role","name":"r","instances":["#,
    );
    for i in 0..n {
        if i > 0 {
            text.push(',');
        }
        text.push_str(r#"{"attributes":{}}"#);
    }
    text.push_str("]}]}");
    text.into_bytes()
}

#[test]
fn millions_of_tiny_resources_are_refused_past_the_instance_limit() {
    // Past the default limit of 1,000,000 instances: refused while parsing, before the index is built.
    let many = tiny_instances(1_200_001);
    match parse("many", &many, &Limits::default()) {
        Err(StateError::TooManyInstances { limit }) => assert_eq!(limit, 1_000_000),
        other => panic!("{:?}", other.map(|s| s.instances.len())),
    }
    let error = init_error_for(&many, json!({}));
    assert!(
        error.contains("too many resource instances: more than 1000000"),
        "{error}"
    );
    // The limit is the configuration's.
    let error = init_error_for(&tiny_instances(101), json!({"max_state_instances": 100}));
    assert!(
        error.contains("too many resource instances: more than 100"),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hundred.tfstate");
    std::fs::write(&path, tiny_instances(100)).unwrap();
    answers_beside(&path, json!({"max_state_instances": 100}));
}

#[test]
fn huge_attribute_values_load_under_the_byte_limit_and_are_refused_over_it() {
    let mut attrs = json!({"id": SOURCE_SG_ID, "name": "web", "ingress": []});
    attrs["description"] = json!("d".repeat(48 << 20));
    let state = state_v4(1, vec![resource("", "aws_security_group", "web", attrs)]);
    let bytes = serde_json::to_vec(&state).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.tfstate");
    std::fs::write(&path, &bytes).unwrap();
    let out = run(
        &[source_sg_record()],
        &config(&[("huge", &path)], json!({})),
        &["tfdrift.managed", "tfdrift.attr[description]"],
    );
    assert_eq!(out[0].bool("tfdrift.managed"), Some(true));
    assert_eq!(
        out[0].str("tfdrift.attr[description]").map(|d| d.len()),
        Some(48 << 20)
    );
    let error = init_error_for(&bytes, json!({"max_state_bytes": 1 << 20}));
    assert!(error.contains("over the limit of 1048576 bytes"), "{error}");
}

#[test]
fn deeply_nested_states_are_refused_without_overflowing_the_stack() {
    let deep = |n: usize| "[".repeat(n);
    let cases = [
        deep(100_000),
        format!(r#"{{"version":4,"serial":1,"resources":{}"#, deep(100_000)),
        format!(
            r#"{{"version":4,"serial":1,"resources":[{{"mode":"managed","type":"aws_iam_role","name":"r","instances":[{{"attributes":{{"id":{}}}}}]}}]}}"#,
            deep(100_000)
        ),
        format!(
            r#"{{"version":4,"serial":1,"resources":[{{"mode":"managed","type":"aws_iam_role","name":"r","instances":[{{"attributes":{{"id":"x"}},"sensitive_attributes":{}}}]}}]}}"#,
            deep(100_000)
        ),
        format!(
            r#"{{"version":3,"serial":1,"modules":[{{"path":["root"],"resources":{{"aws_iam_role.r":{{"type":"aws_iam_role","primary":{{"id":"r","attributes":{}}}}}}}}}]}}"#,
            deep(100_000)
        ),
        format!(r#"{{"version":4,"outputs":{}}}"#, "{\"a\":".repeat(100_000)),
        // Balanced: well-formed JSON, nested past the limit inside an attribute (v4 and legacy), where the
        // parser passes over a raw value without a depth limit of its own.
        format!(
            r#"{{"version":4,"serial":1,"resources":[{{"mode":"managed","type":"aws_iam_role","name":"r","instances":[{{"attributes":{{"id":"x","tags":{}1{}}}}}]}}]}}"#,
            deep(129),
            "]".repeat(129)
        ),
        format!(
            r#"{{"version":4,"serial":1,"resources":[{{"mode":"managed","type":"aws_iam_role","name":"r","instances":[{{"attributes":{{"id":"x","policy":{}1{}}}}}]}}]}}"#,
            "{\"a\":".repeat(5_000),
            "}".repeat(5_000)
        ),
    ];
    for text in &cases {
        assert!(
            parse("deep", text.as_bytes(), &Limits::default()).is_err(),
            "{}",
            &text[..160]
        );
        let error = init_error_for(text.as_bytes(), json!({}));
        assert!(
            error.contains("no Terraform state could be loaded"),
            "{error}"
        );
    }
}

#[test]
fn nesting_up_to_the_limit_loads() {
    // 127 levels inside an attribute, plus the attributes object itself: at the limit, not past it.
    let text = format!(
        r#"{{"version":4,"serial":1,"resources":[{{"mode":"managed","type":"aws_iam_role","name":"r","instances":[{{"attributes":{{"id":"x","tags":{}1{},"note":"[[[[{{{{"}}}}]}}]}}"#,
        "[".repeat(127),
        "]".repeat(127)
    );
    let state = parse("deep", text.as_bytes(), &Limits::default()).expect("at the limit");
    assert_eq!(state.instances.len(), 1);
}

#[test]
fn real_invalid_and_empty_states() {
    // inframap's deliberately odd files (MIT, see tests/data/README.md).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tfstate/inframap");
    let bytes = std::fs::read(root.join("invalid_version_state.json")).unwrap();
    assert!(parse("invalid", &bytes, &Limits::default()).is_err());
    let error = init_error_for(&bytes, json!({}));
    assert!(
        error.contains("no Terraform state could be loaded"),
        "{error}"
    );
    // A state with no resources is a state: it loads, empty, and the other states answer.
    let empty = root.join("empty.json");
    let state = parse("empty", &std::fs::read(&empty).unwrap(), &Limits::default()).unwrap();
    assert!(state.instances.is_empty());
    answers_beside(&empty, json!({}));
}
