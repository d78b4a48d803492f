//! Comparing what a call requests with what the state holds, by the meaning of the value.
//!
//! - Scalars compare by value whatever their JSON type (`"true"` and `true`, `"20"` and `20`).
//! - Policy documents (IAM, bucket, key, queue policies) compare as documents: CloudTrail writes them as JSON
//!   text, URL-encoded text or objects; statement order, a one-element list against a scalar, and the case of
//!   action names make no difference.
//! - Tags compare key by key: tagging changes only the keys it sets, untagging only the keys it removes.
//! - Security group rules compare as sets of (protocol, ports, source) rules: authorising a rule the state
//!   already holds changes nothing; revoking one it holds does.
//! - Objects and arrays otherwise compare structurally, and a one-element list equals its element (the state
//!   writes blocks as lists); a member in lowerCamel (a Google request's) matches its snake_case form (the
//!   state's), and a Google API URL the relative path it ends in (`projects/p/global/networks/n`).
//! - Sets (`set`) compare regardless of order; Google resource references (`reference`) compare a name, a
//!   relative path and a URL as one when the shorter is the trailing segments of the longer.
//!
//! What cannot be compared is [`Outcome::Unknown`] with a reason: it counts as a change, since a false
//! "changed" is better than a missed drift.

use crate::catalog::{Kind, Op, snake_case};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// The result of a comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Equal.
    Same,
    /// Different.
    Changed,
    /// Cannot be compared; counts as changed.
    Unknown(&'static str),
}

/// What CloudTrail writes in place of a value it hides: its markers, or a run of asterisks (`****`). A single
/// `*` is a value, not a mask: the wildcard principal or action of a resource policy (Lambda's AddPermission,
/// SNS's and SQS's), which must compare equal to the `*` a state holds. Were a mask ever a single `*`, it would
/// still compare as changed against any other value the state holds: never a silence.
pub fn hidden_by_cloudtrail(value: &Value) -> bool {
    match value {
        Value::String(s) => {
            s == "HIDDEN_DUE_TO_SECURITY_REASONS"
                || s == "<sensitiveDataRemoved>"
                || s.starts_with("<sensitive")
                || (s.len() > 1 && s.bytes().all(|c| c == b'*'))
        }
        _ => false,
    }
}

/// Compares a requested value with the state's.
pub fn compare(kind: Kind, op: Op, requested: &Value, state: &Value) -> Outcome {
    if hidden_by_cloudtrail(requested) {
        return Outcome::Unknown("CloudTrail hides the requested value");
    }
    match kind {
        Kind::Value => match op {
            Op::Set => outcome(same(requested, state)),
            // Entries added to or removed from a list (accounts a snapshot is shared with): adding what the
            // state holds, or removing what it does not, changes nothing.
            Op::Add => outcome(entries(requested).iter().all(|r| holds(state, r))),
            Op::Remove => outcome(!entries(requested).iter().any(|r| holds(state, r))),
        },
        Kind::Policy => match (policy(requested), policy(state)) {
            (Some(a), Some(b)) => outcome(a == b),
            (Some(_), None) if state.is_null() || state == "" => Outcome::Changed,
            (None, _) => Outcome::Unknown("the requested policy is not a JSON document"),
            (Some(_), None) => Outcome::Unknown("the state's policy is not a JSON document"),
        },
        Kind::Tags => compare_tags(op, requested, state),
        Kind::SecurityGroupRules => compare_rules(op, requested, state),
        Kind::Reference => outcome(same_references(requested, state)),
        Kind::Set => match op {
            Op::Set => outcome(
                entries(requested).iter().all(|r| holds(state, r))
                    && entries(state).iter().all(|s| holds(requested, s)),
            ),
            Op::Add => outcome(entries(requested).iter().all(|r| holds(state, r))),
            Op::Remove => outcome(!entries(requested).iter().any(|r| holds(state, r))),
        },
    }
}

/// Whether two references to Google Cloud resources (a name, a relative path, a URL; or lists of them, in any
/// order) name the same resources: the shorter is the trailing whole segments of the longer, so
/// `zones/us-central1-a/machineTypes/e2-small` (what `setMachineType` sends) is the state's `e2-small`, and a
/// subnetwork's self link is `projects/p/regions/r/subnetworks/s`.
fn same_references(requested: &Value, state: &Value) -> bool {
    match (requested, state) {
        (Value::String(a), Value::String(b)) => same_reference(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len()
                && a.iter().all(|x| b.iter().any(|y| same_references(x, y)))
                && b.iter().all(|y| a.iter().any(|x| same_references(x, y)))
        }
        (Value::Array(a), other) | (other, Value::Array(a)) if a.len() == 1 => {
            same_references(&a[0], other)
        }
        (a, b) => same(a, b),
    }
}

fn same_reference(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    let (long, short) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    long == short
        || (!short.is_empty()
            && long.ends_with(short)
            && long.as_bytes()[long.len() - short.len() - 1] == b'/')
}

/// A Google API URL (`https://www.googleapis.com/compute/v1/projects/p/global/networks/n`) and the relative
/// path it ends in (`projects/p/global/networks/n`): the state writes links as URLs, requests often as paths.
fn same_google_link(a: &str, b: &str) -> bool {
    let (url, path) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    url.starts_with("https://www.googleapis.com/")
        && path.starts_with("projects/")
        && url.ends_with(path)
        && url.as_bytes()[url.len() - path.len() - 1] == b'/'
}

/// A list's entries, or a single value as one.
fn entries(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// Whether the state's value (a list, or one value) holds `entry`.
fn holds(state: &Value, entry: &Value) -> bool {
    entries(state).iter().any(|held| same(entry, held))
}

fn outcome(same: bool) -> Outcome {
    if same {
        Outcome::Same
    } else {
        Outcome::Changed
    }
}

/// Whether `requested` and `state` mean the same value.
pub fn same(requested: &Value, state: &Value) -> bool {
    match (requested, state) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Array(a), other) | (other, Value::Array(a)) if a.len() == 1 => same(&a[0], other),
        (Value::Object(a), Value::Object(b)) => {
            // Keys the request leaves out are not requested; compare what it sets. A Google request writes a
            // nested member in lowerCamel (`ipConfiguration.requireSsl`) where the state's block has it in
            // snake_case (`require_ssl`).
            a.iter().all(|(k, v)| match member(b, k) {
                Some(w) => same(v, w),
                None => v.is_null(),
            })
        }
        (Value::Null, Value::Null) => true,
        (Value::Null, Value::String(s)) | (Value::String(s), Value::Null) => s.is_empty(),
        // A document logged as an object (S3 bucket and KMS key policies) against the state's JSON text.
        (Value::Object(_), Value::String(_)) | (Value::String(_), Value::Object(_)) => {
            matches!((policy(requested), policy(state)), (Some(x), Some(y)) if x == y)
        }
        (Value::String(a), Value::String(b)) if same_google_link(a, b) => true,
        (Value::String(a), Value::String(b)) if a != b => {
            // JSON text (a policy, a JSON-encoded setting) compares as the document it holds. Two strings are
            // never compared as numbers: a state writes a string attribute as a string, and "13.1" is not
            // the engine version "13.10".
            matches!((policy(requested), policy(state)), (Some(x), Some(y)) if x == y)
        }
        // A number on either side: the provider's schema types the attribute a number (the state writes it as
        // one; CloudTrail may log it as text, and legacy states write every value as text), so 20, 20.0 and
        // "20" are one value.
        (a @ Value::Number(_), b) | (b, a @ Value::Number(_)) => {
            match (scalar_text(a), scalar_text(b)) {
                (Some(x), Some(y)) => x == y || numbers_equal(&x, &y),
                _ => false,
            }
        }
        (a, b) => match (scalar_text(a), scalar_text(b)) {
            (Some(x), Some(y)) => x == y,
            _ => false,
        },
    }
}

/// The member `key` of `object`, or the one whose name is `key` in snake_case, or whose snake_case is `key`
/// (either side may be the request's: a one-element list's element is compared from the state's side). The
/// last is a scan, made only of an object of at most [`MEMBER_SCAN_MAX`] members: a hostile request's object
/// is not scanned once per state key (a member not found is then a difference, never a match).
fn member<'v>(object: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    object
        .get(key)
        .or_else(|| object.get(&snake_case(key)))
        .or_else(|| {
            (object.len() <= MEMBER_SCAN_MAX)
                .then(|| object.iter().find(|(k, _)| snake_case(k) == key))
                .flatten()
                .map(|(_, v)| v)
        })
}

/// The most members of an object [`member`] scans.
const MEMBER_SCAN_MAX: usize = 64;

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn numbers_equal(a: &str, b: &str) -> bool {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

// ------------------------------------------------------------------------------------------ policies

/// A policy document in canonical form, from JSON text (URL-encoded or not) or an object; `None` when the
/// value holds no JSON object.
pub fn policy(value: &Value) -> Option<Value> {
    let document = match value {
        Value::Object(_) => value.clone(),
        Value::String(text) => {
            let text = text.trim();
            let decoded;
            let text = if text.starts_with('%') || (text.contains("%22") && !text.contains('"')) {
                decoded = percent_decode_str(text).decode_utf8().ok()?;
                decoded.trim()
            } else {
                text
            };
            if !text.starts_with('{') {
                return None;
            }
            serde_json::from_str::<Value>(text).ok()?
        }
        // A one-element list holding the document.
        Value::Array(items) if items.len() == 1 => return policy(&items[0]),
        _ => return None,
    };
    document.is_object().then(|| canonical_policy(document))
}

/// Statement order, scalar-or-list, duplicate entries and the case of actions make no difference.
fn canonical_policy(document: Value) -> Value {
    let Value::Object(mut map) = document else {
        return document;
    };
    if let Some(statements) = map.remove("Statement") {
        let mut list: Vec<Value> = as_list(statements)
            .into_iter()
            .map(canonical_statement)
            .collect();
        list.sort_by_cached_key(|s| s.to_string());
        list.dedup();
        map.insert("Statement".into(), Value::Array(list));
    }
    Value::Object(map)
}

fn canonical_statement(statement: Value) -> Value {
    let Value::Object(map) = statement else {
        return statement;
    };
    let mut out = Map::new();
    for (key, value) in map {
        let value = match key.as_str() {
            "Action" | "NotAction" => sorted_set(value, true),
            "Resource" | "NotResource" => sorted_set(value, false),
            "Principal" | "NotPrincipal" => match value {
                Value::Object(principals) => Value::Object(
                    principals
                        .into_iter()
                        .map(|(k, v)| (k, sorted_set(v, false)))
                        .collect(),
                ),
                other => other,
            },
            "Condition" => match value {
                Value::Object(operators) => Value::Object(
                    operators
                        .into_iter()
                        .map(|(op, keys)| match keys {
                            Value::Object(keys) => (
                                op,
                                Value::Object(
                                    keys.into_iter()
                                        .map(|(k, v)| (k, sorted_set(v, false)))
                                        .collect(),
                                ),
                            ),
                            other => (op, other),
                        })
                        .collect(),
                ),
                other => other,
            },
            _ => value,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

fn as_list(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => vec![other],
    }
}

fn sorted_set(value: Value, lowercase: bool) -> Value {
    let mut items: Vec<Value> = as_list(value)
        .into_iter()
        .map(|v| match v {
            Value::String(s) if lowercase => Value::String(s.to_ascii_lowercase()),
            other => other,
        })
        .collect();
    items.sort_by_cached_key(|v| v.to_string());
    items.dedup();
    Value::Array(items)
}

// ---------------------------------------------------------------------------------------------- tags

/// Tags as a map, from a map, a list of `{key, value}` / `{Key, Value}` objects, or (for removals) a list of
/// key names.
fn tag_map(value: &Value) -> Option<BTreeMap<String, Option<String>>> {
    let mut out = BTreeMap::new();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.insert(k.clone(), scalar_text(v));
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(key) => {
                        out.insert(key.clone(), None);
                    }
                    Value::Object(pair) => {
                        let key = ["key", "Key", "tagKey", "TagKey"]
                            .iter()
                            .find_map(|k| pair.get(*k))?;
                        let value = ["value", "Value", "tagValue", "TagValue"]
                            .iter()
                            .find_map(|k| pair.get(*k));
                        out.insert(scalar_text(key)?, value.and_then(scalar_text));
                    }
                    _ => return None,
                }
            }
        }
        Value::Null => {}
        _ => return None,
    }
    Some(out)
}

fn compare_tags(op: Op, requested: &Value, state: &Value) -> Outcome {
    let Some(requested) = tag_map(requested) else {
        return Outcome::Unknown("the requested tags are not a map or a list of key/value pairs");
    };
    if requested
        .keys()
        .any(|k| k == "HIDDEN_DUE_TO_SECURITY_REASONS")
    {
        return Outcome::Unknown("CloudTrail hides the requested tags");
    }
    let Some(state) = tag_map(state) else {
        return Outcome::Unknown("the state's tags are not a map");
    };
    match op {
        Op::Add => outcome(
            requested
                .iter()
                .all(|(k, v)| state.get(k).is_some_and(|s| s == v)),
        ),
        Op::Remove => outcome(requested.keys().all(|k| !state.contains_key(k))),
        Op::Set => outcome(requested == state),
    }
}

// ------------------------------------------------------------------------------ security group rules

/// One rule: protocol, port range, and one source or destination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Rule {
    protocol: String,
    from: i64,
    to: i64,
    peer: String,
}

impl Rule {
    fn new(protocol: &str, from: Option<i64>, to: Option<i64>, peer: String) -> Rule {
        let protocol = match protocol.to_ascii_lowercase().as_str() {
            "-1" | "all" | "" => "-1".to_owned(),
            "6" => "tcp".to_owned(),
            "17" => "udp".to_owned(),
            "1" => "icmp".to_owned(),
            "58" => "icmpv6".to_owned(),
            other => other.to_owned(),
        };
        // Ports mean nothing for "all protocols"; AWS writes them as -1 or 0 or leaves them out.
        let (from, to) = if protocol == "-1" {
            (0, 0)
        } else {
            (from.unwrap_or(0), to.unwrap_or(0))
        };
        Rule {
            protocol,
            from,
            to,
            peer,
        }
    }

    fn describe(&self) -> String {
        let ports = if self.protocol == "-1" {
            String::new()
        } else if self.from == self.to {
            format!(" {}", self.from)
        } else {
            format!(" {}-{}", self.from, self.to)
        };
        let protocol = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        format!("{protocol}{ports} {}", self.peer)
    }
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(scalar_text).filter(|s| !s.is_empty())
}

/// The items of a CloudTrail EC2 list: `{items: [...]}`, a bare list, or one object.
fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Object(map)) if map.contains_key("items") => items(map.get("items")),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(v @ Value::Object(map)) if !map.is_empty() => vec![v],
        _ => Vec::new(),
    }
}

/// Rules of an Authorize/Revoke request: the legacy flat form (`cidrIp`, `fromPort`, ...) and
/// `ipPermissions.items[]` with their ranges, groups and prefix lists.
fn requested_rules(request: &Value) -> BTreeSet<Rule> {
    let mut rules = BTreeSet::new();
    let Value::Object(map) = request else {
        return rules;
    };
    let protocol = text(map.get("ipProtocol")).unwrap_or_default();
    for (member, peer) in [
        ("cidrIp", "cidr"),
        ("sourceSecurityGroupName", "group-name"),
    ] {
        if let Some(value) = text(map.get(member)) {
            let (from, to) = (int(map.get("fromPort")), int(map.get("toPort")));
            rules.insert(Rule::new(&protocol, from, to, format!("{peer} {value}")));
        }
    }
    for permission in items(map.get("ipPermissions")) {
        let protocol = text(permission.get("ipProtocol")).unwrap_or_default();
        let from = int(permission.get("fromPort"));
        let to = int(permission.get("toPort"));
        let mut add = |peer: String| {
            rules.insert(Rule::new(&protocol, from, to, peer));
        };
        for range in items(permission.get("ipRanges")) {
            if let Some(cidr) = text(range.get("cidrIp")) {
                add(format!("cidr {cidr}"));
            }
        }
        for range in items(permission.get("ipv6Ranges")) {
            if let Some(cidr) = text(range.get("cidrIpv6")) {
                add(format!("cidr {cidr}"));
            }
        }
        for group in items(permission.get("groups")) {
            if let Some(id) = text(group.get("groupId")) {
                add(format!("group {}", bare_group(&id)));
            }
        }
        for list in items(permission.get("prefixListIds")) {
            if let Some(id) = text(list.get("prefixListId")) {
                add(format!("prefix-list {id}"));
            }
        }
    }
    rules
}

/// `123456789012/sg-1` and `sg-1` name the same group.
fn bare_group(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// Rules of the state's `ingress`/`egress` blocks. `self` is the group itself (`own_group`).
fn state_rules(state: &Value, own_group: Option<&str>) -> Option<BTreeSet<Rule>> {
    let mut rules = BTreeSet::new();
    let blocks = match state {
        Value::Array(blocks) => blocks,
        Value::Null => return Some(rules),
        _ => return None,
    };
    for block in blocks {
        let protocol = text(block.get("protocol")).unwrap_or_default();
        let from = int(block.get("from_port"));
        let to = int(block.get("to_port"));
        let mut add = |peer: String| {
            rules.insert(Rule::new(&protocol, from, to, peer));
        };
        for key in ["cidr_blocks", "ipv6_cidr_blocks"] {
            for cidr in items(block.get(key)) {
                if let Some(cidr) = scalar_text(cidr) {
                    add(format!("cidr {cidr}"));
                }
            }
        }
        for group in items(block.get("security_groups")) {
            if let Some(id) = scalar_text(group) {
                add(format!("group {}", bare_group(&id)));
            }
        }
        for list in items(block.get("prefix_list_ids")) {
            if let Some(id) = scalar_text(list) {
                add(format!("prefix-list {id}"));
            }
        }
        if block.get("self") == Some(&Value::Bool(true))
            && let Some(own) = own_group
        {
            add(format!("group {own}"));
        }
    }
    Some(rules)
}

fn compare_rules(op: Op, requested: &Value, state: &Value) -> Outcome {
    let own_group = requested.get("groupId").and_then(Value::as_str);
    let wanted = requested_rules(requested);
    if wanted.is_empty() {
        return Outcome::Unknown("no rule could be read from the request");
    }
    let Some(held) = state_rules(state, own_group) else {
        return Outcome::Unknown("the state's rules are not a list of blocks");
    };
    match op {
        Op::Add => outcome(wanted.is_subset(&held)),
        Op::Remove => outcome(wanted.is_disjoint(&held)),
        Op::Set => outcome(wanted == held),
    }
}

/// Readable rules for a diff: `["tcp 22 cidr 0.0.0.0/0"]`. The state's are read the same way, so the two
/// sides of the diff line up.
pub fn describe_rules(requested: &Value, state: &Value) -> (Value, Value) {
    let own_group = requested.get("groupId").and_then(Value::as_str);
    let show = |rules: BTreeSet<Rule>| {
        Value::Array(rules.iter().map(|r| Value::String(r.describe())).collect())
    };
    let state = state_rules(state, own_group).map_or_else(|| state.clone(), show);
    (show(requested_rules(requested)), state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_compare_by_value() {
        assert!(same(&json!("t3.micro"), &json!("t3.micro")));
        assert!(!same(&json!("t3.micro"), &json!("t3.large")));
        assert!(same(&json!(true), &json!("true")));
        assert!(same(&json!(20), &json!("20")));
        assert!(same(&json!(20), &json!(20.0)));
        assert!(!same(&json!(20), &json!(21)));
        assert!(same(&json!(null), &json!("")));
        // Strings are compared as strings, whatever digits they hold: versions are not numbers.
        assert!(!same(&json!("13.10"), &json!("13.1")));
        assert!(!same(&json!("1.0"), &json!("1")));
        assert!(same(&json!("13.1"), &json!("13.1")));
        assert!(same(&json!("20"), &json!(20)));
        assert!(same(&json!(20.0), &json!("20")));
    }

    #[test]
    fn entries_added_or_removed() {
        let shared = json!(["111122223333", "444455556666"]);
        let run = |op, requested: Value| compare(Kind::Value, op, &requested, &shared);
        assert_eq!(run(Op::Add, json!(["111122223333"])), Outcome::Same);
        assert_eq!(run(Op::Add, json!(["777788889999"])), Outcome::Changed);
        assert_eq!(run(Op::Remove, json!(["777788889999"])), Outcome::Same);
        assert_eq!(run(Op::Remove, json!(["444455556666"])), Outcome::Changed);
        assert_eq!(run(Op::Remove, json!("444455556666")), Outcome::Changed);
        assert_eq!(
            compare(Kind::Value, Op::Add, &json!("1"), &Value::Null),
            Outcome::Changed
        );
    }

    #[test]
    fn blocks_and_lists() {
        assert!(same(
            &json!({"Status": "Enabled"}),
            &json!([{"Status": "Enabled", "MfaDelete": null}])
        ));
        assert!(!same(
            &json!({"Status": "Suspended"}),
            &json!([{"Status": "Enabled"}])
        ));
        assert!(same(&json!(["a", "b"]), &json!(["a", "b"])));
        assert!(!same(&json!(["a"]), &json!(["a", "b"])));
    }

    #[test]
    fn cloudtrail_hides_some_values() {
        for hidden in [
            "HIDDEN_DUE_TO_SECURITY_REASONS",
            "<sensitiveDataRemoved>",
            "****",
        ] {
            assert!(hidden_by_cloudtrail(&json!(hidden)), "{hidden}");
            assert!(matches!(
                compare(Kind::Value, Op::Set, &json!(hidden), &json!("x")),
                Outcome::Unknown(_)
            ));
        }
        assert!(!hidden_by_cloudtrail(&json!("hello")));
        // The wildcard of a resource policy is a value: equal to the state's `*`, changed against anything else.
        assert!(!hidden_by_cloudtrail(&json!("*")));
        assert_eq!(
            compare(Kind::Value, Op::Set, &json!("*"), &json!("*")),
            Outcome::Same
        );
        assert_eq!(
            compare(Kind::Value, Op::Set, &json!("*"), &json!("123456789012")),
            Outcome::Changed
        );
    }

    const STATE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"},{"Sid":"b","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;

    #[test]
    fn policies_compare_as_documents() {
        let reordered = json!(
            "{\n  \"Statement\": [\n {\"Sid\":\"b\",\"Effect\":\"Allow\",\"Action\":[\"s3:listbucket\",\"s3:GetObject\"],\"Resource\":[\"*\"]},\n {\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":[\"sts:AssumeRole\"]}],\n  \"Version\": \"2012-10-17\"\n}"
        );
        assert_eq!(
            compare(Kind::Policy, Op::Set, &reordered, &json!(STATE_POLICY)),
            Outcome::Same
        );
        let encoded: String = percent_encoding::utf8_percent_encode(
            reordered.as_str().unwrap(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert_eq!(
            compare(Kind::Policy, Op::Set, &json!(encoded), &json!(STATE_POLICY)),
            Outcome::Same
        );
        let as_object: Value = serde_json::from_str(reordered.as_str().unwrap()).unwrap();
        let widened = json!(STATE_POLICY.replace("s3:ListBucket", "s3:*"));
        assert_eq!(
            compare(Kind::Policy, Op::Set, &as_object, &json!(STATE_POLICY)),
            Outcome::Same
        );
        // A plain value comparison of JSON text, or of an object against JSON text, also reads the documents.
        assert!(same(&reordered, &json!(STATE_POLICY)));
        assert!(same(&as_object, &json!(STATE_POLICY)));
        assert!(!same(&as_object, &widened));

        let widened = json!(STATE_POLICY.replace("s3:ListBucket", "s3:*"));
        assert_eq!(
            compare(Kind::Policy, Op::Set, &widened, &json!(STATE_POLICY)),
            Outcome::Changed
        );
        assert!(matches!(
            compare(
                Kind::Policy,
                Op::Set,
                &json!("not json"),
                &json!(STATE_POLICY)
            ),
            Outcome::Unknown(_)
        ));
        assert_eq!(
            compare(Kind::Policy, Op::Set, &json!(STATE_POLICY), &json!("")),
            Outcome::Changed
        );
    }

    #[test]
    fn tags_compare_key_by_key() {
        let state = json!({"team": "net", "env": "prod"});
        let same_pair = json!([{"key": "team", "value": "net"}]);
        assert_eq!(
            compare(Kind::Tags, Op::Add, &same_pair, &state),
            Outcome::Same
        );
        assert_eq!(
            compare(
                Kind::Tags,
                Op::Add,
                &json!([{"Key": "team", "Value": "web"}]),
                &state
            ),
            Outcome::Changed
        );
        assert_eq!(
            compare(Kind::Tags, Op::Add, &json!({"owner": "alice"}), &state),
            Outcome::Changed
        );
        assert_eq!(
            compare(Kind::Tags, Op::Remove, &json!(["missing"]), &state),
            Outcome::Same
        );
        assert_eq!(
            compare(Kind::Tags, Op::Remove, &json!(["env"]), &state),
            Outcome::Changed
        );
        assert_eq!(
            compare(
                Kind::Tags,
                Op::Set,
                &json!({"team": "net", "env": "prod"}),
                &state
            ),
            Outcome::Same
        );
        assert!(matches!(
            compare(
                Kind::Tags,
                Op::Add,
                &json!([{"key": "HIDDEN_DUE_TO_SECURITY_REASONS", "value": "HIDDEN_DUE_TO_SECURITY_REASONS"}]),
                &state
            ),
            Outcome::Unknown(_)
        ));
    }

    fn ingress_state() -> Value {
        json!([
            {"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["0.0.0.0/0"], "ipv6_cidr_blocks": [], "security_groups": [], "prefix_list_ids": [], "self": false},
            {"protocol": "-1", "from_port": 0, "to_port": 0, "cidr_blocks": [], "security_groups": ["123456789012/sg-2"], "self": true}
        ])
    }

    #[test]
    fn security_group_rules_compare_as_sets() {
        // The legacy flat form, as the stratus record writes it.
        let open_22 = json!({"cidrIp": "208.236.235.254/0", "fromPort": 22, "groupId": "sg-1", "ipPermissions": {}, "ipProtocol": "tcp", "toPort": 22});
        assert_eq!(
            compare(
                Kind::SecurityGroupRules,
                Op::Add,
                &open_22,
                &ingress_state()
            ),
            Outcome::Changed
        );
        assert_eq!(
            compare(
                Kind::SecurityGroupRules,
                Op::Remove,
                &open_22,
                &ingress_state()
            ),
            Outcome::Same
        );

        // ipPermissions.items form, a rule the state already holds.
        let https = json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "6", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": "web"}]}}]}});
        assert_eq!(
            compare(Kind::SecurityGroupRules, Op::Add, &https, &ingress_state()),
            Outcome::Same
        );
        assert_eq!(
            compare(
                Kind::SecurityGroupRules,
                Op::Remove,
                &https,
                &ingress_state()
            ),
            Outcome::Changed
        );

        // All traffic from the group itself (`self`) and from another account's group.
        let own = json!({"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "-1", "fromPort": -1, "toPort": -1, "groups": {"items": [{"groupId": "sg-1"}, {"groupId": "sg-2", "userId": "123456789012"}]}}]}});
        assert_eq!(
            compare(Kind::SecurityGroupRules, Op::Add, &own, &ingress_state()),
            Outcome::Same
        );

        assert!(matches!(
            compare(
                Kind::SecurityGroupRules,
                Op::Add,
                &json!({"groupId": "sg-1"}),
                &ingress_state()
            ),
            Outcome::Unknown(_)
        ));
        let (requested, state) = describe_rules(&open_22, &ingress_state());
        assert_eq!(requested, json!(["tcp 22 cidr 208.236.235.254/0"]));
        assert!(
            state
                .as_array()
                .unwrap()
                .contains(&json!("tcp 443 cidr 0.0.0.0/0"))
        );
    }
}
