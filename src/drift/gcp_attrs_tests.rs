//! Which attributes a GCP call sets, through the embedded catalog: bodies named by `auto_attrs`, update masks,
//! Compute's request-as-body, and the comparisons Google's values need. Expected values come from the APIs'
//! documented semantics (a field mask names the fields an update changes; `setMachineType` takes a partial
//! URL of the machine type; `setMetadata` replaces the metadata items), not from what the code prints.

use super::*;
use crate::state::{Index, Limits, Scope, parse};
use std::time::SystemTime;

fn engine() -> Engine {
    let catalog = Catalog::with_extensions(&[]).expect("the embedded catalog");
    Engine::new(Arc::new(catalog), Policy::default())
}

/// A snapshot over one state holding `resources` (type, attributes), keyed as the catalog keys them.
fn snapshot(engine: &Engine, resources: &[(&str, Value)]) -> Snapshot {
    let resources: Vec<Value> = resources
        .iter()
        .enumerate()
        .map(|(i, (t, attrs))| {
            serde_json::json!({"mode": "managed", "type": t, "name": format!("r{i}"),
                               "instances": [{"attributes": attrs}]})
        })
        .collect();
    let text = serde_json::json!({"version": 4, "serial": 1, "resources": resources}).to_string();
    let mut state = parse("gcp", text.as_bytes(), &Limits::default()).expect("state");
    state.scope = Scope::infer(&state);
    Snapshot {
        index: Index::build(vec![Arc::new(state)], engine.catalog()),
        loaded_at: vec![SystemTime::now()],
    }
}

/// A line of `tests/data/gcp-audit/<file>`, with the LogEntry's own member names where Panther's copies
/// lowercase them (`logname` for `logName`: tests/data/README.md), as Cloud Logging writes them and the
/// gcpaudit plugin passes them on.
fn real(file: &str, line: usize) -> String {
    let path = format!("{}/tests/data/gcp-audit/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("the real entries");
    let line = text.lines().nth(line - 1).expect("the line");
    let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(line) else {
        panic!("an entry");
    };
    log_entry_names(entry).to_string()
}

/// A Panther entry with the LogEntry's own member names where Panther's copies lowercase them.
pub(super) fn log_entry_names(entry: serde_json::Map<String, Value>) -> Value {
    let renamed = entry.into_iter().map(|(k, v)| {
        let k = match k.as_str() {
            "insertid" => "insertId".to_owned(),
            "logname" => "logName".to_owned(),
            "protopayload" => "protoPayload".to_owned(),
            "receivetimestamp" => "receiveTimestamp".to_owned(),
            _ => k,
        };
        (k, v)
    });
    Value::Object(renamed.collect())
}

/// An Admin Activity entry by someone other than Terraform.
fn entry(service: &str, method: &str, resource: &str, request: Value) -> String {
    serde_json::json!({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "timestamp": "2025-05-27T16:44:43.751Z",
        "resource": {"type": "gce_instance", "labels": {"project_id": "example-project"}},
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "serviceName": service, "methodName": method, "resourceName": resource,
            "authenticationInfo": {"principalEmail": "someone@example.com"},
            "requestMetadata": {"callerSuppliedUserAgent": "curl/8.0"},
            "request": request
        }
    })
    .to_string()
}

fn sink(exclusions: Value, destination: &str) -> Value {
    serde_json::json!({
        "id": "projects/test-project-123456/sinks/test-1", "name": "test-1", "project": "test-project-123456",
        "destination": destination, "filter": "", "description": "test", "disabled": false,
        "exclusions": exclusions, "unique_writer_identity": true
    })
}

/// panther-analysis line 38: `UpdateSink` with `updateMask: "exclusions"` adds an exclusion that drops every
/// entry (`filter: "*"`). The mask says only `exclusions` changes.
#[test]
fn update_sink_compares_the_masked_member_of_the_sink() {
    let engine = engine();
    let bytes = real("panther-analysis.jsonl", 38);
    let destination = "logging.googleapis.com/projects/test-project-123456/locations/global/buckets/testloggingbucket";
    let snap = snapshot(
        &engine,
        &[(
            "google_logging_project_sink",
            sink(json_list(), destination),
        )],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert_eq!(verdict.managed, Some(true));
    assert_eq!(verdict.changed_attrs, ["exclusions"]);
    assert_eq!(verdict.touched_attrs, ["exclusions"]);
    assert!(verdict.uncompared.is_empty(), "{:?}", verdict.uncompared);
    assert!(verdict.drift);

    // The sink re-sends its destination: not in the mask, so not compared, even where the state differs.
    let snap = snapshot(
        &engine,
        &[(
            "google_logging_project_sink",
            sink(json_list(), "storage.googleapis.com/elsewhere"),
        )],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert_eq!(verdict.changed_attrs, ["exclusions"]);

    // The state already holds that exclusion: nothing changes.
    let held = serde_json::json!([{"name": "excludeall", "filter": "*", "description": "", "disabled": false}]);
    let snap = snapshot(
        &engine,
        &[("google_logging_project_sink", sink(held, destination))],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert!(verdict.changed_attrs.is_empty(), "{:?}", verdict.diff);
    assert_eq!(verdict.touched_attrs, ["exclusions"]);
    assert!(!verdict.drift);
}

fn json_list() -> Value {
    Value::Array(Vec::new())
}

/// A masked member the body leaves out is cleared: compared as empty with the state.
#[test]
fn a_masked_member_the_body_omits_is_cleared() {
    let engine = engine();
    let request = serde_json::json!({
        "@type": "type.googleapis.com/google.logging.v2.UpdateSinkRequest",
        "sinkName": "projects/test-project-123456/sinks/test-1",
        "sink": {"name": "test-1", "destination": "d"},
        "updateMask": "filter"
    });
    let bytes = entry(
        "logging.googleapis.com",
        "google.logging.v2.ConfigServiceV2.UpdateSink",
        "projects/test-project-123456/sinks/test-1",
        request,
    );
    let mut attrs = sink(json_list(), "d");
    attrs["filter"] = "severity>=ERROR".into();
    let snap = snapshot(&engine, &[("google_logging_project_sink", attrs)]);
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert_eq!(verdict.changed_attrs, ["filter"]);
    assert!(verdict.drift);
}

fn subnetwork(log_config: Value) -> Value {
    serde_json::json!({
        "id": "projects/test-project/regions/us-central1/subnetworks/default", "name": "default",
        "project": "test-project", "region": "us-central1", "ip_cidr_range": "10.128.0.0/20",
        "network": "https://www.googleapis.com/compute/v1/projects/test-project/global/networks/default",
        "log_config": log_config, "fingerprint": "abc"
    })
}

/// panther-analysis line 3: `compute.subnetworks.patch` with `logConfig: {enable: true}` turns on VPC flow
/// logs; the state's `log_config` is empty (flow logs off). `@type` and `fingerprint` set nothing.
#[test]
fn subnetwork_patch_maps_the_request_body() {
    let engine = engine();
    let bytes = real("panther-analysis.jsonl", 3);
    let snap = snapshot(
        &engine,
        &[("google_compute_subnetwork", subnetwork(json_list()))],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert_eq!(verdict.managed, Some(true));
    assert_eq!(verdict.changed_attrs, ["log_config"]);
    assert!(verdict.uncompared.is_empty(), "{:?}", verdict.uncompared);
    assert!(verdict.drift);
}

fn instance(machine_type: &str) -> Value {
    serde_json::json!({
        "id": "projects/example-project/zones/us-central1-f/instances/example-instance",
        "name": "example-instance", "project": "example-project", "zone": "us-central1-f",
        "machine_type": machine_type, "labels": {"env": "prod"},
        "metadata": {"enable-oslogin": "TRUE"}, "tags": ["web", "ssh"],
        "service_account": [{"email": "sa@example-project.iam.gserviceaccount.com",
                             "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}]
    })
}

fn compute(method: &str, request: Value) -> String {
    entry(
        "compute.googleapis.com",
        &format!("v1.compute.instances.{method}"),
        "projects/example-project/zones/us-central1-f/instances/example-instance",
        request,
    )
}

/// `setMachineType` takes the machine type as a partial URL (`zones/<zone>/machineTypes/<type>`); the
/// provider's `machine_type` holds the type's name.
#[test]
fn set_machine_type_compares_a_reference_with_a_name() {
    let engine = engine();
    let bytes = compute(
        "setMachineType",
        serde_json::json!({"@type": "type.googleapis.com/compute.instances.setMachineType",
                           "machineType": "zones/us-central1-f/machineTypes/e2-small"}),
    );
    let same = snapshot(
        &engine,
        &[("google_compute_instance", instance("e2-small"))],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &same);
    assert_eq!(verdict.touched_attrs, ["machine_type"]);
    assert!(verdict.changed_attrs.is_empty() && !verdict.drift);
    let other = snapshot(
        &engine,
        &[("google_compute_instance", instance("e2-medium"))],
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &other);
    assert_eq!(verdict.changed_attrs, ["machine_type"]);
    assert!(verdict.drift);
}

/// `setMetadata` replaces the items (`{key, value}` pairs); the provider's `metadata` is a map and a secret.
#[test]
fn set_metadata_compares_items_with_the_map_and_redacts() {
    let engine = engine();
    let snap = snapshot(
        &engine,
        &[("google_compute_instance", instance("e2-small"))],
    );
    let bytes = compute(
        "setMetadata",
        serde_json::json!({"@type": "type.googleapis.com/compute.instances.setMetadata",
                           "fingerprint": "x", "items": [{"key": "enable-oslogin", "value": "TRUE"},
                                                         {"key": "ssh-keys", "value": "eve:ssh-ed25519 AAAAsecret"}]}),
    );
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &snap);
    assert_eq!(verdict.changed_attrs, ["metadata"]);
    assert!(verdict.drift);
    let text = verdict.diff.text().expect("a diff");
    assert!(
        !text.contains("AAAAsecret") && !text.contains("TRUE"),
        "{text}"
    );
    let same = compute(
        "setMetadata",
        serde_json::json!({"fingerprint": "x", "items": [{"key": "enable-oslogin", "value": "TRUE"}]}),
    );
    assert!(!engine.evaluate_gcp(same.as_bytes(), &snap).drift);
    // panther-analysis line 13: Compute logs no items. Nothing can be compared: still a change.
    let logged = real("panther-analysis.jsonl", 13);
    let snap = snapshot(
        &engine,
        &[(
            "google_compute_instance",
            serde_json::json!({"id": "projects/example-project/zones/us-central1-f/instances/example-instance",
                               "name": "example-instance", "metadata": {}}),
        )],
    );
    let verdict = engine.evaluate_gcp(logged.as_bytes(), &snap);
    assert_eq!(verdict.managed, Some(true));
    assert!(verdict.changed_attrs.is_empty() && verdict.drift);
}

/// `setLabels` replaces the labels; `setTags` the network tags (a set); `setServiceAccount` the account and
/// its scopes.
#[test]
fn labels_tags_and_service_account() {
    let engine = engine();
    let snap = snapshot(
        &engine,
        &[("google_compute_instance", instance("e2-small"))],
    );
    let labels = compute(
        "setLabels",
        serde_json::json!({"labels": {"env": "prod"}, "labelFingerprint": "x"}),
    );
    assert!(!engine.evaluate_gcp(labels.as_bytes(), &snap).drift);
    let labels = compute(
        "setLabels",
        serde_json::json!({"labels": {"env": "prod", "owner": "eve"}}),
    );
    assert_eq!(
        engine.evaluate_gcp(labels.as_bytes(), &snap).changed_attrs,
        ["labels"]
    );
    let tags = compute(
        "setTags",
        serde_json::json!({"items": ["ssh", "web"], "fingerprint": "x"}),
    );
    assert!(!engine.evaluate_gcp(tags.as_bytes(), &snap).drift, "a set");
    let tags = compute("setTags", serde_json::json!({"items": ["ssh"]}));
    assert_eq!(
        engine.evaluate_gcp(tags.as_bytes(), &snap).changed_attrs,
        ["tags"]
    );
    let account = compute(
        "setServiceAccount",
        serde_json::json!({"email": "sa@example-project.iam.gserviceaccount.com",
                           "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}),
    );
    assert!(!engine.evaluate_gcp(account.as_bytes(), &snap).drift);
    let account = compute(
        "setServiceAccount",
        serde_json::json!({"email": "other@example-project.iam.gserviceaccount.com",
                           "scopes": ["https://www.googleapis.com/auth/cloud-platform"]}),
    );
    assert_eq!(
        engine.evaluate_gcp(account.as_bytes(), &snap).changed_attrs,
        ["service_account"]
    );
}

/// A custom role's `included_permissions` is the provider's `permissions`, a set.
#[test]
fn update_role_maps_permissions_as_a_set() {
    let engine = engine();
    let role = serde_json::json!({
        "id": "projects/p/roles/custom", "name": "projects/p/roles/custom", "role_id": "custom",
        "project": "p", "title": "Custom", "permissions": ["a.b.get", "a.b.list"], "stage": "GA"
    });
    let snap = snapshot(&engine, &[("google_project_iam_custom_role", role)]);
    let request = |perms: Value| {
        entry(
            "iam.googleapis.com",
            "google.iam.admin.v1.UpdateRole",
            "projects/p/roles/custom",
            serde_json::json!({"name": "projects/p/roles/custom", "update_mask": "included_permissions",
                               "role": {"title": "Other", "included_permissions": perms}}),
        )
    };
    let same = request(serde_json::json!(["a.b.list", "a.b.get"]));
    let verdict = engine.evaluate_gcp(same.as_bytes(), &snap);
    assert_eq!(
        verdict.touched_attrs,
        ["permissions"],
        "the title is not in the mask"
    );
    assert!(!verdict.drift);
    let more = request(serde_json::json!(["a.b.list", "a.b.get", "a.b.delete"]));
    assert_eq!(
        engine.evaluate_gcp(more.as_bytes(), &snap).changed_attrs,
        ["permissions"]
    );
}

#[test]
fn update_masks_are_read_in_every_form() {
    let mask = |v: Value| update_mask(&serde_json::json!({ "updateMask": v }));
    assert_eq!(
        mask("displayName,aws.accountId".into()),
        Some(vec!["display_name".to_owned(), "aws".into()])
    );
    assert_eq!(
        mask(serde_json::json!({"paths": ["description"]})),
        Some(vec!["description".to_owned()])
    );
    assert_eq!(mask("".into()), None);
    assert_eq!(mask("*".into()), None, "the whole resource");
    let long: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
    assert_eq!(
        mask(long.join(",").into()),
        None,
        "no guide: every member counts"
    );
}

/// `instances.update` sends the whole instance: the machine type as a partial URL, the metadata and the
/// network tags as `{fingerprint, items}`. What equals the state is no change; a member no mapping covers
/// (`serviceAccounts`: the provider's `service_account`, another shape) cannot be compared and counts.
#[test]
fn instance_update_maps_the_whole_body() {
    let engine = engine();
    let snap = snapshot(
        &engine,
        &[("google_compute_instance", instance("e2-small"))],
    );
    let body = serde_json::json!({
        "@type": "type.googleapis.com/compute.instances.update",
        "name": "example-instance",
        "machineType": "https://www.googleapis.com/compute/v1/projects/example-project/zones/us-central1-f/machineTypes/e2-small",
        "labels": {"env": "prod"},
        "metadata": {"fingerprint": "x", "items": [{"key": "enable-oslogin", "value": "TRUE"}]},
        "tags": {"fingerprint": "y", "items": ["ssh", "web"]}
    });
    let verdict = engine.evaluate_gcp(compute("update", body.clone()).as_bytes(), &snap);
    assert!(verdict.changed_attrs.is_empty(), "{:?}", verdict.diff);
    assert!(verdict.uncompared.is_empty(), "{:?}", verdict.uncompared);
    assert!(!verdict.drift);
    let mut more = body;
    more["serviceAccounts"] =
        serde_json::json!([{"email": "x@example-project.iam.gserviceaccount.com"}]);
    let verdict = engine.evaluate_gcp(compute("update", more).as_bytes(), &snap);
    assert_eq!(verdict.uncompared, ["serviceAccounts"]);
    assert!(verdict.drift);
}

#[test]
fn references_sets_and_google_names_compare_by_meaning() {
    use compare::{Outcome, compare};
    let j = |v: &str| serde_json::from_str::<Value>(v).unwrap();
    let reference = |a: &str, b: &str| compare(Kind::Reference, Op::Set, &j(a), &j(b));
    assert_eq!(
        reference(r#""zones/z/machineTypes/e2-small""#, r#""e2-small""#),
        Outcome::Same
    );
    assert_eq!(
        reference(r#""zones/z/machineTypes/e2-small""#, r#""small""#),
        Outcome::Changed,
        "whole segments only"
    );
    assert_eq!(
        reference(r#""zones/z/machineTypes/e2-small""#, r#""e2-medium""#),
        Outcome::Changed
    );
    assert_eq!(
        reference(
            r#"["cloud-platform", "https://www.googleapis.com/auth/devstorage.read_only"]"#,
            r#"["https://www.googleapis.com/auth/devstorage.read_only", "https://www.googleapis.com/auth/cloud-platform"]"#
        ),
        Outcome::Same
    );
    let set = |a: &str, b: &str, op| compare(Kind::Set, op, &j(a), &j(b));
    assert_eq!(
        set(
            r#"["10.0.0.0/8", "0.0.0.0/0"]"#,
            r#"["0.0.0.0/0", "10.0.0.0/8"]"#,
            Op::Set
        ),
        Outcome::Same
    );
    assert_eq!(
        set(
            r#"["0.0.0.0/0"]"#,
            r#"["0.0.0.0/0", "10.0.0.0/8"]"#,
            Op::Set
        ),
        Outcome::Changed
    );
    assert_eq!(
        set(
            r#"["0.0.0.0/0"]"#,
            r#"["0.0.0.0/0", "10.0.0.0/8"]"#,
            Op::Add
        ),
        Outcome::Same
    );
    assert_eq!(set("[]", "null", Op::Set), Outcome::Same);
    // By value: a Google request's lowerCamel member is the state's snake_case one, and an API URL the relative
    // path it ends in.
    let value = |a: &str, b: &str| compare(Kind::Value, Op::Set, &j(a), &j(b));
    assert_eq!(
        value(
            r#"{"ipConfiguration": {"requireSsl": true}}"#,
            r#"[{"ip_configuration": [{"require_ssl": true}]}]"#
        ),
        Outcome::Same
    );
    assert_eq!(
        value(
            r#"{"ipConfiguration": {"requireSsl": false}}"#,
            r#"[{"ip_configuration": [{"require_ssl": true}]}]"#
        ),
        Outcome::Changed
    );
    assert_eq!(
        value(
            r#""projects/p/global/networks/default""#,
            r#""https://www.googleapis.com/compute/v1/projects/p/global/networks/default""#
        ),
        Outcome::Same
    );
    assert_eq!(
        value(
            r#""projects/p/global/networks/default""#,
            r#""https://www.googleapis.com/compute/v1/projects/q/global/networks/default""#
        ),
        Outcome::Changed
    );
    assert_eq!(
        value(
            r#""networks/default""#,
            r#""https://www.googleapis.com/compute/v1/projects/p/global/networks/default""#
        ),
        Outcome::Changed,
        "only a path from the project"
    );
}

/// `SetLegacyAbac` (the request as forseti-real-time-enforcer line 12 logs it: the cluster's `name` and
/// `enabled`) sets the provider's `enable_legacy_abac`; the cluster's name names, it sets nothing.
#[test]
fn set_legacy_abac_compares_enabled_and_ignores_the_name() {
    let engine = engine();
    let path = "projects/example-project/locations/europe-west4-a/clusters/example-cluster";
    let bytes = entry(
        "container.googleapis.com",
        "google.container.v1.ClusterManager.SetLegacyAbac",
        "projects/example-project/zones/europe-west4-a/clusters/example-cluster",
        serde_json::json!({"name": path, "enabled": true,
                           "@type": "type.googleapis.com/google.container.v1alpha1.SetLegacyAbacRequest"}),
    );
    let cluster = |abac: bool| {
        serde_json::json!({"id": path, "name": "example-cluster", "project": "example-project",
                           "location": "europe-west4-a", "enable_legacy_abac": abac})
    };
    let off = snapshot(&engine, &[("google_container_cluster", cluster(false))]);
    let verdict = engine.evaluate_gcp(bytes.as_bytes(), &off);
    assert_eq!(verdict.changed_attrs, ["enable_legacy_abac"]);
    assert!(verdict.uncompared.is_empty(), "{:?}", verdict.uncompared);
    assert!(verdict.drift);
    let on = snapshot(&engine, &[("google_container_cluster", cluster(true))]);
    assert!(!engine.evaluate_gcp(bytes.as_bytes(), &on).drift);
}
