//! The rules in `rules/`: well formed, reading only fields that exist, and each with a case. A case is a real
//! record and a state for which the fields tfdrift extracts satisfy the rule's `tfdrift.*` conditions, and a
//! Terraform-made copy of the record for which they do not. Falco's own engine evaluates conditions; this test
//! checks that the predicates a case relies on are in the rule (macros expanded) and what the fields say.

mod common;

use common::*;
use falco_plugin::extract::ExtractPlugin;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use yaml_rust2::{Yaml, YamlLoader};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tfdrift_rules.yaml");
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0 (+https://registry.terraform.io/providers/hashicorp/aws)";

/// Fields of the cloudtrail plugin (falcosecurity/plugins, plugins/cloudtrail) that the rules may use.
const CLOUDTRAIL_FIELDS: &[&str] = &[
    "ct.id",
    "ct.name",
    "ct.src",
    "ct.user",
    "ct.user.arn",
    "ct.user.accountid",
    "ct.user.identitytype",
    "ct.user.principalid",
    "ct.region",
    "ct.srcip",
    "ct.useragent",
    "ct.error",
    "ct.readonly",
    "ct.managementevent",
    "ct.request",
    "ct.response",
    "ct.resources",
    "ct.recipientaccountid",
    "ct.time",
];

struct Rules {
    macros: BTreeMap<String, String>,
    rules: Vec<Yaml>,
    header: Vec<Yaml>,
}

fn load() -> Rules {
    let text = std::fs::read_to_string(RULES).expect("the rules file");
    let docs = YamlLoader::load_from_str(&text).expect("the rules file is YAML");
    let items = docs[0].as_vec().expect("a list of rules items").clone();
    let mut rules = Rules {
        macros: BTreeMap::new(),
        rules: Vec::new(),
        header: Vec::new(),
    };
    for item in items {
        if let Some(name) = item["macro"].as_str() {
            rules.macros.insert(
                name.to_owned(),
                item["condition"]
                    .as_str()
                    .expect("a macro condition")
                    .to_owned(),
            );
        } else if item["rule"].as_str().is_some() {
            rules.rules.push(item);
        } else {
            rules.header.push(item);
        }
    }
    rules
}

/// A condition with its macros replaced by their conditions (in parentheses), whitespace folded.
fn expand(condition: &str, macros: &BTreeMap<String, String>) -> String {
    let mut words: Vec<String> = Vec::new();
    for token in condition.split_whitespace() {
        let bare = token.trim_matches(|c| c == '(' || c == ')');
        match macros.get(bare) {
            Some(body) => words.push(token.replace(bare, &format!("({})", expand(body, macros)))),
            None => words.push(token.to_owned()),
        }
    }
    words.join(" ")
}

fn fields_in(text: &str, prefix: &str) -> HashSet<String> {
    text.split(|c: char| {
        !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '[' || c == ']')
    })
    .filter(|w| w.starts_with(prefix))
    .map(|w| {
        w.split('[')
            .next()
            .unwrap_or(w)
            .trim_end_matches('.')
            .to_owned()
    })
    .collect()
}

#[test]
fn the_rules_file_is_well_formed_and_reads_only_known_fields() {
    let rules = load();
    assert!(
        rules
            .header
            .iter()
            .any(|h| h["required_engine_version"].as_i64().is_some())
    );
    let plugins = rules
        .header
        .iter()
        .find_map(|h| h["required_plugin_versions"].as_vec())
        .expect("required_plugin_versions");
    let names: Vec<&str> = plugins.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["cloudtrail", "tfdrift"]);
    let tfdrift_version = plugins[1]["version"].as_str().unwrap();
    assert!(
        tfdrift_version <= env!("CARGO_PKG_VERSION"),
        "the rules require tfdrift {tfdrift_version}"
    );

    let declared: Vec<Value> = serde_json::from_str(
        <tfdrift::plugin::TfDrift as ExtractPlugin>::get_fields()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let declared: HashSet<&str> = declared.iter().filter_map(|f| f["name"].as_str()).collect();
    assert!(!rules.rules.is_empty());
    for rule in &rules.rules {
        let name = rule["rule"].as_str().unwrap();
        for key in ["desc", "condition", "output", "priority"] {
            assert!(rule[key].as_str().is_some(), "{name}: no {key}");
        }
        assert_eq!(rule["source"].as_str(), Some("aws_cloudtrail"), "{name}");
        let tags: Vec<&str> = rule["tags"]
            .as_vec()
            .expect("tags")
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        for tag in ["cloud", "aws", "terraform"] {
            assert!(tags.contains(&tag), "{name}: tag {tag}");
        }
        let condition = expand(rule["condition"].as_str().unwrap(), &rules.macros);
        assert!(
            !condition
                .split_whitespace()
                .any(|w| rules.macros.contains_key(w)),
            "{name}: a macro left"
        );
        let text = format!("{condition} {}", rule["output"].as_str().unwrap());
        for field in fields_in(&text, "tfdrift.") {
            assert!(
                declared.contains(field.as_str()),
                "{name} uses {field}, which tfdrift does not declare"
            );
        }
        for field in fields_in(&text, "ct.") {
            assert!(
                CLOUDTRAIL_FIELDS.contains(&field.as_str()),
                "{name} uses {field}, not a cloudtrail field"
            );
        }
    }
}

/// A predicate of a rule's condition, as written, and how a field value satisfies it (no value satisfies
/// neither `=` nor `!=`, as in Falco).
struct Predicate {
    text: &'static str,
}

impl Predicate {
    fn holds(&self, fields: &Fields) -> bool {
        let (negated, rest) = match self.text.strip_prefix("not ") {
            Some(rest) => (true, rest),
            None => (false, self.text),
        };
        let parts: Vec<&str> = rest.split_whitespace().collect();
        let [field, op, value] = parts[..] else {
            panic!("predicate {:?}", self.text)
        };
        let actual = match fields.get(field) {
            falco_plugin_runner::ExtractedField::None => None,
            falco_plugin_runner::ExtractedField::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        };
        let result = match (op, actual) {
            (_, None) => false,
            ("=", Some(a)) => a == value,
            ("!=", Some(a)) => a != value,
            _ => panic!("operator {op}"),
        };
        result != negated
    }

    fn field(&self) -> &str {
        self.text
            .trim_start_matches("not ")
            .split_whitespace()
            .next()
            .unwrap()
    }
}

struct Case {
    rule: &'static str,
    record: String,
    state: Value,
    extra: Value,
    predicates: &'static [&'static str],
}

fn sg_state() -> Value {
    state_v4(
        3,
        vec![resource(
            "module.net",
            "aws_security_group",
            "web",
            json!({"id": "sg-003dc7f1f1c686164", "ingress": [], "egress": []}),
        )],
    )
}

fn cases() -> Vec<Case> {
    let sg = stratus_record(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
        "AuthorizeSecurityGroupIngress",
    );
    let lambda = stratus_record(
        "aws.persistence.lambda-layer-extension.json",
        "UpdateFunctionConfiguration20150331v2",
    );
    let flow_logs = stratus_record(
        "aws.defense-evasion.vpc-remove-flow-logs.json",
        "DeleteFlowLogs",
    );
    let profile = stratus_record(
        "aws.persistence.rolesanywhere-create-trust-anchor.json",
        "CreateProfile",
    );
    let user = stratus_record("aws.persistence.iam-create-admin-user.json", "CreateUser");
    vec![
        Case {
            rule: "Terraform Drift On Critical Resource",
            record: sg.clone(),
            state: sg_state(),
            extra: json!({}),
            predicates: &[
                "tfdrift.drift = true",
                "tfdrift.match = catalog",
                "tfdrift.severity = critical",
                "tfdrift.change != delete",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Drift",
            record: lambda,
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_lambda_function",
                    "worker",
                    json!({
                "id": "stratus-red-team-lambda-layer-simpleLambda", "function_name": "stratus-red-team-lambda-layer-simpleLambda", "layers": [],
                "arn": "arn:aws:lambda:eugov-eastcentral-1r:712967571683:function:stratus-red-team-lambda-layer-simpleLambda"}),
                )],
            ),
            extra: json!({}),
            predicates: &[
                "tfdrift.drift = true",
                "tfdrift.match = catalog",
                "tfdrift.severity != critical",
                "tfdrift.change != delete",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Managed Resource Deleted Outside Terraform",
            record: flow_logs,
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_flow_log",
                    "vpc",
                    json!({"id": "fl-0e17aa62a21d4bbfe"}),
                )],
            ),
            extra: json!({}),
            predicates: &[
                "tfdrift.drift = true",
                "tfdrift.change = delete",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Managed Resource Touched By A Call Outside The Catalog",
            record: profile,
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_iam_role",
                    "anchor",
                    json!({
                "id": "stratus-red-team-trust-anchor-role", "arn": "arn:aws:iam::791182566784:role/stratus-red-team-trust-anchor-role"}),
                )],
            ),
            extra: json!({}),
            predicates: &[
                "tfdrift.drift = true",
                "tfdrift.match = fallback",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Drift During Maintenance",
            record: sg,
            state: sg_state(),
            extra: json!({"maintenance_windows": [{"name": "CHG-1", "from": "2024-08-01T00:00:00Z", "to": "2024-08-02T00:00:00Z"}]}),
            predicates: &["tfdrift.drift = true", "tfdrift.in_maintenance = true"],
        },
        Case {
            rule: "Unmanaged Resource Created Outside Terraform",
            record: user,
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_iam_user",
                    "deploy",
                    json!({"id": "deploy-bot", "name": "deploy-bot"}),
                )],
            ),
            extra: json!({}),
            predicates: &[
                "tfdrift.unmanaged = true",
                "not tfdrift.in_maintenance = true",
            ],
        },
    ]
}

fn by_terraform(record: &str) -> String {
    let mut value: Value = serde_json::from_str(record).unwrap();
    value["userAgent"] = json!(TERRAFORM_UA);
    value.to_string()
}

#[test]
fn every_rule_has_a_case_that_fires_and_a_terraform_one_that_does_not() {
    let rules = load();
    let cases = cases();
    for rule in &rules.rules {
        let name = rule["rule"].as_str().unwrap();
        assert!(
            cases.iter().any(|c| c.rule == name),
            "rule {name:?} has no test case"
        );
    }
    for case in &cases {
        let rule = rules
            .rules
            .iter()
            .find(|r| r["rule"].as_str() == Some(case.rule))
            .unwrap_or_else(|| panic!("no rule {}", case.rule));
        let condition = expand(rule["condition"].as_str().unwrap(), &rules.macros);
        let predicates: Vec<Predicate> = case
            .predicates
            .iter()
            .map(|text| Predicate { text })
            .collect();
        for p in &predicates {
            assert!(
                condition.contains(p.text),
                "{}: the condition has no `{}`: {condition}",
                case.rule,
                p.text
            );
        }
        let fields: Vec<&str> = predicates
            .iter()
            .map(|p| p.field())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = write_state(dir.path(), "main.tfstate", &case.state);
        let config = config(&[("main", &path)], case.extra.clone());
        let results = run(
            &[case.record.clone(), by_terraform(&case.record)],
            &config,
            &fields,
        );
        for p in &predicates {
            assert!(
                p.holds(&results[0]),
                "{}: `{}` does not hold for its case",
                case.rule,
                p.text
            );
        }
        assert!(
            !predicates.iter().all(|p| p.holds(&results[1])),
            "{}: fires for Terraform's own call",
            case.rule
        );
    }
}
