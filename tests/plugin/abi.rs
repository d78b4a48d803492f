//! tfdrift through the C ABI, as Falco loads it: `libtfdrift.so` opened with `dlopen`, its exported symbols in a
//! `plugin_api`, driven by a test source that emits CloudTrail records as the cloudtrail plugin does.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::ffi::CString;
use std::time::{Duration, Instant};
use tfdrift::catalog::Catalog;

const SG_ID: &str = SOURCE_SG_ID;
const SG_ADDRESS: &str = "module.net.aws_security_group.web";
const SERIAL: u64 = 42;
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.173.0";

/// A copy of a record with some top-level members replaced.
fn edited(record: &str, changes: Value) -> String {
    let mut value: Value = serde_json::from_str(record).expect("a record");
    for (k, v) in changes.as_object().expect("an object of changes") {
        value[k] = v.clone();
    }
    value.to_string()
}

/// The security group the stratus record opens port 22 on, managed in `module.net`.
fn sg_state() -> Value {
    state_v4(
        SERIAL,
        vec![
            resource_with_sensitive(
                "module.net",
                "aws_security_group",
                "web",
                json!({
                    "id": SG_ID,
                    "arn": format!("arn:aws:ec2:us-northeast-1r:032092706103:security-group/{SG_ID}"),
                    "name": "web",
                    "description": "web servers",
                    "vpc_id": "vpc-0a1b2c3d4e5f60718",
                    "ingress": [],
                    "egress": [],
                    "revoke_rules_on_delete": false,
                    "tags": {"team": "net"},
                    "secret_token": "s3cr3t-from-sensitive-attributes",
                    "password": "hunter2-by-name",
                }),
                &["secret_token"],
            ),
            resource(
                "",
                "aws_vpc",
                "main",
                json!({"id": "vpc-0a1b2c3d4e5f60718", "cidr_block": "10.0.0.0/16"}),
            ),
        ],
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    config: String,
}

fn fixture(state: &Value, extra: Value) -> Fixture {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = write_state(dir.path(), "net.tfstate", state);
    Fixture {
        config: config(&[("prod-network", &path)], extra),
        _dir: dir,
    }
}

fn fields_with_attrs(attrs: &[&str]) -> Vec<String> {
    let mut fields: Vec<String> = ALL_FIELDS
        .iter()
        .filter(|f| **f != "tfdrift.attr")
        .map(|f| (*f).to_owned())
        .collect();
    fields.extend(attrs.iter().map(|a| format!("tfdrift.attr[{a}]")));
    fields
}

fn run_one(record: &str, config: &str, fields: &[String]) -> Fields {
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    run(&[record.to_owned()], config, &names)
        .pop()
        .expect("one event")
}

// ------------------------------------------------------------------------------------ what Falco reads

#[test]
fn declares_name_source_and_capabilities() {
    let api = load_tfdrift();
    // SAFETY: the plugin's getters return static strings.
    unsafe {
        assert_eq!(text_of(api.get_name.unwrap()()).as_deref(), Some("tfdrift"));
        let version = text_of(api.get_version.unwrap()()).unwrap();
        assert_eq!(version, env!("CARGO_PKG_VERSION"));
        let required = text_of(api.get_required_api_version.unwrap()()).unwrap();
        assert!(required.starts_with("3."), "required plugin API {required}");
        assert!(!text_of(api.get_description.unwrap()()).unwrap().is_empty());
        assert!(!text_of(api.get_contact.unwrap()()).unwrap().is_empty());

        let sources = text_of(api.__bindgen_anon_2.get_extract_event_sources.unwrap()()).unwrap();
        let sources: Vec<String> =
            serde_json::from_str(&sources).expect("the event sources are a JSON list");
        assert_eq!(sources, ["aws_cloudtrail", "gcp_auditlog"]);

        // Plugin events only (PPME_PLUGINEVENT_E, 322): the cloudtrail and gcpaudit plugins' records.
        let mut count = 0u32;
        let types =
            api.__bindgen_anon_2.get_extract_event_types.unwrap()(&mut count, std::ptr::null_mut());
        assert!(!types.is_null());
        assert_eq!(std::slice::from_raw_parts(types, count as usize), [322]);
    }
    // An extractor only: a source, parse or async capability would change how Falco treats it.
    assert!(api.__bindgen_anon_1.open.is_none() && api.__bindgen_anon_1.next_batch.is_none());
    assert!(api.__bindgen_anon_3.parse_event.is_none());
    assert!(api.__bindgen_anon_4.set_async_event_handler.is_none());
}

#[test]
fn every_contract_field_is_declared_and_described() {
    let api = load_tfdrift();
    // SAFETY: get_fields returns a static string.
    let fields = unsafe { text_of(api.__bindgen_anon_2.get_fields.unwrap()()) }.unwrap();
    let fields: Vec<Value> = serde_json::from_str(&fields).expect("get_fields is a JSON list");
    let by_name = |name: &str| fields.iter().find(|f| f["name"] == name);
    for name in ALL_FIELDS {
        let field = by_name(name).unwrap_or_else(|| panic!("{name} is not declared"));
        let desc = field["desc"].as_str().unwrap_or("");
        assert!(!desc.trim().is_empty(), "{name} has no description");
    }
    let ty = |name: &str| by_name(name).unwrap()["type"].as_str().unwrap().to_owned();
    let is_list = |name: &str| by_name(name).unwrap()["isList"].as_bool().unwrap_or(false);
    for name in [
        "tfdrift.managed",
        "tfdrift.drift",
        "tfdrift.unmanaged",
        "tfdrift.by_terraform",
        "tfdrift.covered",
    ] {
        assert_eq!(ty(name), "bool", "{name}");
    }
    for name in ["tfdrift.state_serial", "tfdrift.state_age"] {
        assert_eq!(ty(name), "uint64", "{name}");
    }
    for name in [
        "tfdrift.resource_addresses",
        "tfdrift.changed_attrs",
        "tfdrift.touched_attrs",
    ] {
        assert!(is_list(name), "{name} is a list");
        assert_eq!(ty(name), "string", "{name}");
    }
    for name in [
        "tfdrift.resource_address",
        "tfdrift.resource_type",
        "tfdrift.diff",
        "tfdrift.actor",
        "tfdrift.change",
    ] {
        assert!(!is_list(name), "{name} is not a list");
        assert_eq!(ty(name), "string", "{name}");
    }
    let attr = by_name("tfdrift.attr").unwrap();
    assert_eq!(
        attr["arg"]["isKey"], true,
        "tfdrift.attr takes a key: {attr}"
    );
    assert_eq!(
        attr["arg"]["isRequired"], true,
        "tfdrift.attr needs its key: {attr}"
    );
    let names: HashSet<&str> = fields.iter().filter_map(|f| f["name"].as_str()).collect();
    assert_eq!(names.len(), fields.len(), "no field is declared twice");
    assert!(names.iter().all(|n| n.starts_with("tfdrift.")), "{names:?}");
}

#[test]
fn init_schema_documents_the_configuration() {
    let api = load_tfdrift();
    let mut schema_type = 0u32;
    // SAFETY: the schema is a static string; schema_type is a valid pointer.
    let schema =
        unsafe { text_of(api.get_init_schema.unwrap()(&mut schema_type)) }.expect("a schema");
    assert_eq!(
        schema_type,
        falco_plugin::api::ss_plugin_schema_type_SS_PLUGIN_SCHEMA_JSON
    );
    let parsed: Value = serde_json::from_str(&schema).expect("the schema is JSON");
    assert!(parsed.is_object());
    for key in [
        "states",
        "name",
        "path",
        "refresh_interval",
        "terraform",
        "principals",
        "trust_user_agent",
        "require_state_on_start",
        "catalog_files",
        "max_state_bytes",
    ] {
        assert!(
            schema.contains(&format!("\"{key}\"")),
            "the schema does not mention {key}"
        );
    }
}

// ---------------------------------------------------------------------------------------- bad configs

#[test]
fn bad_configs_fail_init_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "a.tfstate", &sg_state());
    let p = path.display().to_string();
    let cases = [
        (
            json!({"states": [{"name": "a", "path": p}, {"name": "a", "path": p}]}),
            vec!["states[1].name"],
        ),
        (
            json!({"states": [{"name": "a", "path": p}], "colour": "red"}),
            vec!["colour"],
        ),
        (
            json!({"states": [{"name": "a", "path": p, "colour": "red"}]}),
            vec!["states[0]", "colour"],
        ),
        (
            json!({"states": [{"name": "a", "path": p}], "refresh_interval": 0}),
            vec!["refresh_interval"],
        ),
        (
            json!({"states": [{"name": "a", "path": p}], "refresh_interval": "soon"}),
            vec!["refresh_interval", "soon"],
        ),
        (
            json!({"states": [{"name": "a", "path": p}], "terraform": {"principals": [""]}}),
            vec!["terraform.principals[0]"],
        ),
        (json!({"states": []}), vec!["states"]),
        (json!({}), vec!["states"]),
    ];
    for (config, expected) in cases {
        let error = init_error(&config.to_string());
        for needle in expected {
            assert!(
                error.contains(needle),
                "config {config}: the error does not name {needle}: {error}"
            );
        }
    }
}

#[test]
fn a_state_that_cannot_be_loaded_fails_init_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tfstate");
    let error = init_error(&config(&[("gone", &missing)], json!({})));
    assert!(
        error.contains("missing.tfstate"),
        "the error names the file: {error}"
    );

    let broken = dir.path().join("broken.tfstate");
    std::fs::write(&broken, b"{\"version\": 4, \"resources\": [").unwrap();
    let error = init_error(&config(&[("broken", &broken)], json!({})));
    assert!(
        error.contains("broken.tfstate"),
        "the error names the file: {error}"
    );

    // Allowed to start without a state: every event still gets an answer, and nothing is managed.
    let results = run(
        &[source_sg_record()],
        &config(
            &[("gone", &missing)],
            json!({"require_state_on_start": false}),
        ),
        &[
            "tfdrift.covered",
            "tfdrift.resource_address",
            "tfdrift.drift",
        ],
    );
    assert_eq!(results[0].bool("tfdrift.covered"), Some(true));
    assert_eq!(results[0].str("tfdrift.resource_address"), None);
    assert_eq!(results[0].bool("tfdrift.drift"), Some(false));
}

#[test]
fn get_last_error_reports_the_init_failure() {
    let api = load_tfdrift();
    let config =
        CString::new(r#"{"states":[{"name":"a","path":"/x"},{"name":"a","path":"/y"}]}"#).unwrap();
    let input = falco_plugin::api::ss_plugin_init_input {
        config: config.as_ptr(),
        owner: std::ptr::null_mut(),
        get_owner_last_error: None,
        tables: std::ptr::null(),
        log_fn: None,
    };
    let mut rc = 0;
    // SAFETY: the input outlives the call; the handle is destroyed once.
    unsafe {
        let handle = api.init.unwrap()(&input, &mut rc);
        assert_ne!(rc, falco_plugin::api::ss_plugin_rc_SS_PLUGIN_SUCCESS);
        assert!(
            !handle.is_null(),
            "Falco reads the error from the handle of a failed init"
        );
        let error = text_of(api.get_last_error.unwrap()(handle)).unwrap_or_default();
        assert!(error.contains("states[1].name"), "{error}");
        api.destroy.unwrap()(handle);
    }
}

// ---------------------------------------------------------------------------------- a managed change

#[test]
fn console_change_to_a_managed_security_group_is_drift() {
    let f = fixture(&sg_state(), json!({}));
    let fields = fields_with_attrs(&[]);
    let r = run_one(&source_sg_record(), &f.config, &fields);
    let call = Catalog::embedded()
        .unwrap()
        .lookup("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress")
        .expect("the catalog covers AuthorizeSecurityGroupIngress");

    assert_eq!(r.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        r.str("tfdrift.resource_address").as_deref(),
        Some(SG_ADDRESS)
    );
    assert_eq!(r.list("tfdrift.resource_addresses"), [SG_ADDRESS]);
    assert_eq!(
        r.str("tfdrift.resource_type").as_deref(),
        Some("aws_security_group")
    );
    assert_eq!(r.str("tfdrift.resource_id").as_deref(), Some(SG_ID));
    assert_eq!(r.str("tfdrift.module").as_deref(), Some("module.net"));
    assert_eq!(r.str("tfdrift.state").as_deref(), Some("prod-network"));
    assert_eq!(r.str("tfdrift.change").as_deref(), Some("modify"));
    assert_eq!(r.bool("tfdrift.drift"), Some(true));
    assert_eq!(r.bool("tfdrift.unmanaged"), Some(false));
    assert_eq!(r.bool("tfdrift.by_terraform"), Some(false));
    assert_eq!(r.str("tfdrift.actor").as_deref(), Some("christophe"));
    assert_eq!(r.str("tfdrift.actor_kind").as_deref(), Some("sdk_or_cli"));
    assert_eq!(
        r.str("tfdrift.severity").as_deref(),
        Some(call.severity.as_str())
    );
    assert!(["critical", "high", "medium", "low"].contains(&call.severity.as_str()));
    assert_eq!(r.bool("tfdrift.covered"), Some(true));
    assert_eq!(r.u64("tfdrift.state_serial"), Some(SERIAL));
    let age = r.u64("tfdrift.state_age").expect("a state age");
    assert!(age < 120, "the state was loaded {age} s ago");

    // The call sets the group's ingress rules; what it changes is listed in the diff, nothing else.
    let touched = r.list("tfdrift.touched_attrs");
    assert!(
        touched.contains(&"ingress".to_owned()),
        "touched: {touched:?}"
    );
    let changed = r.list("tfdrift.changed_attrs");
    assert!(
        changed.iter().all(|a| touched.contains(a)),
        "changed {changed:?} ⊄ touched {touched:?}"
    );
    match r.str("tfdrift.diff") {
        None => assert!(changed.is_empty(), "changed {changed:?} but no diff"),
        Some(diff) => {
            let diff: Value = serde_json::from_str(&diff).expect("the diff is JSON");
            // The diff is keyed by the path of what changed; the list names its top-level attribute.
            let mut tops: Vec<String> = diff
                .as_object()
                .expect("the diff is an object")
                .keys()
                .map(|k| k.split('.').next().unwrap_or(k).to_owned())
                .collect();
            tops.sort();
            tops.dedup();
            let mut sorted = changed.clone();
            sorted.sort();
            assert_eq!(tops, sorted, "the diff lists the changed attributes");
            for entry in diff.as_object().unwrap().values() {
                assert!(
                    entry.get("state").is_some() && entry.get("requested").is_some(),
                    "{entry}"
                );
            }
        }
    }
}

#[test]
fn trailing_nul_bytes_do_not_change_the_answer() {
    let f = fixture(&sg_state(), json!({}));
    let names = ["tfdrift.resource_address", "tfdrift.drift", "tfdrift.actor"];
    let plain = run(&[source_sg_record()], &f.config, &names);
    let padded = try_run_with(&[source_sg_record()], 3, &f.config, &names).unwrap();
    for name in names {
        assert_eq!(plain[0].get(name), padded[0].get(name), "{name}");
    }
    assert_eq!(
        padded[0].str("tfdrift.resource_address").as_deref(),
        Some(SG_ADDRESS)
    );
}

#[test]
fn terraform_user_agent_is_not_drift() {
    let f = fixture(&sg_state(), json!({}));
    let record = edited(&source_sg_record(), json!({"userAgent": TERRAFORM_UA}));
    let r = run_one(&record, &f.config, &fields_with_attrs(&[]));
    assert_eq!(r.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        r.str("tfdrift.resource_address").as_deref(),
        Some(SG_ADDRESS)
    );
    assert_eq!(r.bool("tfdrift.by_terraform"), Some(true));
    assert_eq!(r.str("tfdrift.actor_kind").as_deref(), Some("terraform"));
    assert_eq!(r.bool("tfdrift.drift"), Some(false));
    assert_eq!(r.bool("tfdrift.unmanaged"), Some(false));
}

#[test]
fn terraform_principals_decide_when_the_user_agent_is_not_trusted() {
    let record = edited(&source_sg_record(), json!({"userAgent": TERRAFORM_UA}));
    let fields = ["tfdrift.by_terraform", "tfdrift.drift"];
    // The user agent alone no longer counts...
    let f = fixture(
        &sg_state(),
        json!({"terraform": {"trust_user_agent": false}}),
    );
    let r = run(std::slice::from_ref(&record), &f.config, &fields);
    assert_eq!(r[0].bool("tfdrift.by_terraform"), Some(false));
    assert_eq!(r[0].bool("tfdrift.drift"), Some(true));
    // ...but the principal does, whatever the user agent.
    let f = fixture(
        &sg_state(),
        json!({"terraform": {"trust_user_agent": false, "principals": ["arn:aws:iam::*:user/christophe"]}}),
    );
    let r = run(&[record, source_sg_record()], &f.config, &fields);
    for r in r {
        assert_eq!(r.bool("tfdrift.by_terraform"), Some(true));
        assert_eq!(r.bool("tfdrift.drift"), Some(false));
    }
}

#[test]
fn failed_call_is_not_drift() {
    let f = fixture(&sg_state(), json!({}));
    let record = edited(
        &source_sg_record(),
        json!({"errorCode": "Client.UnauthorizedOperation", "errorMessage": "You are not authorized to perform this operation."}),
    );
    let r = run_one(&record, &f.config, &fields_with_attrs(&["name"]));
    assert_eq!(r.bool("tfdrift.drift"), Some(false));
    assert_eq!(r.bool("tfdrift.unmanaged"), Some(false));
    assert_eq!(r.bool("tfdrift.covered"), Some(true));
    assert_eq!(r.str("tfdrift.resource_address"), None);
    assert_eq!(r.bool("tfdrift.managed"), None);
    assert_eq!(r.str("tfdrift.attr[name]"), None);
}

#[test]
fn read_only_call_is_not_covered() {
    let f = fixture(&sg_state(), json!({}));
    let record = stratus_record(
        "aws.credential-access.ec2-steal-instance-credentials.json",
        "DescribeInstances",
    );
    let r = run_one(&record, &f.config, &fields_with_attrs(&["name"]));
    assert_eq!(r.bool("tfdrift.covered"), Some(false));
    assert_eq!(r.bool("tfdrift.managed"), None);
    assert_eq!(r.bool("tfdrift.drift"), Some(false));
    assert_eq!(r.str("tfdrift.change"), None);
    assert_eq!(r.str("tfdrift.resource_address"), None);
    assert!(r.list("tfdrift.resource_addresses").is_empty());
    assert_eq!(r.u64("tfdrift.state_serial"), None);
    assert!(
        r.str("tfdrift.actor").is_some(),
        "who called is known for any record"
    );
}

#[test]
fn a_call_on_an_unknown_group_is_not_managed() {
    let f = fixture(&sg_state(), json!({}));
    let record = source_sg_record().replace(SG_ID, "sg-0fffffffffffffff0");
    let r = run_one(&record, &f.config, &fields_with_attrs(&[]));
    assert_eq!(r.bool("tfdrift.managed"), Some(false));
    assert_eq!(r.bool("tfdrift.drift"), Some(false));
    assert_eq!(r.str("tfdrift.resource_address"), None);
    assert_eq!(
        r.str("tfdrift.resource_type").as_deref(),
        Some("aws_security_group")
    );
    assert_eq!(
        r.str("tfdrift.resource_id").as_deref(),
        Some("sg-0fffffffffffffff0")
    );
    // The state manages security groups, and this one is in no state.
    assert_eq!(r.bool("tfdrift.unmanaged"), Some(true));
}

/// A target joined on an attribute (`join = ["instance_id"]`) must find an instance whose `id` holds the same
/// value, as `aws_ec2_instance_state` (id = the instance id) and `aws_rds_instance_state` (id = the
/// identifier) always do.
#[test]
fn stopping_a_managed_instance_finds_its_instance_state() {
    const INSTANCE: &str = "i-DDd6c7B0e18F0E35f";
    let state = state_v4(
        9,
        vec![
            resource(
                "module.app",
                "aws_instance",
                "web",
                json!({"id": INSTANCE, "instance_type": "t3.micro", "ami": "ami-0123456789abcdef0"}),
            ),
            resource(
                "module.app",
                "aws_ec2_instance_state",
                "web",
                json!({"id": INSTANCE, "instance_id": INSTANCE, "state": "running", "force": false}),
            ),
        ],
    );
    let f = fixture(&state, json!({}));
    let records = [
        stratus_record("aws.execution.ec2-user-data.json", "StopInstances"),
        stratus_record("aws.execution.ec2-user-data.json", "StartInstances"),
    ];
    let fields = [
        "tfdrift.managed",
        "tfdrift.resource_type",
        "tfdrift.resource_address",
        "tfdrift.resource_addresses",
        "tfdrift.drift",
    ];
    for (record, r) in records.iter().zip(run(&records, &f.config, &fields)) {
        let name = serde_json::from_str::<Value>(record).unwrap()["eventName"].clone();
        assert_eq!(r.bool("tfdrift.managed"), Some(true), "{name}");
        assert_eq!(
            r.str("tfdrift.resource_type").as_deref(),
            Some("aws_ec2_instance_state"),
            "{name}: the call's own type comes first"
        );
        assert_eq!(
            r.str("tfdrift.resource_address").as_deref(),
            Some("module.app.aws_ec2_instance_state.web"),
            "{name}"
        );
        assert_eq!(
            r.list("tfdrift.resource_addresses"),
            [
                "module.app.aws_ec2_instance_state.web",
                "module.app.aws_instance.web"
            ],
            "{name}"
        );
    }
    // The state has the instance running (aws_ec2_instance_state.state): stopping it is drift; starting it
    // sets what the state already holds (EC2 API: StartInstances leaves it "running"), which is no change.
    let drift: Vec<Option<bool>> = run(&records, &f.config, &["tfdrift.drift"])
        .iter()
        .map(|r| r.bool("tfdrift.drift"))
        .collect();
    assert_eq!(drift, [Some(true), Some(false)]);
}

#[test]
fn bytes_that_are_not_a_record_have_no_value_and_no_error() {
    let f = fixture(&sg_state(), json!({}));
    let records: Vec<String> = [
        "not json at all",
        "",
        "[1,2,3]",
        "{\"eventName\":",
        "42",
        "\"AuthorizeSecurityGroupIngress\"",
        "null",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let fields = fields_with_attrs(&["id"]);
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    // `run` fails the test on any extraction error.
    for (record, r) in records.iter().zip(run(&records, &f.config, &names)) {
        for name in &names {
            assert!(r.is_none(name), "{record:?}: {name} = {:?}", r.get(name));
        }
    }
}

// ------------------------------------------------------------------------------------------ attributes

#[test]
fn attr_reads_the_state_and_redacts_secrets() {
    let f = fixture(&sg_state(), json!({}));
    let r = run_one(
        &source_sg_record(),
        &f.config,
        &[
            "tfdrift.attr[name]",
            "tfdrift.attr[vpc_id]",
            "tfdrift.attr[description]",
            "tfdrift.attr[tags]",
            "tfdrift.attr[ingress]",
            "tfdrift.attr[revoke_rules_on_delete]",
            "tfdrift.attr[secret_token]",
            "tfdrift.attr[password]",
            "tfdrift.attr[no_such_attribute]",
        ]
        .map(String::from),
    );
    assert_eq!(r.str("tfdrift.attr[name]").as_deref(), Some("web"));
    assert_eq!(
        r.str("tfdrift.attr[vpc_id]").as_deref(),
        Some("vpc-0a1b2c3d4e5f60718")
    );
    assert_eq!(
        r.str("tfdrift.attr[description]").as_deref(),
        Some("web servers")
    );
    let tags: Value = serde_json::from_str(&r.str("tfdrift.attr[tags]").expect("tags"))
        .expect("non-strings are JSON");
    assert_eq!(tags, json!({"team": "net"}));
    let ingress: Value =
        serde_json::from_str(&r.str("tfdrift.attr[ingress]").expect("ingress")).expect("JSON");
    assert_eq!(ingress, json!([]));
    assert_eq!(
        r.str("tfdrift.attr[revoke_rules_on_delete]").as_deref(),
        Some("false")
    );
    assert_eq!(
        r.str("tfdrift.attr[secret_token]").as_deref(),
        Some("<redacted>")
    );
    assert_eq!(
        r.str("tfdrift.attr[password]").as_deref(),
        Some("<redacted>")
    );
    assert_eq!(r.str("tfdrift.attr[no_such_attribute]"), None);
}

#[test]
fn secrets_never_appear_in_any_field() {
    // A call that sets a sensitive attribute: the diff shows that it changed, never the values.
    let state = state_v4(
        3,
        vec![resource_with_sensitive(
            "",
            "aws_security_group",
            "web",
            json!({"id": SG_ID, "name": "web", "ingress": "state-secret-ingress"}),
            &["ingress"],
        )],
    );
    let f = fixture(&state, json!({}));
    let fields = fields_with_attrs(&["ingress", "name"]);
    let names: Vec<&str> = fields.iter().map(String::as_str).collect();
    let r = run(&[source_sg_record()], &f.config, &names).pop().unwrap();
    assert_eq!(
        r.str("tfdrift.attr[ingress]").as_deref(),
        Some("<redacted>")
    );
    for name in &names {
        let shown = format!("{:?}", r.get(name));
        assert!(
            !shown.contains("state-secret-ingress"),
            "{name} shows the secret: {shown}"
        );
    }
    if let Some(diff) = r.str("tfdrift.diff") {
        let diff: Value = serde_json::from_str(&diff).unwrap();
        if let Some(entry) = diff.get("ingress") {
            assert_eq!(entry["state"], "<redacted>", "{diff}");
            assert_eq!(entry["requested"], "<redacted>", "{diff}");
        }
    }
}

// ------------------------------------------------------------------------------------------ the cache

const TEN: [&str; 10] = [
    "tfdrift.managed",
    "tfdrift.resource_address",
    "tfdrift.resource_addresses",
    "tfdrift.resource_type",
    "tfdrift.resource_id",
    "tfdrift.module",
    "tfdrift.state",
    "tfdrift.state_serial",
    "tfdrift.drift",
    "tfdrift.attr[name]",
];

/// The fields of one event all describe the same verdict, computed once: a state reloaded between two
/// fields of the same event does not show, and the next event (another number, possibly the same bytes at
/// the same address) gets a fresh verdict.
#[test]
fn one_verdict_per_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "net.tfstate", &sg_state());
    let config = config(&[("prod-network", &path)], json!({"refresh_interval": 1}));
    let mut capture = start(&[source_sg_record()], 1000, 0, &config).expect("tfdrift starts");

    let first = next(&mut capture).expect("an event");
    let before = extract_all(&mut capture, &first, &TEN);
    assert_eq!(before.bool("tfdrift.managed"), Some(true));
    assert_eq!(
        before.str("tfdrift.resource_address").as_deref(),
        Some(SG_ADDRESS)
    );
    assert_eq!(before.list("tfdrift.resource_addresses"), [SG_ADDRESS]);
    assert_eq!(
        before.str("tfdrift.resource_type").as_deref(),
        Some("aws_security_group")
    );
    assert_eq!(before.str("tfdrift.resource_id").as_deref(), Some(SG_ID));
    assert_eq!(before.str("tfdrift.module").as_deref(), Some("module.net"));
    assert_eq!(before.str("tfdrift.state").as_deref(), Some("prod-network"));
    assert_eq!(before.u64("tfdrift.state_serial"), Some(SERIAL));
    assert_eq!(before.bool("tfdrift.drift"), Some(true));
    assert_eq!(before.str("tfdrift.attr[name]").as_deref(), Some("web"));
    // Asking again, in another order, gives the same answers.
    let mut reversed = TEN;
    reversed.reverse();
    let again = extract_all(&mut capture, &first, &reversed);
    for name in TEN {
        assert_eq!(before.get(name), again.get(name), "{name}");
    }

    // The group moves to another address in a new serial of the state.
    let moved = state_v4(
        SERIAL + 1,
        vec![resource(
            "",
            "aws_security_group",
            "moved_web",
            json!({"id": SG_ID, "name": "web-moved", "ingress": []}),
        )],
    );
    write_state(dir.path(), "net.tfstate", &moved);
    std::thread::sleep(Duration::from_millis(3500));

    // Same event: same verdict, the attribute read from the same snapshot.
    let cached = extract_all(&mut capture, &first, &TEN);
    for name in TEN {
        assert_eq!(
            before.get(name),
            cached.get(name),
            "{name} changed within one event"
        );
    }

    // Next events: a fresh verdict against the new state.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = next(&mut capture).expect("more events");
        let r = extract_all(&mut capture, &event, &TEN);
        if r.str("tfdrift.resource_address").as_deref() == Some("aws_security_group.moved_web") {
            assert_eq!(r.u64("tfdrift.state_serial"), Some(SERIAL + 1));
            assert_eq!(r.str("tfdrift.module").as_deref(), Some(""));
            assert_eq!(r.str("tfdrift.attr[name]").as_deref(), Some("web-moved"));
            assert_eq!(
                r.list("tfdrift.resource_addresses"),
                ["aws_security_group.moved_web"]
            );
            break;
        }
        assert_eq!(
            r.str("tfdrift.resource_address").as_deref(),
            Some(SG_ADDRESS)
        );
        assert!(Instant::now() < deadline, "the new state was never seen");
        std::thread::sleep(Duration::from_millis(50));
    }
}
