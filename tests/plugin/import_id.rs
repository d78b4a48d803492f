//! `tfdrift.import_id` through the C ABI: for a resource made by hand, the id Terraform's import takes, in the
//! form the provider's documentation gives (a user by its name; an inline role policy as `<role>:<policy>`; a
//! Google firewall by its path); no value when a state holds the resource, for a delete, or when the record
//! lacks a part of the id.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    "tfdrift.import_id",
    "tfdrift.unmanaged",
    "tfdrift.managed",
    "tfdrift.resource_type",
    "tfdrift.resource_id",
];

fn run_aws(record: &str, state: &Value) -> Fields {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write_state(dir.path(), "main.tfstate", state);
    run(
        &[record.to_owned()],
        &config(&[("main", &path)], json!({})),
        FIELDS,
    )
    .pop()
    .expect("one event")
}

fn user(name: &str) -> Value {
    resource(
        "",
        "aws_iam_user",
        name,
        json!({"id": name, "name": name, "arn": format!("arn:aws:iam::229654561268:user/{name}")}),
    )
}

fn role(name: &str) -> Value {
    resource(
        "",
        "aws_iam_role_policy",
        "other",
        json!({"id": format!("{name}:other"), "role": name, "name": "other"}),
    )
}

/// Stratus Red Team's CreateUser: a user made by hand.
fn create_user() -> (String, String) {
    let record = stratus_record("aws.persistence.iam-create-admin-user.json", "CreateUser");
    let parsed: Value = serde_json::from_str(&record).unwrap();
    let name = parsed["requestParameters"]["userName"]
        .as_str()
        .unwrap()
        .to_owned();
    (record, name)
}

#[test]
fn a_user_made_by_hand_is_imported_by_its_name() {
    let (record, name) = create_user();
    // The state manages users, not this one.
    let fields = run_aws(&record, &state_v4(1, vec![user("someone-else")]));
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    // aws_iam_user's documentation: "IAM Users can be imported using the `name`".
    assert_eq!(fields.str("tfdrift.import_id"), Some(name));
}

#[test]
fn a_managed_user_has_no_import_id() {
    let (record, name) = create_user();
    let fields = run_aws(&record, &state_v4(1, vec![user(&name)]));
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.str("tfdrift.import_id"), None);
}

/// A PutRolePolicy record as CloudTrail writes it (IAM's request parameters roleName, policyName and
/// policyDocument, the document URL-encoded; IAM is global, its calls logged in us-east-1).
fn put_role_policy(request: Value) -> String {
    cloudtrail_record(
        "iam.amazonaws.com",
        "PutRolePolicy",
        "us-east-1",
        request,
        Value::Null,
    )
}

#[test]
fn an_inline_role_policy_is_imported_as_role_colon_policy_and_not_without_its_name() {
    let state = state_v4(1, vec![role("ops")]);
    let record = put_role_policy(json!({
        "roleName": "deploy", "policyName": "s3-write",
        "policyDocument": "%7B%22Version%22%3A%222012-10-17%22%7D"}));
    let fields = run_aws(&record, &state);
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_type").as_deref(),
        Some("aws_iam_role_policy")
    );
    // aws_iam_role_policy's documentation: `role_name:role_policy_name`.
    assert_eq!(
        fields.str("tfdrift.import_id").as_deref(),
        Some("deploy:s3-write")
    );
    // Without the policy's name the id cannot be made: no value, though the role is still named.
    let record = put_role_policy(json!({"roleName": "deploy"}));
    let fields = run_aws(&record, &state);
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    assert_eq!(fields.str("tfdrift.resource_id").as_deref(), Some("deploy"));
    assert_eq!(fields.str("tfdrift.import_id"), None);
}

#[test]
fn a_deleted_resource_has_no_import_id() {
    let (record, name) = create_user();
    let record = record.replace("\"CreateUser\"", "\"DeleteUser\"");
    let fields = run_aws(&record, &state_v4(1, vec![user("someone-else")]));
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
    assert_eq!(fields.str("tfdrift.resource_id"), Some(name));
    assert_eq!(fields.str("tfdrift.import_id"), None);
}

#[test]
fn a_google_firewall_made_by_hand_is_imported_by_its_path() {
    // plaso's v1.compute.firewalls.insert entry, made in the console.
    let entry = gcp_audit_entry("plaso", 3);
    let parsed: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(
        parsed["protoPayload"]["methodName"],
        "v1.compute.firewalls.insert"
    );
    let path = parsed["protoPayload"]["resourceName"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = another(
        "google_compute_firewall",
        json!({"id": "projects/fake-project/global/firewalls/other", "name": "other", "project": "fake-project"}),
    );
    let state = write_state(dir.path(), "gcp.tfstate", &state);
    let fields = run_gcp(&[entry], &config(&[("gcp", &state)], json!({})), FIELDS)
        .pop()
        .expect("one event");
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    // google_compute_firewall's documentation: `projects/{{project}}/global/firewalls/{{name}}`.
    assert_eq!(fields.str("tfdrift.import_id"), Some(path));
}

#[test]
fn a_lambda_permission_is_imported_as_function_slash_statement() {
    // Stratus Red Team's backdoor: a permission added by hand to a function no state holds.
    let (record, parsed, [function, statement]) = stratus_request(
        "aws.persistence.lambda-backdoor-function.json",
        "AddPermission20150331v2",
        ["functionName", "statementId"],
    );
    let state = another(
        "aws_lambda_permission",
        json!({"id": "AllowS3", "statement_id": "AllowS3", "function_name": "another-function"}),
    );
    let fields = run_aws(&record, &state);
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    // aws_lambda_permission's documentation: `function_name/statement_id`.
    assert_eq!(
        fields.str("tfdrift.import_id"),
        Some(format!("{function}/{statement}"))
    );
    // A function named by a partial ARN would read as a qualifier: no id.
    let mut parsed = parsed;
    parsed["requestParameters"]["functionName"] =
        json!(format!("123456789012:function:{function}"));
    let record = parsed.to_string();
    let fields = run_aws(&record, &state);
    assert_eq!(fields.str("tfdrift.import_id"), None);
}

#[test]
fn an_attachment_is_imported_as_role_slash_policy_arn_and_not_once_detached() {
    // Stratus Red Team's backdoor role: AdministratorAccess attached by hand.
    let (record, mut parsed, [role, policy]) = stratus_request(
        "aws.persistence.iam-create-backdoor-role.json",
        "AttachRolePolicy",
        ["roleName", "policyArn"],
    );
    let state = another(
        "aws_iam_role_policy_attachment",
        json!({"id": "ops-20240101", "role": "ops", "policy_arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
    );
    let fields = run_aws(&record, &state);
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    // aws_iam_role_policy_attachment's documentation: the role name and policy ARN separated by `/`.
    assert_eq!(
        fields.str("tfdrift.import_id"),
        Some(format!("{role}/{policy}"))
    );
    // Detached, there is nothing left to import.
    parsed["eventName"] = json!("DetachRolePolicy");
    let fields = run_aws(&parsed.to_string(), &state);
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
    assert_eq!(fields.str("tfdrift.import_id"), None);
}

/// A Stratus Red Team record, as text and parsed, with the request parameters `names` as strings.
fn stratus_request<const N: usize>(
    file: &str,
    event: &str,
    names: [&str; N],
) -> (String, Value, [String; N]) {
    let record = stratus_record(file, event);
    let parsed: Value = serde_json::from_str(&record).unwrap();
    let values = names.map(|name| {
        parsed["requestParameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{event} has no {name}"))
            .to_owned()
    });
    (record, parsed, values)
}

/// A state holding one instance of `resource_type`, named `other`: the type is managed, the record's
/// resource is not.
fn another(resource_type: &str, attributes: Value) -> Value {
    state_v4(1, vec![resource("", resource_type, "other", attributes)])
}
