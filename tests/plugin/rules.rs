//! The rules in `rules/`: well formed Falco rules, reading only fields that exist, using only macros and lists
//! defined before them, and each rule with a case. A case is a real record and a state for which the fields
//! tfdrift extracts satisfy the rule's `tfdrift.*` conditions, and a Terraform-made copy of the record for
//! which they do not. Falco's own engine evaluates conditions; this test checks that the predicates a case
//! relies on are in the rule (macros expanded), that they cover every `tfdrift.*` field the rule tests, and
//! what the fields say.

use tfdrift_test_support as common;

use common::*;
use falco_plugin::extract::ExtractPlugin;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use yaml_rust2::{Yaml, YamlLoader};

const RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tfdrift_rules.yaml");
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0 (+https://registry.terraform.io/providers/hashicorp/aws)";

/// Fields of the cloudtrail plugin (falcosecurity/plugins, `plugins/cloudtrail`, the "Supported Fields" table
/// of its README; docs/falco-facts.md names the common ones) that the rules may use.
const CLOUDTRAIL_FIELDS: &[&str] = &[
    "ct.id",
    "ct.error",
    "ct.errormessage",
    "ct.time",
    "ct.src",
    "ct.shortsrc",
    "ct.name",
    "ct.user",
    "ct.user.accountid",
    "ct.user.identitytype",
    "ct.user.principalid",
    "ct.user.arn",
    "ct.region",
    "ct.response.subnetid",
    "ct.response.reservationid",
    "ct.response",
    "ct.request.availabilityzone",
    "ct.request.cluster",
    "ct.request.functionname",
    "ct.request.groupname",
    "ct.request.host",
    "ct.request.name",
    "ct.request.policy",
    "ct.request.serialnumber",
    "ct.request.servicename",
    "ct.request.subnetid",
    "ct.request.taskdefinition",
    "ct.request.username",
    "ct.request",
    "ct.srcip",
    "ct.useragent",
    "ct.info",
    "ct.managementevent",
    "ct.readonly",
    "ct.requestid",
    "ct.eventtype",
    "ct.apiversion",
    "ct.resources",
    "ct.recipientaccountid",
    "ct.serviceeventdetails",
    "ct.sharedeventid",
    "ct.vpcendpointid",
    "ct.eventcategory",
    "ct.additionaleventdata",
    "s3.uri",
    "s3.bucket",
    "s3.key",
    "s3.bytes",
    "s3.bytes.in",
    "s3.bytes.out",
    "s3.cnt.get",
    "s3.cnt.put",
    "s3.cnt.other",
    "ec2.name",
    "ec2.imageid",
    "ecr.repository",
];

/// Field prefixes of the plugins the rules packs read (the cloudtrail plugin's, the gcpaudit plugin's and
/// tfdrift's).
const FIELD_PREFIXES: &[&str] = &["ct.", "s3.", "ec2.", "ecr.", "gcp.", "tfdrift."];

/// Falco's rule priorities.
pub(super) const PRIORITIES: &[&str] = &[
    "EMERGENCY",
    "ALERT",
    "CRITICAL",
    "ERROR",
    "WARNING",
    "NOTICE",
    "INFORMATIONAL",
    "DEBUG",
];

/// The words of Falco's condition language that are not names.
const KEYWORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "intersects",
    "pmatch",
    "exists",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];

pub(super) const COMPARISONS: &[&str] = &[
    "=",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "icontains",
    "bcontains",
    "startswith",
    "bstartswith",
    "endswith",
    "glob",
    "iglob",
    "regex",
];

pub(super) struct Rules {
    /// Macros and lists by name, with their position in the file.
    pub(super) macros: BTreeMap<String, (usize, String)>,
    pub(super) lists: BTreeMap<String, (usize, Vec<String>)>,
    /// Rules with their position in the file.
    pub(super) rules: Vec<(usize, Yaml)>,
    pub(super) header: Vec<Yaml>,
}

impl Rules {
    pub(super) fn macro_bodies(&self) -> BTreeMap<String, String> {
        self.macros
            .iter()
            .map(|(k, (_, body))| (k.clone(), body.clone()))
            .collect()
    }

    fn rule(&self, name: &str) -> &Yaml {
        self.rules
            .iter()
            .map(|(_, r)| r)
            .find(|r| r["rule"].as_str() == Some(name))
            .unwrap_or_else(|| panic!("no rule {name}"))
    }
}

fn load() -> Rules {
    load_from(RULES)
}

/// A rules file, checked for shape on the way: each item a rule, macro, list or version requirement, with
/// the keys Falco knows.
pub(super) fn load_from(path: &str) -> Rules {
    let text = std::fs::read_to_string(path).expect("the rules file");
    let docs = YamlLoader::load_from_str(&text).expect("the rules file is YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    let items = docs[0].as_vec().expect("a list of rules items").clone();
    let mut rules = Rules {
        macros: BTreeMap::new(),
        lists: BTreeMap::new(),
        rules: Vec::new(),
        header: Vec::new(),
    };
    for (at, item) in items.into_iter().enumerate() {
        let keys: Vec<&str> = item
            .as_hash()
            .expect("every item is a mapping")
            .keys()
            .map(|k| k.as_str().expect("keys are strings"))
            .collect();
        if let Some(name) = item["macro"].as_str() {
            assert_keys(&keys, &["macro", "condition"], &[], name);
            let body = item["condition"].as_str().expect("a macro condition");
            let old = rules.macros.insert(name.to_owned(), (at, body.to_owned()));
            assert!(old.is_none(), "macro {name} defined twice");
        } else if let Some(name) = item["list"].as_str() {
            assert_keys(&keys, &["list", "items"], &[], name);
            let items = item["items"]
                .as_vec()
                .expect("list items")
                .iter()
                .map(|i| i.as_str().expect("list items are strings").to_owned())
                .collect();
            let old = rules.lists.insert(name.to_owned(), (at, items));
            assert!(old.is_none(), "list {name} defined twice");
        } else if let Some(name) = item["rule"].as_str() {
            assert_keys(
                &keys,
                &["rule", "desc", "condition", "output", "priority"],
                &["tags", "source", "enabled", "exceptions"],
                name,
            );
            rules.rules.push((at, item));
        } else {
            assert!(
                keys == ["required_engine_version"] || keys == ["required_plugin_versions"],
                "an item that is not a rule, macro, list or version requirement: {keys:?}"
            );
            rules.header.push(item);
        }
    }
    rules
}

fn assert_keys(keys: &[&str], required: &[&str], optional: &[&str], name: &str) {
    for key in required {
        assert!(keys.contains(key), "{name}: no {key}");
    }
    for key in keys {
        assert!(
            required.contains(key) || optional.contains(key),
            "{name}: unknown key {key}"
        );
    }
}

/// A condition's tokens: parentheses, commas, quoted strings (with their quotes), operators and words.
pub(super) fn tokens(condition: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = condition.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' || c == ')' || c == ',' {
            out.push(c.to_string());
            chars.next();
        } else if c == '"' || c == '\'' {
            let mut s = String::from(c);
            chars.next();
            for d in chars.by_ref() {
                s.push(d);
                if d == c {
                    break;
                }
            }
            assert!(
                s.len() >= 2 && s.ends_with(c),
                "unterminated string in {condition}"
            );
            out.push(s);
        } else if "=!<>".contains(c) {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if "=!<>".contains(d) {
                    s.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(s);
        } else {
            let mut s = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() || "()\",'=!<>".contains(d) {
                    break;
                }
                s.push(d);
                chars.next();
            }
            out.push(s);
        }
    }
    out
}

/// A condition without its quoted strings.
pub(super) fn unquoted(condition: &str) -> String {
    tokens(condition)
        .into_iter()
        .filter(|t| !t.starts_with('"') && !t.starts_with('\''))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn is_field(word: &str) -> bool {
    FIELD_PREFIXES.iter().any(|p| word.starts_with(p))
}

/// The macros and lists a condition names: a bare word where a predicate would be is a macro; a bare word
/// inside `in (...)` whose name is a list's is that list. Checks, on the way, that parentheses balance and
/// that every comparison has a field on its left.
pub(super) fn references(
    condition: &str,
    lists: &BTreeMap<String, (usize, Vec<String>)>,
) -> Vec<String> {
    let toks = tokens(condition);
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut in_list = false;
    for (i, t) in toks.iter().enumerate() {
        let prev = if i > 0 { toks[i - 1].as_str() } else { "" };
        match t.as_str() {
            "(" => {
                depth += 1;
                if prev == "in" || prev == "intersects" || prev == "pmatch" {
                    in_list = true;
                }
            }
            ")" => {
                depth -= 1;
                in_list = false;
                assert!(depth >= 0, "unbalanced parentheses in {condition}");
            }
            "," => assert!(in_list, "a comma outside a list in {condition}"),
            word if COMPARISONS.contains(&word) || word == "in" || word == "exists" => {
                assert!(
                    is_field(prev),
                    "`{word}` without a field before it in {condition}"
                );
            }
            word if in_list => {
                if lists.contains_key(word) {
                    out.push(word.to_owned());
                }
            }
            word if word.starts_with('"') || word.starts_with('\'') => {
                assert!(COMPARISONS.contains(&prev), "a stray string in {condition}");
            }
            word if is_field(word) || KEYWORDS.contains(&word) => {}
            _ if COMPARISONS.contains(&prev) => {} // a value
            word => {
                assert!(
                    word.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                    "`{word}` is neither a field, a keyword, a value nor a macro name, in {condition}"
                );
                out.push(word.to_owned());
            }
        }
    }
    assert_eq!(depth, 0, "unbalanced parentheses in {condition}");
    out
}

/// A condition with its macros replaced by their conditions (in parentheses), whitespace folded.
pub(super) fn expand(condition: &str, macros: &BTreeMap<String, String>) -> String {
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

pub(super) fn fields_in(text: &str, prefix: &str) -> HashSet<String> {
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

pub(super) fn declared_fields() -> HashSet<String> {
    let declared: Vec<Value> = serde_json::from_str(
        <tfdrift::plugin::TfDrift as ExtractPlugin>::get_fields()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    declared
        .iter()
        .filter_map(|f| f["name"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_rules_file_is_well_formed_and_reads_only_known_fields() {
    let rules = load();
    let engine = rules
        .header
        .iter()
        .find_map(|h| h["required_engine_version"].as_i64())
        .expect("required_engine_version");
    // Plugin rules need engine version 10 or newer.
    assert!(engine >= 10, "required_engine_version {engine}");
    let plugins = rules
        .header
        .iter()
        .find_map(|h| h["required_plugin_versions"].as_vec())
        .expect("required_plugin_versions");
    let names: Vec<&str> = plugins.iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["cloudtrail", "tfdrift"]);
    let version = |v: &str| -> Vec<u64> {
        v.split('.')
            .map(|n| n.parse().expect("a numeric version"))
            .collect()
    };
    let tfdrift_version = plugins[1]["version"].as_str().unwrap();
    assert!(
        version(tfdrift_version) <= version(env!("CARGO_PKG_VERSION")),
        "the rules require tfdrift {tfdrift_version}, newer than this one"
    );

    let declared = declared_fields();
    assert!(!rules.rules.is_empty());
    let mut names = HashSet::new();
    for (_, rule) in &rules.rules {
        let name = rule["rule"].as_str().unwrap();
        assert!(names.insert(name), "rule {name} defined twice");
        for key in ["desc", "condition", "output", "priority"] {
            assert!(
                rule[key].as_str().is_some_and(|s| !s.trim().is_empty()),
                "{name}: no {key}"
            );
        }
        assert!(
            PRIORITIES.contains(&rule["priority"].as_str().unwrap()),
            "{name}: priority"
        );
        assert_eq!(rule["source"].as_str(), Some("aws_cloudtrail"), "{name}");
        let tags: Vec<&str> = rule["tags"]
            .as_vec()
            .expect("tags")
            .iter()
            .map(|t| t.as_str().expect("tags are strings"))
            .collect();
        for tag in ["cloud", "aws", "terraform"] {
            assert!(tags.contains(&tag), "{name}: tag {tag}");
        }
        let condition = expand(rule["condition"].as_str().unwrap(), &rules.macro_bodies());
        let output = rule["output"].as_str().unwrap();
        // Every %field of the output is a field (Falco refuses an unknown one, and a `%` followed by
        // something else prints verbatim, which is a typo here).
        for word in output.split('%').skip(1) {
            assert!(
                is_field(word),
                "{name}: `%{}` in the output is no field",
                &word[..word.len().min(20)]
            );
        }
        // Quoted values (`ct.src = "s3.amazonaws.com"`) are no fields.
        let text = format!("{} {output}", unquoted(&condition));
        for field in fields_in(&text, "tfdrift.") {
            assert!(
                declared.contains(field.as_str()),
                "{name} uses {field}, which tfdrift does not declare"
            );
        }
        for prefix in ["ct.", "s3.", "ec2.", "ecr."] {
            for field in fields_in(&text, prefix) {
                assert!(
                    CLOUDTRAIL_FIELDS.contains(&field.as_str()),
                    "{name} uses {field}, not a cloudtrail plugin field"
                );
            }
        }
        // gcp.* fields are the gcpaudit plugin's, which this source does not have.
        assert!(
            fields_in(&text, "gcp.").is_empty(),
            "{name} reads gcp.* fields"
        );
    }
}

#[test]
fn every_macro_and_list_used_is_defined_before_use_and_every_one_defined_is_used() {
    let rules = load();
    let mut used = BTreeSet::new();
    let conditions = rules
        .macros
        .iter()
        .map(|(name, (at, body))| (format!("macro {name}"), *at, body.clone()))
        .chain(rules.rules.iter().map(|(at, r)| {
            (
                format!("rule {}", r["rule"].as_str().unwrap()),
                *at,
                r["condition"].as_str().unwrap().to_owned(),
            )
        }));
    for (whose, at, condition) in conditions {
        for name in references(&condition, &rules.lists) {
            let defined_at = rules
                .macros
                .get(&name)
                .map(|(a, _)| *a)
                .or_else(|| rules.lists.get(&name).map(|(a, _)| *a))
                .unwrap_or_else(|| panic!("{whose} uses {name}, which is no macro or list"));
            assert!(defined_at < at, "{whose} uses {name} before it is defined");
            used.insert(name);
        }
    }
    for name in rules.macros.keys().chain(rules.lists.keys()) {
        assert!(used.contains(name), "{name} is defined and never used");
    }
}

/// Falco evaluates every enabled rule of a source on every event, in order, and reads a field again for each
/// test of it (benches/rules.rs models that; docs/PERFORMANCE.md has the figures). So the pack enables few
/// rules (state bucket, critical drift, the rest of drift, unmanaged created), ships the finer routing
/// disabled, and each enabled rule's first test is a cloudtrail field: the read-only majority of records is
/// dropped before any rule makes tfdrift read the record.
#[test]
fn few_rules_are_enabled_and_each_tests_a_cloudtrail_field_first() {
    let rules = load();
    let macros = rules.macro_bodies();
    let enabled: Vec<&str> = rules
        .rules
        .iter()
        .filter(|(_, r)| r["enabled"].as_bool() != Some(false))
        .map(|(_, r)| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        enabled,
        [
            "Terraform State Bucket Tampering",
            "Terraform Drift On Critical Resource",
            // A change in a maintenance window is expected, not silent: it stays on record.
            "Terraform Drift During Maintenance",
            "Terraform Drift",
            "Unmanaged Resource Created Outside Terraform",
        ]
    );
    for name in enabled {
        let condition = expand(rules.rule(name)["condition"].as_str().unwrap(), &macros);
        let first = tokens(&condition)
            .into_iter()
            .find(|t| is_field(t))
            .unwrap_or_else(|| panic!("{name}: no field"));
        assert!(
            first.starts_with("ct."),
            "{name}: the first test reads {first}, not a cloudtrail field: {condition}"
        );
    }
    // Under Falco's `rule_matching: first`, the catch-all drift rule comes after every finer drift rule, so
    // that enabling one of them routes its events.
    let position = |name: &str| {
        rules
            .rules
            .iter()
            .position(|(_, r)| r["rule"].as_str() == Some(name))
            .unwrap()
    };
    for finer in [
        "Terraform Drift On Critical Resource",
        "Terraform Drift On High Severity Resource",
        "Terraform Managed Resource Deleted Outside Terraform",
        "Terraform Managed Resource Touched By A Call Outside The Catalog",
    ] {
        assert!(position(finer) < position("Terraform Drift"), "{finer}");
    }
}

#[test]
fn the_condition_check_tells_a_wrong_condition() {
    // The checks above must be able to fail: an undefined macro, a list used as a predicate's left side, a
    // stray comparison, unbalanced parentheses.
    let lists = BTreeMap::from([("tfdrift_state_buckets".to_owned(), (0, Vec::new()))]);
    assert_eq!(
        references(
            "tfdrift_drift and s3.bucket in (tfdrift_state_buckets, other) and tfdrift.severity = critical",
            &lists
        ),
        ["tfdrift_drift", "tfdrift_state_buckets"]
    );
    for bad in [
        "tfdrift_drift and (tfdrift.drift = true",
        "critical = tfdrift.severity",
        "tfdrift.severity = critical and = high",
        "tfdrift_drift and Tfdrift.Drift",
    ] {
        let result = std::panic::catch_unwind(|| references(bad, &lists));
        assert!(result.is_err(), "accepted {bad}");
    }
}

/// A predicate of a rule's condition, as written, and how a field value satisfies it (no value satisfies
/// neither `=`, `!=` nor `in`, as in Falco).
struct Predicate {
    text: &'static str,
}

impl Predicate {
    fn holds(&self, fields: &Fields) -> bool {
        let (negated, rest) = match self.text.strip_prefix("not ") {
            Some(rest) => (true, rest),
            None => (false, self.text),
        };
        if let Some(field) = rest.strip_suffix(" exists") {
            let present = !matches!(
                fields.get(field.trim()),
                falco_plugin_runner::ExtractedField::None
            );
            return present != negated;
        }
        let (field, op, values) = match rest.split_once(" in (") {
            Some((field, list)) => (
                field.trim(),
                "in",
                list.trim_end_matches(')')
                    .split(',')
                    .map(str::trim)
                    .collect::<Vec<_>>(),
            ),
            None => {
                let parts: Vec<&str> = rest.split_whitespace().collect();
                let [field, op, value] = parts[..] else {
                    panic!("predicate {:?}", self.text)
                };
                (field, op, vec![value])
            }
        };
        let actual = match fields.get(field) {
            falco_plugin_runner::ExtractedField::None => None,
            falco_plugin_runner::ExtractedField::Bool(b) => Some(b.to_string()),
            other => Some(other.to_string()),
        };
        let result = match (op, actual) {
            (_, None) => false,
            ("=", Some(a)) => a == values[0],
            ("!=", Some(a)) => a != values[0],
            ("in", Some(a)) => values.contains(&a.as_str()),
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
    /// Where the record comes from (`tests/data/cloudtrail/...`).
    origin: &'static str,
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
    vec![
        Case {
            rule: "Terraform Drift Verdict",
            origin: "stratus-red-team/aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
            record: sg.clone(),
            state: sg_state(),
            extra: json!({}),
            predicates: &["tfdrift.covered exists"],
        },
        Case {
            rule: "Terraform Drift On Critical Resource",
            origin: "stratus-red-team/aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
            record: sg.clone(),
            state: sg_state(),
            extra: json!({}),
            predicates: &[
                "tfdrift.drift = true",
                "tfdrift.severity = critical",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Drift On High Severity Resource",
            origin: "stratus-red-team/aws.persistence.lambda-layer-extension.json",
            record: stratus_record(
                "aws.persistence.lambda-layer-extension.json",
                "UpdateFunctionConfiguration20150331v2",
            ),
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
                "tfdrift.severity = high",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            rule: "Terraform Drift",
            origin: "stratus-red-team/aws.execution.ec2-user-data.json",
            record: stratus_record("aws.execution.ec2-user-data.json", "StopInstances"),
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_instance",
                    "app",
                    json!({"id": "i-DDd6c7B0e18F0E35f", "instance_type": "t3.micro", "instance_state": "running"}),
                )],
            ),
            extra: json!({}),
            predicates: &["tfdrift.drift = true", "not tfdrift.in_maintenance = true"],
        },
        Case {
            rule: "Terraform Managed Resource Deleted Outside Terraform",
            origin: "stratus-red-team/aws.defense-evasion.vpc-remove-flow-logs.json",
            record: stratus_record(
                "aws.defense-evasion.vpc-remove-flow-logs.json",
                "DeleteFlowLogs",
            ),
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
            origin: "panther-analysis.jsonl#190 (FailoverGlobalCluster)",
            record: panther_record(190, "FailoverGlobalCluster"),
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_rds_cluster",
                    "secondary",
                    json!({
                "id": "aurora-eu-secondary", "arn": "arn:aws:rds:eu-west-1:123456789012:cluster:aurora-eu-secondary"}),
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
            origin: "stratus-red-team/aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
            record: sg,
            state: sg_state(),
            extra: json!({"maintenance_windows": [{"name": "CHG-1", "from": "2024-08-01T00:00:00Z", "to": "2024-08-02T00:00:00Z"}]}),
            predicates: &["tfdrift.drift = true", "tfdrift.in_maintenance = true"],
        },
        Case {
            rule: "Unmanaged Resource Created Outside Terraform",
            origin: "stratus-red-team/aws.persistence.iam-create-admin-user.json",
            record: stratus_record("aws.persistence.iam-create-admin-user.json", "CreateUser"),
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
                "tfdrift.change = create",
                "not tfdrift.in_maintenance = true",
            ],
        },
        Case {
            // Someone deletes an object (a state, say) in the state bucket with another SDK: a data event.
            rule: "Terraform State Bucket Tampering",
            origin: "panther-analysis.jsonl:274",
            record: panther_record(274, "DeleteObject"),
            state: state_v4(
                3,
                vec![resource(
                    "",
                    "aws_s3_bucket",
                    "state",
                    json!({"id": "example-bucket", "bucket": "example-bucket"}),
                )],
            ),
            extra: json!({}),
            predicates: &[
                "not tfdrift.by_terraform = true",
                "not tfdrift.actor_kind = aws_service",
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
    let macros = rules.macro_bodies();
    let cases = cases();
    for (_, rule) in &rules.rules {
        let name = rule["rule"].as_str().unwrap();
        assert!(
            cases.iter().any(|c| c.rule == name),
            "rule {name:?} has no test case"
        );
    }
    for case in &cases {
        let rule = rules.rule(case.rule);
        let condition = expand(rule["condition"].as_str().unwrap(), &macros);
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
        // The case speaks for every tfdrift field the rule tests, so no condition goes unchecked.
        let tested: HashSet<String> = predicates.iter().map(|p| p.field().to_owned()).collect();
        assert_eq!(
            tested,
            fields_in(&condition, "tfdrift."),
            "{}: the case's predicates and the condition's tfdrift fields",
            case.rule
        );
        // The cloudtrail plugin's part of "a successful change", read from the record itself.
        let value: Value = serde_json::from_str(&case.record).unwrap();
        if condition.contains("not ct.readonly = \"true\"") {
            assert_ne!(value["readOnly"], json!(true), "{}", case.origin);
        }
        if condition.contains("not ct.error exists") {
            assert!(value.get("errorCode").is_none(), "{}", case.origin);
        }

        let fields: Vec<&str> = tested.iter().map(String::as_str).collect();
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
                "{} ({}): `{}` does not hold for its case: {:?}",
                case.rule,
                case.origin,
                p.text,
                results[0]
            );
        }
        // A rule disabled by default (the debug rule that prints every verdict) may fire for anyone.
        if rule["enabled"].as_bool() != Some(false) {
            assert!(
                !predicates.iter().all(|p| p.holds(&results[1])),
                "{}: fires for Terraform's own call",
                case.rule
            );
        }
    }
}
