//! No panic crosses into Falco: panics injected (debug builds only, see `inject` in src/plugin/mod.rs) in a
//! field, in init, in get_metrics and in destroy, through the C ABI of the built `libtfdrift.so`. The host sees
//! an error (or no metrics), and keeps working: the next fields and events are answered as before.
//!
//! The record is a real one (stratus-red-team, Apache-2.0, see tests/data/README.md).

use tfdrift_test_support as common;

use common::*;
use falco_plugin_runner::ExtractedField;
use serde_json::json;

/// A state holding the security group of [`source_sg_record`], and a config naming it, plus `extra_states`
/// (named states, of the same file, whose names ask for an injected panic).
fn setup(dir: &std::path::Path, extra_states: &[&str]) -> String {
    let path = write_state(dir, "sg.tfstate", &security_group_state(3, "web"));
    let mut states = vec![json!({"name": "main", "path": path})];
    for name in extra_states {
        states.push(json!({"name": name, "path": path}));
    }
    json!({ "states": states }).to_string()
}

#[test]
fn a_panic_in_a_field_is_an_error_for_that_field_and_the_next_events_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &[]);
    let mut capture = start(&[source_sg_record()], 3, 0, &config).expect("tfdrift starts");
    for round in 0..3 {
        let event = next(&mut capture).expect("three events");
        // The injected panic: an error for the host, not an abort.
        match capture.extract_field(&event, "tfdrift.attr[tfdrift-test-panic]") {
            Some(Err(rc)) => assert_ne!(rc, 0, "round {round}"),
            other => panic!("round {round}: the panicking field gave {other:?}, not an error"),
        }
        // The same event's other fields, and the next event's, are answered.
        let fields = extract_all(
            &mut capture,
            &event,
            &[
                "tfdrift.managed",
                "tfdrift.resource_address",
                "tfdrift.attr[id]",
            ],
        );
        assert_eq!(fields.bool("tfdrift.managed"), Some(true), "round {round}");
        assert_eq!(
            fields.str("tfdrift.resource_address").as_deref(),
            Some("aws_security_group.web"),
            "round {round}"
        );
        assert_eq!(
            fields.str("tfdrift.attr[id]").as_deref(),
            Some(SOURCE_SG_ID),
            "round {round}"
        );
    }
    assert!(next(&mut capture).is_none());
    // The metrics still count every event.
    assert_eq!(metric(&mut capture, "events_seen"), 3);
}

#[test]
fn a_panic_in_init_fails_the_init_with_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let error = init_error(&setup(dir.path(), &["tfdrift-test-panic-init"]));
    assert!(
        error.contains("internal error in init") && error.contains("injected panic"),
        "{error}"
    );
    // The library still works in this process.
    let mut capture =
        start(&[source_sg_record()], 1, 0, &setup(dir.path(), &[])).expect("tfdrift starts");
    let event = next(&mut capture).unwrap();
    assert!(matches!(
        extract(&mut capture, &event, "tfdrift.managed"),
        ExtractedField::Bool(true)
    ));
}

#[test]
fn a_panic_in_get_metrics_reports_no_metrics_and_extraction_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = setup(dir.path(), &["tfdrift-test-panic-metrics"]);
    let mut capture = start(&[source_sg_record()], 2, 0, &config).expect("tfdrift starts");
    let event = next(&mut capture).unwrap();
    assert!(matches!(
        extract(&mut capture, &event, "tfdrift.managed"),
        ExtractedField::Bool(true)
    ));
    assert!(metrics(&mut capture).is_empty());
    assert!(metrics(&mut capture).is_empty(), "a second call too");
    let event = next(&mut capture).unwrap();
    assert!(matches!(
        extract(&mut capture, &event, "tfdrift.managed"),
        ExtractedField::Bool(true)
    ));
}

#[test]
fn a_panic_in_destroy_is_contained_and_the_plugin_can_start_again() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let config = setup(dir.path(), &["tfdrift-test-panic-destroy"]);
        let mut capture = start(&[source_sg_record()], 1, 0, &config).expect("tfdrift starts");
        let event = next(&mut capture).unwrap();
        assert!(matches!(
            extract(&mut capture, &event, "tfdrift.managed"),
            ExtractedField::Bool(true)
        ));
        // Destroys tfdrift: the panic in its destroy is caught there.
        drop(capture);
    }
}
