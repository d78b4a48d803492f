//! The embedded catalog: it loads, it covers what tfdrift promises, and every entry passes the check against
//! the AWS API models (botocore) and the AWS provider schema (`scripts/check_catalog.py`).

use std::process::Command;
use tfdrift::catalog::Catalog;
use tfdrift::state::KeySpec;

#[test]
fn embedded_catalog_loads_and_covers_the_core_services() {
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    assert!(
        catalog.calls().len() >= 80,
        "{} calls",
        catalog.calls().len()
    );
    for source in [
        "ec2.amazonaws.com",
        "iam.amazonaws.com",
        "s3.amazonaws.com",
        "rds.amazonaws.com",
        "lambda.amazonaws.com",
        "kms.amazonaws.com",
        "cloudtrail.amazonaws.com",
    ] {
        assert!(
            catalog.event_sources().contains(&source),
            "{source} missing"
        );
    }
    // Real event names, as CloudTrail writes them.
    for (source, name, resource_type) in [
        (
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            "aws_lambda_function",
        ),
        (
            "lambda.amazonaws.com",
            "UpdateFunctionCode20150331v2",
            "aws_lambda_function",
        ),
        (
            "ec2.amazonaws.com",
            "AuthorizeSecurityGroupIngress",
            "aws_security_group",
        ),
        (
            "s3.amazonaws.com",
            "PutBucketPolicy",
            "aws_s3_bucket_policy",
        ),
        (
            "iam.amazonaws.com",
            "AttachRolePolicy",
            "aws_iam_role_policy_attachment",
        ),
    ] {
        let call = catalog
            .lookup(source, name)
            .unwrap_or_else(|| panic!("{source} {name} is not in the catalog"));
        assert!(
            call.targets
                .iter()
                .any(|t| &*t.resource_type == resource_type),
            "{name} does not target {resource_type}"
        );
    }
    // An event name of one service is not found under another.
    assert!(
        catalog
            .lookup("kms.amazonaws.com", "UpdateFunctionConfiguration20150331v2")
            .is_none()
    );
    // Name keys reach the index (a role is found by its name, a DB instance by its identifier).
    let role_keys: Vec<&str> = catalog.keys("aws_iam_role").iter().map(|k| &**k).collect();
    assert!(role_keys.contains(&"name"), "{role_keys:?}");
    let db_keys: Vec<&str> = catalog
        .keys("aws_db_instance")
        .iter()
        .map(|k| &**k)
        .collect();
    assert!(db_keys.contains(&"identifier"), "{db_keys:?}");
}

/// The breadth the catalog promises: calls, services, resource types.
#[test]
fn catalog_breadth() {
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    let services: std::collections::HashSet<&str> =
        catalog.calls().iter().map(|c| &*c.service).collect();
    assert!(
        catalog.calls().len() >= 700,
        "{} calls",
        catalog.calls().len()
    );
    assert!(services.len() >= 40, "{} services", services.len());
    assert!(
        catalog.resource_types().len() >= 300,
        "{} resource types",
        catalog.resource_types().len()
    );
}

/// docs/COVERAGE.md is generated from the catalog and the AWS API models and must be current.
#[test]
fn coverage_report_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("python3")
        .args([format!("{root}/scripts/coverage.py"), "--check".into()])
        .env("TFDRIFT_REPLAY", env!("CARGO_BIN_EXE_tfdrift-replay"))
        .output()
        .expect("python3 runs (scripts/test.sh sets up what the tests need)");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs the catalog check. It needs python3 and botocore (`scripts/test.sh` installs it).
#[test]
fn catalog_passes_the_check_against_aws_models_and_provider_schema() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("python3")
        .arg(format!("{root}/scripts/check_catalog.py"))
        .env("TFDRIFT_REPLAY", env!("CARGO_BIN_EXE_tfdrift-replay"))
        .output()
        .expect("python3 runs (scripts/test.sh sets up what the tests need)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/check_catalog.py failed (is botocore installed? scripts/test.sh installs it):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("resolved in the API model"), "{stdout}");
}

/// Every catalog file, the Google Cloud ones included, loads on its own (a file the library refuses names
/// itself), and the Google Cloud part has the breadth it promises.
#[test]
fn every_catalog_file_loads_and_gcp_breadth() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("catalog");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("catalog/ is readable")
        .map(|e| e.expect("a catalog entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a catalog file is text");
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if let Err(e) = Catalog::from_files(&[(name.as_str(), text.as_str())]) {
            panic!("{name} does not load: {e}");
        }
    }
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    let gcp: Vec<_> = catalog
        .calls()
        .iter()
        .filter(|c| c.event_source.ends_with(".googleapis.com"))
        .collect();
    let services: std::collections::HashSet<&str> = gcp.iter().map(|c| &*c.service).collect();
    assert!(gcp.len() >= 400, "{} GCP methods", gcp.len());
    assert!(
        services.len() >= 15,
        "{} GCP services: {services:?}",
        services.len()
    );
    let gcp_files = files
        .iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("gcp-"))
        .count();
    assert_eq!(
        gcp_files,
        services.len(),
        "one gcp-<service>.toml per service"
    );
    // Audit names as the record view presents them, each with its own resource type first.
    for (source, name, resource_type) in [
        (
            "compute.googleapis.com",
            "compute.instances.insert",
            "google_compute_instance",
        ),
        (
            "compute.googleapis.com",
            "compute.firewalls.patch",
            "google_compute_firewall",
        ),
        (
            "iam.googleapis.com",
            "google.iam.admin.v1.CreateServiceAccountKey",
            "google_service_account_key",
        ),
        (
            "cloudresourcemanager.googleapis.com",
            "SetIamPolicy",
            "google_project_iam_policy",
        ),
        (
            "storage.googleapis.com",
            "storage.setIamPermissions",
            "google_storage_bucket_iam_policy",
        ),
        (
            "cloudsql.googleapis.com",
            "cloudsql.instances.create",
            "google_sql_database_instance",
        ),
        (
            "logging.googleapis.com",
            "google.logging.v2.ConfigServiceV2.CreateSink",
            "google_logging_project_sink",
        ),
        (
            "cloudkms.googleapis.com",
            "CreateCryptoKey",
            "google_kms_crypto_key",
        ),
    ] {
        let call = catalog
            .lookup(source, name)
            .unwrap_or_else(|| panic!("{source} {name} is not in the catalog"));
        assert_eq!(&*call.targets[0].resource_type, resource_type, "{name}");
    }
    // Compute is named without the version prefix the audit log carries; the record view strips it.
    assert!(
        catalog
            .lookup("compute.googleapis.com", "v1.compute.instances.insert")
            .is_none()
    );
}

/// Runs the GCP catalog check. It needs python3 and google-api-python-client (`scripts/test.sh` installs it).
#[test]
fn gcp_catalog_passes_the_check_against_discovery_documents_and_provider_schema() {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = Command::new("python3")
        .arg(format!("{root}/scripts/check_catalog_gcp.py"))
        .env("TFDRIFT_REPLAY", env!("CARGO_BIN_EXE_tfdrift-replay"))
        .output()
        .expect("python3 runs (scripts/test.sh sets up what the tests need)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "scripts/check_catalog_gcp.py failed (is google-api-python-client installed? scripts/test.sh installs it):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("identity:"), "{stdout}");
}

/// The identity rate of the GCP catalog, measured with the library's own path evaluation (the checker measures it
/// in Python): over the successful Admin Activity entries of `tests/data/gcp-audit/` whose method the catalog
/// covers (an operation's `last` entry left out: a change is attributed to its `first`), the share on which a
/// target's identifier paths find an identifier.
#[test]
fn gcp_catalog_finds_the_identifier_of_real_audit_entries() {
    use tfdrift::catalog::Section;
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/gcp-audit");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/data/gcp-audit is readable")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let (mut covered, mut found, mut misses) = (0usize, 0usize, Vec::new());
    for file in &files {
        let text = std::fs::read_to_string(file).expect("a jsonl file is text");
        for (n, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let entry: serde_json::Value =
                serde_json::from_str(line).expect("one JSON entry a line");
            let activity = entry["logName"]
                .as_str()
                .is_some_and(|l| l.ends_with("cloudaudit.googleapis.com%2Factivity"));
            let proto = &entry["protoPayload"];
            let failed = proto["status"]["code"].as_i64().is_some_and(|c| c != 0);
            let op = &entry["operation"];
            let last_only = op["last"] == true && op["first"] != true;
            if !activity || failed || last_only {
                continue;
            }
            let source = proto["serviceName"].as_str().unwrap_or("");
            let mut name = proto["methodName"].as_str().unwrap_or("");
            if source == "compute.googleapis.com" {
                for prefix in ["v1.", "beta.", "alpha."] {
                    name = name.strip_prefix(prefix).unwrap_or(name);
                }
            }
            let calls: Vec<_> = catalog.candidates(source, name).collect();
            if calls.is_empty() {
                continue;
            }
            covered += 1;
            let section = |s: Section| match s {
                Section::Request => Some(&proto["request"]),
                Section::Response => Some(&proto["response"]),
                Section::Details => Some(&proto["metadata"]),
                Section::Name => Some(&proto["resourceName"]),
                _ => None,
            };
            let mut any = false;
            for path in calls
                .iter()
                .flat_map(|c| c.targets.iter())
                .flat_map(|t| t.ids.iter())
            {
                if let Some(root) = path.section().and_then(section) {
                    path.identifiers_from(root, |_| any = true);
                }
            }
            if any {
                found += 1;
            } else {
                misses.push(format!("{}:{} {name}", file.display(), n + 1));
            }
        }
    }
    assert!(covered >= 40, "only {covered} real entries are covered");
    assert!(
        found * 100 >= covered * 98,
        "identifiers found on {found} of {covered} covered entries; missed: {misses:#?}"
    );
}
