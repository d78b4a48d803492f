//! Many states at once, scoped by account and region: two accounts with an IAM role of the same name never
//! mix, `tfdrift.state` says which state matched, and the per-event metrics count what the verdicts said.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;

const A: &str = "111111111111";
const B: &str = "222222222222";

/// An `UpdateRole` of the role `deployer`, made by a user of `account` in `region`.
fn update_role(account: &str, region: &str) -> String {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": account,
            "arn": format!("arn:aws:iam::{account}:user/alice"), "userName": "alice",
        },
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "UpdateRole",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"roleName": "deployer", "description": "changed by hand"},
        "responseElements": null,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
    })
    .to_string()
}

/// A regional call: `UpdateFunctionConfiguration` of the function `api` of `account` in `region`.
fn update_function(account: &str, region: &str) -> String {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser", "principalId": "AIDAEXAMPLE", "accountId": account,
            "arn": format!("arn:aws:iam::{account}:user/alice"), "userName": "alice",
        },
        "eventTime": "2024-05-01T10:00:00Z",
        "eventSource": "lambda.amazonaws.com",
        "eventName": "UpdateFunctionConfiguration20150331v2",
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"functionName": "api", "timeout": 60},
        "responseElements": null,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
    })
    .to_string()
}

/// A state of `account` holding the role `deployer` and, in `region`, the function `api`.
fn account_state(account: &str, region: &str) -> Value {
    state_v4(
        1,
        vec![
            resource(
                "",
                "aws_iam_role",
                "deployer",
                json!({
                    "id": "deployer", "name": "deployer", "description": "",
                    "arn": format!("arn:aws:iam::{account}:role/deployer"),
                    "unique_id": format!("AROA{account}"),
                }),
            ),
            resource(
                "",
                "aws_lambda_function",
                "api",
                json!({
                    "id": "api", "function_name": "api", "timeout": 3,
                    "arn": format!("arn:aws:lambda:{region}:{account}:function:api"),
                    "qualified_arn": format!("arn:aws:lambda:{region}:{account}:function:api:$LATEST"),
                }),
            ),
        ],
    )
}

fn states(dir: &Path) -> Vec<(&'static str, std::path::PathBuf)> {
    vec![
        (
            "account-a",
            write_state(dir, "a.tfstate", &account_state(A, "eu-west-1")),
        ),
        (
            "account-b",
            write_state(dir, "b.tfstate", &account_state(B, "eu-west-1")),
        ),
    ]
}

const FIELDS: &[&str] = &[
    "tfdrift.state",
    "tfdrift.managed",
    "tfdrift.resource_address",
];

#[test]
fn two_accounts_with_a_role_of_the_same_name_never_mix() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let named = states(dir.path());
    let paths: Vec<(&str, &Path)> = named.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let records = [
        update_role(A, "us-east-1"),
        update_role(B, "us-east-1"),
        update_role("333333333333", "us-east-1"),
    ];
    let out = run(&records, &config(&paths, json!({})), FIELDS);
    let states: Vec<Option<String>> = out.iter().map(|f| f.str("tfdrift.state")).collect();
    assert_eq!(
        states,
        [Some("account-a".into()), Some("account-b".into()), None]
    );
    // The role of no loaded account: not managed (and, by name, of a managed type: unmanaged).
    assert_eq!(out[2].bool("tfdrift.managed"), Some(false));
    assert_eq!(
        out[1].str("tfdrift.resource_address").as_deref(),
        Some("aws_iam_role.deployer")
    );

    // `account_id: "*"` turns the scoping off: the first state wins for every account.
    let any = json!({"states": [
        {"name": "account-a", "path": named[0].1, "account_id": "*"},
        {"name": "account-b", "path": named[1].1, "account_id": "*"},
    ]});
    let out = run(&records, &any.to_string(), FIELDS);
    for fields in &out {
        assert_eq!(fields.str("tfdrift.state").as_deref(), Some("account-a"));
    }

    // A configured account scopes what the ARNs do not say: here a role recorded without its ARN (a
    // resource whose ARN names its account is judged by it).
    let mut bare = account_state(A, "eu-west-1");
    if let Some(attributes) = bare["resources"][0]["instances"][0]["attributes"].as_object_mut() {
        attributes.remove("arn");
    }
    let bare = write_state(dir.path(), "bare.tfstate", &bare);
    let configured = json!({"states": [
        {"name": "bare", "path": bare, "account_id": "333333333333"},
        {"name": "account-b", "path": named[1].1},
    ]});
    let out = run(&records, &configured.to_string(), FIELDS);
    let states: Vec<Option<String>> = out.iter().map(|f| f.str("tfdrift.state")).collect();
    assert_eq!(
        states,
        [None, Some("account-b".into()), Some("bare".into())]
    );
}

#[test]
fn regional_resources_are_scoped_by_region_global_ones_are_not() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let eu = write_state(dir.path(), "eu.tfstate", &account_state(A, "eu-west-1"));
    let us = write_state(dir.path(), "us.tfstate", &account_state(A, "us-east-2"));
    let records = [
        update_function(A, "eu-west-1"),
        update_function(A, "us-east-2"),
        // The role is global: its call is recorded in us-east-1, which neither state is in.
        update_role(A, "us-east-1"),
    ];
    let out = run(
        &records,
        &config(&[("eu", eu.as_path()), ("us", us.as_path())], json!({})),
        FIELDS,
    );
    let states: Vec<Option<String>> = out.iter().map(|f| f.str("tfdrift.state")).collect();
    assert_eq!(
        states,
        [Some("eu".into()), Some("us".into()), Some("eu".into())]
    );
}

#[test]
fn event_metrics_count_verdicts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let named = states(dir.path());
    let paths: Vec<(&str, &Path)> = named.iter().map(|(n, p)| (*n, p.as_path())).collect();
    let records = [
        update_role(A, "us-east-1"),
        update_role(B, "us-east-1"),
        update_role("333333333333", "us-east-1"),
    ];
    let mut capture = start(&records, 1, 0, &config(&paths, json!({}))).expect("tfdrift starts");
    let mut events = 0;
    while let Some(event) = next(&mut capture) {
        // Several fields of one event: one verdict, counted once.
        extract_all(&mut capture, &event, FIELDS);
        extract_all(&mut capture, &event, &["tfdrift.drift"]);
        events += 1;
    }
    assert_eq!(events, 3);
    let m = metrics(&mut capture);
    assert_eq!(m["events_seen"], 3);
    assert_eq!(m["managed_matches"], 2);
    assert_eq!(m["drift_verdicts"], 2);
    assert_eq!(m["unmanaged_verdicts"], 1);
    assert_eq!(m["states_loaded"], 2);
    assert_eq!(m["resources_indexed"], 4);
    assert_eq!(m["state_loads"], 2);
    assert_eq!(m["refresh_failures"], 0);
    assert_eq!(m["rollbacks_refused"], 0);
    assert!(m["seconds_since_refresh_max"] < 5);
}
