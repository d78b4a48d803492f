//! The plugin on the `gcp_auditlog` source (Falco's gcpaudit plugin, id 12): real Cloud Audit Logs entries
//! through the C ABI, beside the gcpaudit stand-in of tests/support. Who called, as Google's documented fields
//! tell it (shared/docs/gcp-facts.md); a refused or read-only call is never drift. The GCP catalog is built
//! elsewhere: nothing here expects a catalog match.

use tfdrift_test_support as common;

use common::*;
use serde_json::json;
use tfdrift::call::Call;
use tfdrift::gcpaudit::Entry;

const FIELDS: &[&str] = &[
    "tfdrift.actor",
    "tfdrift.actor_kind",
    "tfdrift.by_terraform",
    "tfdrift.drift",
    "tfdrift.managed",
    "tfdrift.unmanaged",
];

/// A configuration over one small state (a GKE cluster and an instance named as in the entries).
fn gcp_config(dir: &std::path::Path, extra: serde_json::Value) -> String {
    let state = state_v4(
        1,
        vec![
            resource(
                "",
                "google_container_cluster",
                "main",
                json!({"id": "projects/project-id/locations/us-central1-a/clusters/p0-gke-basic-1",
                       "name": "p0-gke-basic-1", "location": "us-central1-a", "project": "project-id"}),
            ),
            resource(
                "",
                "google_compute_instance",
                "vm",
                json!({"id": "projects/fake-project/zones/us-central1-b/instances/fake-compute-instance",
                       "name": "fake-compute-instance", "zone": "us-central1-b", "project": "fake-project"}),
            ),
        ],
    );
    let path = write_state(dir, "gcp.tfstate", &state);
    config(&[("gcp", &path)], extra)
}

#[test]
fn every_real_entry_is_read_on_the_gcp_source_and_never_drift_when_refused_or_read() {
    let entries = gcp_audit_entries();
    assert_eq!(entries.len(), 157);
    let texts: Vec<String> = entries.iter().map(|e| e.text.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let fields = run_gcp(&texts, &gcp_config(dir.path(), json!({})), FIELDS);
    let mut judged = 0;
    for (entry, fields) in entries.iter().zip(&fields) {
        let at = format!("{}:{}", entry.file, entry.line);
        let view = Entry::parse(entry.text.as_bytes()).unwrap();
        // The GCP view answered, not CloudTrail's: the same actor and kind as the view reads.
        assert_eq!(
            fields.str("tfdrift.actor"),
            view.actor().map(|a| a.into_owned()),
            "{at}"
        );
        let kind = if view.terraform_client() {
            "terraform"
        } else {
            view.actor_kind().as_str()
        };
        assert_eq!(
            fields.str("tfdrift.actor_kind").as_deref(),
            Some(kind),
            "{at}"
        );
        assert_eq!(
            fields.bool("tfdrift.by_terraform"),
            Some(view.terraform_client()),
            "{at}"
        );
        if view.read_only() || view.failed() {
            assert_ne!(fields.bool("tfdrift.drift"), Some(true), "{at}");
            assert_ne!(fields.bool("tfdrift.unmanaged"), Some(true), "{at}");
        } else {
            judged += 1;
        }
    }
    assert!(judged > 50, "{judged} entries judged as changes");
}

#[test]
fn callers_as_google_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // KHI: Terraform (google provider 5.22.0) run by Cloud Composer, as the decorated user agent says.
        (
            "googlecloudplatform-khi",
            3,
            "user@example.com",
            "terraform",
            true,
        ),
        (
            "googlecloudplatform-khi",
            7,
            "user@example.com",
            "terraform",
            true,
        ),
        // KHI: GKE's end of the operation, with no caller at all.
        ("googlecloudplatform-khi", 2, "", "unknown", false),
        // The Cloud Console (a browser's agent).
        ("doitintl-iris3", 0, "xxx@example.com", "console", false),
        // Google: a system event, a service agent, GKE's robot.
        (
            "opentelemetry",
            3,
            "system@google.com",
            "gcp_service",
            false,
        ),
        (
            "forseti",
            6,
            "service-000000000000@gcp-sa-notebooks.iam.gserviceaccount.com",
            "gcp_service",
            false,
        ),
        (
            "opentelemetry",
            1,
            "service-8560181848@container-engine-robot.iam.gserviceaccount.com",
            "gcp_service",
            false,
        ),
        // gcloud.
        ("panther", 35, "denethor@lotr.com", "sdk_or_cli", false),
        // Impersonation through two service accounts, by gcloud: the chain's first person.
        (
            "plaso",
            6,
            "service-account-one@fake-project.com",
            "sdk_or_cli",
            false,
        ),
    ];
    let texts: Vec<String> = cases
        .iter()
        .map(|(file, line, ..)| gcp_audit_entry(file, *line))
        .collect();
    let fields = run_gcp(&texts, &gcp_config(dir.path(), json!({})), FIELDS);
    for ((file, line, actor, kind, terraform), fields) in cases.iter().zip(&fields) {
        let at = format!("{file}:{line}");
        assert_eq!(
            fields.str("tfdrift.actor").unwrap_or_default(),
            *actor,
            "{at}"
        );
        assert_eq!(
            fields.str("tfdrift.actor_kind").as_deref(),
            Some(*kind),
            "{at}"
        );
        assert_eq!(
            fields.bool("tfdrift.by_terraform"),
            Some(*terraform),
            "{at}"
        );
    }
}

#[test]
fn terraforms_user_agent_counts_only_when_trusted_and_principals_match_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let khi = vec![gcp_audit_entry("googlecloudplatform-khi", 7)];
    // Untrusted user agents: Terraform only by its principals.
    let untrusted = json!({"terraform": {"trust_user_agent": false}});
    let fields = run_gcp(&khi, &gcp_config(dir.path(), untrusted), FIELDS);
    assert_eq!(fields[0].bool("tfdrift.by_terraform"), Some(false));
    assert_eq!(
        fields[0].str("tfdrift.actor_kind").as_deref(),
        Some("sdk_or_cli")
    );
    // The Kubernetes service account Composer runs Terraform as, through workload identity.
    let by_chain = json!({"terraform": {"trust_user_agent": false,
        "principals": ["serviceAccount:your-project-id.svc.id.goog[composer-*/default]"]}});
    let fields = run_gcp(&khi, &gcp_config(dir.path(), by_chain), FIELDS);
    assert_eq!(fields[0].bool("tfdrift.by_terraform"), Some(true));
    assert_eq!(
        fields[0].str("tfdrift.actor_kind").as_deref(),
        Some("terraform")
    );
    // A forged agent from a person's account: Terraform only if trusted, never Google.
    let forged = json!({
        "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "serviceName": "compute.googleapis.com",
            "methodName": "v1.compute.firewalls.patch",
            "authenticationInfo": {"principalEmail": "mallory@example.com"},
            "requestMetadata": {"callerSuppliedUserAgent":
                "Google-Deployment-Manager terraform-provider-google/5.0.0,gzip(gfe)"},
        },
    })
    .to_string();
    for (trust, by_terraform, kind) in [(true, true, "terraform"), (false, false, "sdk_or_cli")] {
        let config = json!({"terraform": {"trust_user_agent": trust}});
        let fields = run_gcp(
            std::slice::from_ref(&forged),
            &gcp_config(dir.path(), config),
            FIELDS,
        );
        assert_eq!(fields[0].bool("tfdrift.by_terraform"), Some(by_terraform));
        assert_eq!(fields[0].str("tfdrift.actor_kind").as_deref(), Some(kind));
        assert_eq!(
            fields[0].str("tfdrift.actor").as_deref(),
            Some("mallory@example.com")
        );
    }
}

#[test]
fn what_is_no_entry_gets_no_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let texts = vec!["not json".to_owned(), "[1]".to_owned(), "{}".to_owned()];
    let fields = run_gcp(&texts, &gcp_config(dir.path(), json!({})), FIELDS);
    assert!(fields[0].is_none("tfdrift.actor_kind"));
    assert!(fields[1].is_none("tfdrift.actor_kind"));
    // An empty object is an entry that says nothing: read, no change.
    assert_eq!(
        fields[2].str("tfdrift.actor_kind").as_deref(),
        Some("unknown")
    );
    assert_ne!(fields[2].bool("tfdrift.drift"), Some(true));
}
