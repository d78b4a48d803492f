//! Google Cloud states end to end through the parser, the index and the scope: hand-written format 4
//! states whose attributes are the ones the google provider documents for each type (ids as its import
//! formats give them, `self_link` as the Compute API returns it).

use std::sync::Arc;

use super::{Index, KeyTable, Limits, Scope, State, parse};

/// Terraform 1.9 wrote it: `sensitive_attributes` is there (empty where the provider marks nothing).
const PROD: &str = r#"{
  "version": 4, "terraform_version": "1.9.8", "serial": 12, "lineage": "0b6f1c7e-prod",
  "resources": [
    {"mode": "managed", "type": "google_compute_instance", "name": "vm",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 6, "sensitive_attributes": [], "attributes": {
       "id": "projects/acme-prod/zones/europe-west1-b/instances/vm-1",
       "instance_id": "4567890123456789012",
       "machine_type": "e2-medium",
       "name": "vm-1",
       "project": "acme-prod",
       "self_link": "https://www.googleapis.com/compute/v1/projects/acme-prod/zones/europe-west1-b/instances/vm-1",
       "zone": "europe-west1-b"}}]},
    {"mode": "managed", "type": "google_compute_firewall", "name": "ssh",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 1, "sensitive_attributes": [], "attributes": {
       "allow": [{"ports": ["22"], "protocol": "tcp"}],
       "direction": "INGRESS",
       "id": "projects/acme-prod/global/firewalls/allow-ssh",
       "name": "allow-ssh",
       "network": "https://www.googleapis.com/compute/v1/projects/acme-prod/global/networks/default",
       "project": "acme-prod",
       "self_link": "https://www.googleapis.com/compute/v1/projects/acme-prod/global/firewalls/allow-ssh",
       "source_ranges": ["35.235.240.0/20"]}}]},
    {"mode": "managed", "type": "google_storage_bucket", "name": "logs",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 3, "sensitive_attributes": [], "attributes": {
       "id": "acme-prod-logs",
       "location": "EU",
       "name": "acme-prod-logs",
       "project": "acme-prod",
       "project_number": 123456789012,
       "self_link": "https://www.googleapis.com/storage/v1/b/acme-prod-logs",
       "storage_class": "STANDARD",
       "uniform_bucket_level_access": true,
       "url": "gs://acme-prod-logs"}}]},
    {"mode": "managed", "type": "google_service_account", "name": "ci",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 0, "sensitive_attributes": [], "attributes": {
       "account_id": "ci-deployer",
       "display_name": "CI deployer",
       "email": "ci-deployer@acme-prod.iam.gserviceaccount.com",
       "id": "projects/acme-prod/serviceAccounts/ci-deployer@acme-prod.iam.gserviceaccount.com",
       "member": "serviceAccount:ci-deployer@acme-prod.iam.gserviceaccount.com",
       "name": "projects/acme-prod/serviceAccounts/ci-deployer@acme-prod.iam.gserviceaccount.com",
       "project": "acme-prod",
       "unique_id": "104563298877665544332"}}]},
    {"mode": "managed", "type": "google_pubsub_topic", "name": "events",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 0, "sensitive_attributes": [], "attributes": {
       "id": "projects/acme-prod/topics/events",
       "kms_key_name": "",
       "name": "events",
       "project": "acme-prod"}}]},
    {"mode": "managed", "type": "google_project_iam_member", "name": "viewer",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 0, "sensitive_attributes": [], "attributes": {
       "condition": [],
       "etag": "BwYd2a1x3Zk=",
       "id": "acme-prod/roles/viewer/user:alice@example.com",
       "member": "user:alice@example.com",
       "project": "acme-prod",
       "role": "roles/viewer"}}]},
    {"mode": "managed", "type": "google_kms_crypto_key", "name": "state",
     "provider": "provider[\"registry.terraform.io/hashicorp/google\"]",
     "instances": [{"schema_version": 1, "sensitive_attributes": [], "attributes": {
       "id": "projects/acme-prod/locations/europe-west1/keyRings/terraform/cryptoKeys/state",
       "key_ring": "projects/acme-prod/locations/europe-west1/keyRings/terraform",
       "name": "state",
       "purpose": "ENCRYPT_DECRYPT",
       "rotation_period": "7776000s"}}]}
  ]}"#;

/// Another project's state, holding resources of the same names.
const DEV: &str = r#"{
  "version": 4, "terraform_version": "1.9.8", "serial": 3, "lineage": "5d2e-dev",
  "resources": [
    {"mode": "managed", "type": "google_compute_instance", "name": "vm",
     "instances": [{"attributes": {
       "id": "projects/acme-dev/zones/europe-west1-c/instances/vm-1",
       "instance_id": "1111111111111111111",
       "name": "vm-1",
       "project": "acme-dev",
       "self_link": "https://www.googleapis.com/compute/v1/projects/acme-dev/zones/europe-west1-c/instances/vm-1",
       "zone": "europe-west1-c"}}]},
    {"mode": "managed", "type": "google_pubsub_topic", "name": "events",
     "instances": [{"attributes": {
       "id": "projects/acme-dev/topics/events", "name": "events", "project": "acme-dev"}}]}
  ]}"#;

fn state(name: &str, text: &str) -> Arc<State> {
    match parse(name, text.as_bytes(), &Limits::default()) {
        Ok(mut s) => {
            s.scope = Scope::infer(&s);
            Arc::new(s)
        }
        Err(e) => panic!("{e}"),
    }
}

/// What the catalog gives a type it has no `[keys]` for.
fn catalog_defaults() -> KeyTable {
    KeyTable::new(&["id", "arn"])
}

fn found(index: &Index, resource_type: &str, value: &str) -> Vec<String> {
    index
        .lookup(resource_type, value)
        .map(|h| format!("{}:{}:{}", h.state.name, h.instance.address, h.key))
        .collect()
}

#[test]
fn google_resources_are_found_by_each_kind_of_key() {
    let index = Index::build(
        vec![state("prod", PROD), state("dev", DEV)],
        &catalog_defaults(),
    );
    let vm = "google_compute_instance";
    // The id, which is the path an audit log's `resourceName` gives.
    assert_eq!(
        found(
            &index,
            vm,
            "projects/acme-prod/zones/europe-west1-b/instances/vm-1"
        ),
        ["prod:google_compute_instance.vm:id"]
    );
    // The self link, whole and as the path inside it.
    assert_eq!(
        found(
            &index,
            vm,
            "https://www.googleapis.com/compute/v1/projects/acme-dev/zones/europe-west1-c/instances/vm-1"
        ),
        ["dev:google_compute_instance.vm:self_link"]
    );
    let firewall = "google_compute_firewall";
    assert_eq!(
        found(
            &index,
            firewall,
            "projects/acme-prod/global/firewalls/allow-ssh"
        ),
        ["prod:google_compute_firewall.ssh:id"]
    );
    assert_eq!(
        found(
            &index,
            firewall,
            "https://www.googleapis.com/compute/v1/projects/acme-prod/global/firewalls/allow-ssh"
        ),
        ["prod:google_compute_firewall.ssh:self_link"]
    );
    // The server-assigned number a compute entry's `resource.labels.instance_id` gives.
    assert_eq!(
        found(&index, vm, "4567890123456789012"),
        ["prod:google_compute_instance.vm:instance_id"]
    );
    // The name: both projects' instances (the scope tells them apart).
    assert_eq!(
        found(&index, vm, "vm-1"),
        [
            "prod:google_compute_instance.vm:name",
            "dev:google_compute_instance.vm:name"
        ]
    );
    // A bucket's id is its name; its storage URL names no project and adds no path.
    assert_eq!(
        found(&index, "google_storage_bucket", "acme-prod-logs"),
        ["prod:google_storage_bucket.logs:id"]
    );
    assert!(found(&index, "google_storage_bucket", "b/acme-prod-logs").is_empty());
    // A service account by its path, e-mail (`resource.labels.email_id`) and unique id.
    let sa = "google_service_account";
    assert_eq!(
        found(
            &index,
            sa,
            "projects/acme-prod/serviceAccounts/ci-deployer@acme-prod.iam.gserviceaccount.com"
        ),
        ["prod:google_service_account.ci:id"]
    );
    assert_eq!(
        found(&index, sa, "ci-deployer@acme-prod.iam.gserviceaccount.com"),
        ["prod:google_service_account.ci:email"]
    );
    assert_eq!(
        found(&index, sa, "104563298877665544332"),
        ["prod:google_service_account.ci:unique_id"]
    );
    // Not an identity: `account_id` is only the e-mail's first part, `member` a grantee's form.
    assert!(found(&index, sa, "ci-deployer").is_empty());
    assert!(
        found(
            &index,
            sa,
            "serviceAccount:ci-deployer@acme-prod.iam.gserviceaccount.com"
        )
        .is_empty()
    );
    assert_eq!(
        found(
            &index,
            "google_pubsub_topic",
            "projects/acme-dev/topics/events"
        ),
        ["dev:google_pubsub_topic.events:id"]
    );
    assert_eq!(
        found(
            &index,
            "google_project_iam_member",
            "acme-prod/roles/viewer/user:alice@example.com"
        ),
        ["prod:google_project_iam_member.viewer:id"]
    );
    // A grantee is no key of the binding: many bindings name one member.
    assert!(
        found(
            &index,
            "google_project_iam_member",
            "user:alice@example.com"
        )
        .is_empty()
    );
    assert_eq!(
        found(
            &index,
            "google_kms_crypto_key",
            "projects/acme-prod/locations/europe-west1/keyRings/terraform/cryptoKeys/state"
        ),
        ["prod:google_kms_crypto_key.state:id"]
    );
    // The key ring's path is the parent's, not the key's.
    assert!(
        found(
            &index,
            "google_kms_crypto_key",
            "projects/acme-prod/locations/europe-west1/keyRings/terraform"
        )
        .is_empty()
    );
    // A Google type never finds another type's values, nor an AWS lookup a Google resource.
    assert!(found(&index, "google_pubsub_topic", "vm-1").is_empty());
    assert!(index.lookup_arn("vm-1").next().is_none());
}

#[test]
fn the_catalogs_keys_come_first_and_aws_types_keep_theirs() {
    let keys = KeyTable::new(&["id", "arn"]).with_type("google_storage_bucket", &["name"]);
    let index = Index::build(vec![state("prod", PROD)], &keys);
    // `name` first (the catalog's), then `id`, which holds the same value.
    let hit = index
        .lookup("google_storage_bucket", "acme-prod-logs")
        .next()
        .expect("bucket");
    assert_eq!(hit.key, "name");
    assert!(hit.holds("id"));
    assert!(!hit.holds("self_link"));

    // An AWS type is indexed under exactly the keys given: no `name`.
    let aws = parse(
        "aws",
        br#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_sqs_queue", "name": "q",
            "instances": [{"attributes": {"id": "https://sqs/q", "name": "q", "self_link": "https://x/projects/p/q"}}]}]}"#,
        &Limits::default(),
    )
    .expect("state");
    let index = Index::build(vec![Arc::new(aws)], &catalog_defaults());
    assert_eq!(index.lookup("aws_sqs_queue", "https://sqs/q").count(), 1);
    assert_eq!(index.lookup("aws_sqs_queue", "q").count(), 0);
    assert_eq!(index.lookup("aws_sqs_queue", "projects/p/q").count(), 0);
}

#[test]
fn a_states_project_is_inferred_from_its_google_resources() {
    let prod = state("prod", PROD);
    assert_eq!(
        prod.scope,
        Scope {
            account: None,
            region: None,
            project: Some("acme-prod".into()),
        }
    );
    // The crypto key names no `project`: its id's path does.
    let key = &prod.instances[6];
    assert_eq!(key.known.account.as_deref(), Some("acme-prod"));
    assert_eq!(key.known.region.as_deref(), Some("europe-west1"));
    // Zone attribute, global path, multi-region attribute, nothing.
    assert_eq!(
        prod.instances[0].known.region.as_deref(),
        Some("europe-west1-b")
    );
    assert_eq!(prod.instances[1].known.region.as_deref(), Some(""));
    assert_eq!(prod.instances[2].known.region.as_deref(), Some("EU"));
    assert_eq!(prod.instances[4].known.region.as_deref(), None);

    // Two projects: no one project for the state, each instance keeps its own.
    let both = format!(
        r#"{{"version": 4, "resources": [{}, {}]}}"#,
        resource_of(PROD, 4),
        resource_of(DEV, 1)
    );
    let both = state("both", &both);
    assert_eq!(both.scope.project, None);
    assert_eq!(both.instances[1].known.account.as_deref(), Some("acme-dev"));

    // A state with both clouds: the account and region come from the ARNs alone, the project from the
    // Google resources; a Google location never becomes the AWS region.
    let mixed = state(
        "mixed",
        r#"{"version": 4, "resources": [
          {"mode": "managed", "type": "aws_sqs_queue", "name": "q", "instances": [{"attributes": {
            "id": "https://sqs.eu-west-1.amazonaws.com/111111111111/q",
            "arn": "arn:aws:sqs:eu-west-1:111111111111:q"}}]},
          {"mode": "managed", "type": "google_compute_instance", "name": "vm", "instances": [{"attributes": {
            "id": "projects/acme-prod/zones/us-central1-a/instances/vm", "project": "acme-prod",
            "zone": "us-central1-a"}}]}]}"#,
    );
    assert_eq!(
        mixed.scope,
        Scope {
            account: Some("111111111111".into()),
            region: Some("eu-west-1".into()),
            project: Some("acme-prod".into()),
        }
    );
    // Project numbers and wildcards name no comparable project.
    let numbered = state(
        "n",
        r#"{"version": 4, "resources": [{"mode": "managed", "type": "google_project_service",
          "name": "s", "instances": [{"attributes": {"id": "123456789012/compute.googleapis.com",
          "project": "123456789012", "service": "compute.googleapis.com"}}]}]}"#,
    );
    assert_eq!(numbered.scope.project, None);
    assert_eq!(numbered.instances[0].known.account, None);
}

/// The `n`th resource of a state's text, as JSON text.
fn resource_of(text: &str, n: usize) -> String {
    let value: serde_json::Value = serde_json::from_str(text).expect("state JSON");
    value["resources"][n].to_string()
}

#[test]
fn a_call_matches_in_its_project_and_location() {
    let prod = state("prod", PROD);
    let scope = &prod.scope;
    let [vm, firewall, bucket, sa, topic, binding, key] = &prod.instances[..] else {
        panic!("seven instances");
    };
    let accepts =
        |i, project: &str, location: Option<&str>| scope.accepts(i, Some(project), location);
    // Project: the instance's own.
    for i in [vm, firewall, bucket, sa, topic, binding, key] {
        assert!(accepts(i, "acme-prod", None), "{}", i.address);
        assert!(!accepts(i, "acme-dev", None), "{}", i.address);
    }
    // A call naming its project by number, or none, is not compared.
    assert!(accepts(vm, "123456789012", Some("europe-west1-b")));
    assert!(scope.accepts(vm, None, None));
    // Zones and regions: the gcpaudit plugin's `gcp.location` is the zone's region.
    assert!(accepts(vm, "acme-prod", Some("europe-west1-b")));
    assert!(accepts(vm, "acme-prod", Some("europe-west1")));
    assert!(!accepts(vm, "acme-prod", Some("europe-west1-c")));
    assert!(!accepts(vm, "acme-prod", Some("us-central1")));
    assert!(accepts(key, "acme-prod", Some("europe-west1")));
    assert!(!accepts(key, "acme-prod", Some("us-central1")));
    // A multi-region is not compared with a region (no table of which regions it spans): never excluding.
    assert!(accepts(key, "acme-prod", Some("us")));
    // Global resources, multi-regions and resources with no location match everywhere.
    assert!(accepts(firewall, "acme-prod", Some("us-central1")));
    assert!(accepts(bucket, "acme-prod", Some("eu")));
    assert!(accepts(bucket, "acme-prod", Some("europe-west1")));
    assert!(accepts(topic, "acme-prod", Some("us-east1")));
    assert!(accepts(vm, "acme-prod", Some("global")));
}

#[test]
fn a_pinned_project_scopes_what_names_none() {
    // `google_storage_bucket_object` has no `project` attribute and its id is no path.
    let objects = state(
        "objects",
        r#"{"version": 4, "resources": [{"mode": "managed", "type": "google_storage_bucket_object",
          "name": "o", "instances": [{"attributes": {"bucket": "acme-prod-logs",
          "id": "acme-prod-logs-readme.txt", "name": "readme.txt",
          "self_link": "https://www.googleapis.com/storage/v1/b/acme-prod-logs/o/readme.txt"}}]}]}"#,
    );
    assert_eq!(objects.scope, Scope::default());
    let object = &objects.instances[0];
    assert!(objects.scope.accepts(object, Some("anyone"), None));
    let pinned = Scope {
        project: Some("acme-prod".into()),
        ..Scope::default()
    };
    assert!(pinned.accepts(object, Some("acme-prod"), None));
    assert!(!pinned.accepts(object, Some("acme-dev"), None));
    // A pinned AWS account does not scope Google resources, nor a pinned project AWS ones.
    let account = Scope {
        account: Some("111111111111".into()),
        ..Scope::default()
    };
    assert!(account.accepts(object, Some("acme-dev"), None));
    let aws = parse(
        "aws",
        br#"{"version": 4, "resources": [{"mode": "managed", "type": "aws_security_group_rule",
          "name": "r", "instances": [{"attributes": {"id": "sgr-1"}}]}]}"#,
        &Limits::default(),
    )
    .expect("state");
    assert!(pinned.accepts(&aws.instances[0], Some("222222222222"), None));
    // A resource that names its own project is judged by it, whatever the pin.
    let prod = state("prod", PROD);
    let dev_pin = Scope {
        project: Some("acme-dev".into()),
        ..Scope::default()
    };
    assert!(dev_pin.accepts(&prod.instances[4], Some("acme-prod"), None));
}

#[test]
fn a_secret_of_a_state_older_than_1_8_is_redacted_by_the_provider_table() {
    // Terraform 1.5 marks nothing sensitive; the provider marks `boot_disk.disk_encryption_key_raw`
    // (a customer-supplied key) and `google_sql_user.password`.
    let old = parse(
        "old",
        br#"{"version": 4, "terraform_version": "1.5.7", "serial": 1, "resources": [
          {"mode": "managed", "type": "google_compute_instance", "name": "vm", "instances": [{
            "schema_version": 6, "sensitive_attributes": [], "attributes": {
              "id": "projects/acme-prod/zones/europe-west1-b/instances/vm-1", "name": "vm-1",
              "boot_disk": [{"auto_delete": true, "device_name": "persistent-disk-0",
                "disk_encryption_key_raw": "SGVsbG8gZnJvbSBHb29nbGUgQ2xvdWQgUGxhdGZvcm0=",
                "disk_encryption_key_sha256": "WZa8AM2o6k3Md5Wdzd8ubzLKldlItm2g0Sh8AAmKFu0=",
                "source": "https://www.googleapis.com/compute/v1/projects/acme-prod/zones/europe-west1-b/disks/vm-1"}],
              "metadata_startup_script": "echo hi"}}]},
          {"mode": "managed", "type": "google_sql_user", "name": "app", "instances": [{
            "schema_version": 1, "attributes": {"id": "app//acme-db", "instance": "acme-db",
              "name": "app", "password": "hunter2", "project": "acme-prod"}}]}]}"#,
        &Limits::default(),
    )
    .expect("state");
    let vm = &old.instances[0];
    assert!(vm.sensitive_attrs.is_empty());
    // Nothing in the name looks secret: only the provider's table hides it.
    assert!(!super::name_looks_secret("disk_encryption_key_raw"));
    assert!(vm.is_sensitive("boot_disk.disk_encryption_key_raw"));
    assert!(vm.is_sensitive("boot_disk.0.disk_encryption_key_raw"));
    // The whole block holds it, so showing the block would show the key.
    assert!(vm.is_sensitive("boot_disk"));
    // A known unmarked secret of the type (startup scripts carry credentials).
    assert!(vm.is_sensitive("metadata_startup_script"));
    assert!(!vm.is_sensitive("boot_disk.device_name"));
    assert!(!vm.is_sensitive("name"));
    let user = &old.instances[1];
    assert!(user.is_sensitive("password"));
    assert!(!user.is_sensitive("instance"));
}
