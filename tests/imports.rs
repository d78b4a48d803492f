//! `tfdrift-replay --import-file` over the real records of `tests/data`: the import blocks parse back as HCL
//! (hcl-rs), each names a resource the records created by hand, once, under an address no other block has, and
//! each id has the form the provider's documentation gives for its type (`tests/data/provider-docs/
//! import-forms.tsv`, quoted from the pages with their commits).
//!
//! The state the records meet holds one resource of every type tfdrift has an import form for, none of them
//! one the records create: every type is one Terraform manages, and every resource created is made by hand.
//! What is expected comes from the records (the names and ids they carry) and from the documentation.

use tfdrift_test_support as common;

use common::{resource, state_v4, write_state};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use tfdrift::catalog::import_forms::ImportForms;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data");

fn replay(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tfdrift-replay"));
    for arg in args {
        command.arg(arg);
    }
    command.env("RUST_LOG", "error");
    command.env("AWS_EC2_METADATA_DISABLED", "true");
    command.output().expect("run tfdrift-replay")
}

fn succeeded(output: &Output) {
    assert!(
        output.status.success(),
        "tfdrift-replay failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One row of the documentation file.
struct Documented {
    form: String,
    example: String,
}

/// The documented forms, by type.
fn documented() -> BTreeMap<String, Documented> {
    let text = std::fs::read_to_string(format!("{DATA}/provider-docs/import-forms.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            assert_eq!(columns.len(), 6, "{line}");
            // The example is a `terraform import ADDRESS ID` command: the id is its last word.
            let example = columns[2].rsplit(' ').next().unwrap().to_owned();
            (
                columns[0].to_owned(),
                Documented {
                    form: columns[1].to_owned(),
                    example,
                },
            )
        })
        .collect()
}

/// Whether `id` fits a form of the documentation file: `<x>` is one or more characters other than `/` and
/// `:`, `<x...>` one or more of any character, the rest literal.
fn fits(form: &str, id: &str) -> bool {
    match form.find('<') {
        None => form == id,
        Some(open) => {
            let Some(rest) = id.strip_prefix(&form[..open]) else {
                return false;
            };
            let close = open + form[open..].find('>').expect("closed placeholder");
            let any = form[open..close].ends_with("...");
            let after = &form[close + 1..];
            (1..=rest.len())
                .filter(|&n| rest.is_char_boundary(n))
                .take_while(|&n| any || !rest[..n].contains(['/', ':']))
                .any(|n| fits(after, &rest[n..]))
        }
    }
}

/// Parses an import file back: (type, name, id) of every block, in order. Every top-level item must be an
/// `import` block of exactly `to` (an address) and `id` (a string with nothing to interpolate).
fn parse_back(text: &str) -> Vec<(String, String, String)> {
    let body = hcl::parse(text).unwrap_or_else(|e| panic!("not HCL: {e}\n{text}"));
    assert_eq!(body.attributes().count(), 0, "{text}");
    body.blocks()
        .map(|block| {
            assert_eq!(block.identifier(), "import");
            assert!(block.labels().is_empty());
            let attrs: BTreeMap<&str, &hcl::Expression> = block
                .body()
                .attributes()
                .map(|a| (a.key(), a.expr()))
                .collect();
            assert_eq!(
                attrs.keys().copied().collect::<Vec<_>>(),
                ["id", "to"],
                "{text}"
            );
            let (resource_type, name) = match attrs["to"] {
                hcl::Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
                    (hcl::Expression::Variable(root), [hcl::TraversalOperator::GetAttr(name)]) => {
                        (root.as_str().to_owned(), name.as_str().to_owned())
                    }
                    other => panic!("`to` is no resource address: {other:?}"),
                },
                other => panic!("`to` is no resource address: {other:?}"),
            };
            let id = match attrs["id"] {
                hcl::Expression::String(s) => s.clone(),
                template @ hcl::Expression::TemplateExpr(_) => {
                    use hcl::eval::Evaluate;
                    match template.evaluate(&hcl::eval::Context::new()) {
                        Ok(hcl::Value::String(s)) => s,
                        other => panic!("`id` interpolates something: {other:?}"),
                    }
                }
                other => panic!("`id` is no string: {other:?}"),
            };
            (resource_type, name, id)
        })
        .collect()
}

/// A state holding one resource of every type that has an import form, each with an id no record names.
fn state_of_every_type(dir: &Path) -> PathBuf {
    let forms = ImportForms::embedded().expect("the forms load");
    let resources = forms
        .iter()
        .map(|form| {
            let t = &*form.resource_type;
            let mut r = resource(
                "",
                t,
                "held",
                json!({"id": format!("held-by-terraform-{t}"), "name": "held-by-terraform"}),
            );
            if t.starts_with("google_") {
                r["provider"] = json!("provider[\"registry.terraform.io/hashicorp/google\"]");
            }
            r
        })
        .collect();
    write_state(dir, "estate.tfstate", &state_v4(1, resources))
}

#[test]
fn every_documented_example_fits_its_form_and_every_documented_type_has_a_form() {
    let forms = ImportForms::embedded().expect("the forms load");
    let documented = documented();
    assert!(documented.len() >= 20);
    for (resource_type, doc) in &documented {
        assert!(
            fits(&doc.form, &doc.example),
            "{resource_type}: the documentation's {} does not fit {}",
            doc.example,
            doc.form
        );
        assert!(
            forms.get(resource_type).is_some(),
            "{resource_type} is documented but has no form in catalog/import-ids/forms.toml"
        );
    }
    // The notation can fail.
    assert!(!fits("sg-<id>", "vpc-1"));
    assert!(!fits("<role>:<policy>", "role"));
    assert!(!fits("<name>", "arn:aws:iam::1:user/alice"));
    assert!(fits(
        "<r>/arn:<p>:iam::<a>:policy/<n...>",
        "r/arn:aws:iam::1:policy/a/b"
    ));
}

#[test]
fn real_records_give_import_blocks_in_the_documented_forms() {
    let dir = tempfile::tempdir().unwrap();
    let state = state_of_every_type(dir.path());
    let import_file = dir.path().join("imports.tf");
    let output = replay(&[
        &"--state",
        &state,
        &"--import-file",
        &import_file,
        &format!("{DATA}/cloudtrail"),
        &format!("{DATA}/gcp-audit"),
    ]);
    succeeded(&output);
    let text = std::fs::read_to_string(&import_file).expect("the import file is written");
    let blocks = parse_back(&text);

    // Every address once, every resource once.
    let addresses: BTreeSet<(&str, &str)> = blocks
        .iter()
        .map(|(t, n, _)| (t.as_str(), n.as_str()))
        .collect();
    assert_eq!(addresses.len(), blocks.len(), "an address twice:\n{text}");
    // The account each block is in, from the comment above it (`# Created or changed in <account> (...)`).
    let accounts: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("# Created or changed "))
        .map(|l| {
            l.strip_prefix("# Created or changed in ")
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or("")
        })
        .collect();
    assert_eq!(accounts.len(), blocks.len(), "a comment per block:\n{text}");
    let kept: BTreeSet<(&str, &str, &str)> = blocks
        .iter()
        .zip(&accounts)
        .map(|((t, _, id), account)| (*account, t.as_str(), id.as_str()))
        .collect();
    assert_eq!(kept.len(), blocks.len(), "a resource twice:\n{text}");
    let resources: BTreeSet<(&str, &str)> = blocks
        .iter()
        .map(|(t, _, id)| (t.as_str(), id.as_str()))
        .collect();
    for (resource_type, name, _) in &blocks {
        assert!(
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{resource_type}.{name} is no Terraform identifier"
        );
    }

    // Each id of a documented type has the documented form.
    let documented = documented();
    let mut checked = 0;
    for (resource_type, name, id) in &blocks {
        if let Some(doc) = documented.get(resource_type) {
            assert!(
                fits(&doc.form, id),
                "{resource_type}.{name}: id {id:?} does not fit the documented {}",
                doc.form
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 8,
        "only {checked} blocks of documented types:\n{text}"
    );

    // What the records created by hand, by the names and ids they carry. Stratus Red Team's detonations
    // (stratus-red-team/aws.persistence.*) and Panther's console records; the four `CreateUser` records of
    // `user` are one resource.
    let expected = [
        ("aws_iam_user", "malicious-iam-user"),
        ("aws_iam_user", "new-user"),
        ("aws_iam_user", "user"),
        ("aws_iam_role", "new-role"),
        (
            "aws_iam_role_policy_attachment",
            "new-role/arn:aws:iam::aws:policy/AdministratorAccess",
        ),
        (
            "aws_iam_role_policy_attachment",
            "new-role/arn:aws:iam::aws:policy/ReadOnlyAccess",
        ),
        ("aws_db_instance", "test-instance"),
        ("aws_vpc", "vpc-1"),
    ];
    for (resource_type, id) in expected {
        assert!(
            resources.contains(&(resource_type, id)),
            "no import block for {resource_type} {id}:\n{text}"
        );
    }
    assert_eq!(
        blocks
            .iter()
            .filter(|(t, _, id)| t == "aws_iam_user" && id == "user")
            .count(),
        1
    );
    // Stratus's backdoor role, by the name its CreateRole record gives.
    let role = stratus_value(
        "aws.persistence.iam-create-backdoor-role.json",
        "CreateRole",
        "/requestParameters/roleName",
    );
    assert!(
        resources.contains(&("aws_iam_role", role.as_str())),
        "{text}"
    );
    // Panther's one CreateSecurityGroup record was made by Terraform (its user agent says so): Terraform's
    // own create is not made by hand, and gets no block.
    let group = panther_value("CreateSecurityGroup", "/responseElements/groupId");
    assert!(group.starts_with("sg-"));
    assert!(
        !resources.contains(&("aws_security_group", group.as_str())),
        "{text}"
    );
    // Panther's CreateTrail names its trail by ARN, where the documentation's form is the trail's name: no
    // import id, rather than a wrong one.
    let trail = panther_value("CreateTrail", "/requestParameters/name");
    assert!(trail.starts_with("arn:aws:cloudtrail:"));
    assert!(
        !blocks
            .iter()
            .any(|(t, _, id)| t == "aws_cloudtrail" && trail.ends_with(&format!("/{id}"))),
        "{text}"
    );
    assert!(
        blocks.iter().any(|(t, _, _)| t == "aws_cloudtrail"),
        "a trail named by its name has one: {text}"
    );
    // Every block has its one-line comment above it, saying who, when, through which call.
    let comments = text
        .lines()
        .filter(|l| l.starts_with("# Created or changed "))
        .count();
    assert_eq!(comments, blocks.len());
    assert!(
        text.contains("through iam.amazonaws.com CreateUser"),
        "{text}"
    );
}

#[test]
fn a_run_with_a_state_holding_the_resources_writes_no_block_for_them() {
    // The same user, held by a state: managed, so no block; a user of the same records no state holds is
    // still one.
    let dir = tempfile::tempdir().unwrap();
    let state = state_v4(
        1,
        vec![resource(
            "",
            "aws_iam_user",
            "admin",
            json!({"id": "malicious-iam-user", "name": "malicious-iam-user", "arn": "arn:aws:iam::229654561268:user/malicious-iam-user"}),
        )],
    );
    let state = write_state(dir.path(), "users.tfstate", &state);
    let import_file = dir.path().join("imports.tf");
    let output = replay(&[
        &"--state",
        &state,
        &"--import-file",
        &import_file,
        &format!("{DATA}/cloudtrail/stratus-red-team/aws.persistence.iam-create-admin-user.json"),
        &format!("{DATA}/cloudtrail/panther-analysis.jsonl"),
    ]);
    succeeded(&output);
    let blocks = parse_back(&std::fs::read_to_string(&import_file).unwrap());
    let users: Vec<&str> = blocks
        .iter()
        .filter(|(t, _, _)| t == "aws_iam_user")
        .map(|(_, _, id)| id.as_str())
        .collect();
    assert!(!users.contains(&"malicious-iam-user"), "{users:?}");
    assert!(users.contains(&"new-user"), "{users:?}");
}

/// A member of the first record of that name in a Stratus Red Team file.
fn stratus_value(file: &str, event: &str, pointer: &str) -> String {
    let text =
        std::fs::read_to_string(format!("{DATA}/cloudtrail/stratus-red-team/{file}")).unwrap();
    let records: Vec<Value> = serde_json::from_str(&text).unwrap();
    first_value(records.iter(), event, pointer)
}

/// A member of the first successful record of that name in Panther's records.
fn panther_value(event: &str, pointer: &str) -> String {
    let text =
        std::fs::read_to_string(format!("{DATA}/cloudtrail/panther-analysis.jsonl")).unwrap();
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    first_value(records.iter(), event, pointer)
}

fn first_value<'a>(records: impl Iterator<Item = &'a Value>, event: &str, pointer: &str) -> String {
    records
        .filter(|r| r["eventName"] == event && r.get("errorCode").is_none())
        .find_map(|r| r.pointer(pointer)?.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no {event} with {pointer}"))
}
