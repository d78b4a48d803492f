//! The verdict in two stages, through the C ABI: a call whose caller cannot make drift (Terraform, an ignored
//! principal, an AWS service acting for someone) is judged first without the index, and a field that needs
//! the match completes the verdict. Whatever is read first, every field answers what the full verdict
//! says, and the addresses are the state's; the event metrics count each event once.

use tfdrift_test_support as common;

use common::*;
use falco_plugin_runner::ExtractedField;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use tfdrift::call::Call;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;
use tfdrift::gcpaudit::Entry;

/// The fields rules read after `tfdrift.drift`, for the record of [`db_case`].
const DB_FIELDS: &[&str] = &[
    "tfdrift.managed",
    "tfdrift.resource_address",
    "tfdrift.changed_attrs",
    "tfdrift.severity",
    "tfdrift.change",
    "tfdrift.attr[allocated_storage]",
    "tfdrift.by_terraform",
    "tfdrift.actor_kind",
];

/// Reads `fields` of every event twice, in two captures: once after `tfdrift.drift` (the verdict made for
/// it stops at stage one for these callers), once before it (the first read needs the match).
fn drift_first_and_last(
    records: &[String],
    gcp: bool,
    tfdrift_config: &str,
    fields: &[&str],
) -> Vec<Fields> {
    let after: Vec<&str> = std::iter::once("tfdrift.drift")
        .chain(fields.iter().copied())
        .collect();
    let before: Vec<&str> = fields
        .iter()
        .copied()
        .chain(std::iter::once("tfdrift.drift"))
        .collect();
    let go = |order: &[&str]| {
        if gcp {
            run_gcp(records, tfdrift_config, order)
        } else {
            run(records, tfdrift_config, order)
        }
    };
    let (drift_first, drift_last) = (go(&after), go(&before));
    for (i, (a, b)) in drift_first.iter().zip(&drift_last).enumerate() {
        for name in &after {
            assert_eq!(
                a.get(name),
                b.get(name),
                "event {i}: {name} read after tfdrift.drift vs before it"
            );
        }
    }
    drift_first
}

/// A real ModifyDBInstance (panther-analysis line 158: an assumed role `Admin`, session `user`, sets
/// `allocatedStorage` to 100 on `my-db`), and a state whose `my-db` has 50 GiB.
fn db_case(dir: &Path) -> (String, std::path::PathBuf) {
    let record = panther_record(158, "ModifyDBInstance");
    let state = state_v4(
        4,
        vec![resource(
            "module.data",
            "aws_db_instance",
            "main",
            json!({"id": "my-db", "identifier": "my-db",
                   "arn": "arn:aws:rds:us-east-1:123456789012:db:my-db",
                   "engine": "postgres", "allocated_storage": 50}),
        )],
    );
    (record, write_state(dir, "db.tfstate", &state))
}

/// What the state says of `my-db` and the record does to it, whoever the caller.
fn assert_db_fields(f: &Fields) {
    assert_eq!(f.bool("tfdrift.drift"), Some(false));
    assert_eq!(f.bool("tfdrift.managed"), Some(true));
    // The state's address: module path and the resource's type and name as written above.
    assert_eq!(
        f.str("tfdrift.resource_address").as_deref(),
        Some("module.data.aws_db_instance.main")
    );
    // 100 requested, 50 held (ModifyDBInstance's AllocatedStorage is the provider's allocated_storage).
    assert_eq!(f.list("tfdrift.changed_attrs"), ["allocated_storage"]);
    assert_eq!(f.str("tfdrift.change").as_deref(), Some("modify"));
    assert!(f.str("tfdrift.severity").is_some());
    // The state's value, as JSON text for a number.
    assert_eq!(
        f.str("tfdrift.attr[allocated_storage]").as_deref(),
        Some("50")
    );
}

#[test]
fn a_terraform_call_answers_every_field_as_the_full_verdict_does() {
    let dir = tempfile::tempdir().unwrap();
    let (record, state) = db_case(dir.path());
    let config = config(
        &[("db", &state)],
        json!({"terraform": {"principals": ["arn:aws:sts::123456789012:assumed-role/Admin/*"]}}),
    );
    let out = drift_first_and_last(&[record], false, &config, DB_FIELDS);
    assert_db_fields(&out[0]);
    assert_eq!(out[0].bool("tfdrift.by_terraform"), Some(true));
    assert_eq!(
        out[0].str("tfdrift.actor_kind").as_deref(),
        Some("terraform")
    );
}

#[test]
fn an_ignored_principals_call_answers_every_field_as_the_full_verdict_does() {
    let dir = tempfile::tempdir().unwrap();
    let (record, state) = db_case(dir.path());
    let config = config(
        &[("db", &state)],
        json!({"ignore_principals": ["arn:aws:sts::123456789012:assumed-role/Admin/*"]}),
    );
    let out = drift_first_and_last(std::slice::from_ref(&record), false, &config, DB_FIELDS);
    assert_db_fields(&out[0]);
    assert_eq!(out[0].bool("tfdrift.by_terraform"), Some(false));
    // Not ignored, the same call is drift: the principal is what made it not.
    let plain = run(
        &[record],
        &common::config(&[("db", &state)], json!({})),
        &["tfdrift.drift"],
    );
    assert_eq!(plain[0].bool("tfdrift.drift"), Some(true));
}

#[test]
fn an_aws_services_call_answers_every_field_as_the_full_verdict_does() {
    // panther-analysis line 340: EC2 Auto Scaling (`invokedBy: autoscaling.amazonaws.com`, its service-linked
    // role) terminates an instance of its group.
    let record = panther_record(340, "TerminateInstances");
    let value: Value = serde_json::from_str(&record).unwrap();
    let instance_id = value["requestParameters"]["instancesSet"]["items"][0]["instanceId"]
        .as_str()
        .expect("the instance")
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let state = write_state(
        dir.path(),
        "asg.tfstate",
        &state_v4(
            2,
            vec![resource(
                "",
                "aws_instance",
                "worker",
                json!({"id": instance_id, "instance_type": "t3.micro",
                       "arn": format!("arn:aws:ec2:us-west-2:111222333444:instance/{instance_id}")}),
            )],
        ),
    );
    let fields = [
        "tfdrift.managed",
        "tfdrift.resource_address",
        "tfdrift.resource_id",
        "tfdrift.changed_attrs",
        "tfdrift.severity",
        "tfdrift.change",
        "tfdrift.attr[instance_type]",
        "tfdrift.actor_kind",
    ];
    let out = drift_first_and_last(
        std::slice::from_ref(&record),
        false,
        &config(&[("asg", &state)], json!({})),
        &fields,
    );
    let f = &out[0];
    assert_eq!(f.str("tfdrift.actor_kind").as_deref(), Some("aws_service"));
    assert_eq!(f.bool("tfdrift.drift"), Some(false));
    assert_eq!(f.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        f.str("tfdrift.resource_address").as_deref(),
        Some("aws_instance.worker")
    );
    assert_eq!(
        f.str("tfdrift.resource_id").as_deref(),
        Some(instance_id.as_str())
    );
    assert_eq!(f.str("tfdrift.change").as_deref(), Some("delete"));
    assert!(f.list("tfdrift.changed_attrs").is_empty());
    assert!(f.str("tfdrift.severity").is_some());
    assert_eq!(
        f.str("tfdrift.attr[instance_type]").as_deref(),
        Some("t3.micro")
    );
    // When its changes count, the same call is drift.
    let counted = run(
        &[record],
        &config(
            &[("asg", &state)],
            json!({"aws_service_changes_are_drift": true}),
        ),
        &["tfdrift.drift"],
    );
    assert_eq!(counted[0].bool("tfdrift.drift"), Some(true));
}

#[test]
fn a_terraform_gcp_call_answers_every_field_as_the_full_verdict_does() {
    // panther-analysis line 37 (from 0): user@domain.com adds an exclusion to sink test-1, updateMask
    // `exclusions`. Here user@domain.com is the identity that runs Terraform.
    let entry = gcp_real_entry("panther-analysis", 37).to_string();
    let dir = tempfile::tempdir().unwrap();
    let state = write_state(
        dir.path(),
        "gcp.tfstate",
        &state_v4(
            1,
            vec![resource(
                "",
                "google_logging_project_sink",
                "audit",
                json!({"id": "projects/test-project-123456/sinks/test-1", "name": "test-1",
                       "project": "test-project-123456", "description": "test", "filter": "",
                       "disabled": false, "exclusions": [], "unique_writer_identity": true,
                       "destination": "logging.googleapis.com/projects/test-project-123456/locations/global/buckets/testloggingbucket"}),
            )],
        ),
    );
    let fields = [
        "tfdrift.managed",
        "tfdrift.resource_address",
        "tfdrift.changed_attrs",
        "tfdrift.severity",
        "tfdrift.change",
        "tfdrift.attr[name]",
        "tfdrift.by_terraform",
    ];
    let out = drift_first_and_last(
        &[entry],
        true,
        &config(
            &[("gcp", &state)],
            json!({"terraform": {"principals": ["user@domain.com"]}}),
        ),
        &fields,
    );
    let f = &out[0];
    assert_eq!(f.bool("tfdrift.by_terraform"), Some(true));
    assert_eq!(f.bool("tfdrift.drift"), Some(false));
    assert_eq!(f.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        f.str("tfdrift.resource_address").as_deref(),
        Some("google_logging_project_sink.audit")
    );
    // The mask names only `exclusions`, and the state holds none.
    assert_eq!(f.list("tfdrift.changed_attrs"), ["exclusions"]);
    assert_eq!(f.str("tfdrift.change").as_deref(), Some("modify"));
    assert!(f.str("tfdrift.severity").is_some());
    assert_eq!(f.str("tfdrift.attr[name]").as_deref(), Some("test-1"));
}

/// Every field of the table, `tfdrift.attr` keyed by `id`.
fn table_fields() -> Vec<String> {
    tfdrift::fields::ALL
        .iter()
        .map(|f| {
            if f.is_keyed() {
                format!("{}[id]", f.name)
            } else {
                f.name.to_owned()
            }
        })
        .collect()
}

/// A state holding one instance per (type, identifier) the catalog's entries read from the calls: the
/// identifier in `id` and in the type's lookup keys.
fn state_of_named<'c>(catalog: &Catalog, calls: impl Iterator<Item = &'c dyn NamedBy>) -> Value {
    let mut named: Vec<(String, String)> = Vec::new();
    for call in calls {
        call.named(catalog, &mut named);
    }
    let resources = named
        .iter()
        .enumerate()
        .map(|(i, (resource_type, id))| {
            let mut attributes = json!({"id": id});
            for key in tfdrift::state::KeySpec::keys(catalog, resource_type) {
                attributes[&**key] = json!(id);
            }
            resource("", resource_type, &format!("r{i}"), attributes)
        })
        .collect();
    state_v4(5, resources)
}

/// A parsed call, whichever log it is from.
trait NamedBy {
    fn named(&self, catalog: &Catalog, out: &mut Vec<(String, String)>);
}

impl<C: Call> NamedBy for C {
    fn named(&self, catalog: &Catalog, out: &mut Vec<(String, String)>) {
        for entry in catalog.candidates(self.service(), self.operation()) {
            for target in entry.targets.iter() {
                for path in target.ids.iter() {
                    let Some(root) = Section::from_root(path.root())
                        .and_then(|section| self.section_value(section))
                    else {
                        continue;
                    };
                    path.identifiers_from(&root, |id| {
                        let pair = (target.resource_type.to_string(), id.to_string());
                        if !out.contains(&pair) {
                            out.push(pair);
                        }
                    });
                }
            }
        }
    }
}

/// Every field of every event, read in three ways: in the table's order, in the reverse order, and each
/// field alone (first) in a capture of its own. `tfdrift.state_age` counts seconds: only whether it has a
/// value is compared.
fn read_in_every_order(records: &[String], gcp: bool, tfdrift_config: &str) -> usize {
    let names = table_fields();
    let forward: Vec<&str> = names.iter().map(String::as_str).collect();
    let reverse: Vec<&str> = forward.iter().rev().copied().collect();
    let go = |order: &[&str]| {
        if gcp {
            run_gcp(records, tfdrift_config, order)
        } else {
            run(records, tfdrift_config, order)
        }
    };
    let in_order = go(&forward);
    let in_reverse = go(&reverse);
    let alone: HashMap<&str, Vec<Fields>> = forward.iter().map(|f| (*f, go(&[f]))).collect();
    let comparable = |name: &str, field: &ExtractedField| {
        if name == "tfdrift.state_age" {
            format!("{:?}", !matches!(field, ExtractedField::None))
        } else {
            format!("{field:?}")
        }
    };
    let mut managed = 0;
    for (i, first) in in_order.iter().enumerate() {
        managed += usize::from(first.bool("tfdrift.managed") == Some(true));
        for name in &forward {
            let want = comparable(name, first.get(name));
            assert_eq!(
                comparable(name, in_reverse[i].get(name)),
                want,
                "event {i}: {name} in reverse order"
            );
            assert_eq!(
                comparable(name, alone[name][i].get(name)),
                want,
                "event {i}: {name} read first and alone"
            );
        }
    }
    managed
}

#[test]
fn read_order_changes_no_answer_on_any_real_record() {
    let catalog = Catalog::embedded().expect("the embedded catalog");
    let dir = tempfile::tempdir().unwrap();

    let records: Vec<String> = real_records().into_iter().map(|r| r.text).collect();
    let parsed: Vec<Record> = records
        .iter()
        .filter_map(|t| Record::parse(t.as_bytes()).ok())
        .collect();
    let state = state_of_named(catalog, parsed.iter().map(|r| r as &dyn NamedBy));
    let path = write_state(dir.path(), "all.tfstate", &state);
    // Everyone with an identity is Terraform: every verdict with a caller stops at stage one.
    let everyone = json!({"terraform": {"principals": ["*"]}});
    let managed = read_in_every_order(&records, false, &config(&[("all", &path)], everyone));
    assert!(
        managed > 100,
        "{managed} managed: the state holds what the records name"
    );

    let entries: Vec<String> = gcp_audit_entries()
        .iter()
        .map(|e| gcp_real_entry(&e.file, e.line).to_string())
        .collect();
    let parsed: Vec<Entry> = entries
        .iter()
        .filter_map(|t| Entry::parse(t.as_bytes()).ok())
        .collect();
    let state = state_of_named(catalog, parsed.iter().map(|e| e as &dyn NamedBy));
    let path = write_state(dir.path(), "gcp.tfstate", &state);
    let everyone = json!({"terraform": {"principals": ["*"]}});
    let managed = read_in_every_order(&entries, true, &config(&[("gcp", &path)], everyone));
    assert!(
        managed > 10,
        "{managed} managed: the state holds what the entries name"
    );
}

#[test]
fn event_metrics_count_each_event_once_from_stage_one() {
    let dir = tempfile::tempdir().unwrap();
    let (terraform_call, state) = db_case(dir.path());
    let records = [
        // Terraform's (configured below): managed, not drift.
        terraform_call,
        // Someone else's change to the same database: managed, drift.
        cloudtrail_record(
            "rds.amazonaws.com",
            "ModifyDBInstance",
            "us-east-1",
            json!({"dBInstanceIdentifier": "my-db", "allocatedStorage": 200}),
            Value::Null,
        ),
        // Someone else's change to a database no state holds, of a type the state manages: unmanaged.
        cloudtrail_record(
            "rds.amazonaws.com",
            "ModifyDBInstance",
            "us-east-1",
            json!({"dBInstanceIdentifier": "other-db", "allocatedStorage": 200}),
            Value::Null,
        ),
        // Terraform's, on a database no state holds: neither.
        panther_record(158, "ModifyDBInstance").replace("\"my-db\"", "\"gone-db\""),
    ];
    let config = config(
        &[("db", &state)],
        json!({"terraform": {"principals": ["arn:aws:sts::123456789012:assumed-role/Admin/*"]}}),
    );
    let everything: Vec<String> = table_fields();
    let everything: Vec<&str> = everything.iter().map(String::as_str).collect();
    // Only what the shipped rules read first; then every field, each twice.
    for reads in [vec!["tfdrift.drift"], everything] {
        let mut capture = start(&records, 1, 0, &config).expect("tfdrift starts");
        let mut drift = Vec::new();
        while let Some(event) = next(&mut capture) {
            let f = extract_all(&mut capture, &event, &reads);
            extract_all(&mut capture, &event, &reads);
            drift.push(f.bool("tfdrift.drift"));
        }
        assert_eq!(drift, [Some(false), Some(true), Some(false), Some(false)]);
        let m = metrics(&mut capture);
        assert_eq!(m["events_seen"], 4, "{reads:?}");
        // Among calls whose changes may be drift (not Terraform's), those whose resource a state holds.
        assert_eq!(m["managed_matches"], 1, "{reads:?}");
        assert_eq!(m["drift_verdicts"], 1, "{reads:?}");
        assert_eq!(m["unmanaged_verdicts"], 1, "{reads:?}");
    }
}
