//! Configurations with every kind of wrong value, through `plugin_init` of the built `libtfdrift.so`: each is
//! refused at init with the key named, never a crash. Falco validates `init_config` against the schema first;
//! these are what reaches the plugin when it does not (test hosts, older Falco, a schema-less loader).

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};

/// A valid configuration with `key` (a JSON pointer) set to `value`.
fn with(pointer: &str, value: Value) -> String {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/terraform.tfstate");
    let mut config = json!({
        "states": [{"name": "a", "path": example}],
        "require_state_on_start": false,
        "terraform": {},
    });
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut config
    } else {
        config.pointer_mut(parent).expect("the parent exists")
    };
    target
        .as_object_mut()
        .expect("an object")
        .insert(key.to_owned(), value);
    config.to_string()
}

fn assert_refused(config: &str, key: &str) {
    let error = init_error(config);
    assert!(
        error.contains("invalid tfdrift configuration") && error.contains(key),
        "{config}: {error}"
    );
}

#[test]
fn texts_that_are_not_a_configuration_are_refused() {
    for text in [
        "not json",
        "{",
        "[]",
        "null",
        "42",
        "\"states\"",
        "{\"states\":[]}",
        "{}",
        "",
    ] {
        let error = init_error(text);
        // Text that is not JSON at all fails the SDK's parse before tfdrift's checks.
        assert!(
            error.contains("invalid tfdrift configuration")
                || error.contains("Failed to parse config: JSON deserialization error"),
            "{text:?}: {error}"
        );
    }
    // Nested past serde_json's limit: refused, no stack overflow.
    let deep = format!("{{\"states\":{}", "[".repeat(100_000));
    let error = init_error(&deep);
    assert!(error.contains("recursion limit"), "{error}");
    // Huge: a state list of 100,000 entries with one bad name in the middle is refused at that entry.
    let mut states: Vec<Value> = (0..100_000)
        .map(|i| json!({"name": format!("s{i}"), "path": "/x"}))
        .collect();
    states[54_321]["name"] = json!("");
    assert_refused(&json!({"states": states}).to_string(), "states[54321].name");
}

#[test]
fn wrong_types_for_every_key_are_refused_with_the_key_named() {
    let wrong = [
        json!(null),
        json!(true),
        json!(-1),
        json!(1.5),
        json!("text"),
        json!([1]),
        json!({"x": 1}),
    ];
    let keys: &[(&str, &str)] = &[
        ("/states", "states"),
        ("/refresh_interval", "refresh_interval"),
        ("/terraform", "terraform"),
        ("/require_state_on_start", "require_state_on_start"),
        ("/catalog_files", "catalog_files"),
        ("/max_state_bytes", "max_state_bytes"),
        ("/max_state_instances", "max_state_instances"),
        ("/max_record_bytes", "max_record_bytes"),
        ("/ignore_principals", "ignore_principals"),
        (
            "/aws_service_changes_are_drift",
            "aws_service_changes_are_drift",
        ),
        ("/severity_overrides", "severity_overrides"),
        ("/maintenance_windows", "maintenance_windows"),
        ("/states/0/name", "states[0].name"),
        ("/states/0/path", "states[0].path"),
        ("/states/0/account_id", "states[0].account_id"),
        ("/states/0/region", "states[0].region"),
    ];
    let mut refused = 0;
    for (pointer, key) in keys {
        for value in &wrong {
            let config = with(pointer, value.clone());
            // A value that happens to be of the right type (`{"x":1}` for a map, `[1]`...) may still be
            // refused for what it holds; a right type with a usable value is accepted: skip those.
            let mut runner = falco_plugin_runner::PluginRunner::new();
            let text = std::ffi::CString::new(config.clone()).unwrap();
            match runner.register_plugin(load_tfdrift(), &text) {
                Ok(()) => {}
                Err(e) => {
                    let error = format!("{e:#}");
                    let first_key = key.split(['.', '[']).next().unwrap();
                    assert!(
                        error.contains("invalid tfdrift configuration")
                            && error.contains(first_key),
                        "{config}: {error}"
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 90, "only {refused} refused");
}

#[test]
fn out_of_range_and_meaningless_values_are_refused_with_the_key_named() {
    let cases: &[(&str, Value, &str)] = &[
        ("/refresh_interval", json!(0), "refresh_interval"),
        ("/refresh_interval", json!(86401), "refresh_interval"),
        ("/refresh_interval", json!(u64::MAX), "refresh_interval"),
        (
            "/refresh_interval",
            json!(18446744073709551616.0),
            "refresh_interval",
        ),
        ("/max_state_bytes", json!(0), "max_state_bytes"),
        ("/max_state_instances", json!(0), "max_state_instances"),
        ("/max_record_bytes", json!(0), "max_record_bytes"),
        ("/unknown_key", json!(1), "unknown_key"),
        ("/terraform/unknown", json!(1), "unknown"),
        (
            "/terraform/principals",
            json!([""]),
            "terraform.principals[0]",
        ),
        ("/ignore_principals", json!(["  "]), "ignore_principals[0]"),
        (
            "/severity_overrides",
            json!({"aws_s3_bucket": "urgent"}),
            "severity_overrides.aws_s3_bucket",
        ),
        (
            "/maintenance_windows",
            json!([{"name": "w", "days": ["sat"], "start": "24:61", "end": "02:00"}]),
            "maintenance_windows[0].start",
        ),
        (
            "/maintenance_windows",
            json!([{"name": "w", "from": "2026-12-03T00:00:00Z", "to": "2026-12-01T00:00:00Z"}]),
            "maintenance_windows[0].to",
        ),
        ("/states/0/name", json!(""), "states[0].name"),
        ("/states/0/name", json!("a/b"), "states[0].name"),
        ("/states/0/path", json!(""), "states[0].path"),
        (
            "/states/0/account_id",
            json!("12345"),
            "states[0].account_id",
        ),
        (
            "/states/0/region",
            json!("Not A Region!"),
            "states[0].region",
        ),
        ("/states/0/extra", json!(1), "extra"),
        (
            "/states/0/s3",
            json!({"bucket": "b", "key": "k"}),
            "needs exactly one of",
        ),
    ];
    for (pointer, value, key) in cases {
        assert_refused(&with(pointer, value.clone()), key);
    }
    let sources: &[(Value, &str)] = &[
        (json!({"name": "s"}), "states[0]"),
        (
            json!({"name": "s", "s3": {"bucket": "", "key": "k"}}),
            "states[0].s3.bucket",
        ),
        (
            json!({"name": "s", "s3": {"bucket": "b", "key": "/k"}}),
            "states[0].s3.key",
        ),
        (
            json!({"name": "s", "s3": {"bucket": "b", "key": "k", "endpoint": "not a url"}}),
            "states[0].s3.endpoint",
        ),
        (
            json!({"name": "s", "s3": {"bucket": "b", "key": "k", "workspaces": []}}),
            "states[0].s3.workspaces",
        ),
        (
            json!({"name": "s", "http": {"url": "ftp://x"}}),
            "states[0].http.url",
        ),
        (
            json!({"name": "s", "http": {"url": "http://127.0.0.1/", "username": "u"}}),
            "states[0].http.password_env",
        ),
        (
            json!({"name": "s", "http": {"url": "http://127.0.0.1/", "token_env": "not an env name!"}}),
            "states[0].http.token_env",
        ),
        (
            json!({"name": "s", "hcp": {"organization": "o", "token_env": "T"}}),
            "states[0].hcp.workspace",
        ),
        (
            json!({"name": "s", "hcp": {"organization": "o", "workspace": "w", "tags": ["t"], "token_env": "T"}}),
            "states[0].hcp.tags",
        ),
    ];
    for (state, key) in sources {
        assert_refused(&json!({"states": [state]}).to_string(), key);
    }
    assert_refused(
        &json!({"states": [{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}]}).to_string(),
        "states[1].name",
    );
}

#[test]
fn catalog_files_that_are_no_regular_file_are_refused_at_once() {
    // A FIFO would block init until a writer comes (forever if none does); /dev/zero would be read until
    // memory runs out. Only a regular file, of at most 16 MiB, is read as a catalog extension.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("calls.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for path in [
        fifo.to_str().unwrap(),
        "/dev/zero",
        dir.path().to_str().unwrap(),
    ] {
        let error = init_error(&with("/catalog_files", json!([path])));
        assert!(
            error.contains(path) && error.contains("not a regular file"),
            "{path}: {error}"
        );
    }
    let big = dir.path().join("big.toml");
    std::fs::write(&big, vec![b'#'; 16 * 1024 * 1024 + 1]).unwrap();
    let error = init_error(&with("/catalog_files", json!([big])));
    assert!(error.contains("larger than"), "{error}");
}
