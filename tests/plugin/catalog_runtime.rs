//! The catalog's mechanisms beyond a plain entry, through the C ABI on real records: calls outside the
//! catalog found by ARN or id prefix (`tfdrift.match` = fallback), attributes mapped automatically from
//! request parameters, and parameters that never count as attributes.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};

fn with_state(resources: Vec<Value>) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write_state(dir.path(), "main.tfstate", &state_v4(7, resources));
    let config = config(&[("main", &path)], json!({}));
    (dir, config)
}

const FIELDS: &[&str] = &[
    "tfdrift.covered",
    "tfdrift.managed",
    "tfdrift.match",
    "tfdrift.resource_address",
    "tfdrift.resource_type",
    "tfdrift.drift",
    "tfdrift.change",
    "tfdrift.touched_attrs",
    "tfdrift.changed_attrs",
    "tfdrift.diff",
];

fn one(record: &str, config: &str) -> Fields {
    run(&[record.to_owned()], config, FIELDS)
        .pop()
        .expect("one event")
}

#[test]
fn a_call_outside_the_catalog_finds_a_managed_resource_by_arn() {
    // FailoverGlobalCluster is not in the catalog; a real record (panther-analysis, Apache-2.0) names the
    // target cluster by ARN. The call is made in us-west-2 and the cluster lives in eu-west-1: a full ARN names
    // its region itself, so the region of the call does not exclude it.
    let record = common::panther_record(190, "FailoverGlobalCluster");
    let cluster_arn = "arn:aws:rds:eu-west-1:123456789012:cluster:aurora-eu-secondary";
    let (_dir, config) = with_state(vec![resource(
        "module.dr",
        "aws_rds_cluster",
        "secondary",
        json!({"id": "aurora-eu-secondary", "cluster_identifier": "aurora-eu-secondary", "arn": cluster_arn}),
    )]);
    let fields = one(&record, &config);
    assert_eq!(fields.bool("tfdrift.covered"), Some(false));
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.str("tfdrift.match").as_deref(), Some("fallback"));
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("module.dr.aws_rds_cluster.secondary")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert!(
        fields.is_none("tfdrift.change"),
        "a fallback match does not know what the call changes"
    );

    let (_dir, other) = with_state(vec![resource(
        "",
        "aws_rds_cluster",
        "other",
        json!({"id": "other", "arn": "arn:aws:rds:eu-west-1:123456789012:cluster:other"}),
    )]);
    let fields = one(&record, &other);
    assert!(
        fields.is_none("tfdrift.managed"),
        "nothing found: no answer, not false"
    );
    assert!(fields.is_none("tfdrift.match"));
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
}

#[test]
fn a_call_outside_the_catalog_finds_a_managed_instance_by_id_prefix() {
    // EC2 Instance Connect is not in the catalog; the call names the instance by id.
    let record = stratus_record(
        "aws.lateral-movement.ec2-instance-connect.json",
        "SendSSHPublicKey",
    );
    let value: Value = serde_json::from_str(&record).unwrap();
    let instance_id = value["requestParameters"]["instanceId"]
        .as_str()
        .expect("an instance id")
        .to_owned();
    assert!(instance_id.starts_with("i-"));
    let (_dir, config) = with_state(vec![resource(
        "",
        "aws_instance",
        "bastion",
        json!({"id": instance_id, "instance_type": "t3.micro"}),
    )]);
    let fields = one(&record, &config);
    assert_eq!(fields.bool("tfdrift.covered"), Some(false));
    assert_eq!(fields.str("tfdrift.match").as_deref(), Some("fallback"));
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("aws_instance.bastion")
    );
}

#[test]
fn a_catalog_match_says_so() {
    let record = stratus_record(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
        "AuthorizeSecurityGroupIngress",
    );
    let (_dir, config) = with_state(vec![resource(
        "",
        "aws_security_group",
        "web",
        json!({"id": "sg-003dc7f1f1c686164"}),
    )]);
    let fields = one(&record, &config);
    assert_eq!(fields.str("tfdrift.match").as_deref(), Some("catalog"));
}

/// A catalog extension that replaces the embedded ModifyDBInstance with one that maps no attribute
/// explicitly, so whatever is touched comes from the automatic mapping.
fn modify_db_without_explicit_attrs(dir: &std::path::Path, auto_attrs: bool) -> std::path::PathBuf {
    let path = dir.join("rds-extension.toml");
    let text = format!(
        r#"
[service]
name = "rds"
event_source = "rds.amazonaws.com"
severity = "high"

[[call]]
name = "ModifyDBInstance"
change = "modify"
auto_attrs = {auto_attrs}
targets = [{{ type = "aws_db_instance", id = ["requestParameters.dBInstanceIdentifier"] }}]
"#
    );
    std::fs::write(&path, text).expect("write the extension");
    path
}

/// panther-analysis #319: ModifyDBInstance turning deletion protection off and making the instance public,
/// with `applyImmediately` true.
#[test]
fn request_parameters_set_attributes_by_their_snake_case_names() {
    let record = real_record("panther-analysis.jsonl#319");
    let value: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(
        value["requestParameters"]["dBInstanceIdentifier"],
        "customer-database"
    );
    let db = |deletion_protection: bool, publicly_accessible: bool| {
        resource(
            "",
            "aws_db_instance",
            "customers",
            json!({
                "id": "db-ABCDEFGHIJKLMNOP",
                "identifier": "customer-database",
                "arn": "arn:aws:rds:us-east-1:123456789012:db:customer-database",
                "deletion_protection": deletion_protection,
                "publicly_accessible": publicly_accessible,
                "apply_immediately": null,
                "instance_class": "db.t3.micro",
            }),
        )
    };
    let run_with = |deletion_protection: bool, publicly_accessible: bool, auto_attrs: bool| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let state = write_state(
            dir.path(),
            "db.tfstate",
            &state_v4(3, vec![db(deletion_protection, publicly_accessible)]),
        );
        let extension = modify_db_without_explicit_attrs(dir.path(), auto_attrs);
        let config = config(&[("db", &state)], json!({ "catalog_files": [extension] }));
        one(&record, &config)
    };

    let fields = run_with(true, false, true);
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("aws_db_instance.customers")
    );
    let mut touched = fields.list("tfdrift.touched_attrs");
    touched.sort();
    assert_eq!(
        touched,
        ["deletion_protection", "publicly_accessible"],
        "applyImmediately is not an attribute change"
    );
    let mut changed = fields.list("tfdrift.changed_attrs");
    changed.sort();
    assert_eq!(changed, ["deletion_protection", "publicly_accessible"]);
    let diff: Value = serde_json::from_str(&fields.str("tfdrift.diff").expect("a diff")).unwrap();
    assert_eq!(
        diff["publicly_accessible"],
        json!({"state": false, "requested": true})
    );

    // The same request against a state that already says so: touched, not changed.
    let fields = run_with(false, true, true);
    assert_eq!(fields.list("tfdrift.touched_attrs").len(), 2);
    assert!(fields.list("tfdrift.changed_attrs").is_empty());
    assert!(fields.is_none("tfdrift.diff"));

    // With auto_attrs off the call touches nothing it does not map.
    let fields = run_with(true, false, false);
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert!(fields.list("tfdrift.touched_attrs").is_empty());
}

/// The embedded catalog maps the same record's parameters explicitly, to the same attributes.
#[test]
fn the_embedded_catalog_reads_the_same_change() {
    let record = real_record("panther-analysis.jsonl#319");
    let (_dir, config) = with_state(vec![resource(
        "",
        "aws_db_instance",
        "customers",
        json!({"id": "customer-database", "identifier": "customer-database", "deletion_protection": true, "publicly_accessible": false}),
    )]);
    let fields = one(&record, &config);
    let mut changed = fields.list("tfdrift.changed_attrs");
    changed.sort();
    assert_eq!(changed, ["deletion_protection", "publicly_accessible"]);
}

/// API Gateway REST and v2 both log as `apigateway.amazonaws.com`, with calls of the same name. Records
/// shaped like real ones (the stratus record's envelope, API Gateway's request) go to the right service.
#[test]
fn services_sharing_an_event_source_are_told_apart_by_their_identifiers() {
    let envelope: Value = serde_json::from_str(&stratus_record(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
        "AuthorizeSecurityGroupIngress",
    ))
    .unwrap();
    let call = |request: Value| {
        let mut record = envelope.clone();
        record["eventSource"] = json!("apigateway.amazonaws.com");
        record["eventName"] = json!("DeleteStage");
        record["requestParameters"] = request;
        record["responseElements"] = Value::Null;
        record.to_string()
    };
    let rest = call(json!({"restApiId": "a1b2c3d4e5", "stageName": "prod"}));
    let http = call(json!({"apiId": "x9y8z7w6v5", "stageName": "prod"}));
    let (_dir, config) = with_state(vec![
        resource(
            "",
            "aws_api_gateway_stage",
            "rest_prod",
            json!({"id": "ags-a1b2c3d4e5-prod", "rest_api_id": "a1b2c3d4e5", "stage_name": "prod"}),
        ),
        resource(
            "",
            "aws_apigatewayv2_stage",
            "http_prod",
            json!({"id": "prod", "api_id": "x9y8z7w6v5", "name": "prod"}),
        ),
    ]);
    let results = run(&[rest, http], &config, FIELDS);
    assert_eq!(
        results[0].str("tfdrift.resource_address").as_deref(),
        Some("aws_api_gateway_stage.rest_prod")
    );
    assert_eq!(
        results[1].str("tfdrift.resource_address").as_deref(),
        Some("aws_apigatewayv2_stage.http_prod")
    );
    for fields in &results {
        assert_eq!(fields.str("tfdrift.change").as_deref(), Some("delete"));
        assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    }
}
