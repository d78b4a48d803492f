//! The Google Cloud rules pack, `rules/tfdrift_gcp_rules.yaml`: well formed Falco rules for the `gcp_auditlog`
//! source, reading only fields that exist (tfdrift's, from its own field table, and the gcpaudit plugin's, as
//! its 0.8.1 release declares them), with operators and values their types accept, macros and lists defined
//! before use, names that do not collide with the CloudTrail pack's (Falco keeps one namespace for every
//! rules file it loads), and the requirements Falco and falcoctl read.

use super::rules::{
    COMPARISONS, PRIORITIES, Rules, declared_fields, expand, fields_in, is_field, load_from,
    references, tokens, unquoted,
};
use falco_plugin::extract::ExtractPlugin;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tfdrift_test_support::{
    Fields, config, extract_all, gcp_audit_entry, next, resource, start_gcp, state_v4, write_state,
};
use yaml_rust2::Yaml;

const GCP_RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tfdrift_gcp_rules.yaml");
const AWS_RULES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/tfdrift_rules.yaml");

/// The gcpaudit plugin release whose fields are listed below (falcosecurity/plugins, `plugins/gcpaudit`,
/// `pkg/gcpaudit/extract.go` at `plugins/gcpaudit/v0.8.1`; docs in shared/docs/gcp-facts.md).
const GCPAUDIT_VERSION: &str = "0.8.1";

/// Every field gcpaudit 0.8.1 declares. All are `string`, none is a list, none takes an argument.
const GCPAUDIT_FIELDS: &[&str] = &[
    "gcp.user",
    "gcp.callerIP",
    "gcp.userAgent",
    "gcp.authorizationInfo",
    "gcp.serviceName",
    "gcp.policyDelta",
    "gcp.request",
    "gcp.methodName",
    "gcp.cloudfunctions.function",
    "gcp.cloudsql.databaseId",
    "gcp.compute.instanceId",
    "gcp.compute.networkId",
    "gcp.compute.subnetwork",
    "gcp.compute.subnetworkId",
    "gcp.dns.zone",
    "gcp.iam.serviceAccount",
    "gcp.iam.serviceAccountId",
    "gcp.location",
    "gcp.logging.sink",
    "gcp.projectId",
    "gcp.resourceName",
    "gcp.resourceType",
    "gcp.resourceLabels",
    "gcp.storage.bucket",
    "gcp.time",
];

/// Declared, but never carrying what they promise: a JSON object or array, which the plugin reads with a
/// string getter (no value, or an empty string since 0.7.0). A rule that tests one never fires; an output that
/// prints one shows nothing.
const GCPAUDIT_EMPTY_FIELDS: &[&str] = &["gcp.authorizationInfo", "gcp.request", "gcp.policyDelta"];

/// A field's type as Falco sees it.
#[derive(Debug, Clone)]
struct FieldType {
    kind: String,
    list: bool,
    /// The description, which names the values an enumerated string field takes.
    desc: String,
}

/// tfdrift's fields (from its own table, through the plugin) and gcpaudit's, by name.
fn field_types() -> HashMap<String, FieldType> {
    let declared: Vec<Value> = serde_json::from_str(
        <tfdrift::plugin::TfDrift as ExtractPlugin>::get_fields()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let mut types: HashMap<String, FieldType> = declared
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                FieldType {
                    kind: f["type"].as_str().unwrap().to_owned(),
                    list: f["isList"].as_bool().unwrap_or(false),
                    desc: f["desc"].as_str().unwrap_or("").to_owned(),
                },
            )
        })
        .collect();
    for name in GCPAUDIT_FIELDS {
        types.insert(
            (*name).to_owned(),
            FieldType {
                kind: "string".to_owned(),
                list: false,
                desc: String::new(),
            },
        );
    }
    types
}

/// One comparison of a condition: the field, the operator (`exists` included) and the values, list names
/// replaced by their items.
#[derive(Debug, PartialEq)]
struct Comparison {
    field: String,
    op: String,
    values: Vec<String>,
}

/// The comparisons of a condition whose macros are expanded.
fn comparisons(condition: &str, lists: &BTreeMap<String, (usize, Vec<String>)>) -> Vec<Comparison> {
    let toks = tokens(condition);
    let mut out = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let word = &toks[i];
        if !is_field(word) {
            i += 1;
            continue;
        }
        let op = toks.get(i + 1).cloned().unwrap_or_default();
        let unquote = |v: &str| v.trim_matches(|c| c == '"' || c == '\'').to_owned();
        if op == "exists" {
            out.push(Comparison {
                field: word.clone(),
                op,
                values: Vec::new(),
            });
            i += 2;
        } else if op == "in" || op == "intersects" || op == "pmatch" {
            assert_eq!(
                toks.get(i + 2).map(String::as_str),
                Some("("),
                "{condition}"
            );
            let mut values = Vec::new();
            let mut j = i + 3;
            while toks[j] != ")" {
                match lists.get(&toks[j]) {
                    Some((_, items)) => values.extend(items.iter().cloned()),
                    None if toks[j] != "," => values.push(unquote(&toks[j])),
                    None => {}
                }
                j += 1;
            }
            out.push(Comparison {
                field: word.clone(),
                op,
                values,
            });
            i = j + 1;
        } else if COMPARISONS.contains(&op.as_str()) {
            let value = toks.get(i + 2).expect("a value after a comparison");
            out.push(Comparison {
                field: word.clone(),
                op,
                values: vec![unquote(value)],
            });
            i += 3;
        } else {
            panic!("`{word}` is followed by `{op}`, no operator, in {condition}");
        }
    }
    out
}

/// Why a comparison is one Falco refuses, or one that can never hold; `None` if it is sound. The rules of
/// libsinsp: list fields take `in`, `intersects` and `exists` only ("'contains' operator not supported list
/// filters"); booleans compare with `=` and `!=` to true or false; numbers also order; strings take the text
/// operators (`bcontains` and `bstartswith` are for byte buffers). An enumerated tfdrift field compared to a
/// value its description does not name never matches it.
fn unsound(c: &Comparison, types: &HashMap<String, FieldType>) -> Option<String> {
    let Some(t) = types.get(&c.field) else {
        return Some(format!("{} is no field", c.field));
    };
    let op = c.op.as_str();
    let allowed: &[&str] = if t.list {
        &["in", "intersects", "exists"]
    } else {
        match t.kind.as_str() {
            "bool" => &["=", "==", "!=", "exists"],
            "uint64" => &["=", "==", "!=", "<", "<=", ">", ">=", "in", "exists"],
            _ => &[
                "=",
                "==",
                "!=",
                "contains",
                "icontains",
                "startswith",
                "endswith",
                "glob",
                "iglob",
                "regex",
                "in",
                "pmatch",
                "exists",
            ],
        }
    };
    if !allowed.contains(&op) {
        return Some(format!(
            "{} ({}{}) does not take `{op}`",
            c.field,
            t.kind,
            if t.list { " list" } else { "" }
        ));
    }
    for value in &c.values {
        match t.kind.as_str() {
            "bool" if value != "true" && value != "false" => {
                return Some(format!("{} is a bool, not `{value}`", c.field));
            }
            "uint64" if value.parse::<u64>().is_err() => {
                return Some(format!("{} is a number, not `{value}`", c.field));
            }
            _ => {}
        }
    }
    // tfdrift's enumerated strings (severity, change, match, actor_kind) name their values in their
    // description; an equality with anything else is a typo that silences the rule.
    let enumerated = [
        "tfdrift.severity",
        "tfdrift.change",
        "tfdrift.match",
        "tfdrift.actor_kind",
    ];
    if enumerated.contains(&c.field.as_str()) && ["=", "==", "!=", "in"].contains(&op) {
        let words: BTreeSet<&str> = t
            .desc
            .split(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
            .collect();
        for value in &c.values {
            if !words.contains(value.as_str()) {
                return Some(format!("{} never is `{value}` ({})", c.field, t.desc));
            }
        }
    }
    None
}

fn rule_name(rule: &Yaml) -> &str {
    rule["rule"].as_str().unwrap()
}

fn version(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|n| n.parse().expect("a numeric version"))
        .collect()
}

fn load() -> Rules {
    load_from(GCP_RULES)
}

#[test]
fn gcp_rules_require_gcpaudit_and_this_tfdrift() {
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
    let required: Vec<(&str, &str)> = plugins
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    // The gcpaudit release whose fields were checked, and a tfdrift no newer than this one (else the rules
    // would never load with it).
    assert_eq!(required[0], ("gcpaudit", GCPAUDIT_VERSION));
    assert_eq!(required[1].0, "tfdrift");
    assert_eq!(required.len(), 2, "{required:?}");
    assert!(
        version(required[1].1) <= version(env!("CARGO_PKG_VERSION")),
        "the rules require tfdrift {}, newer than this one",
        required[1].1
    );
}

#[test]
fn gcp_rules_are_well_formed_and_read_only_known_fields() {
    let rules = load();
    let declared = declared_fields();
    let macros = rules.macro_bodies();
    assert!(rules.rules.len() >= 7, "{} rules", rules.rules.len());
    let mut names = BTreeSet::new();
    for (_, rule) in &rules.rules {
        let name = rule_name(rule);
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
        assert_eq!(rule["source"].as_str(), Some("gcp_auditlog"), "{name}");
        let tags: Vec<&str> = rule["tags"]
            .as_vec()
            .expect("tags")
            .iter()
            .map(|t| t.as_str().expect("tags are strings"))
            .collect();
        for tag in ["GCP", "terraform"] {
            assert!(tags.contains(&tag), "{name}: tag {tag}");
        }
        assert!(
            tags.iter().any(|t| t.starts_with("maturity_")),
            "{name}: no maturity tag"
        );
        assert!(
            tags.iter().any(|t| t.starts_with("NIST_800-53_")) || tags.contains(&"debug"),
            "{name}: no NIST 800-53 control"
        );

        let condition = expand(rule["condition"].as_str().unwrap(), &macros);
        let output = rule["output"].as_str().unwrap();
        for word in output.split('%').skip(1) {
            assert!(
                is_field(word),
                "{name}: `%{}` in the output is no field",
                &word[..word.len().min(20)]
            );
        }
        let mut text = format!("{} {output}", unquoted(&condition));
        for exception in rule["exceptions"].as_vec().into_iter().flatten() {
            let fields = exception["fields"].as_vec().expect("exception fields");
            let comps = exception["comps"].as_vec().expect("exception comps");
            assert_eq!(fields.len(), comps.len(), "{name}: exception");
            for (field, comp) in fields.iter().zip(comps) {
                let field = field.as_str().unwrap();
                let comp = comp.as_str().unwrap();
                assert!(
                    COMPARISONS.contains(&comp) || comp == "in",
                    "{name}: exception comp {comp}"
                );
                text.push(' ');
                text.push_str(field);
            }
        }
        for field in fields_in(&text, "tfdrift.") {
            assert!(
                declared.contains(field.as_str()),
                "{name} uses {field}, which tfdrift does not declare"
            );
        }
        for field in fields_in(&text, "gcp.") {
            assert!(
                GCPAUDIT_FIELDS.contains(&field.as_str()),
                "{name} uses {field}, not a field of gcpaudit {GCPAUDIT_VERSION}"
            );
            assert!(
                !GCPAUDIT_EMPTY_FIELDS.contains(&field.as_str()),
                "{name} uses {field}, which gcpaudit leaves empty"
            );
        }
        // The CloudTrail plugin's fields do not exist for this source.
        for prefix in ["ct.", "s3.", "ec2.", "ecr."] {
            assert!(
                fields_in(&text, prefix).is_empty(),
                "{name} reads {prefix}* fields"
            );
        }
        // What every alert needs beside the verdict: which call, on what, where, and when (Falco's own time
        // is the entry's arrival, not the call's).
        if rule["enabled"].as_bool() != Some(false) {
            for field in [
                "gcp.methodName",
                "gcp.resourceName",
                "gcp.projectId",
                "gcp.location",
                "gcp.time",
            ] {
                assert!(
                    output.contains(&format!("%{field}")),
                    "{name}: no {field} in the output"
                );
            }
        }
    }
}

#[test]
fn gcp_rules_use_operators_and_values_their_fields_take() {
    let rules = load();
    let macros = rules.macro_bodies();
    let types = field_types();
    let mut seen = 0;
    for (_, rule) in &rules.rules {
        let condition = expand(rule["condition"].as_str().unwrap(), &macros);
        for c in comparisons(&condition, &rules.lists) {
            if let Some(why) = unsound(&c, &types) {
                panic!("{}: {why}", rule_name(rule));
            }
            seen += 1;
        }
    }
    assert!(seen >= 20, "{seen} comparisons");
}

#[test]
fn the_operator_check_tells_a_wrong_comparison() {
    // The check above must be able to fail: a list field with `=` or `contains`, a bool compared to a word, a
    // severity that does not exist, a field gcpaudit does not have, an operator on a string that only byte
    // buffers take.
    let types = field_types();
    let lists = BTreeMap::from([(
        "tfdrift_gcp_state_buckets".to_owned(),
        (0, vec!["tf-state".to_owned()]),
    )]);
    let sound = comparisons(
        "tfdrift.drift = true and not tfdrift.severity in (critical, high) and gcp.storage.bucket in \
         (tfdrift_gcp_state_buckets) and gcp.methodName endswith \".get\" and tfdrift.changed_attrs \
         intersects (labels) and tfdrift.covered exists",
        &lists,
    );
    assert_eq!(
        sound[2],
        Comparison {
            field: "gcp.storage.bucket".to_owned(),
            op: "in".to_owned(),
            values: vec!["tf-state".to_owned()],
        }
    );
    for c in &sound {
        assert_eq!(unsound(c, &types), None, "{c:?}");
    }
    for bad in [
        "tfdrift.changed_attrs = labels",
        "tfdrift.resource_addresses contains module.x",
        "tfdrift.drift = yes",
        "tfdrift.drift contains true",
        "tfdrift.severity = severe",
        "tfdrift.change in (create, destroy)",
        "tfdrift.actor_kind = google",
        "tfdrift.state_serial = many",
        "gcp.principalSubject = x",
        "gcp.methodName bcontains 676574",
        "gcp.user > a",
    ] {
        let found = comparisons(bad, &lists);
        assert_eq!(found.len(), 1, "{bad}");
        assert!(unsound(&found[0], &types).is_some(), "accepted {bad}");
    }
}

#[test]
fn gcp_macros_and_lists_are_defined_before_use_and_used() {
    let rules = load();
    let mut used = BTreeSet::new();
    let conditions = rules
        .macros
        .iter()
        .map(|(name, (at, body))| (format!("macro {name}"), *at, body.clone()))
        .chain(rules.rules.iter().map(|(at, r)| {
            (
                format!("rule {}", rule_name(r)),
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
    // The state bucket list ships empty: the user names the buckets.
    assert_eq!(
        rules
            .lists
            .get("tfdrift_gcp_state_buckets")
            .map(|(_, items)| items.len()),
        Some(0)
    );
}

#[test]
fn the_two_packs_share_no_name() {
    // Falco has one namespace for the rules, macros and lists of every file it loads: a second definition
    // of a name replaces or breaks the first, so the GCP pack must not reuse a name of the CloudTrail pack.
    let aws = load_from(AWS_RULES);
    let gcp = load();
    let names = |r: &Rules| -> BTreeSet<String> {
        r.rules
            .iter()
            .map(|(_, rule)| format!("rule {}", rule_name(rule)))
            .chain(r.macros.keys().map(|m| format!("macro/list {m}")))
            .chain(r.lists.keys().map(|l| format!("macro/list {l}")))
            .collect()
    };
    let shared: Vec<String> = names(&aws).intersection(&names(&gcp)).cloned().collect();
    assert!(shared.is_empty(), "{shared:?}");
}

#[test]
fn each_gcp_rule_begins_with_a_test_that_is_rarely_true() {
    // Falco evaluates every rule of the source on every entry, in order. Each rule's first test is one that
    // is false for nearly every entry (tfdrift's verdict, computed once per entry and then cached, or the
    // state bucket list), so the rest of the condition is seldom read. The debug rule, disabled, is exempt.
    let rules = load();
    let macros = rules.macro_bodies();
    for (_, rule) in &rules.rules {
        if rule["enabled"].as_bool() == Some(false) {
            continue;
        }
        let condition = expand(rule["condition"].as_str().unwrap(), &macros);
        let first = comparisons(&condition, &rules.lists)
            .into_iter()
            .next()
            .expect("a comparison");
        let selective = [
            ("tfdrift.drift", "=", "true"),
            ("tfdrift.unmanaged", "=", "true"),
            ("gcp.storage.bucket", "in", ""),
        ];
        assert!(
            selective.iter().any(|(f, op, v)| first.field == *f
                && first.op == *op
                && (v.is_empty() || first.values == [*v])),
            "{}: begins with {first:?}",
            rule_name(rule)
        );
        assert!(
            !condition.trim_start().starts_with("(not")
                && !condition.trim_start().starts_with("not"),
            "{}: begins with a negation, true for nearly every entry",
            rule_name(rule)
        );
    }
}

#[test]
fn five_gcp_rules_are_enabled_and_the_finer_ones_come_before_the_catch_all() {
    // As in the CloudTrail pack: every enabled rule costs every entry a read, so the finer routing rules ship
    // disabled, and under Falco's `rule_matching: first` they stand before "GCP Terraform Drift" so that
    // enabling one takes its events from it.
    let rules = load();
    let enabled: Vec<&str> = rules
        .rules
        .iter()
        .filter(|(_, r)| r["enabled"].as_bool() != Some(false))
        .map(|(_, r)| rule_name(r))
        .collect();
    assert_eq!(
        enabled,
        [
            "GCP Terraform State Bucket Tampering",
            "GCP Terraform Drift On Critical Resource",
            "GCP Terraform Drift During Maintenance",
            "GCP Terraform Drift",
            "GCP Unmanaged Resource Created Outside Terraform",
        ]
    );
    let position = |name: &str| {
        rules
            .rules
            .iter()
            .position(|(_, r)| rule_name(r) == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
    };
    for finer in [
        "GCP Terraform Drift On Critical Resource",
        "GCP Terraform Drift On High Severity Resource",
        "GCP Terraform Managed Resource Deleted Outside Terraform",
        "GCP Terraform Drift During Maintenance",
    ] {
        assert!(position(finer) < position("GCP Terraform Drift"), "{finer}");
    }
}

#[test]
fn enabling_the_high_severity_gcp_rule_routes_the_subnetwork_drift_to_it() {
    // The subnetwork change is high severity: with the pack as shipped "GCP Terraform Drift" takes it (see
    // above); a user who enables the finer rule, as docs/GUIDE.md says, gets it at ERROR from that rule.
    let (entry, state) = subnetwork_case();
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "network.tfstate", &state);
    let plain = config(&[("network", &path)], serde_json::json!({}));
    let pack = std::fs::read_to_string(GCP_RULES).unwrap();
    let marker = "- rule: GCP Terraform Drift On High Severity Resource\n";
    let at = pack.find(marker).expect("the rule");
    let end = at
        + pack[at..]
            .find("  enabled: false\n")
            .expect("shipped disabled");
    let enabled = format!(
        "{}{}",
        &pack[..end],
        &pack[end + "  enabled: false\n".len()..]
    );
    let rules = falco_model::Ruleset::load(&[&enabled]);
    let mut capture = start_gcp(std::slice::from_ref(&entry), &plain).expect("tfdrift starts");
    let event = next(&mut capture).expect("the entry");
    let outcome = rules.run(&mut capture, &event);
    let matched = outcome.matched.map(|i| rules.rules[i].name.as_str());
    assert_eq!(
        matched,
        Some("GCP Terraform Drift On High Severity Resource")
    );
}

/// The rules benchmark's model of Falco's condition language: a parser with precedence and parentheses.
#[allow(dead_code)]
#[path = "../../benches/support/falco.rs"]
mod falco_model;

#[test]
fn the_gcp_pack_parses_in_the_rules_model_beside_the_cloudtrail_pack() {
    // The benchmark's parser (benches/support/falco.rs) reads every enabled rule whole, with its macros, lists
    // and exceptions, and refuses trailing tokens: the conditions are well formed beyond the token checks
    // above, and the pack can be measured with TFDRIFT_BENCH_RULES.
    let gcp = std::fs::read_to_string(GCP_RULES).unwrap();
    let aws = std::fs::read_to_string(AWS_RULES).unwrap();
    let enabled = load()
        .rules
        .iter()
        .filter(|(_, r)| r["enabled"].as_bool() != Some(false))
        .count();
    assert_eq!(falco_model::Ruleset::load(&[&gcp]).rules.len(), enabled);
    let both = falco_model::Ruleset::load(&[&aws, &gcp]);
    assert!(both.rules.len() > enabled);
}

/// The pack in the rules model, on real entries through the C ABI: the gcpaudit stand-in emits them and
/// answers `gcp.*` as the gcpaudit plugin does, tfdrift answers `tfdrift.*`, and each event alerts for the first
/// rule that matches (Falco's `rule_matching: first`). Returns, per entry, the matching rule and its output
/// fields.
fn fire(entries: &[String], config: &str) -> Vec<Option<(String, Fields)>> {
    let gcp = std::fs::read_to_string(GCP_RULES).unwrap();
    let rules = falco_model::Ruleset::load(&[&gcp]);
    let mut capture = start_gcp(entries, config).expect("tfdrift starts");
    let mut out = Vec::new();
    while let Some(event) = next(&mut capture) {
        let outcome = rules.run(&mut capture, &event);
        out.push(outcome.matched.map(|i| {
            let rule = &rules.rules[i];
            let fields: Vec<&str> = rule.output_fields.iter().map(String::as_str).collect();
            (
                rule.name.clone(),
                extract_all(&mut capture, &event, &fields),
            )
        }));
    }
    assert_eq!(out.len(), entries.len());
    out
}

/// A console user's `compute.subnetworks.patch` on a subnetwork Terraform manages (panther-analysis.jsonl entry
/// 2, counted from 0 as in PROVENANCE.tsv: VPC flow logs turned on for
/// `projects/test-project/regions/us-central1/subnetworks/default` by `user1@company.io` in the console) and a
/// state that holds the subnetwork without flow logs.
fn subnetwork_case() -> (String, Value) {
    let entry = gcp_audit_entry("panther-analysis", 2);
    let state = state_v4(
        3,
        vec![resource(
            "module.network",
            "google_compute_subnetwork",
            "default",
            serde_json::json!({
                "id": "projects/test-project/regions/us-central1/subnetworks/default",
                "name": "default",
                "project": "test-project",
                "region": "us-central1",
                "ip_cidr_range": "10.128.0.0/20",
                "network": "https://www.googleapis.com/compute/v1/projects/test-project/global/networks/default",
                "self_link": "https://www.googleapis.com/compute/v1/projects/test-project/regions/us-central1/subnetworks/default",
                "private_ip_google_access": false,
                "log_config": []
            }),
        )],
    );
    (entry, state)
}

#[test]
fn a_console_change_to_a_managed_subnetwork_fires_a_gcp_drift_rule_and_terraform_s_own_does_not() {
    let (entry, state) = subnetwork_case();
    let view: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(
        view["protoPayload"]["methodName"],
        "v1.compute.subnetworks.patch"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "network.tfstate", &state);
    let plain = config(&[("network", &path)], serde_json::json!({}));
    // The same call as Terraform's google provider makes it: its service account, configured as Terraform's.
    let mut by_terraform: Value = view.clone();
    by_terraform["protoPayload"]["authenticationInfo"]["principalEmail"] =
        "terraform@test-project.iam.gserviceaccount.com".into();
    let config_tf = config(
        &[("network", &path)],
        serde_json::json!({"terraform": {"principals": ["terraform@*.iam.gserviceaccount.com"]}}),
    );

    let fired = fire(std::slice::from_ref(&entry), &plain);
    let (rule, fields) = fired[0].as_ref().expect("a rule fires");
    // A subnetwork change is high severity in the catalog (network exposure); the high severity rule ships
    // disabled, so "GCP Terraform Drift" takes it, with its severity in the output.
    assert_eq!(rule, "GCP Terraform Drift");
    assert_eq!(fields.str("tfdrift.severity").as_deref(), Some("high"));
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("module.network.google_compute_subnetwork.default")
    );
    assert_eq!(
        fields.str("tfdrift.actor").as_deref(),
        Some("user1@company.io")
    );
    assert_eq!(fields.str("tfdrift.actor_kind").as_deref(), Some("console"));
    assert_eq!(
        fields.str("gcp.methodName").as_deref(),
        Some("v1.compute.subnetworks.patch")
    );
    assert_eq!(fields.str("gcp.projectId").as_deref(), Some("test-project"));

    let quiet = fire(&[by_terraform.to_string()], &config_tf);
    assert!(
        quiet[0].is_none(),
        "Terraform's own call fired {:?}",
        quiet[0].as_ref().map(|f| &f.0)
    );
}

#[test]
fn a_console_grant_of_public_read_on_a_managed_bucket_fires_the_critical_gcp_rule_with_the_binding()
{
    // panther-analysis.jsonl entry 23 (from 0, as in PROVENANCE.tsv): `storage.setIamPermissions` on
    // `projects/_/buckets/jacks-test-bucket` by a console user, whose `serviceData.policyDelta` (written by
    // Google) adds `allUsers` as `roles/storage.objectViewer`: the bucket's objects become public. The state
    // holds the bucket's IAM through one `google_storage_bucket_iam_member`, without that grant.
    let entry = gcp_audit_entry("panther-analysis", 23);
    let view: Value = serde_json::from_str(&entry).unwrap();
    assert_eq!(
        view["protoPayload"]["serviceData"]["policyDelta"]["bindingDeltas"][0]["member"],
        "allUsers"
    );
    let state = state_v4(
        7,
        vec![
            resource(
                "",
                "google_storage_bucket",
                "data",
                serde_json::json!({
                    "id": "jacks-test-bucket", "name": "jacks-test-bucket", "project": "western-verve-123456",
                    "location": "US", "self_link": "https://www.googleapis.com/storage/v1/b/jacks-test-bucket"
                }),
            ),
            resource(
                "",
                "google_storage_bucket_iam_member",
                "ops",
                serde_json::json!({
                    "id": "b/jacks-test-bucket/roles/storage.admin/group:ops@example.com",
                    "bucket": "b/jacks-test-bucket", "role": "roles/storage.admin",
                    "member": "group:ops@example.com", "condition": [], "etag": "CAE="
                }),
            ),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "data.tfstate", &state);
    let fired = fire(
        std::slice::from_ref(&entry),
        &config(&[("data", &path)], serde_json::json!({})),
    );
    let (rule, fields) = fired[0].as_ref().expect("a rule fires");
    assert_eq!(rule, "GCP Terraform Drift On Critical Resource");
    assert_eq!(
        fields.str("tfdrift.actor").as_deref(),
        Some("user@runpanther.io")
    );
    assert_eq!(fields.str("tfdrift.actor_kind").as_deref(), Some("console"));
    let summary = fields.str("tfdrift.summary").unwrap_or_default();
    assert!(
        summary.contains("roles/storage.objectViewer") && summary.contains("+allUsers"),
        "{summary}"
    );
    let diff: Value = serde_json::from_str(&fields.str("tfdrift.diff").unwrap()).unwrap();
    assert!(diff.to_string().contains("allUsers"), "{diff}");
    // No resource of the state holds the new grant: the alert names the bucket whose policy changed.
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("google_storage_bucket.data")
    );
}

#[test]
fn the_subnetwork_drift_fires_with_its_state_read_from_a_gcs_backend() {
    // The state in a `gcs` backend as Terraform writes it (`<prefix>default.tfstate`), served by fake-gcs-server on
    // loopback with anonymous credentials: nothing here may reach a metadata server or the internet.
    let (entry, state) = subnetwork_case();
    let server = tfdrift_test_support::FakeGcsServer::start();
    server.create_bucket("acme-tf-state");
    server.put(
        "acme-tf-state",
        "env/prod/network/default.tfstate",
        &serde_json::to_vec(&state).unwrap(),
    );
    let config = serde_json::json!({
        "states": [{"name": "network", "gcs": {
            "bucket": "acme-tf-state", "prefix": "env/prod/network",
            "endpoint": server.endpoint(), "credentials": "anonymous"
        }}],
    });
    let fired = fire(std::slice::from_ref(&entry), &config.to_string());
    let (rule, fields) = fired[0].as_ref().expect("a rule fires");
    assert_eq!(rule, "GCP Terraform Drift");
    assert_eq!(
        fields.str("tfdrift.resource_address").as_deref(),
        Some("module.network.google_compute_subnetwork.default")
    );
    assert_eq!(fields.str("tfdrift.state").as_deref(), Some("network"));
    assert_eq!(
        fields.str("tfdrift.actor").as_deref(),
        Some("user1@company.io")
    );
    // The request turns flow logs on (`logConfig`); the state holds none: `log_config` changed.
    assert_eq!(fields.list("tfdrift.changed_attrs"), ["log_config"]);
}
