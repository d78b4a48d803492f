//! What makes a change drift, through the C ABI on real records: the attribute and its values, silence when
//! the state already holds the requested value or when Terraform made the call, redaction of secrets in every
//! field, and the configured policy (severity overrides, ignored principals, AWS services, maintenance).

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use tfdrift::call::Call;
use tfdrift::catalog::path::IdRef;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;

const SG_ID: &str = SOURCE_SG_ID;

fn sg_state(ingress: Value) -> Value {
    state_v4(
        11,
        vec![resource(
            "module.net",
            "aws_security_group",
            "web",
            json!({"id": SG_ID, "name": "web", "ingress": ingress, "egress": [], "tags": {"team": "net"}}),
        )],
    )
}

fn https_rule() -> Value {
    json!({"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "security_groups": [], "prefix_list_ids": [], "self": false, "description": ""})
}

/// Every field but the keyed `tfdrift.attr[...]`.
fn plain_fields() -> Vec<&'static str> {
    ALL_FIELDS
        .iter()
        .copied()
        .filter(|f| *f != "tfdrift.attr")
        .collect()
}

fn run_with(record: &str, state: &Value, extra: Value, fields: &[&str]) -> Fields {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write_state(dir.path(), "main.tfstate", state);
    let config = config(&[("main", &path)], extra);
    run(&[record.to_owned()], &config, fields)
        .pop()
        .expect("one event")
}

#[test]
fn a_change_outside_terraform_is_drift_with_its_attribute_and_values() {
    let fields = run_with(
        &source_sg_record(),
        &sg_state(json!([https_rule()])),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["ingress"]);
    let diff: Value = serde_json::from_str(&fields.str("tfdrift.diff").expect("a diff")).unwrap();
    assert_eq!(
        diff["ingress"]["requested"],
        json!(["tcp 22 cidr 208.236.235.254/0"])
    );
    assert_eq!(diff["ingress"]["state"], json!(["tcp 443 cidr 0.0.0.0/0"]));
    assert_eq!(fields.str("tfdrift.severity").as_deref(), Some("critical"));
    // The summary, for people and for alert channels that cut long fields: what the call adds to the list.
    assert_eq!(
        fields.str("tfdrift.summary").as_deref(),
        Some("ingress: +tcp 22 cidr 208.236.235.254/0")
    );
}

#[test]
fn the_same_change_already_in_the_state_is_not_drift() {
    let open_22 = json!({"protocol": "tcp", "from_port": 22, "to_port": 22, "cidr_blocks": ["208.236.235.254/0"], "self": false});
    let fields = run_with(
        &source_sg_record(),
        &sg_state(json!([https_rule(), open_22])),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.list("tfdrift.touched_attrs"), ["ingress"]);
    assert_eq!(
        fields.list("tfdrift.changed_attrs"),
        Vec::<String>::new(),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    assert!(fields.is_none("tfdrift.diff"));
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
}

/// panther-analysis: PutBucketVersioning enabling versioning with the CLI.
#[test]
fn a_bucket_setting_already_in_the_state_is_not_drift() {
    let record = real_records()
        .into_iter()
        .find(|r| {
            r.value["eventName"] == "PutBucketVersioning"
                && r.value["eventSource"] == "s3.amazonaws.com"
                && r.value["errorCode"].is_null()
                && r.value["requestParameters"]["bucketName"] == "critical-data-bucket"
        })
        .expect("the panther PutBucketVersioning record")
        .text;
    let versioning = |status: &str| {
        state_v4(
            4,
            vec![resource(
                "",
                "aws_s3_bucket_versioning",
                "data",
                json!({"id": "critical-data-bucket", "bucket": "critical-data-bucket",
                       "versioning_configuration": [{"status": status, "mfa_delete": "Disabled"}]}),
            )],
        )
    };
    let fields = run_with(&record, &versioning("Enabled"), json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(false),
        "{:?}",
        fields.str("tfdrift.diff")
    );

    let fields = run_with(
        &record,
        &versioning("Suspended"),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    // A rule names top-level attributes (`tfdrift.changed_attrs intersects (versioning_configuration)`);
    // the nested path is the diff's.
    assert_eq!(
        fields.list("tfdrift.changed_attrs"),
        ["versioning_configuration"]
    );
    assert_eq!(
        fields.list("tfdrift.touched_attrs"),
        ["versioning_configuration"]
    );
    let diff: Value = serde_json::from_str(&fields.str("tfdrift.diff").unwrap()).unwrap();
    assert_eq!(
        diff["versioning_configuration.status"],
        json!({"state": "Suspended", "requested": "Enabled"})
    );
}

/// A state holding, for every covered record, a resource of each target type keyed by what the record names.
fn state_naming_every_resource(records: &[&RealRecord]) -> Value {
    let catalog = Catalog::embedded().expect("the catalog");
    let mut resources = Vec::new();
    for (n, record) in records.iter().enumerate() {
        let Ok(parsed) = Record::parse(record.text.as_bytes()) else {
            continue;
        };
        let Some(call) = catalog.lookup(parsed.event_source(), parsed.event_name()) else {
            continue;
        };
        for target in call.targets.iter() {
            for path in target.ids.iter() {
                let Some(root) =
                    Section::from_root(path.root()).and_then(|s| parsed.section_value(s))
                else {
                    continue;
                };
                let mut ids = Vec::new();
                path.identifiers_from(&root, |id| {
                    ids.push(match id {
                        IdRef::Str(s) => s.to_owned(),
                        IdRef::Num(n) => n.to_string(),
                    })
                });
                for (i, id) in ids.into_iter().enumerate() {
                    let mut attributes = json!({"id": id, "arn": id, "name": id});
                    for attr in target.join.iter().flatten() {
                        attributes[&**attr] = json!(id);
                    }
                    resources.push(resource(
                        "",
                        &target.resource_type,
                        &format!("r{n}_{i}"),
                        attributes,
                    ));
                }
            }
        }
    }
    state_v4(1, resources)
}

#[test]
fn terraform_made_records_are_never_drift() {
    let all = real_records();
    let terraform: Vec<&RealRecord> = all
        .iter()
        .filter(|r| {
            r.value["userAgent"]
                .as_str()
                .is_some_and(|ua| ua.contains("Terraform/"))
        })
        .collect();
    assert!(
        terraform.len() >= 8,
        "the data has {} Terraform-made records",
        terraform.len()
    );
    let state = state_naming_every_resource(&terraform);
    let texts: Vec<String> = terraform.iter().map(|r| r.text.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "tf.tfstate", &state);
    // The state gathers resources of every account the records come from: not scoped to one.
    let unscoped =
        json!({"states": [{"name": "tf", "path": path, "account_id": "*", "region": "*"}]});
    let results = run(
        &texts,
        &unscoped.to_string(),
        &[
            "tfdrift.drift",
            "tfdrift.by_terraform",
            "tfdrift.managed",
            "tfdrift.unmanaged",
        ],
    );
    let mut managed = 0;
    for (record, fields) in terraform.iter().zip(&results) {
        assert_eq!(
            fields.bool("tfdrift.by_terraform"),
            Some(true),
            "{}",
            record.origin
        );
        assert_eq!(
            fields.bool("tfdrift.drift"),
            Some(false),
            "{}",
            record.origin
        );
        assert_eq!(
            fields.bool("tfdrift.unmanaged"),
            Some(false),
            "{}",
            record.origin
        );
        managed += usize::from(fields.bool("tfdrift.managed") == Some(true));
    }
    assert!(
        managed >= 5,
        "the state names what they touch ({managed} managed), so the silence is Terraform's"
    );
}

/// The stratus record adds a layer to a function whose environment the state marks sensitive.
#[test]
fn secrets_are_redacted_in_every_field() {
    let record = stratus_record(
        "aws.persistence.lambda-layer-extension.json",
        "UpdateFunctionConfiguration20150331v2",
    );
    let secret = "sk_live_do-not-leak-7f3a";
    let state = state_v4(
        2,
        vec![resource_with_sensitive(
            "",
            "aws_lambda_function",
            "worker",
            json!({
                "id": "stratus-red-team-lambda-layer-simpleLambda",
                "function_name": "stratus-red-team-lambda-layer-simpleLambda",
                "arn": "arn:aws:lambda:eugov-eastcentral-1r:712967571683:function:stratus-red-team-lambda-layer-simpleLambda",
                "layers": [],
                "environment": [{"variables": {"API_TOKEN": secret}}],
                "timeout": 20,
            }),
            &["environment"],
        )],
    );
    let mut fields: Vec<String> = ALL_FIELDS
        .iter()
        .filter(|f| **f != "tfdrift.attr")
        .map(|f| (*f).to_owned())
        .collect();
    fields.extend(
        [
            "tfdrift.attr[environment]",
            "tfdrift.attr[layers]",
            "tfdrift.attr[timeout]",
        ]
        .map(String::from),
    );
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let result = run_with(&record, &state, json!({}), &names);
    assert_eq!(result.bool("tfdrift.drift"), Some(true));
    let mut changed = result.list("tfdrift.changed_attrs");
    changed.sort();
    assert_eq!(changed, ["environment", "layers"]);
    let diff: Value = serde_json::from_str(&result.str("tfdrift.diff").unwrap()).unwrap();
    assert_eq!(
        diff["environment"],
        json!({"state": "<redacted>", "requested": "<redacted>"})
    );
    assert_eq!(
        result.str("tfdrift.attr[environment]").as_deref(),
        Some("<redacted>")
    );
    let summary = result.str("tfdrift.summary").expect("a summary");
    assert!(summary.contains("environment: <redacted>"), "{summary}");
    assert!(summary.len() <= 400, "{summary}");
    assert_eq!(result.str("tfdrift.attr[timeout]").as_deref(), Some("20"));
    for name in &names {
        let text = format!("{:?}", result.get(name));
        assert!(!text.contains(secret), "{name} leaks the secret: {text}");
    }
}

#[test]
fn severity_overrides_and_ignored_principals() {
    let state = sg_state(json!([https_rule()]));
    let fields = run_with(
        &source_sg_record(),
        &state,
        json!({"severity_overrides": {"aws_security_group": "low"}}),
        &plain_fields(),
    );
    assert_eq!(fields.str("tfdrift.severity").as_deref(), Some("low"));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    let ignore = json!({"ignore_principals": ["arn:aws:iam::*:user/christophe"]});
    let fields = run_with(&source_sg_record(), &state, ignore, &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
}

// ---------------------------------------------------------------------------------------------- who called

/// The real security-group record with its caller rewritten: `userIdentity` members, `userAgent`, and
/// `sessionCredentialFromConsole` (null removes a member).
fn sg_record_by(identity: Value, user_agent: Value, from_console: Value) -> String {
    let mut record: Value = serde_json::from_str(&source_sg_record()).unwrap();
    for (key, value) in identity.as_object().unwrap() {
        record["userIdentity"][key] = value.clone();
    }
    let object = record.as_object_mut().unwrap();
    for (key, value) in [
        ("userAgent", user_agent),
        ("sessionCredentialFromConsole", from_console),
    ] {
        if value.is_null() {
            object.remove(key);
        } else {
            object.insert(key.to_owned(), value);
        }
    }
    record.to_string()
}

fn kind_and_drift(record: &str, extra: Value) -> (Option<String>, Option<bool>, Option<String>) {
    let state = sg_state(json!([https_rule()]));
    let fields = run_with(record, &state, extra, &plain_fields());
    (
        fields.str("tfdrift.actor_kind"),
        fields.bool("tfdrift.drift"),
        fields.str("tfdrift.actor"),
    )
}

#[test]
fn a_user_agent_never_makes_a_caller_an_aws_service() {
    // The user agent is an HTTP header the caller writes (AWS CLI: `--user-agent`-style overrides, any SDK's
    // configuration). Only CloudTrail's own members (`userIdentity.type`, `invokedBy`, the session issuer)
    // say "AWS service": an IAM user sending a service's host name is an IAM user.
    for user_agent in [
        "ec2.amazonaws.com",
        "lambda.amazonaws.com",
        "autoscaling.amazonaws.com",
        "cloudformation.amazonaws.com",
    ] {
        let record = sg_record_by(json!({}), json!(user_agent), Value::Null);
        for trust in [true, false] {
            let (kind, drift, actor) =
                kind_and_drift(&record, json!({"terraform": {"trust_user_agent": trust}}));
            assert_eq!(kind.as_deref(), Some("sdk_or_cli"), "{user_agent}");
            assert_eq!(drift, Some(true), "{user_agent}, trust_user_agent {trust}");
            assert_eq!(actor.as_deref(), Some("christophe"));
        }
    }
}

#[test]
fn console_changes_are_a_persons_and_drift() {
    // The console's marks, as CloudTrail writes them (AWS CloudTrail User Guide, "CloudTrail userIdentity
    // element": invokedBy, and sessionCredentialFromConsole on calls made with console session credentials)
    // and as console clients send them: none of them is an AWS service.
    let cases = [
        (
            json!({"invokedBy": "signin.amazonaws.com"}),
            Value::Null,
            Value::Null,
        ),
        (
            json!({"invokedBy": "signin.amazonaws.com"}),
            json!("signin.amazonaws.com"),
            Value::Null,
        ),
        (json!({}), json!("console.amazonaws.com"), Value::Null),
        (json!({}), json!("console.ec2.amazonaws.com"), Value::Null),
        (
            json!({}),
            json!("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488 Linux/5.10]"),
            Value::Null,
        ),
        (json!({}), json!("AWS Internal"), json!("true")),
        (
            json!({}),
            json!("Mozilla/5.0 (X11; Linux x86_64)"),
            json!("true"),
        ),
    ];
    for (identity, user_agent, from_console) in cases {
        let record = sg_record_by(identity.clone(), user_agent.clone(), from_console);
        let (kind, drift, _) = kind_and_drift(&record, json!({}));
        assert_eq!(kind.as_deref(), Some("console"), "{identity} {user_agent}");
        assert_eq!(drift, Some(true), "{identity} {user_agent}");
    }
    // No user agent and nothing else: unknown, and still drift.
    let record = sg_record_by(json!({}), Value::Null, Value::Null);
    assert_eq!(
        kind_and_drift(&record, json!({})),
        (
            Some("unknown".into()),
            Some(true),
            Some("christophe".into())
        )
    );
}

#[test]
fn a_provisioning_service_acting_for_a_principal_is_drift_named_by_the_service() {
    // A real record (panther-analysis, Apache-2.0): CloudFormation deleting a trail for an assumed role. The
    // principal's identity with the service in `invokedBy` is how CloudTrail logs a call a service makes with
    // the caller's credentials; a stack changing a Terraform-managed trail is another tool's change.
    let record = panther_record(110, "DeleteTrail");
    let dir = tempfile::tempdir().unwrap();
    let state = state_v4(
        3,
        vec![resource(
            "",
            "aws_cloudtrail",
            "audit",
            json!({"id": "example-trail", "name": "example-trail",
                   "arn": "arn:aws:cloudtrail:us-west-2:123456789012:trail/example-trail"}),
        )],
    );
    let path = write_state(dir.path(), "main.tfstate", &state);
    let fields = run(
        &[record],
        &config(&[("main", &path)], json!({})),
        &plain_fields(),
    )
    .pop()
    .unwrap();
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.str("tfdrift.change").as_deref(), Some("delete"));
    assert_eq!(
        fields.str("tfdrift.actor_kind").as_deref(),
        Some("provisioning_service")
    );
    assert_eq!(
        fields.str("tfdrift.actor").as_deref(),
        Some("cloudformation.amazonaws.com")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // The same for the others that provision for a principal.
    for service in [
        "servicecatalog.amazonaws.com",
        "elasticbeanstalk.amazonaws.com",
    ] {
        let record = sg_record_by(json!({"invokedBy": service}), json!(service), Value::Null);
        assert_eq!(
            kind_and_drift(&record, json!({})),
            (
                Some("provisioning_service".into()),
                Some(true),
                Some(service.into())
            )
        );
    }
}

#[test]
fn aws_services_are_told_by_what_cloudtrail_writes_and_are_not_drift_unless_asked() {
    let cases = [
        // A service calling with its own identity.
        json!({"type": "AWSService", "invokedBy": "ec2.amazonaws.com", "arn": null, "userName": null}),
        // A service acting with the caller's credentials (forward access), such as EC2 for an encrypted volume.
        json!({"invokedBy": "ec2.amazonaws.com"}),
        json!({"invokedBy": "AWS Internal"}),
        // A service-linked role: IAM reserves the /aws-service-role/ path for roles only AWS creates.
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::032092706103:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
               "userName": null,
               "sessionContext": {"sessionIssuer": {"type": "Role",
                   "arn": "arn:aws:iam::032092706103:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"}}}),
    ];
    for identity in cases {
        let record = sg_record_by(
            identity.clone(),
            json!("autoscaling.amazonaws.com"),
            Value::Null,
        );
        let (kind, drift, _) = kind_and_drift(&record, json!({}));
        assert_eq!(kind.as_deref(), Some("aws_service"), "{identity}");
        assert_eq!(drift, Some(false), "{identity}");
        let (_, drift, _) = kind_and_drift(&record, json!({"aws_service_changes_are_drift": true}));
        assert_eq!(drift, Some(true), "{identity}");
    }
    // A role merely named like one is whatever else the record says.
    let lookalike = sg_record_by(
        json!({"type": "AssumedRole", "arn": "arn:aws:sts::032092706103:assumed-role/aws-service-role/x",
               "sessionContext": {"sessionIssuer": {"type": "Role",
                   "arn": "arn:aws:iam::032092706103:role/ops/aws-service-role-lookalike"}}}),
        json!("aws-cli/2.13.0"),
        Value::Null,
    );
    let (kind, drift, _) = kind_and_drift(&lookalike, json!({}));
    assert_eq!(kind.as_deref(), Some("sdk_or_cli"));
    assert_eq!(drift, Some(true));
}

/// The record was made on 2024-08-01 at 12:23:55 UTC, a Thursday.
#[test]
fn maintenance_windows_by_event_time() {
    let state = sg_state(json!([https_rule()]));
    let one_off = json!({"maintenance_windows": [{"name": "network change CHG-1234", "from": "2024-08-01T12:00:00Z", "to": "2024-08-01T13:00:00Z"}]});
    let fields = run_with(&source_sg_record(), &state, one_off, &plain_fields());
    assert_eq!(fields.bool("tfdrift.in_maintenance"), Some(true));
    assert_eq!(
        fields.str("tfdrift.maintenance_window").as_deref(),
        Some("network change CHG-1234")
    );
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(true),
        "still drift: rules decide what a window silences"
    );

    // Thursdays 14:00-15:00 in Paris (UTC+2 in August) is 12:00-13:00 UTC.
    let weekly = json!({"maintenance_windows": [{"name": "thursday", "days": ["thu"], "start": "14:00", "end": "15:00", "time_zone": "Europe/Paris"}]});
    assert_eq!(
        run_with(&source_sg_record(), &state, weekly, &plain_fields())
            .bool("tfdrift.in_maintenance"),
        Some(true)
    );
    let friday = json!({"maintenance_windows": [{"name": "friday", "days": ["fri"], "start": "14:00", "end": "15:00", "time_zone": "Europe/Paris"}]});
    let fields = run_with(&source_sg_record(), &state, friday, &plain_fields());
    assert_eq!(fields.bool("tfdrift.in_maintenance"), Some(false));
    assert!(fields.is_none("tfdrift.maintenance_window"));
    assert_eq!(
        run_with(&source_sg_record(), &state, json!({}), &plain_fields())
            .bool("tfdrift.in_maintenance"),
        Some(false)
    );
}

/// panther-analysis #428: PutBucketPolicy, the policy logged as an object; the state keeps JSON text, with its
/// statement written differently (a list of one action, keys in another order).
#[test]
fn a_bucket_policy_logged_as_an_object_compares_with_the_state_text() {
    let record = real_record("panther-analysis.jsonl#428");
    let policy_state = |action: &str| {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"Public Access","Resource":"arn:aws:s3:::example-bucket","Principal":{{"AWS":["*"]}},"Effect":"Allow","Action":["{action}"]}}]}}"#
        );
        let mut state = state_v4(
            5,
            vec![resource(
                "",
                "aws_s3_bucket_policy",
                "public",
                json!({"id": "example-bucket", "bucket": "example-bucket", "policy": text}),
            )],
        );
        state["resources"][0]["instances"][0]["attributes"]["policy"] = json!(text);
        state
    };
    let scope = json!({});
    let fields = run_with(
        &record,
        &policy_state("s3:GetBucketAcl"),
        scope.clone(),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.list("tfdrift.touched_attrs"), ["policy"]);
    assert!(
        fields.list("tfdrift.changed_attrs").is_empty(),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));

    let fields = run_with(
        &record,
        &policy_state("s3:GetObject"),
        scope,
        &plain_fields(),
    );
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["policy"]);
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

/// A PutParameter record shaped exactly like CloudTrail's (no real one is in tests/data): CloudTrail hides the
/// value it sets (`HIDDEN_DUE_TO_SECURITY_REASONS`), so the comparison is unknown and the state's value would
/// be all the diff shows.
fn put_parameter_record() -> String {
    cloudtrail_record(
        "ssm.amazonaws.com",
        "PutParameter",
        "us-east-1",
        json!({"name": "/app/db/password", "value": "HIDDEN_DUE_TO_SECURITY_REASONS",
               "type": "SecureString", "overwrite": true}),
        json!({"version": 4, "tier": "Standard"}),
    )
}

#[test]
fn secrets_the_provider_marks_are_redacted_in_states_that_mark_none() {
    // Terraform writes the provider's sensitive attributes into `sensitive_attributes` only since 1.8; a state
    // written by 1.5 marks none. The AWS provider marks aws_ssm_parameter.value sensitive: it is redacted by
    // the provider's schema, whatever the state says. Its name does not look secret, so only the schema
    // catches it.
    let secret = "pg-Pr0d-2024!rotate";
    let mut state = state_v4(
        9,
        vec![resource(
            "module.app",
            "aws_ssm_parameter",
            "db_password",
            json!({
                "id": "/app/db/password", "name": "/app/db/password",
                "arn": "arn:aws:ssm:us-east-1:123456789012:parameter/app/db/password",
                "type": "SecureString", "value": secret, "insecure_value": null,
                "description": "database password", "tier": "Standard", "version": 3
            }),
        )],
    );
    state["terraform_version"] = json!("1.5.7");
    let fields: Vec<String> = plain_fields()
        .into_iter()
        .map(str::to_owned)
        .chain(["tfdrift.attr[value]", "tfdrift.attr[description]"].map(String::from))
        .collect();
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let result = run_with(&put_parameter_record(), &state, json!({}), &names);
    assert_eq!(result.bool("tfdrift.managed"), Some(true));
    assert_eq!(result.bool("tfdrift.drift"), Some(true));
    assert_eq!(
        result.str("tfdrift.attr[value]").as_deref(),
        Some("<redacted>")
    );
    assert_eq!(
        result.str("tfdrift.attr[description]").as_deref(),
        Some("database password")
    );
    let diff: Value = serde_json::from_str(&result.str("tfdrift.diff").unwrap()).unwrap();
    assert_eq!(diff["value"]["state"], "<redacted>");
    for name in &names {
        let text = format!("{:?}", result.get(name));
        assert!(!text.contains(secret), "{name} leaks the secret: {text}");
    }
}

#[test]
fn versions_are_compared_as_text_not_as_numbers() {
    // A real ModifyDBInstance record (panther-analysis, Apache-2.0) that sets allocatedStorage, with an
    // engineVersion added as CloudTrail logs it (a string, as in the RDS API model). The AWS provider types
    // engine_version a string: 13.10 is not 13.1. allocated_storage is a number: 100 and "100" are one value.
    let mut record: Value = serde_json::from_str(&panther_record(158, "ModifyDBInstance")).unwrap();
    let state = |engine_version: &str| {
        state_v4(
            4,
            vec![resource(
                "",
                "aws_db_instance",
                "main",
                json!({"id": "my-db", "identifier": "my-db",
                       "arn": "arn:aws:rds:us-east-1:123456789012:db:my-db",
                       "engine": "postgres", "engine_version": engine_version, "allocated_storage": 100}),
            )],
        )
    };
    let unchanged = run_with(
        &record.to_string(),
        &state("13.1"),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(unchanged.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        unchanged.bool("tfdrift.drift"),
        Some(false),
        "the storage is what the state holds"
    );
    record["requestParameters"]["engineVersion"] = json!("13.10");
    let fields = run_with(
        &record.to_string(),
        &state("13.1"),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["engine_version"]);
    let fields = run_with(
        &record.to_string(),
        &state("13.10"),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
}

/// A state holding the RDS snapshot of the stratus-red-team rds-share-snapshot records, shared with `shared`.
fn snapshot_state(shared: Value) -> Value {
    state_v4(
        2,
        vec![resource(
            "",
            "aws_db_snapshot",
            "nightly",
            json!({"id": "exfiltration", "db_snapshot_identifier": "exfiltration", "shared_accounts": shared}),
        )],
    )
}

#[test]
fn members_that_set_nothing_do_not_make_a_change() {
    // A real ModifyDBSnapshotAttribute record (stratus-red-team): attributeName "restore" names the attribute
    // that valuesToAdd changes, and sets nothing itself. Sharing with the account the state already shares
    // with is no change (RDS API: ModifyDBSnapshotAttribute; provider: aws_db_snapshot.shared_accounts).
    let record = stratus_record(
        "aws.exfiltration.rds-share-snapshot.json",
        "ModifyDBSnapshotAttribute",
    );
    let state = snapshot_state;
    let fields = run_with(
        &record,
        &state(json!(["503161813013"])),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(false),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    let fields = run_with(&record, &state(json!([])), json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["shared_accounts"]);
}

#[test]
fn attaching_what_the_state_already_holds_is_not_drift() {
    // A real AttachRolePolicy record (stratus-red-team). The state holding that very attachment: attaching it
    // again changes nothing Terraform knows. The state holding only the role: a new attachment to a managed
    // role is drift.
    let record = stratus_record(
        "aws.persistence.iam-create-backdoor-role.json",
        "AttachRolePolicy",
    );
    let account = serde_json::from_str::<Value>(&record).unwrap()["recipientAccountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = "stratus-red-team-malicious-iam-role";
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let role_resource = resource(
        "",
        "aws_iam_role",
        "app",
        json!({"id": role, "name": role, "arn": format!("arn:aws:iam::{account}:role/{role}")}),
    );
    let attachment = |policy: &str| {
        resource(
            "",
            "aws_iam_role_policy_attachment",
            "app_admin",
            json!({"id": format!("{role}-20240101"), "role": role, "policy_arn": policy}),
        )
    };
    let held = state_v4(1, vec![role_resource.clone(), attachment(admin)]);
    let fields = run_with(&record, &held, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_type").as_deref(),
        Some("aws_iam_role_policy_attachment")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));

    let other = state_v4(
        1,
        vec![
            role_resource.clone(),
            attachment("arn:aws:iam::aws:policy/ReadOnlyAccess"),
        ],
    );
    let fields = run_with(&record, &other, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.drift"), Some(true), "{fields:?}");

    let role_only = state_v4(1, vec![role_resource]);
    let fields = run_with(&record, &role_only, json!({}), &plain_fields());
    assert_eq!(
        fields.str("tfdrift.resource_type").as_deref(),
        Some("aws_iam_role")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

#[test]
fn iam_names_match_whatever_their_case() {
    // IAM role names are unique regardless of case, and IAM accepts a name in any case (IAM User Guide, "IAM
    // identifiers": "names are not distinguished by case"). The state writes the name as created; the real
    // record (stratus-red-team) as the caller sent it.
    let record = stratus_record(
        "aws.persistence.iam-backdoor-role.json",
        "UpdateAssumeRolePolicy",
    );
    let state = state_v4(
        1,
        vec![resource(
            "",
            "aws_iam_role",
            "backdoor",
            json!({"id": "Stratus-Red-Team-Backdoor-R-Role", "name": "Stratus-Red-Team-Backdoor-R-Role",
                   "arn": "arn:aws:iam::751203476945:role/Stratus-Red-Team-Backdoor-R-Role",
                   "assume_role_policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
        )],
    );
    let fields = run_with(&record, &state, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("aws_iam_role.backdoor")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

#[test]
fn a_regional_resource_matches_only_in_its_own_region() {
    // One state holds security groups of two regions (provider aliases): it is not scoped to a region, yet
    // each group matches only calls made in its own region, by its ARN.
    let record: Value = serde_json::from_str(&source_sg_record()).unwrap();
    let region = record["awsRegion"].as_str().unwrap().to_owned();
    let account = record["recipientAccountId"].as_str().unwrap().to_owned();
    let group = |name: &str, region: &str| {
        resource(
            "",
            "aws_security_group",
            name,
            json!({"id": SG_ID, "name": name, "ingress": [],
                   "arn": format!("arn:aws:ec2:{region}:{account}:security-group/{SG_ID}")}),
        )
    };
    let elsewhere = state_v4(
        1,
        vec![group("eu", "eu-west-1"), group("other", "ap-south-1")],
    );
    let fields = run_with(&record.to_string(), &elsewhere, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));

    let both = state_v4(1, vec![group("eu", "eu-west-1"), group("here", &region)]);
    let fields = run_with(&record.to_string(), &both, json!({}), &plain_fields());
    assert_eq!(
        fields.list("tfdrift.resource_addresses"),
        ["aws_security_group.here"]
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

// ------------------------------------------------------------------------------------ composite identities

#[test]
fn a_lambda_permission_is_named_by_its_function_and_its_statement() {
    // A real AddPermission record (stratus-red-team) adds statement "backdoor" to a function. A permission is
    // identified by function and statement id together (Terraform imports it as <function>/<statement-id>):
    // the call never lands on a sibling statement of the same function.
    let (record, value) = backdoor_add_permission();
    let (region, account) = place(&value);
    let function = "stratus-red-team-backdoor-f-func";
    let function_resource = resource(
        "",
        "aws_lambda_function",
        "worker",
        json!({"id": function, "function_name": function,
               "arn": format!("arn:aws:lambda:{region}:{account}:function:{function}")}),
    );
    let permission = |name: &str, statement: &str, of: &str| {
        resource(
            "",
            "aws_lambda_permission",
            name,
            json!({"id": statement, "statement_id": statement, "function_name": of,
                   "action": "lambda:InvokeFunction", "principal": "s3.amazonaws.com"}),
        )
    };
    // A sibling statement only: not the permission the call adds; the managed function is what changed.
    let sibling = state_v4(
        1,
        vec![
            function_resource.clone(),
            permission("allow_s3", "AllowS3", function),
        ],
    );
    let fields = run_with(&record, &sibling, json!({}), &plain_fields());
    assert_eq!(
        fields.list("tfdrift.resource_addresses"),
        ["aws_lambda_function.worker"]
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // The very statement: matched, and the principal it now names differs from the state's.
    let same = state_v4(
        1,
        vec![
            function_resource,
            permission("backdoor", "backdoor", function),
        ],
    );
    let fields = run_with(&record, &same, json!({}), &plain_fields());
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("aws_lambda_permission.backdoor")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert!(
        fields
            .list("tfdrift.changed_attrs")
            .contains(&"principal".to_owned())
    );

    // No state holds the function nor the statement, but permissions are managed elsewhere: a permission made
    // by hand, named as Terraform's import takes it.
    let elsewhere = state_v4(1, vec![permission("other", "AllowS3", "another-function")]);
    let fields = run_with(&record, &elsewhere, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_id").as_deref(),
        Some("stratus-red-team-backdoor-f-func/backdoor")
    );
}

/// A `change` of the managed resource at `address`, by someone other than Terraform: drift.
fn managed_drift(fields: &Fields, change: &str, address: &str) {
    assert_eq!(fields.str("tfdrift.change").as_deref(), Some(change));
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(false));
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some(address)
    );
}

/// The call landed on `address` and set every value as the state holds it: nothing changed, no drift.
fn held_again(fields: &Fields, address: &str) {
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some(address)
    );
    assert_eq!(
        fields.list("tfdrift.changed_attrs"),
        Vec::<String>::new(),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(false));
}

/// stratus-red-team's real AddPermission record (statement "backdoor" lets principal "*" invoke the function),
/// as text and as a value.
fn backdoor_add_permission() -> (String, Value) {
    let record = stratus_record(
        "aws.persistence.lambda-backdoor-function.json",
        "AddPermission20150331v2",
    );
    let value = serde_json::from_str(&record).unwrap();
    (record, value)
}

/// A record's region and account.
fn place(record: &Value) -> (&str, &str) {
    (
        record["awsRegion"].as_str().unwrap(),
        record["recipientAccountId"].as_str().unwrap(),
    )
}

/// A Lambda permission as the AWS provider keeps it (`aws_lambda_permission`'s schema: `id` is the statement
/// id), of statement `statement` of function `function`, granting `principal` `lambda:InvokeFunction`, for
/// calls from `source_arn` when given.
fn lambda_permission(
    name: &str,
    function: &str,
    statement: &str,
    principal: &str,
    source: Option<(&str, &str)>,
) -> Value {
    let (source_arn, source_account) = source.unzip();
    resource(
        "",
        "aws_lambda_permission",
        name,
        json!({"id": statement, "statement_id": statement, "statement_id_prefix": "",
               "function_name": function, "action": "lambda:InvokeFunction", "principal": principal,
               "qualifier": "", "source_arn": source_arn, "source_account": source_account,
               "event_source_token": null, "principal_org_id": null, "function_url_auth_type": null}),
    )
}

#[test]
fn adding_and_removing_a_lambda_permission_attach_and_detach_a_statement() {
    // Each statement of a function's resource policy is a Terraform resource of its own
    // (aws_lambda_permission): AddPermission attaches one to the function, RemovePermission detaches one.
    // The AddPermission record is stratus-red-team's (real): statement "backdoor" lets principal "*" invoke the
    // function.
    let (add, value) = backdoor_add_permission();
    let (region, account) = place(&value);
    let function = value["requestParameters"]["functionName"]
        .as_str()
        .unwrap()
        .to_owned();
    let statement = value["requestParameters"]["statementId"]
        .as_str()
        .unwrap()
        .to_owned();
    let principal = value["requestParameters"]["principal"]
        .as_str()
        .unwrap()
        .to_owned();
    // No RemovePermission record is in tests/data with its statement id (Panther's is sanitised to the
    // function name alone): this one follows CloudTrail's shape for the call, the same caller removing the
    // same statement. Lambda logs the request's URI members (functionName, statementId) as requestParameters;
    // the call answers 204 with no body, so responseElements is null.
    let mut remove = value.clone();
    remove["eventName"] = json!("RemovePermission20150331v2");
    remove["eventID"] = json!("3f1c2b9a-6e0d-4c57-8a1e-5b2d7c9e0f14");
    remove["requestParameters"] = json!({"functionName": function, "statementId": statement});
    remove["responseElements"] = Value::Null;
    let remove = remove.to_string();

    let function_resource = resource(
        "",
        "aws_lambda_function",
        "worker",
        json!({"id": function, "function_name": function,
               "arn": format!("arn:aws:lambda:{region}:{account}:function:{function}")}),
    );

    // 1. A permission added by hand to a managed function, a statement no state holds: the function is now
    //    exposed to a new principal. Drift of the function, critical (a grant to another principal, as SNS's
    //    and SQS's AddPermission).
    let held_elsewhere = state_v4(
        1,
        vec![
            function_resource.clone(),
            lambda_permission("allow_s3", &function, "AllowS3", "s3.amazonaws.com", None),
        ],
    );
    let fields = run_with(&add, &held_elsewhere, json!({}), &plain_fields());
    managed_drift(&fields, "attach", "aws_lambda_function.worker");
    assert_eq!(fields.str("tfdrift.severity").as_deref(), Some("critical"));

    // 2. Exactly the statement a state holds, added again (Lambda refuses a statement id the policy already
    //    has, so this is a statement that was removed by hand being put back as Terraform wrote it): the
    //    statement is Terraform's again, not drift. The usual S3 trigger's permission (the provider
    //    documentation's example), in the same record with the request Lambda's API reference gives for it:
    //    principal s3.amazonaws.com, restricted to the bucket's ARN and the bucket owner's account.
    let bucket_arn = "arn:aws:s3:::stratus-red-team-uploads";
    let s3_statement = "AllowExecutionFromS3Bucket";
    let mut readd = value.clone();
    readd["requestParameters"] = json!({"functionName": function, "statementId": s3_statement,
        "action": "lambda:InvokeFunction", "principal": "s3.amazonaws.com", "sourceArn": bucket_arn,
        "sourceAccount": account});
    readd["responseElements"] = json!({"statement": json!({"Sid": s3_statement, "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"}, "Action": "lambda:InvokeFunction",
        "Resource": format!("arn:aws:lambda:{region}:{account}:function:{function}"),
        "Condition": {"StringEquals": {"AWS:SourceAccount": account},
                      "ArnLike": {"AWS:SourceArn": bucket_arn}}}).to_string()});
    let readd = readd.to_string();
    let s3_held = state_v4(
        1,
        vec![
            function_resource.clone(),
            lambda_permission(
                "allow_bucket",
                &function,
                s3_statement,
                "s3.amazonaws.com",
                Some((bucket_arn, account)),
            ),
        ],
    );
    let fields = run_with(&readd, &s3_held, json!({}), &plain_fields());
    assert_eq!(fields.str("tfdrift.change").as_deref(), Some("attach"));
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    held_again(&fields, "aws_lambda_permission.allow_bucket");
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(false));

    // The same statement with another source: a change of the held statement, drift.
    let other_source = readd.replace(bucket_arn, "arn:aws:s3:::someone-elses-bucket");
    let fields = run_with(&other_source, &s3_held, json!({}), &plain_fields());
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["source_arn"]);
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // 3. A statement a state holds, removed: it is gone, and Terraform's next apply adds it again. Drift of
    //    the permission, detached (not deleted: the function the call names is still there).
    let held = state_v4(
        1,
        vec![
            function_resource.clone(),
            lambda_permission("backdoor", &function, &statement, &principal, None),
        ],
    );
    // The real record's own statement, the wildcard principal "*" a state holds too, added again exactly:
    // a `*` is the value the statement holds, not a value CloudTrail hid, so nothing changed.
    assert_eq!(principal, "*");
    let fields = run_with(&add, &held, json!({}), &plain_fields());
    held_again(&fields, "aws_lambda_permission.backdoor");

    let fields = run_with(&remove, &held, json!({}), &plain_fields());
    managed_drift(&fields, "detach", "aws_lambda_permission.backdoor");
}

/// A ChangeResourceRecordSets record shaped exactly like CloudTrail's (no real one is in tests/data): Route 53
/// logs the change batch as sent, names fully qualified.
fn change_record_sets(action: &str, name: &str, record_type: &str) -> String {
    cloudtrail_record(
        "route53.amazonaws.com",
        "ChangeResourceRecordSets",
        "us-east-1",
        json!({
            "hostedZoneId": "Z0123456789ABCDEFGHIJ",
            "changeBatch": {"changes": [{"action": action, "resourceRecordSet": {
                "name": name, "type": record_type, "tTL": 300,
                "resourceRecords": [{"value": "198.51.100.10"}]}}]}
        }),
        json!({"changeInfo": {"id": "/change/C0123456789ABCDEFGHIJ", "status": "PENDING",
               "submittedAt": "Jun 3, 2024 10:01:12 AM"}}),
    )
}

#[test]
fn a_route53_record_is_named_by_its_zone_name_and_type() {
    // Terraform keys a record by zone, name and type (its id and import id: <zone>_<name>_<type>). A new
    // record in a managed zone is a record no state holds, not drift on a sibling of that zone.
    let zone = "Z0123456789ABCDEFGHIJ";
    let record_resource = |name: &str, fqdn: &str, record_type: &str| {
        resource(
            "",
            "aws_route53_record",
            name,
            json!({"id": format!("{zone}_{fqdn}_{record_type}"), "zone_id": zone, "name": fqdn,
                   "type": record_type, "ttl": 300, "records": ["198.51.100.10"]}),
        )
    };
    let state = state_v4(
        1,
        vec![
            record_resource("www", "www.example.com", "A"),
            record_resource("mail", "example.com", "MX"),
        ],
    );
    let new = change_record_sets("CREATE", "api.example.com.", "A");
    let fields = run_with(&new, &state, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
    assert_eq!(fields.bool("tfdrift.unmanaged"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_id").as_deref(),
        Some("Z0123456789ABCDEFGHIJ_api.example.com_A")
    );

    // The record the state holds, named fully qualified and in another case, with another type beside it.
    let upsert = change_record_sets("UPSERT", "WWW.example.com.", "A");
    let fields = run_with(&upsert, &state, json!({}), &plain_fields());
    assert_eq!(
        fields.list("tfdrift.resource_addresses"),
        ["aws_route53_record.www"]
    );
    assert_eq!(
        fields.str("tfdrift.resource_id").as_deref(),
        Some("Z0123456789ABCDEFGHIJ_www.example.com_A")
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));

    // Same name, another type: not the A record.
    let txt = change_record_sets("CREATE", "www.example.com.", "TXT");
    let fields = run_with(&txt, &state, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
}

#[test]
fn a_wrapped_ec2_request_is_read_whatever_its_wrapper_is_called() {
    // Newer EC2 calls wrap their parameters in one member whose name CloudTrail does not take from the API
    // model: DeleteTransitGatewayVpcAttachment is logged with `DelTGwVpcAttachReq`. A record shaped like
    // CloudTrail's (none is in tests/data).
    let record = cloudtrail_record(
        "ec2.amazonaws.com",
        "DeleteTransitGatewayVpcAttachment",
        "eu-west-1",
        json!({"DelTGwVpcAttachReq": {"TransitGatewayAttachmentId": "tgw-attach-0a1b2c3d4e5f60718"}}),
        json!({"DeleteTransitGatewayVpcAttachmentResponse": {
            "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
            "transitGatewayVpcAttachment": {"transitGatewayAttachmentId": "tgw-attach-0a1b2c3d4e5f60718",
                                            "state": "deleting"}}}),
    );
    let state = state_v4(
        1,
        vec![resource(
            "module.net",
            "aws_ec2_transit_gateway_vpc_attachment",
            "shared",
            json!({"id": "tgw-attach-0a1b2c3d4e5f60718",
                   "arn": "arn:aws:ec2:eu-west-1:123456789012:transit-gateway-attachment/tgw-attach-0a1b2c3d4e5f60718"}),
        )],
    );
    let fields = run_with(&record, &state, json!({}), &plain_fields());
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("module.net.aws_ec2_transit_gateway_vpc_attachment.shared")
    );
    assert_eq!(fields.str("tfdrift.change").as_deref(), Some("delete"));
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

#[test]
fn a_sub_resource_no_state_holds_is_compared_on_its_parent_or_counted_changed() {
    // The real PutBucketPolicy record of the test above (panther-analysis #428). The state holds the bucket
    // but no aws_s3_bucket_policy: the verdict is about the managed bucket, and the policy it sets is a
    // change unless the bucket itself holds that very policy (AWS provider 3 kept it on the bucket).
    let record = real_record("panther-analysis.jsonl#428");
    let bucket =
        |attributes: Value| state_v4(5, vec![resource("", "aws_s3_bucket", "data", attributes)]);
    let fields = run_with(
        &record,
        &bucket(json!({"id": "example-bucket", "bucket": "example-bucket"})),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(
        fields.str("tfdrift.resource_type").as_deref(),
        Some("aws_s3_bucket")
    );
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(true),
        "a policy set on a managed bucket"
    );

    // The bucket holds the same policy (compared as a document): nothing changed.
    let value: Value = serde_json::from_str(&record).unwrap();
    let policy = value["requestParameters"]["bucketPolicy"].to_string();
    let fields = run_with(
        &record,
        &bucket(json!({"id": "example-bucket", "bucket": "example-bucket", "policy": policy})),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(false),
        "{:?}",
        fields.str("tfdrift.diff")
    );
}

#[test]
fn a_stop_call_sets_the_state_it_names() {
    // A real StopInstances record (panther-analysis #179): the call names no attribute, and sets the state
    // the provider keeps in aws_ec2_instance_state.state (EC2 API: StopInstances leaves the instance
    // "stopped"). Stopping an instance the state already has stopped changes nothing; stopping a running one
    // is drift.
    let record = panther_record(179, "StopInstances");
    let state = |running: &str| {
        state_v4(
            1,
            vec![resource(
                "",
                "aws_ec2_instance_state",
                "batch",
                json!({"id": "i-EXAMPLE56126103cb", "instance_id": "i-EXAMPLE56126103cb", "state": running, "force": false}),
            )],
        )
    };
    let fields = run_with(&record, &state("stopped"), json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(false),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    let fields = run_with(&record, &state("running"), json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["state"]);
}

#[test]
fn thousands_of_instances_sharing_a_name_cost_one_verdict_not_thousands() {
    // 20,000 instances carry the security group's id (a hostile or broken state). The verdict keeps the first
    // 256 matches: an event costs what a few matches cost, however many instances share a name.
    let instances: Vec<Value> = (0..20_000)
        .map(|i| {
            resource(
                "",
                "aws_security_group",
                &format!("g{i}"),
                json!({"id": SG_ID, "name": format!("g{i}"), "ingress": []}),
            )
        })
        .collect();
    let state = state_v4(1, instances);
    let fields = run_with(&source_sg_record(), &state, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(fields.list("tfdrift.resource_addresses").len(), 256);
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

#[test]
fn an_id_the_state_marks_sensitive_is_redacted_as_the_resource_id() {
    // Terraform marks an id sensitive when the resource's schema does (sensitive_attributes since 1.8): then
    // tfdrift.resource_id must not print it either.
    let state = state_v4(
        11,
        vec![resource_with_sensitive(
            "",
            "aws_security_group",
            "web",
            json!({"id": SG_ID, "name": "web", "ingress": [https_rule()]}),
            &["id"],
        )],
    );
    let fields = run_with(&source_sg_record(), &state, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.str("tfdrift.resource_id").as_deref(),
        Some("<redacted>")
    );
}

#[test]
fn removing_a_share_terraform_does_not_track_is_not_drift() {
    // The real rds-share-snapshot record (stratus-red-team) with its change turned into a removal, as
    // CloudTrail writes ModifyDBSnapshotAttribute (RDS API: valuesToRemove). Removing an account the state
    // does not share with changes nothing Terraform knows; removing one it shares with is drift.
    let mut record: Value = serde_json::from_str(&stratus_record(
        "aws.exfiltration.rds-share-snapshot.json",
        "ModifyDBSnapshotAttribute",
    ))
    .unwrap();
    let parameters = record["requestParameters"].as_object_mut().unwrap();
    parameters.remove("valuesToAdd");
    parameters.insert("valuesToRemove".into(), json!(["503161813013"]));
    let record = record.to_string();
    let state = snapshot_state;
    let fields = run_with(
        &record,
        &state(json!(["111122223333"])),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        fields.bool("tfdrift.drift"),
        Some(false),
        "{:?}",
        fields.str("tfdrift.diff")
    );
    let fields = run_with(
        &record,
        &state(json!(["503161813013"])),
        json!({}),
        &plain_fields(),
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}

#[test]
fn a_security_group_rule_is_named_by_its_group_protocol_and_ports() {
    // The state holds the group's rules as their own resources (aws_vpc_security_group_ingress_rule), not the
    // group. The real record authorises tcp 22: of the group's rules, only the one with that protocol and
    // those ports is the one the call touches, not its sibling on 443.
    let rule = |name: &str, port: u16| {
        resource(
            "",
            "aws_vpc_security_group_ingress_rule",
            name,
            json!({"id": format!("sgr-0{port:016}"), "security_group_id": SG_ID, "ip_protocol": "tcp",
                   "from_port": port, "to_port": port, "cidr_ipv4": "0.0.0.0/0"}),
        )
    };
    let state = state_v4(1, vec![rule("https", 443), rule("ssh", 22)]);
    let fields = run_with(&source_sg_record(), &state, json!({}), &plain_fields());
    assert_eq!(
        fields.list("tfdrift.resource_addresses"),
        ["aws_vpc_security_group_ingress_rule.ssh"]
    );
    let https_only = state_v4(1, vec![rule("https", 443)]);
    let fields = run_with(&source_sg_record(), &https_only, json!({}), &plain_fields());
    assert_eq!(fields.bool("tfdrift.managed"), Some(false));
}

#[test]
fn many_identifiers_in_one_call_are_each_looked_up_once() {
    // DeleteFlowLogs names flow logs by id, as many as the caller likes, repeats included (a record shaped like
    // CloudTrail's: newer EC2 calls wrap their parameters, lists of ids end in `content`). Past a handful the
    // identifiers are deduplicated with a set; the managed one is found once, whichever way.
    let mut ids: Vec<Value> = (0..40)
        .map(|i| json!({"content": format!("fl-{i:017x}")}))
        .collect();
    ids.extend(ids.clone());
    ids.push(json!({"content": "fl-0e17aa62a21d4bbfe"}));
    ids.push(json!({"content": "fl-0e17aa62a21d4bbfe"}));
    let record = cloudtrail_record(
        "ec2.amazonaws.com",
        "DeleteFlowLogs",
        "us-east-1",
        json!({"DeleteFlowLogsRequest": {"FlowLogId": ids}}),
        json!({"DeleteFlowLogsResponse": {"unsuccessful": ""}}),
    );
    let state = state_v4(
        1,
        vec![resource(
            "",
            "aws_flow_log",
            "vpc",
            json!({"id": "fl-0e17aa62a21d4bbfe"}),
        )],
    );
    let fields = run_with(&record, &state, json!({}), &plain_fields());
    assert_eq!(
        fields.list("tfdrift.resource_addresses"),
        ["aws_flow_log.vpc"]
    );
    assert_eq!(fields.bool("tfdrift.drift"), Some(true));
}
