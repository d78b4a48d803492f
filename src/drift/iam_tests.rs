//! IAM policy calls against IAM member, binding and policy instances, with the request, delta and metadata
//! shapes of the real audit entries in `tests/data/gcp-audit/` (line numbers count from 0).

use super::*;
use crate::state::{Index, Limits, Scope, parse};
use std::borrow::Cow;

const PANTHER: &str = include_str!("../../tests/data/gcp-audit/panther-analysis.jsonl");
const FORSETI: &str = include_str!("../../tests/data/gcp-audit/forseti-real-time-enforcer.jsonl");

/// A console call made of a real entry's `protoPayload` members.
struct Entry {
    service: String,
    method: String,
    project: Option<String>,
    request: Option<Value>,
    response: Option<Value>,
    /// `metadata`, else the legacy `serviceData`, as the record view maps them.
    details: Option<Value>,
    resource_name: Option<String>,
}

impl Entry {
    fn real(file: &str, line: usize) -> Entry {
        let entry: Value =
            serde_json::from_str(file.lines().nth(line).expect("line")).expect("json");
        let payload = &entry["protoPayload"];
        let member = |name: &str| payload.get(name).filter(|v| !v.is_null()).cloned();
        Entry {
            service: payload["serviceName"].as_str().expect("service").to_owned(),
            method: payload["methodName"].as_str().expect("method").to_owned(),
            project: entry["resource"]["labels"]["project_id"]
                .as_str()
                .map(str::to_owned),
            request: member("request"),
            response: member("response"),
            details: member("metadata")
                .filter(|m| m.as_object().is_none_or(|o| !o.is_empty()))
                .or_else(|| member("serviceData")),
            resource_name: payload["resourceName"].as_str().map(str::to_owned),
        }
    }
}

impl Call for Entry {
    fn service(&self) -> &str {
        &self.service
    }
    fn operation(&self) -> &str {
        &self.method
    }
    fn read_only(&self) -> bool {
        false
    }
    fn failed(&self) -> bool {
        false
    }
    fn time(&self) -> Option<&str> {
        None
    }
    fn account_id(&self) -> Option<&str> {
        self.project.as_deref()
    }
    fn region(&self) -> Option<&str> {
        None
    }
    fn section_value(&self, section: Section) -> Option<Value> {
        match section {
            Section::Request => self.request.clone(),
            Section::Response => self.response.clone(),
            Section::Details => self.details.clone(),
            Section::Name => self.resource_name.clone().map(Value::String),
            _ => None,
        }
    }
    fn principals(&self) -> impl Iterator<Item = &str> {
        std::iter::once("user:someone@example.com")
    }
    fn terraform_client(&self) -> bool {
        false
    }
    fn actor_kind(&self) -> ActorKind {
        ActorKind::Console
    }
    fn actor(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed("someone@example.com"))
    }
}

/// A state of `(type, name, attributes)` resources, indexed with the embedded catalog's keys.
fn snapshot(resources: &[(&str, &str, Value)]) -> Snapshot {
    let resources: Vec<Value> = resources
        .iter()
        .map(|(t, n, attrs)| {
            serde_json::json!({"mode": "managed", "type": t, "name": n,
                "instances": [{"attributes": attrs}]})
        })
        .collect();
    let text = serde_json::json!({"version": 4, "resources": resources}).to_string();
    let mut state = parse("iam", text.as_bytes(), &Limits::default()).expect("state");
    state.scope = Scope::infer(&state);
    let catalog = Catalog::embedded().expect("catalog");
    Snapshot {
        index: Index::build(vec![Arc::new(state)], catalog),
        loaded_at: Vec::new(),
    }
}

fn engine() -> Engine {
    static CATALOG: std::sync::LazyLock<Arc<Catalog>> =
        std::sync::LazyLock::new(|| Arc::new(Catalog::with_extensions(&[]).expect("catalog")));
    Engine::new(CATALOG.clone(), Policy::default())
}

fn member(project: &str, role: &str, member: &str, condition: Value) -> Value {
    serde_json::json!({"id": format!("{project}/{role}/{member}"), "project": project, "role": role,
        "member": member, "condition": condition, "etag": "x"})
}

fn binding(project: &str, role: &str, members: &[&str]) -> Value {
    serde_json::json!({"id": format!("{project}/{role}"), "project": project, "role": role,
        "members": members, "condition": [], "etag": "x"})
}

/// Panther line 27: the console's project `SetIamPolicy`, whose `serviceData.policyDelta` adds `roles/viewer`
/// for `user:username@gmail.com`.
fn project_call() -> Entry {
    let call = Entry::real(PANTHER, 27);
    assert_eq!(call.method, "SetIamPolicy");
    assert_eq!(
        call.details.as_ref().expect("delta")["policyDelta"]["bindingDeltas"][0]["member"],
        "user:username@gmail.com"
    );
    call
}

/// The same entry with its delta replaced by one item.
fn with_delta(mut call: Entry, action: &str, role: &str, member: &str) -> Entry {
    let details = call.details.as_mut().expect("details");
    details["policyDelta"]["bindingDeltas"] =
        serde_json::json!([{"action": action, "role": role, "member": member}]);
    call
}

const PROJECT: &str = "western-verve-123456";

#[test]
fn adding_a_held_grant_is_not_drift() {
    let snap = snapshot(&[(
        "google_project_iam_member",
        "viewer",
        member(
            PROJECT,
            "roles/viewer",
            "user:username@gmail.com",
            Value::Array(vec![]),
        ),
    )]);
    let verdict = engine().evaluate_call(&project_call(), &snap);
    assert_eq!(verdict.managed, Some(true));
    assert!(
        verdict.changed_attrs.is_empty(),
        "{:?}",
        verdict.changed_attrs
    );
    assert!(verdict.uncompared.is_empty(), "{:?}", verdict.uncompared);
    assert_eq!(verdict.touched_attrs, ["member"]);
    assert!(!verdict.drift);
    assert_eq!(verdict.diff.text(), None);
}

#[test]
fn removing_a_held_member_makes_it_vanish() {
    let snap = snapshot(&[
        (
            "google_project_iam_member",
            "owner",
            member(
                PROJECT,
                "roles/owner",
                "user:test@runpanther.com",
                Value::Array(vec![]),
            ),
        ),
        (
            "google_project_iam_member",
            "viewer",
            member(
                PROJECT,
                "roles/viewer",
                "user:username@gmail.com",
                Value::Array(vec![]),
            ),
        ),
    ]);
    let call = with_delta(
        project_call(),
        "REMOVE",
        "roles/viewer",
        "user:username@gmail.com",
    );
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["member"]);
    assert_eq!(
        verdict.primary().expect("primary").address,
        "google_project_iam_member.viewer"
    );
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/viewer: -user:username@gmail.com")
    );
    let diff: Value = serde_json::from_str(verdict.diff.text().expect("diff")).expect("json");
    assert_eq!(
        diff,
        serde_json::json!({"member": {"vanished": [{"role": "roles/viewer",
            "member": "user:username@gmail.com", "address": "google_project_iam_member.viewer"}]}})
    );
}

#[test]
fn removing_what_no_state_holds_is_not_drift() {
    let snap = snapshot(&[(
        "google_project_iam_binding",
        "owners",
        binding(PROJECT, "roles/owner", &["user:test@runpanther.com"]),
    )]);
    // Removing a member the binding does not list brings the project closer to the state.
    let call = with_delta(
        project_call(),
        "REMOVE",
        "roles/owner",
        "user:mallory@example.com",
    );
    let verdict = engine().evaluate_call(&call, &snap);
    assert_eq!(verdict.managed, Some(true));
    assert!(!verdict.drift, "{:?}", verdict.diff.text());
}

#[test]
fn a_console_owner_grant_on_a_managed_project_appears() {
    // Terraform manages one viewer grant only: an owner added beside it is still drift.
    let snap = snapshot(&[(
        "google_project_iam_member",
        "viewer",
        member(
            PROJECT,
            "roles/viewer",
            "user:username@gmail.com",
            Value::Array(vec![]),
        ),
    )]);
    let call = with_delta(
        project_call(),
        "ADD",
        "roles/owner",
        "user:mallory@example.com",
    );
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["member"]);
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/owner: +user:mallory@example.com")
    );
    let diff: Value = serde_json::from_str(verdict.diff.text().expect("diff")).expect("json");
    assert_eq!(
        diff["member"]["appeared"][0],
        serde_json::json!({"role": "roles/owner", "member": "user:mallory@example.com"})
    );
}

#[test]
fn an_added_member_of_an_authoritative_binding_is_reported_on_the_binding() {
    // Panther line 23: Cloud Storage's `policyDelta` adding `allUsers` as object viewer.
    let call = Entry::real(PANTHER, 23);
    assert_eq!(call.method, "storage.setIamPermissions");
    assert!(call.request.is_none());
    let snap = snapshot(&[
        (
            "google_storage_bucket_iam_member",
            "admin",
            serde_json::json!({"id": "b/roles/storage.admin/user:a@example.com", "bucket": "b/jacks-test-bucket",
                "role": "roles/storage.admin", "member": "user:a@example.com", "condition": []}),
        ),
        (
            "google_storage_bucket_iam_binding",
            "viewers",
            serde_json::json!({"id": "b/jacks-test-bucket/roles/storage.objectViewer",
                "bucket": "jacks-test-bucket", "role": "roles/storage.objectViewer",
                "members": ["group:readers@example.com"], "condition": []}),
        ),
    ]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["members"]);
    assert_eq!(
        verdict.primary().expect("primary").address,
        "google_storage_bucket_iam_binding.viewers"
    );
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/storage.objectViewer: +allUsers")
    );
}

#[test]
fn conditions_compare_by_expression_and_title() {
    let condition = serde_json::json!([{"expression": "request.time < timestamp(\"2030-01-01T00:00:00Z\")",
        "title": "expires", "description": "until 2030"}]);
    let snap = snapshot(&[(
        "google_project_iam_member",
        "temp",
        member(
            PROJECT,
            "roles/viewer",
            "user:username@gmail.com",
            condition,
        ),
    )]);
    // The unconditional grant is another grant: removing it removes nothing held.
    let call = with_delta(
        project_call(),
        "REMOVE",
        "roles/viewer",
        "user:username@gmail.com",
    );
    assert!(!engine().evaluate_call(&call, &snap).drift);
    // The same condition, described otherwise, is the held grant.
    let mut call = with_delta(
        project_call(),
        "REMOVE",
        "roles/viewer",
        "user:username@gmail.com",
    );
    call.details.as_mut().expect("details")["policyDelta"]["bindingDeltas"][0]["condition"] = serde_json::json!(
        {"expression": "request.time < timestamp(\"2030-01-01T00:00:00Z\")", "title": "expires"});
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/viewer (if expires): -user:username@gmail.com")
    );
}

/// Panther line 35: a KMS key's `SetIamPolicy` with only the whole new policy, in `request.policy`.
fn kms_call() -> Entry {
    let call = Entry::real(PANTHER, 35);
    assert_eq!(call.service, "cloudkms.googleapis.com");
    assert!(call.details.is_none() && call.response.is_none());
    call
}

const KEY: &str = "projects/test-project/locations/us/keyRings/test-keyring/cryptoKeys/test-key";
const GCS_AGENT: &str =
    "serviceAccount:service-111111111111-gs-project-accounts.iam.gserviceaccount.com";

fn key_binding(role: &str, members: &[&str]) -> Value {
    serde_json::json!({"id": format!("{KEY}/{role}"), "crypto_key_id": KEY, "role": role,
        "members": members, "condition": []})
}

#[test]
fn a_whole_policy_loses_held_grants_and_gains_on_authoritative_roles_only() {
    let snap = snapshot(&[
        (
            "google_kms_crypto_key_iam_binding",
            "users",
            key_binding(
                "roles/cloudkms.cryptoKeyEncrypterDecrypter",
                &["serviceAccount:app@test-project.iam.gserviceaccount.com"],
            ),
        ),
        (
            "google_kms_crypto_key_iam_member",
            "admin",
            serde_json::json!({"id": "m", "crypto_key_id": KEY, "role": "roles/cloudkms.admin",
                "member": "group:kms-admins@example.com", "condition": []}),
        ),
    ]);
    let verdict = engine().evaluate_call(&kms_call(), &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["members", "member"]);
    // The binding's role gained the storage agent and lost the app; the admin grant is gone.
    assert_eq!(
        verdict.diff.summary(),
        Some(
            "roles/cloudkms.cryptoKeyEncrypterDecrypter: -serviceAccount:app@test-project.iam.gserviceaccount.com \
             +serviceAccount:service-111111111111-gs-project-accounts.iam.gserviceaccount.com; \
             roles/cloudkms.admin: -group:kms-admins@example.com"
        )
    );
    assert_eq!(
        verdict.primary().expect("primary").address,
        "google_kms_crypto_key_iam_binding.users"
    );
}

#[test]
fn a_whole_policy_keeping_every_held_grant_is_not_drift_despite_unmanaged_grants() {
    // Terraform holds the agent's grant as a member: the policy's other grants are not its business.
    let mut call = kms_call();
    call.request.as_mut().expect("request")["policy"]["bindings"]
        .as_array_mut()
        .expect("bindings")
        .push(serde_json::json!({"role": "roles/viewer", "members": ["user:someone@example.com"]}));
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_member",
        "agent",
        serde_json::json!({"id": "m", "crypto_key_id": KEY,
            "role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "member": GCS_AGENT, "condition": []}),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert_eq!(verdict.managed, Some(true));
    assert!(!verdict.drift, "{:?}", verdict.diff.text());
    // The same grant under a binding of the role it already lists: nothing changed either.
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_binding",
        "users",
        key_binding("roles/cloudkms.cryptoKeyEncrypterDecrypter", &[GCS_AGENT]),
    )]);
    assert!(!engine().evaluate_call(&call, &snap).drift);
}

/// Forseti line 2: a Cloud Function's `SetIamPolicy` opening it to `allUsers`, against an `*_iam_policy`.
#[test]
fn an_iam_policy_instance_is_authoritative_for_every_role() {
    let call = Entry::real(FORSETI, 2);
    let function = "projects/example-project/locations/us-central1/functions/example_function";
    let policy_data = serde_json::json!({"bindings": [{"role": "roles/cloudfunctions.invoker",
        "members": ["serviceAccount:caller@example-project.iam.gserviceaccount.com"]}]})
    .to_string();
    let snap = snapshot(&[(
        "google_cloudfunctions_function_iam_policy",
        "fn",
        serde_json::json!({"id": function, "cloud_function": function, "project": "example-project",
            "region": "us-central1", "policy_data": policy_data, "etag": "x"}),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["policy_data"]);
    assert_eq!(
        verdict.diff.summary(),
        Some(
            "roles/cloudfunctions.invoker: -serviceAccount:caller@example-project.iam.gserviceaccount.com \
             +allUsers"
        )
    );
    // The policy Terraform holds, as it is: nothing changed.
    let same = serde_json::json!({"bindings": [{"role": "roles/cloudfunctions.invoker", "members": ["allUsers"]}]})
        .to_string();
    let snap = snapshot(&[(
        "google_cloudfunctions_function_iam_policy",
        "fn",
        serde_json::json!({"id": function, "cloud_function": function, "policy_data": same}),
    )]);
    assert!(!engine().evaluate_call(&call, &snap).drift);
}

#[test]
fn a_policy_data_that_is_not_a_policy_counts_as_a_change() {
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_policy",
        "key",
        serde_json::json!({"id": KEY, "crypto_key_id": KEY, "policy_data": "{not json"}),
    )]);
    let verdict = engine().evaluate_call(&kms_call(), &snap);
    assert!(verdict.drift);
    assert!(verdict.changed_attrs.contains(&"policy_data".to_owned()));
    let diff: Value = serde_json::from_str(verdict.diff.text().expect("diff")).expect("json");
    assert_eq!(
        diff["policy_data"]["reason"],
        "policy_data is not a readable IAM policy"
    );
}

#[test]
fn an_entry_without_a_readable_policy_counts_as_a_change() {
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_binding",
        "users",
        key_binding("roles/cloudkms.cryptoKeyEncrypterDecrypter", &[GCS_AGENT]),
    )]);
    // No request: neither a delta nor a policy.
    let mut call = kms_call();
    call.request = None;
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["policy"]);
    // Bindings that are not a list.
    let mut call = kms_call();
    call.request.as_mut().expect("request")["policy"]["bindings"] = Value::String("x".into());
    assert!(engine().evaluate_call(&call, &snap).drift);
    // A delta whose action is neither ADD nor REMOVE.
    let snap = snapshot(&[(
        "google_project_iam_member",
        "viewer",
        member(
            PROJECT,
            "roles/viewer",
            "user:username@gmail.com",
            Value::Array(vec![]),
        ),
    )]);
    let call = with_delta(
        project_call(),
        "UPSERT",
        "roles/viewer",
        "user:username@gmail.com",
    );
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["policy"]);
}

#[test]
fn an_empty_policy_removes_every_held_grant() {
    // Panther line 42: IAP's `SetIamPolicy` whose policy has no bindings: proto3 JSON leaves the empty list
    // out, and the response agrees (etag only).
    let iap = Entry::real(PANTHER, 42);
    let empty = iap.request.as_ref().expect("request")["policy"].clone();
    assert!(empty.get("bindings").is_none());
    let mut call = kms_call();
    call.request.as_mut().expect("request")["policy"] = empty;
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_binding",
        "users",
        key_binding("roles/cloudkms.cryptoKeyEncrypterDecrypter", &[GCS_AGENT]),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(verdict.changed_attrs, ["members"]);
    assert_eq!(
        verdict.diff.summary(),
        Some(
            "roles/cloudkms.cryptoKeyEncrypterDecrypter: \
             -serviceAccount:service-111111111111-gs-project-accounts.iam.gserviceaccount.com"
        )
    );
}

#[test]
fn bigquery_dataset_acl_policy_is_the_new_policy() {
    // Forseti line 1: BigQuery logs the dataset's whole new policy in `metadata.datasetChange`.
    let call = Entry::real(FORSETI, 1);
    assert!(call.request.is_none());
    let snap = snapshot(&[(
        "google_bigquery_dataset_iam_binding",
        "viewers",
        serde_json::json!({"id": "projects/fake-project/datasets/wooo/roles/bigquery.dataViewer",
            "dataset_id": "wooo", "project": "fake-project", "role": "roles/bigquery.dataViewer",
            "members": ["projectViewer:fake-project"], "condition": []}),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/bigquery.dataViewer: +allUsers")
    );
}

#[test]
fn a_whole_policy_on_a_resource_whose_grants_no_state_holds_cannot_be_compared() {
    let call = Entry::real(FORSETI, 2);
    let function = "projects/example-project/locations/us-central1/functions/example_function";
    let snap = snapshot(&[(
        "google_cloudfunctions_function",
        "fn",
        serde_json::json!({"id": function, "name": "example_function", "project": "example-project",
            "region": "us-central1"}),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert_eq!(verdict.managed, Some(true));
    assert_eq!(verdict.uncompared, ["policy"]);
    assert!(verdict.drift);
}

#[test]
fn an_audit_config_change_is_not_compared() {
    let snap = snapshot(&[(
        "google_project_iam_member",
        "viewer",
        member(
            PROJECT,
            "roles/viewer",
            "user:username@gmail.com",
            Value::Array(vec![]),
        ),
    )]);
    let mut call = project_call();
    call.details.as_mut().expect("details")["policyDelta"]["auditConfigDeltas"] = serde_json::json!(
        [{"action": "REMOVE", "service": "allServices", "logType": "DATA_READ"}]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert_eq!(verdict.uncompared, ["audit_configs"]);
    assert!(verdict.drift);
}

#[test]
fn a_hostile_policy_of_100000_members_stays_linear() {
    const N: usize = 100_000;
    let members: Vec<String> = (0..N).map(|i| format!("user:u{i}@example.com")).collect();
    let mut call = kms_call();
    call.request.as_mut().expect("request")["policy"]["bindings"] = serde_json::json!([
        {"role": "roles/cloudkms.cryptoKeyEncrypterDecrypter", "members": members}]);
    // The state holds half of them under the authoritative binding.
    let held: Vec<&str> = members[..N / 2].iter().map(String::as_str).collect();
    let snap = snapshot(&[(
        "google_kms_crypto_key_iam_binding",
        "users",
        key_binding("roles/cloudkms.cryptoKeyEncrypterDecrypter", &held),
    )]);
    let started = std::time::Instant::now();
    let verdict = engine().evaluate_call(&call, &snap);
    // A pairwise scan would be 5e9 comparisons; a linear pass is well under this even unoptimised.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(verdict.drift);
    let diff: Value = serde_json::from_str(verdict.diff.text().expect("diff")).expect("json");
    assert_eq!(
        diff["members"]["appeared"]
            .as_array()
            .expect("listed")
            .len(),
        iam::MAX_LISTED
    );
    assert_eq!(diff["omitted_grants"], N / 2 - iam::MAX_LISTED);
    assert!(verdict.diff.summary().expect("summary").len() <= SUMMARY_MAX_BYTES);
}

#[test]
fn a_grant_only_a_sensitive_instance_holds_is_redacted() {
    // A state that marks the member sensitive: the grant the new policy lacks is shown redacted.
    let text = serde_json::json!({"version": 4, "resources": [{"mode": "managed",
        "type": "google_kms_crypto_key_iam_member", "name": "admin", "instances": [{
            "attributes": {"id": "m", "crypto_key_id": KEY, "role": "roles/cloudkms.admin",
                "member": "group:secret-admins@example.com", "condition": []},
            "sensitive_attributes": [[{"type": "get_attr", "value": "member"}]]}]}]})
    .to_string();
    let mut state = parse("iam", text.as_bytes(), &Limits::default()).expect("state");
    state.scope = Scope::infer(&state);
    let snap = Snapshot {
        index: Index::build(vec![Arc::new(state)], Catalog::embedded().expect("catalog")),
        loaded_at: Vec::new(),
    };
    let verdict = engine().evaluate_call(&kms_call(), &snap);
    assert!(verdict.drift);
    let text = verdict.diff.text().expect("diff");
    assert!(!text.contains("secret-admins"), "{text}");
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/cloudkms.admin: -<redacted>")
    );
}

#[test]
fn cloud_run_and_bigtable_whole_policies_against_members_and_bindings() {
    // Panther line 5: Cloud Run v1 grants `roles/run.invoker` to one user, the whole policy in the request.
    let call = Entry::real(PANTHER, 5);
    let service =
        |attrs: Value| snapshot(&[("google_cloud_run_service_iam_member", "invoker", attrs)]);
    let held = service(
        serde_json::json!({"id": "v1/cloudrun-exfil/roles/run.invoker/user:some.user@company.com",
        "service": "cloudrun-exfil", "location": "us-west1", "project": "some-project",
        "role": "roles/run.invoker", "member": "user:some.user@company.com", "condition": []}),
    );
    let verdict = engine().evaluate_call(&call, &held);
    assert_eq!(verdict.managed, Some(true));
    assert!(!verdict.drift, "{:?}", verdict.diff.text());
    let other = service(
        serde_json::json!({"id": "x", "service": "cloudrun-exfil", "location": "us-west1",
        "project": "some-project", "role": "roles/run.invoker", "member": "serviceAccount:ci@some-project.iam.gserviceaccount.com",
        "condition": []}),
    );
    let verdict = engine().evaluate_call(&call, &other);
    assert!(verdict.drift);
    // The held invoker vanished; the new user is not reported, no binding or policy manages the role.
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/run.invoker: -serviceAccount:ci@some-project.iam.gserviceaccount.com")
    );

    // Forseti line 0: Bigtable opens an instance to `group:allUsers`, against a binding of that role.
    let call = Entry::real(FORSETI, 0);
    let snap = snapshot(&[(
        "google_bigtable_instance_iam_binding",
        "viewers",
        serde_json::json!({"id": "projects/example-project/instances/example-instance/roles/bigtable.viewer",
            "instance": "example-instance", "project": "example-project", "role": "roles/bigtable.viewer",
            "members": ["group:analysts@example.com"], "condition": []}),
    )]);
    let verdict = engine().evaluate_call(&call, &snap);
    assert!(verdict.drift);
    assert_eq!(
        verdict.diff.summary(),
        Some("roles/bigtable.viewer: -group:analysts@example.com +group:allUsers")
    );
}
