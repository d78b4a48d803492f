//! The import id forms (`catalog/import-ids/forms.toml`): every type they name is a resource type of the
//! provider's schema (`tests/data/*-provider-schema.json`) and one the catalog's calls target, so that no form
//! is misspelt or dead; and the forms cover the resource types that the create calls of the most common
//! services report as unmanaged.

use serde_json::Value;
use std::collections::BTreeSet;
use tfdrift::catalog::Catalog;
use tfdrift::catalog::import_forms::ImportForms;

fn schema_types(file: &str) -> BTreeSet<String> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    schema["resource_types"]
        .as_object()
        .unwrap_or_else(|| panic!("{path} has no resource_types"))
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_form_names_a_type_of_the_provider_schema_and_of_the_catalog() {
    let forms = ImportForms::embedded().expect("the forms load");
    let aws = schema_types("aws-provider-schema.json");
    let google = schema_types("google-provider-schema.json");
    let catalog = Catalog::embedded().expect("the catalog loads");
    let targeted: BTreeSet<&str> = catalog.resource_types().into_iter().collect();
    let mut count = 0;
    for form in forms.iter() {
        let t = &*form.resource_type;
        let schema = if t.starts_with("google_") {
            &google
        } else {
            &aws
        };
        assert!(
            schema.contains(t),
            "{t} is not a resource type of the provider's schema"
        );
        assert!(targeted.contains(t), "no call of the catalog targets {t}");
        count += 1;
    }
    assert!(count >= 60, "{count} forms");
    // Loaded with the catalog: the targets of that type carry the form.
    let user = catalog
        .calls()
        .iter()
        .find(|c| &*c.name == "CreateUser" && &*c.event_source == "iam.amazonaws.com")
        .expect("CreateUser");
    assert_eq!(
        user.targets[0].import_form.as_deref().map(|f| &*f.template),
        Some("{id}")
    );
}

#[test]
fn the_common_services_creates_have_a_form() {
    // The own resource type of each create call of these services' catalog files, where the provider documents
    // an import by something a create record carries.
    let forms = ImportForms::embedded().expect("the forms load");
    for resource_type in [
        "aws_iam_user",
        "aws_iam_role",
        "aws_iam_group",
        "aws_iam_policy",
        "aws_iam_instance_profile",
        "aws_iam_access_key",
        "aws_iam_role_policy",
        "aws_iam_role_policy_attachment",
        "aws_s3_bucket",
        "aws_s3_bucket_policy",
        "aws_instance",
        "aws_security_group",
        "aws_vpc",
        "aws_subnet",
        "aws_kms_key",
        "aws_kms_alias",
        "aws_lambda_function",
        "aws_db_instance",
        "aws_sns_topic",
        "aws_sqs_queue",
        "aws_cloudtrail",
        "google_compute_network",
        "google_compute_subnetwork",
        "google_compute_firewall",
        "google_compute_instance",
        "google_storage_bucket",
        "google_service_account",
    ] {
        assert!(
            forms.get(resource_type).is_some(),
            "{resource_type} has no form"
        );
    }
}
