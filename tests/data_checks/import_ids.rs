//! The import id forms (`catalog/import-ids/forms.toml`): every type they name is a resource type of the
//! provider's schema (`tests/data/*-provider-schema.json`) and one the catalog's calls target, so that no form
//! is misspelt or dead; the forms cover the resource types that the create calls of the most common
//! services report as unmanaged; and where a catalog target's own `import_id` template and its type's form
//! both name a resource, they give the same id.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tfdrift::catalog::import_forms::{ImportForms, Source};
use tfdrift::catalog::path::Path;
use tfdrift::catalog::{Catalog, Target};

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

// ------------------------------------------------------------------ catalog templates against the forms

/// The comment by which a call says that its target's `import_id` template is deliberately not the type's
/// import id: `# not an import id (<type>): <why>`, anywhere in the call's block of its catalog file.
const NOT_AN_IMPORT_ID: &str = "# not an import id (";

/// A value that a record path stands for in both renderings, told apart per path so that a swap of two parts
/// shows: the member's name (no `/` nor `:`, as a name or an id is), an ARN for a member named `...Arn`, the
/// whole string an identity pattern matches (`projects/x/zones/x/instances/x`), or its `{}` segment alone.
fn sample(path: &Path) -> String {
    let last = path.rest().last().map_or(path.root(), |s| &**s);
    match path.root() {
        "recipientAccountId" => return "123456789012".into(),
        "awsRegion" => return "us-east-1".into(),
        _ => {}
    }
    if let Some(pattern) = path.pattern() {
        if pattern.has_id_segment() {
            return format!("{last}-id");
        }
        return pattern
            .as_str()
            .split('/')
            .map(|segment| match segment {
                "*" | "**" => "x",
                literal => literal,
            })
            .collect::<Vec<_>>()
            .join("/");
    }
    if last.to_ascii_lowercase().ends_with("arn") {
        return format!("arn:aws:service::123456789012:thing/{last}");
    }
    last.to_owned()
}

/// A path as written, to tell whether two name the same member.
fn path_text(path: &Path) -> String {
    let mut text = path.root().to_owned();
    for step in path.rest() {
        text.push('.');
        text.push_str(step);
    }
    if let Some(pattern) = path.pattern() {
        text.push('|');
        text.push_str(pattern.as_str());
    }
    text
}

/// Where a target's catalog template and its type's form disagree: both filled in from the same sample value
/// per record path (the form's `{id}` being the template's own rendering, as `tfdrift.import_id` takes it),
/// they must give the same text. None when they agree or the target lacks one of them.
fn disagreement(target: &Target) -> Option<String> {
    let (template, form) = (target.import_id.as_ref()?, target.import_form.as_ref()?);
    let expected = template
        .render(|path| Some(sample(path)))
        .expect("every path has a sample");
    let read: Vec<String> = template.paths().map(path_text).collect();
    let values: Vec<Option<String>> = form
        .sources()
        .map(|(_, source)| match source {
            Source::Id => Some(expected.clone()).filter(|id| form.fits(id)),
            Source::Account => Some("123456789012".into()),
            Source::Region => Some("us-east-1".into()),
            Source::Record(paths, shape) => {
                // The member the template reads, when the form names it among its paths.
                let path = paths
                    .iter()
                    .find(|p| read.contains(&path_text(p)))
                    .or(paths.first())?;
                Some(sample(path)).filter(|v| shape.fits(v))
            }
        })
        .collect();
    let rendered = form.render(&values);
    (rendered.as_deref() != Some(expected.as_str())).then(|| {
        format!(
            "the template gives `{expected}`, the form `{}` gives {}",
            form.template,
            rendered.map_or("no id".to_owned(), |r| format!("`{r}`"))
        )
    })
}

/// The (service, call, type) triples whose template a comment says is not an import id, with the reason.
fn declared_not_import_ids() -> BTreeMap<(String, String, String), String> {
    let dir = format!("{}/catalog", env!("CARGO_MANIFEST_DIR"));
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("the catalog folder") {
        let path = entry.expect("a catalog entry").path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a catalog file");
        let quoted = |line: &str| {
            line.trim()
                .strip_prefix("name = \"")
                .and_then(|rest| rest.split('"').next())
                .map(str::to_owned)
        };
        let mut blocks = text.split("\n[[call]]");
        let Some(service) = blocks.next().and_then(|head| head.lines().find_map(quoted)) else {
            continue;
        };
        for block in blocks {
            let call = block.lines().find_map(quoted).expect("a call has a name");
            for line in block.lines() {
                let Some(rest) = line.trim().strip_prefix(NOT_AN_IMPORT_ID) else {
                    continue;
                };
                let (resource_type, why) = rest.split_once("):").unwrap_or_else(|| {
                    panic!(
                        "{}: `{line}`: write `{NOT_AN_IMPORT_ID}<type>): <why>`",
                        path.display()
                    )
                });
                assert!(
                    !why.trim().is_empty(),
                    "{}: {call}: say why the template of {resource_type} is not an import id",
                    path.display()
                );
                out.insert(
                    (
                        service.clone(),
                        call.clone(),
                        resource_type.trim().to_owned(),
                    ),
                    why.trim().to_owned(),
                );
            }
        }
    }
    out
}

#[test]
fn every_catalog_template_agrees_with_the_types_form() {
    // Two mechanisms name a resource no state holds: a target's `import_id` template
    // (`tfdrift.resource_id`) and the type's form (`tfdrift.import_id`). Where both cover a type they must
    // give the same id: the same parts, with the same separators, in the same order.
    let catalog = Catalog::embedded().expect("the catalog loads");
    let mut exempt = declared_not_import_ids();
    let mut compared = 0;
    let mut wrong = Vec::new();
    for call in catalog.calls() {
        for target in call.targets.iter() {
            if target.import_id.is_none() || target.import_form.is_none() {
                continue;
            }
            compared += 1;
            let key = (
                call.service.to_string(),
                call.name.to_string(),
                target.resource_type.to_string(),
            );
            let declared = exempt.remove(&key).is_some();
            match (disagreement(target), declared) {
                (Some(why), false) => wrong.push(format!(
                    "{} {} {}: {why}",
                    call.service, call.name, target.resource_type
                )),
                (None, true) => wrong.push(format!(
                    "{} {} {}: marked `not an import id`, but the template agrees with the form",
                    call.service, call.name, target.resource_type
                )),
                _ => {}
            }
        }
    }
    assert!(
        exempt.is_empty(),
        "`not an import id` comments for targets without both a template and a form: {exempt:?}"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The check reads what it should: the IAM attachments, KMS grants, Lambda permissions, Google resources.
    assert!(compared >= 100, "{compared} targets compared");
}

#[test]
fn the_template_check_finds_another_separator_or_order() {
    // A Lambda permission template as the catalog once had it (`:`), the parts swapped, and the documented
    // `function_name/statement_id`.
    let file = |template: &str| {
        format!(
            r#"[service]
name = "lambda"
event_source = "lambda.amazonaws.com"
severity = "medium"

[[call]]
name = "AddPermission"
change = "attach"
targets = [
  {{ type = "aws_lambda_permission", id = ["requestParameters.functionName"], join = ["function_name"], parts = {{ "requestParameters.statementId" = "statement_id" }}, import_id = "{template}" }},
]
"#
        )
    };
    let check = |template: &str| {
        let catalog = Catalog::from_files(&[("lambda.toml", file(template))]).expect("loads");
        disagreement(&catalog.calls()[0].targets[0])
    };
    assert!(check("{requestParameters.functionName}:{requestParameters.statementId}").is_some());
    assert!(check("{requestParameters.statementId}/{requestParameters.functionName}").is_some());
    assert_eq!(
        check("{requestParameters.functionName}/{requestParameters.statementId}"),
        None
    );
}
