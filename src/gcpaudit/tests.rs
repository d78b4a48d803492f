//! The view over every real entry of `tests/data/gcp-audit`, and targeted expectations from Google's documented
//! behaviour (shared/docs/gcp-facts.md).

use super::*;
use crate::call::{Principals, TerraformIdentity};
use serde_json::json;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gcp-audit");

/// Every entry: (file, line, text).
fn entries() -> Vec<(String, usize, String)> {
    let mut files: Vec<_> = std::fs::read_dir(DATA)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (line, text) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            out.push((name.clone(), line, text.to_owned()));
        }
    }
    assert_eq!(out.len(), 157, "the data set's README counts 157 entries");
    out
}

fn entry<'a>(all: &'a [(String, usize, String)], file: &str, line: usize) -> Entry<'a> {
    let (_, _, text) = all
        .iter()
        .find(|(f, l, _)| f.starts_with(file) && *l == line)
        .unwrap_or_else(|| panic!("{file}:{line}"));
    Entry::parse(text.as_bytes()).unwrap()
}

/// The member of a JSON object under exactly this name.
fn member<'v>(value: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    value.as_object().and_then(|o| o.get(key))
}

#[test]
fn every_entry_reads_and_every_answer_is_given() {
    for (file, line, text) in entries() {
        let at = format!("{file}:{line}");
        let entry = Entry::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{at}: {e}"));
        let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
        let payload = member(&reference, "protoPayload");
        // What the plugin's `gcp.serviceName` and `gcp.methodName` show.
        assert_eq!(
            entry.payload.service_name.get(),
            payload
                .and_then(|p| member(p, "serviceName"))
                .and_then(|v| v.as_str()),
            "{at}"
        );
        assert_eq!(
            entry.payload.method_name.get(),
            payload
                .and_then(|p| member(p, "methodName"))
                .and_then(|v| v.as_str()),
            "{at}"
        );
        let _ = (entry.read_only(), entry.failed(), entry.time());
        let _ = (entry.account_id(), entry.region(), entry.operation());
        let _ = (entry.terraform_client(), entry.actor_kind(), entry.actor());
        assert!(entry.principals().all(|p| !p.is_empty()), "{at}");
        for section in [
            Section::Request,
            Section::Response,
            Section::Details,
            Section::Name,
            Section::Resources,
            Section::Region,
            Section::Account,
        ] {
            let _ = entry.section_value(section);
        }
        if let Some(request) = payload.and_then(|p| member(p, "request")) {
            assert_eq!(
                entry.section_value(Section::Request).as_ref(),
                Some(request),
                "{at}"
            );
        }
        // Truncated anywhere, an entry is refused or read; never a panic.
        for cut in (0..text.len()).step_by(97) {
            if text.is_char_boundary(cut) {
                let _ = Entry::parse(&text.as_bytes()[..cut]).map(|e| e.read_only());
            }
        }
    }
}

#[test]
fn only_admin_activity_and_system_event_entries_are_changes_and_an_operation_once() {
    let (mut writes, mut reads) = (0, 0);
    for (file, line, text) in entries() {
        let at = format!("{file}:{line}");
        let entry = Entry::parse(text.as_bytes()).unwrap();
        let reference: serde_json::Value = serde_json::from_str(&text).unwrap();
        let log = member(&reference, "logName")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let operation = member(&reference, "operation");
        let flag = |name| {
            operation
                .and_then(|o| member(o, name))
                .and_then(|v| v.as_bool())
                == Some(true)
        };
        let end_only = flag("last") && !flag("first");
        let expected_write = (log.ends_with("/logs/cloudaudit.googleapis.com%2Factivity")
            || log.ends_with("/logs/cloudaudit.googleapis.com%2Fsystem_event"))
            && !end_only;
        assert_eq!(!entry.read_only(), expected_write, "{at}: {log}");
        if expected_write {
            writes += 1;
        } else {
            reads += 1;
        }
    }
    // 118 Admin Activity + 1 System Event entries, less the 9 forseti ones with the `%0F` typo, the 11 Panther
    // ones whose `logName` is lowercased (not read: absent), and the operations' ends.
    assert!(writes > 60 && reads > 50, "{writes} writes, {reads} reads");
}

#[test]
fn a_long_running_operation_is_judged_from_its_first_entry() {
    let all = entries();
    // plaso: three operations, each `last` then `first`.
    for (last, first) in [(0, 1), (2, 3), (4, 5)] {
        let end = entry(&all, "plaso", last);
        let start = entry(&all, "plaso", first);
        assert_eq!(end.operation.id.get(), start.operation.id.get());
        assert!(end.read_only() && !start.read_only());
    }
    // spotify: Compute's insert, `first` by the Google APIs service agent, then `last`.
    assert!(!entry(&all, "spotify", 0).read_only());
    assert!(entry(&all, "spotify", 1).read_only());
    // KHI: GKE's `last` entries have no caller at all.
    let end = entry(&all, "googlecloudplatform-khi", 2);
    assert!(end.read_only());
    assert_eq!(end.actor(), None);
    assert_eq!(end.actor_kind(), ActorKind::Unknown);
    assert!(!entry(&all, "googlecloudplatform-khi", 3).read_only());
    // k8s.io sets both: one entry, a change.
    let both = entry(&all, "googlecloudplatform-khi", 4);
    assert_eq!(
        (both.operation.first, both.operation.last),
        (Some(true), Some(true))
    );
    assert!(!both.read_only());
    // The `%0F` typo is no Admin Activity log.
    let typo = entry(&all, "forseti", 3);
    assert_eq!(typo.log_kind(), LogKind::Other);
    assert!(typo.read_only());
}

#[test]
fn policy_denials_and_data_access_reads_are_no_change_and_failures_are_failures() {
    let all = entries();
    let denied = entry(&all, "opentelemetry", 2);
    assert_eq!(denied.log_kind(), LogKind::Policy);
    assert!(denied.read_only() && denied.failed());
    let read = entry(&all, "opentelemetry", 1);
    assert_eq!(read.log_kind(), LogKind::DataAccess);
    assert!(
        read.payload
            .permission_types
            .has(PermissionTypes::ADMIN_READ)
    );
    assert!(read.read_only());
    // KHI's CreateCluster by Terraform failed with code 3 (INVALID_ARGUMENT).
    let failed = entry(&all, "googlecloudplatform-khi", 1);
    assert_eq!(failed.payload.status_code, Some(3.0));
    assert!(failed.failed() && !failed.read_only());
    // `status: {}` and `status: {"code": 0}` are successes.
    assert!(!entry(&all, "googlecloudplatform-khi", 4).failed());
    assert!(!entry(&all, "cloud-custodian", 1).failed());
    // A Data Access write of user data is a change.
    let write = Entry::parse(
        br#"{"logName":"projects/p/logs/cloudaudit.googleapis.com%2Fdata_access","protoPayload":{"methodName":"storage.objects.create","authorizationInfo":[{"permission":"storage.objects.create","permissionType":"DATA_WRITE"}]}}"#,
    )
    .unwrap();
    assert!(!write.read_only());
    // A code that is not a number is no failure: the call is judged.
    let odd = Entry::parse(br#"{"protoPayload":{"status":{"code":"7"}}}"#).unwrap();
    assert!(!odd.failed());
}

#[test]
fn panthers_lowercased_keys_read_as_absent_members() {
    let provenance = std::fs::read_to_string(format!("{DATA}/PROVENANCE.tsv")).unwrap();
    let all = entries();
    let mut checked = 0;
    for row in provenance.lines().skip(1) {
        let cols: Vec<_> = row.split('\t').collect();
        if !cols[7].contains("lowercase keys") {
            continue;
        }
        let line: usize = cols[1].parse().unwrap();
        let text = &all
            .iter()
            .find(|(f, l, _)| f == cols[0] && *l == line)
            .unwrap()
            .2;
        let reference: serde_json::Value = serde_json::from_str(text).unwrap();
        let entry = Entry::parse(text.as_bytes()).unwrap();
        for (lower, camel, read) in [
            ("logname", "logName", entry.log_name.get().is_some()),
            ("insertid", "insertId", entry.insert_id.get().is_some()),
            (
                "protopayload",
                "protoPayload",
                entry.payload.method_name.get().is_some(),
            ),
        ] {
            if member(&reference, lower).is_some() && member(&reference, camel).is_none() {
                assert!(!read, "{}:{line}: {lower} read as {camel}", cols[0]);
                checked += 1;
            }
        }
        // Without its `logName`, no entry is a change.
        if member(&reference, "logName").is_none() {
            assert!(entry.read_only(), "{}:{line}", cols[0]);
        }
    }
    assert!(checked >= 11, "{checked}");
}

#[test]
fn the_khi_entries_by_terraform_say_so_and_no_other_does() {
    let all = entries();
    let terraform: Vec<_> = all
        .iter()
        .filter(|(_, _, text)| Entry::parse(text.as_bytes()).unwrap().terraform_client())
        .map(|(f, l, _)| (f.as_str(), *l))
        .collect();
    assert_eq!(
        terraform,
        [
            ("googlecloudplatform-khi.jsonl", 1),
            ("googlecloudplatform-khi.jsonl", 3),
            ("googlecloudplatform-khi.jsonl", 7),
            ("googlecloudplatform-khi.jsonl", 9),
        ]
    );
    for ua in [
        "google-api-go-client/0.5 Terraform/1.7.5 (+https://www.terraform.io) Terraform-Plugin-SDK/2.31.0 terraform-provider-google/5.22.0,gzip(gfe)",
        "Terraform/1.9.0 (+https://www.terraform.io) Terraform-Plugin-SDK/terraform-plugin-framework terraform-provider-google-beta/7.45.0 my-module/1,gzip(gfe),gzip(gfe)",
        "terraform-provider-google-betaX terraform-provider-google/dev7",
    ] {
        assert!(actor::is_terraform_user_agent(ua), "{ua}");
    }
    for ua in [
        // The gcs backend's state reads: Terraform core, not the provider.
        "Terraform/1.9.0 (+https://www.terraform.io),gzip(gfe)",
        "terraform-provider-google",
        "terraform-provider-googleX/1",
        "terraform-provider-google-beta",
        "Terraform-Provider-Google/5.0.0",
        "",
    ] {
        assert!(!actor::is_terraform_user_agent(ua), "{ua}");
    }
}

#[test]
fn kinds_of_caller_in_the_real_entries() {
    let all = entries();
    for (file, line, kind) in [
        // A browser: the Cloud Console.
        ("doitintl", 0, ActorKind::Console),
        ("panther", 23, ActorKind::Console),
        ("forseti", 17, ActorKind::Console),
        // Google: a service agent, the Google APIs service agent (a sanitised name, Google's domain), GKE's
        // robot, a system event.
        ("forseti", 6, ActorKind::GcpService),
        ("spotify", 0, ActorKind::GcpService),
        ("opentelemetry", 1, ActorKind::GcpService),
        ("opentelemetry", 3, ActorKind::GcpService),
        // gcloud, gsutil, kubectl, curl.
        ("panther", 25, ActorKind::SdkOrCli),
        ("panther", 24, ActorKind::SdkOrCli),
        ("panther", 60, ActorKind::SdkOrCli),
        ("forseti", 0, ActorKind::SdkOrCli),
        // Terraform, when the identity does not say so, is a client.
        ("googlecloudplatform-khi", 3, ActorKind::SdkOrCli),
        // Only Google's decorations: nothing tells.
        ("panther", 5, ActorKind::Unknown),
        // A VM's workload with the service account attached to it (the chain starts at Compute's service
        // agent): the project's own code, not Google.
        ("plaso", 7, ActorKind::Unknown),
        // No user agent, no Google principal.
        ("cloud-custodian", 4, ActorKind::Unknown),
    ] {
        assert_eq!(entry(&all, file, line).actor_kind(), kind, "{file}:{line}");
    }
}

#[test]
fn what_google_writes_makes_a_google_service_and_nothing_else_does() {
    for email in [
        "system@google.com",
        "robot@prod.google.com",
        "123456789012@cloudservices.gserviceaccount.com",
        "service-123456789012@gcp-sa-notebooks.iam.gserviceaccount.com",
        "service-8560181848@container-engine-robot.iam.gserviceaccount.com",
        "service-1@cloud-ml.google.com.iam.gserviceaccount.com",
    ] {
        assert!(actor::is_google_principal(email), "{email}");
    }
    for email in [
        // Any project may name an account `service-<digits>`.
        "service-123456789012@my-project.iam.gserviceaccount.com",
        "service-x@gcp-sa-notebooks.iam.gserviceaccount.com",
        "service-@gcp-sa-notebooks.iam.gserviceaccount.com",
        "@cloudservices.gserviceaccount.com",
        "1@cloudservices.gserviceaccount.com.evil.example",
        // Panther's mangled address (no `@`).
        "service-111111111111-gs-project-accounts.iam.gserviceaccount.com",
        "123-compute@developer.gserviceaccount.com",
        "p@appspot.gserviceaccount.com",
        "system@google.com.evil.example",
        "mallory@example.com",
    ] {
        assert!(!actor::is_google_principal(email), "{email}");
    }
    // A user agent that claims Google or Terraform, from a person's account.
    for ua in [
        "Google-Deployment-Manager,gzip(gfe)",
        "GoogleHC/1.0",
        "Managed Infrastructure Mixer Client",
        "google-api-go-client/0.5 cluster-autoscaler,gzip(gfe)",
        "kube-controller-manager/v1.28.14",
        "google-api-go-client/0.5 Terraform/1.7.5 terraform-provider-google/5.22.0,gzip(gfe)",
    ] {
        let text = json!({
            "logName": "projects/p/logs/cloudaudit.googleapis.com%2Factivity",
            "protoPayload": {
                "serviceName": "compute.googleapis.com",
                "methodName": "v1.compute.firewalls.patch",
                "authenticationInfo": {"principalEmail": "mallory@example.com"},
                "requestMetadata": {"callerSuppliedUserAgent": ua},
            },
        })
        .to_string();
        let forged = Entry::parse(text.as_bytes()).unwrap();
        assert_eq!(forged.actor_kind(), ActorKind::SdkOrCli, "{ua}");
        assert!(!forged.read_only());
        let claims_terraform = forged.terraform_client();
        assert_eq!(claims_terraform, ua.contains("terraform-provider-google/"));
        // Terraform only when the configuration trusts the user agent.
        assert_eq!(
            TerraformIdentity::new::<&str>(&[], true).is_terraform(&forged),
            claims_terraform
        );
        assert!(!TerraformIdentity::new::<&str>(&[], false).is_terraform(&forged));
    }
}

#[test]
fn configured_principals_match_the_whole_impersonation_chain() {
    let all = entries();
    // KHI: Terraform in Cloud Composer, a Kubernetes service account through workload identity.
    let khi = entry(&all, "googlecloudplatform-khi", 1);
    let ids: Vec<_> = khi.principals().collect();
    assert_eq!(
        ids,
        [
            "user@example.com",
            "serviceAccount:user@example.com",
            "user@example.com",
            "serviceAccount:project-id.svc.id.goog[composer-2-6-5-airflow-2-7-3-a86c53dd/default]",
            "project-id.svc.id.goog[composer-2-6-5-airflow-2-7-3-a86c53dd/default]",
        ]
    );
    assert!(
        TerraformIdentity::new(&["serviceAccount:*.svc.id.goog[composer-*/default]"], false)
            .is_terraform(&khi)
    );
    // plaso: a person impersonating through two service accounts.
    let chain = entry(&all, "plaso", 6);
    assert!(Principals::new(&["service-account-two@*"]).matches(&chain));
    assert!(
        TerraformIdentity::new(&["service-account-one@fake-project.com"], false)
            .is_terraform(&chain)
    );
    assert!(!Principals::new(&["*@other-project.iam.gserviceaccount.com"]).matches(&chain));
    assert!(!Principals::new::<&str>(&[]).matches(&chain));
}

#[test]
fn the_actor_is_the_person_behind_an_impersonated_account() {
    let all = entries();
    // The chain's first person (here, the first first-party principal that is no service account).
    assert_eq!(
        entry(&all, "plaso", 6).actor().as_deref(),
        Some("service-account-one@fake-project.com")
    );
    // A chain of service accounts only: the caller as authenticated.
    assert_eq!(
        entry(&all, "googlecloudplatform-khi", 1).actor().as_deref(),
        Some("user@example.com")
    );
    assert_eq!(
        entry(&all, "opentelemetry", 3).actor().as_deref(),
        Some("system@google.com")
    );
    // No principalEmail: the subject.
    assert_eq!(
        entry(&all, "panther", 30).actor().as_deref(),
        Some("example_principal_subject")
    );
    let text = br#"{"protoPayload":{"authenticationInfo":{"principalEmail":"ci@p.iam.gserviceaccount.com","serviceAccountDelegationInfo":[{"principalSubject":"user:alice@example.com"},{"firstPartyPrincipal":{"principalEmail":"bob@example.com"}}]}}}"#;
    assert_eq!(
        Entry::parse(text).unwrap().actor().as_deref(),
        Some("alice@example.com")
    );
}

#[test]
fn names_places_and_sections() {
    let all = entries();
    let insert = entry(&all, "plaso", 5);
    assert_eq!(insert.service(), "compute.googleapis.com");
    assert_eq!(insert.method_name(), "beta.compute.instances.insert");
    assert_eq!(insert.operation(), "compute.instances.insert");
    let gke = entry(&all, "googlecloudplatform-khi", 1);
    assert_eq!(
        gke.operation(),
        "google.container.v1.ClusterManager.CreateCluster"
    );
    assert_eq!(gke.account_id(), Some("project-id"));
    // A zonal cluster's location is a zone: its region.
    assert_eq!(gke.region(), Some("us-central1"));
    assert_eq!(
        gke.section_value(Section::Name),
        Some(json!(
            "projects/project-id/zones/us-central1-a/clusters/p0-gke-basic-1"
        ))
    );
    assert_eq!(
        gke.section_value(Section::Account),
        Some(json!("project-id"))
    );
    assert_eq!(gke.section_value(Section::Resources), None);
    // A zone's region.
    let recreate = entry(&all, "opentelemetry", 3);
    assert_eq!(recreate.region(), Some("us-central1"));
    assert_eq!(
        recreate.section_value(Section::Region),
        Some(json!("us-central1"))
    );
    assert!(recreate.section_value(Section::Details).is_some());
    for (labels, region) in [
        (json!({"location": "europe-west1"}), Some("europe-west1")),
        (
            json!({"location": "global", "zone": "us-east1-b"}),
            Some("global"),
        ),
        (
            json!({"region": "asia-east2", "zone": "us-east1-b"}),
            Some("asia-east2"),
        ),
        (json!({"zone": "us-east1-b"}), Some("us-east1")),
        (json!({"location": "us"}), Some("us")),
        (json!({"location": "my-place-x"}), Some("my-place-x")),
        (json!({"location": ""}), None),
    ] {
        let text = json!({"resource": {"labels": labels}}).to_string();
        assert_eq!(
            Entry::parse(text.as_bytes()).unwrap().region(),
            region,
            "{text}"
        );
    }
    // Names that only `v1.` and the like prefix are not Compute's.
    for (method, operation) in [
        ("v1.compute.firewalls.delete", "compute.firewalls.delete"),
        ("alpha.compute.disks.insert", "compute.disks.insert"),
        ("v1.other.thing", "v1.other.thing"),
        (
            "compute.instances.repair.recreateInstance",
            "compute.instances.repair.recreateInstance",
        ),
        ("v1.", "v1."),
    ] {
        let text = json!({"protoPayload": {"methodName": method}}).to_string();
        assert_eq!(
            Entry::parse(text.as_bytes()).unwrap().operation(),
            operation
        );
    }
    // The project from the resource's name, then from the log's; Cloud Storage's `_` is none.
    for (entry_json, project) in [
        (
            json!({"protoPayload": {"resourceName": "projects/p1/zones/z/instances/i"}}),
            Some("p1"),
        ),
        (
            json!({"protoPayload": {"resourceName": "projects/p2"}}),
            Some("p2"),
        ),
        (
            json!({"logName": "projects/p3/logs/x", "protoPayload": {"resourceName": "projects/_/buckets/b"}}),
            Some("p3"),
        ),
        (json!({"logName": "organizations/1/logs/x"}), None),
    ] {
        let text = entry_json.to_string();
        assert_eq!(
            Entry::parse(text.as_bytes()).unwrap().account_id(),
            project,
            "{text}"
        );
    }
    // `metadata`, else the legacy `serviceData`.
    let legacy = Entry::parse(br#"{"protoPayload":{"serviceData":{"policyDelta":{}}}}"#).unwrap();
    assert_eq!(
        legacy.section_value(Section::Details),
        Some(json!({"policyDelta": {}}))
    );
}

#[test]
fn read_as_the_plugin_reads_it_first_member_wins_escapes_decoded_wrong_types_absent() {
    let text = r#"{"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload":{"methodName":"v1.compute.firewalls.patch","authenticationInfo":{"principalEmail":"alice@example.com","principalEmail":"system@google.com"},
          "requestMetadata":{"callerSuppliedUserAgent":"curl/8","callerSuppliedUserAgent":"terraform-provider-google/5"},
          "request":{"a":1,"a":2},"status":{"code":0,"code":7}},
        "protoPayload":{"methodName":"v1.compute.firewalls.get"},
        "logName":"projects/p/logs/cloudaudit.googleapis.com%2Fdata_access",
        "\u0072esource":{"labels":{"project_id":"p9"}}}"#;
    let entry = Entry::parse(text.as_bytes()).unwrap();
    assert_eq!(entry.operation(), "compute.firewalls.patch");
    assert!(!entry.read_only() && !entry.failed());
    assert_eq!(entry.actor_kind(), ActorKind::SdkOrCli);
    assert!(!entry.terraform_client());
    assert_eq!(entry.section_value(Section::Request), Some(json!({"a": 1})));
    assert_eq!(entry.account_id(), Some("p9"));
    // A first member of the wrong type still wins, and reads as absent.
    let entry = Entry::parse(
        br#"{"protoPayload":{"authenticationInfo":{"principalEmail":5,"principalEmail":"system@google.com"},"serviceName":null}}"#,
    )
    .unwrap();
    assert_eq!(entry.payload.authentication.principal_email.get(), None);
    assert_ne!(entry.actor_kind(), ActorKind::GcpService);
    assert_eq!(entry.service(), "");
}

#[test]
fn a_malformed_part_hides_only_itself_and_long_chains_are_cut() {
    let text = br#"{"protoPayload":{"authenticationInfo":{"principalEmail":"a@example.com","serviceAccountDelegationInfo":[{"principalSubject":"user:b@example.com"},1 2]},"methodName":"SetIamPolicy"},"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity"}"#;
    let entry = Entry::parse(text).unwrap();
    assert_eq!(entry.payload.authentication.delegation.len(), 1);
    assert_eq!(entry.method_name(), "SetIamPolicy");
    assert!(!entry.read_only());
    let chain = vec![r#"{"principalSubject":"user:x@example.com"}"#; MAX_DELEGATES + 5].join(",");
    let text = format!(
        r#"{{"protoPayload":{{"authenticationInfo":{{"serviceAccountDelegationInfo":[{chain}]}}}}}}"#
    );
    let entry = Entry::parse(text.as_bytes()).unwrap();
    assert_eq!(entry.payload.authentication.delegation.len(), MAX_DELEGATES);
    assert!(entry.payload.authentication.delegation_truncated);
    for bad in [&b""[..], b"[]", b"{", b"{\"logName\":", b"\0", b"not json"] {
        assert!(Entry::parse(bad).is_err(), "{bad:?}");
    }
    assert!(Entry::parse(b"{}\0\0").is_ok());
}

#[test]
fn the_fuzz_regressions_read_without_a_panic() {
    // fuzz/regressions/gcpaudit_entry: hostile inputs kept for the `gcpaudit_entry` fuzz target.
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fuzz/regressions/gcpaudit_entry"
    );
    let mut count = 0;
    for file in std::fs::read_dir(dir).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        if let Ok(entry) = Entry::parse(&bytes) {
            let _ = (
                entry.read_only(),
                entry.failed(),
                entry.actor_kind(),
                entry.actor(),
            );
            let _ = (
                entry.account_id(),
                entry.region(),
                entry.principals().count(),
            );
            for section in [
                Section::Request,
                Section::Response,
                Section::Details,
                Section::Name,
            ] {
                let _ = entry.section_value(section);
            }
        }
        count += 1;
    }
    assert!(count >= 4);
    // What they hold, read as the plugin reads it.
    let text = std::fs::read(format!("{dir}/duplicated-members-and-escaped-names")).unwrap();
    let entry = Entry::parse(&text).unwrap();
    assert_eq!(entry.operation(), "compute.firewalls.patch");
    assert_eq!(entry.actor().as_deref(), Some("a@example.com"));
    assert_ne!(entry.actor_kind(), ActorKind::GcpService);
    let text = std::fs::read(format!("{dir}/wrong-types")).unwrap();
    let entry = Entry::parse(&text).unwrap();
    assert!(entry.read_only() && !entry.failed());
    assert_eq!((entry.operation.first, entry.operation.last), (None, None));
}
