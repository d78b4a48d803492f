//! Google IAM policy changes: which role grants a call made appear or vanish, against what the state holds.
//!
//! A `SetIamPolicy` (or `storage.setIamPermissions`) call is marked `iam_policy = true` in the catalog. Its
//! verdict does not compare attributes of one instance: it gathers the grants every matched
//! `*_iam_member`, `*_iam_binding` and `*_iam_policy` instance holds, together, and compares them with what the
//! call changed. A grant is a (role, member, condition) triple; members compare exactly as IAM writes them,
//! conditions by expression and title.
//!
//! What the call changed is read from Google's own delta when the entry has one
//! (`serviceData.policyDelta.bindingDeltas`, `metadata.datasetChange.bindingDeltas`), else from the whole new
//! policy (`request.policy`, else a `google.iam.v1.Policy` response, else BigQuery's
//! `metadata.datasetChange.dataset.acl.policy`).
//!
//! - Vanished: a grant the state holds that the call removed (or that the new policy lacks).
//! - Appeared: with a delta, every added grant no state holds: the delta says it is new, and a grant added
//!   outside Terraform on a resource whose IAM Terraform manages is what a security team must see (a console
//!   `roles/owner` on a Terraform-managed project), whether or not Terraform would remove it. With only the
//!   whole policy, which also lists every grant made before and outside Terraform, only a grant of a role the
//!   state manages authoritatively (an `*_iam_binding` of that role, or an `*_iam_policy`) that no state holds.
//! - Re-adding a held grant, or removing one no state holds, changes nothing Terraform knows.
//! - A whole policy on a resource that is managed (the bucket, the function) but whose grants no state holds
//!   cannot be compared: `policy` is uncompared, a change.
//!
//! Fails closed: a policy that cannot be read, on either side, counts as a change. Work is linear in the
//! record and the matched instances (hash sets, no pairwise scans); the diff lists at most [`MAX_LISTED`]
//! grants.

use super::{Sections, Verdict, find_again};
use crate::call::Call;
use crate::catalog::Section;
use crate::state::Snapshot;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// The most grants the diff lists; the rest are counted.
pub const MAX_LISTED: usize = 100;

/// The attribute an appeared grant is reported under when no instance manages its role authoritatively: the
/// one an `*_iam_member` would hold it in.
const MEMBER: &str = "member";
/// The attribute of an `*_iam_binding` that holds its members.
const MEMBERS: &str = "members";
/// The attribute of an `*_iam_policy` that holds the policy.
const POLICY_DATA: &str = "policy_data";

/// A condition as compared: expression and title.
type Condition<'v> = Option<(&'v str, &'v str)>;

/// One role granted to one member, under a condition or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Grant<'v> {
    role: &'v str,
    member: &'v str,
    condition: Condition<'v>,
}

/// What happened to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Appeared,
    Vanished,
}

/// One line of the IAM diff.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    /// The attribute it is reported under (`member`, `members`, `policy_data`, `policy`, `audit_configs`).
    attr: &'static str,
    /// None: something could not be read (`reason` says what).
    fate: Option<Fate>,
    role: String,
    member: String,
    condition: Option<(String, String)>,
    /// The instance that holds, or would hold, the grant.
    address: Option<String>,
    reason: Option<&'static str>,
}

/// The grants an IAM call made appear or vanish, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IamDiff {
    items: Vec<Item>,
    /// Items past [`MAX_LISTED`], counted only.
    omitted: usize,
}

impl IamDiff {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty() && self.omitted == 0
    }

    fn push(&mut self, item: Item) {
        if self.items.len() < MAX_LISTED {
            self.items.push(item);
        } else {
            self.omitted += 1;
        }
    }

    /// Adds the items to a diff object: attribute → {appeared: [...], vanished: [...], reason?, omitted?}.
    pub(super) fn render_into(&self, diff: &mut Map<String, Value>) {
        for item in &self.items {
            let slot = diff
                .entry(item.attr.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            let Value::Object(slot) = slot else { continue };
            match item.fate {
                Some(fate) => {
                    let key = match fate {
                        Fate::Appeared => "appeared",
                        Fate::Vanished => "vanished",
                    };
                    let mut grant = Map::new();
                    grant.insert("role".into(), Value::String(item.role.clone()));
                    grant.insert("member".into(), Value::String(item.member.clone()));
                    if let Some((expression, title)) = &item.condition {
                        let mut condition = Map::new();
                        condition.insert("expression".into(), Value::String(expression.clone()));
                        condition.insert("title".into(), Value::String(title.clone()));
                        grant.insert("condition".into(), Value::Object(condition));
                    }
                    if let Some(address) = &item.address {
                        grant.insert("address".into(), Value::String(address.clone()));
                    }
                    if let Value::Array(list) =
                        slot.entry(key).or_insert_with(|| Value::Array(Vec::new()))
                    {
                        list.push(Value::Object(grant));
                    }
                }
                None => {
                    if let Some(reason) = item.reason {
                        slot.insert("reason".into(), Value::String(reason.into()));
                    }
                    if let Some(address) = &item.address {
                        slot.insert("address".into(), Value::String(address.clone()));
                    }
                }
            }
        }
        if self.omitted > 0 {
            diff.insert("omitted_grants".into(), Value::from(self.omitted));
        }
    }

    /// Summary parts: `roles/owner: +user:mallory@example.com -user:bob@example.com`, one per role and
    /// condition, in the order met.
    pub(super) fn summary_parts(&self, parts: &mut Vec<String>) {
        let mut by_role: Vec<(String, Vec<String>)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for item in &self.items {
            let (head, change) = match item.fate {
                Some(fate) => {
                    let head = match &item.condition {
                        Some((_, title)) if !title.is_empty() => {
                            format!(
                                "{} (if {})",
                                item.role,
                                super::short(&Value::from(&**title))
                            )
                        }
                        Some(_) => format!("{} (conditional)", item.role),
                        None => item.role.clone(),
                    };
                    let sign = if fate == Fate::Appeared { '+' } else { '-' };
                    (head, format!("{sign}{}", cut(&item.member, MEMBER_BYTES)))
                }
                None => (
                    item.attr.to_owned(),
                    format!("unreadable ({})", item.reason.unwrap_or("?")),
                ),
            };
            match index.get(&head) {
                Some(&i) => by_role[i].1.push(change),
                None => {
                    index.insert(head.clone(), by_role.len());
                    by_role.push((head, vec![change]));
                }
            }
        }
        for (head, changes) in by_role {
            parts.push(format!("{head}: {}", changes.join(" ")));
        }
        if self.omitted > 0 {
            parts.push(format!("and {} more grants", self.omitted));
        }
    }
}

/// The most bytes of a member in the summary: whole service account emails and most workload identity
/// principals fit, and the member is what a reader needs most.
const MEMBER_BYTES: usize = 160;

/// `text`, cut to at most `max` bytes (on a character boundary) with `…` when longer.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// How an instance type holds grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Holding {
    /// `*_iam_member`: one grant, not authoritative.
    Member,
    /// `*_iam_binding`: a role's members, authoritative for that role.
    Binding,
    /// `*_iam_policy`: the whole policy, authoritative for every role.
    Policy,
}

impl Holding {
    fn of(resource_type: &str) -> Option<Holding> {
        if resource_type.ends_with("_iam_member") {
            Some(Holding::Member)
        } else if resource_type.ends_with("_iam_binding") {
            Some(Holding::Binding)
        } else if resource_type.ends_with("_iam_policy") {
            Some(Holding::Policy)
        } else {
            None
        }
    }

    fn attr(self) -> &'static str {
        match self {
            Holding::Member => MEMBER,
            Holding::Binding => MEMBERS,
            Holding::Policy => POLICY_DATA,
        }
    }
}

/// What the state holds for the resource, from every matched instance together.
#[derive(Default)]
struct Held<'v> {
    /// Grant → index of the match that holds it.
    grants: HashMap<Grant<'v>, usize>,
    /// Role → index of the `*_iam_binding` match that manages it.
    bound_roles: HashMap<&'v str, usize>,
    /// Index of an `*_iam_policy` match: every role is managed.
    policy: Option<usize>,
}

impl<'v> Held<'v> {
    fn hold(&mut self, grant: Grant<'v>, at: usize) {
        self.grants.entry(grant).or_insert(at);
    }

    /// The match that manages a role authoritatively, with the attribute a grant of it would be in.
    fn authority(&self, role: &str, holdings: &[Option<Holding>]) -> Option<(usize, &'static str)> {
        self.bound_roles
            .get(role)
            .or(self.policy.as_ref())
            .map(|&at| {
                (
                    at,
                    holdings
                        .get(at)
                        .copied()
                        .flatten()
                        .map_or(MEMBER, Holding::attr),
                )
            })
    }
}

/// What the call changed, as read from the entry.
enum Requested<'v> {
    /// Google's delta: (added, grant).
    Delta(Vec<(bool, Grant<'v>)>),
    /// The whole new policy's grants.
    Policy(Vec<Grant<'v>>),
}

/// Compares an IAM policy call with every IAM instance it matched, filling the verdict's touched and changed
/// attributes, `uncompared` and the diff; the instance that holds (or would hold) the first changed grant
/// becomes the primary match.
pub(super) fn compare(sections: &Sections<impl Call>, snapshot: &Snapshot, verdict: &mut Verdict) {
    if verdict.matches.is_empty() {
        return;
    }
    let mut diff = IamDiff::default();
    // The matched instances' holdings, parsed once: state values are owned, grants borrow from them.
    let mut holdings: Vec<Option<Holding>> = Vec::with_capacity(verdict.matches.len());
    // Instances whose grants the state or the provider marks sensitive: a grant only they hold is shown
    // redacted (what the log itself says is not).
    let mut secret: Vec<bool> = vec![false; verdict.matches.len()];
    let mut values: Vec<(usize, Holding, Value, Value, Value)> = Vec::new();
    for (at, m) in verdict.matches.iter().enumerate() {
        let holding = Holding::of(&m.resource_type);
        holdings.push(holding);
        let Some(holding) = holding else { continue };
        let attr = holding.attr();
        if !verdict.touched_attrs.iter().any(|t| t == attr) {
            verdict.touched_attrs.push(attr.to_owned());
        }
        let Some(hit) = find_again(snapshot, m) else {
            // Gone since it was matched (cannot happen within one snapshot): what it held is unknown.
            unreadable(
                &mut diff,
                &mut verdict.changed_attrs,
                attr,
                &m.address,
                "the instance could not be read again",
            );
            continue;
        };
        let instance = hit.instance;
        secret[at] = instance.is_sensitive(attr)
            || (holding != Holding::Policy && instance.is_sensitive("condition"));
        let (first, second) = match holding {
            Holding::Member => (
                instance.attribute("role").unwrap_or(Value::Null),
                instance.attribute("member").unwrap_or(Value::Null),
            ),
            Holding::Binding => (
                instance.attribute("role").unwrap_or(Value::Null),
                instance.attribute("members").unwrap_or(Value::Null),
            ),
            Holding::Policy => {
                // `policy_data` is the policy as JSON text.
                let policy = match instance.attribute(POLICY_DATA) {
                    Some(Value::String(text)) => serde_json::from_str(&text).unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                (policy, Value::Null)
            }
        };
        let condition = match holding {
            Holding::Policy => Value::Null,
            _ => instance.attribute("condition").unwrap_or(Value::Null),
        };
        values.push((at, holding, first, second, condition));
    }
    let mut held = Held::default();
    for (at, holding, first, second, condition) in &values {
        let (at, address) = (*at, &verdict.matches[*at].address);
        let attr = holding.attr();
        let Some(condition) = state_condition(condition) else {
            unreadable(
                &mut diff,
                &mut verdict.changed_attrs,
                attr,
                address,
                "condition is not a readable IAM condition",
            );
            continue;
        };
        match holding {
            Holding::Member => match (first.as_str(), second.as_str()) {
                (Some(role), Some(member)) => held.hold(
                    Grant {
                        role,
                        member,
                        condition,
                    },
                    at,
                ),
                _ => unreadable(
                    &mut diff,
                    &mut verdict.changed_attrs,
                    attr,
                    address,
                    "role or member is not readable",
                ),
            },
            Holding::Binding => match (first.as_str(), second.as_array()) {
                (Some(role), Some(members)) => {
                    held.bound_roles.entry(role).or_insert(at);
                    for member in members {
                        match member.as_str() {
                            Some(member) => held.hold(
                                Grant {
                                    role,
                                    member,
                                    condition,
                                },
                                at,
                            ),
                            None => unreadable(
                                &mut diff,
                                &mut verdict.changed_attrs,
                                attr,
                                address,
                                "a member is not a string",
                            ),
                        }
                    }
                }
                _ => unreadable(
                    &mut diff,
                    &mut verdict.changed_attrs,
                    attr,
                    address,
                    "role or members is not readable",
                ),
            },
            Holding::Policy => {
                held.policy.get_or_insert(at);
                if policy_grants(first, |grant| held.hold(grant, at)).is_err() {
                    unreadable(
                        &mut diff,
                        &mut verdict.changed_attrs,
                        attr,
                        address,
                        "policy_data is not a readable IAM policy",
                    );
                }
            }
        }
    }
    // Past the cap on matches, some holder may be missing: a removal of "what no state holds" could be one.
    if verdict.matches.len() >= super::MAX_MATCHES {
        verdict.uncompared.push("bindings".to_owned());
    }
    if verdict.touched_attrs.is_empty() {
        // Only instances that hold no grants (an audit config, a bucket ACL): grants are compared with none.
        verdict.touched_attrs.push(MEMBER.to_owned());
    }

    let details = sections.get(Section::Details);
    let request = sections.get(Section::Request);
    if changes_audit_configs(request, details) {
        verdict.uncompared.push("audit_configs".to_owned());
    }
    let mut first_holder: Option<usize> = None;
    match read_requested(request, sections.get(Section::Response), details) {
        Err(reason) => unreadable(&mut diff, &mut verdict.changed_attrs, "policy", "", reason),
        Ok(Requested::Delta(deltas)) => {
            let mut seen: HashSet<(bool, Grant)> = HashSet::with_capacity(deltas.len());
            for (added, grant) in deltas {
                if !seen.insert((added, grant)) {
                    continue;
                }
                let holder = held.grants.get(&grant).copied();
                let (fate, place) = match (added, holder) {
                    // Re-adding what is held, removing what no state holds: nothing Terraform knows.
                    (true, Some(_)) | (false, None) => continue,
                    // The delta names the removed grant itself: nothing of the state's is shown.
                    (false, Some(at)) => (
                        Fate::Vanished,
                        Some((at, holdings[at].map_or(MEMBER, Holding::attr))),
                    ),
                    (true, None) => (Fate::Appeared, held.authority(grant.role, &holdings)),
                };
                record(&mut diff, verdict, &mut first_holder, fate, grant, place);
            }
        }
        Ok(Requested::Policy(_)) if holdings.iter().all(Option::is_none) => {
            // The resource is managed but no state holds its grants: the whole policy alone cannot tell
            // what the call added, so it cannot be compared (a change, never "nothing changed").
            verdict.uncompared.push("policy".to_owned());
        }
        Ok(Requested::Policy(grants)) => {
            let new: HashSet<Grant> = grants.iter().copied().collect();
            // Vanished: held, not in the new policy, in the order the matches were found.
            let mut gone: Vec<(&Grant, usize)> = held
                .grants
                .iter()
                .filter(|(g, _)| !new.contains(*g))
                .map(|(g, &at)| (g, at))
                .collect();
            gone.sort_by(|a, b| (a.1, a.0.role, a.0.member).cmp(&(b.1, b.0.role, b.0.member)));
            for (grant, at) in gone {
                let place = Some((at, holdings[at].map_or(MEMBER, Holding::attr)));
                // Known only from the state.
                let grant = if secret[at] {
                    Grant {
                        role: grant.role,
                        member: super::REDACTED,
                        condition: grant.condition.map(|_| (super::REDACTED, super::REDACTED)),
                    }
                } else {
                    *grant
                };
                record(
                    &mut diff,
                    verdict,
                    &mut first_holder,
                    Fate::Vanished,
                    grant,
                    place,
                );
            }
            let mut listed: HashSet<Grant> = HashSet::new();
            for grant in grants {
                if held.grants.contains_key(&grant) || !listed.insert(grant) {
                    continue;
                }
                if let Some(place) = held.authority(grant.role, &holdings) {
                    record(
                        &mut diff,
                        verdict,
                        &mut first_holder,
                        Fate::Appeared,
                        grant,
                        Some(place),
                    );
                }
            }
        }
    }
    if let Some(at) = first_holder.filter(|&at| at > 0 && at < verdict.matches.len()) {
        verdict.matches[..=at].rotate_right(1);
    }
    if !diff.is_empty() {
        verdict.diff.iam = Some(Box::new(diff));
    }
}

/// Records one appeared or vanished grant.
fn record(
    diff: &mut IamDiff,
    verdict: &mut Verdict,
    first_holder: &mut Option<usize>,
    fate: Fate,
    grant: Grant,
    place: Option<(usize, &'static str)>,
) {
    let attr = place.map_or(MEMBER, |(_, attr)| attr);
    if !verdict.changed_attrs.iter().any(|c| c == attr) {
        verdict.changed_attrs.push(attr.to_owned());
    }
    if first_holder.is_none() {
        *first_holder = place.map(|(at, _)| at);
    }
    diff.push(Item {
        attr,
        fate: Some(fate),
        role: grant.role.to_owned(),
        member: grant.member.to_owned(),
        condition: grant
            .condition
            .map(|(expression, title)| (expression.to_owned(), title.to_owned())),
        address: place.and_then(|(at, _)| verdict.matches.get(at).map(|m| m.address.clone())),
        reason: None,
    });
}

/// Records something that could not be read: a change, never "nothing changed".
fn unreadable(
    diff: &mut IamDiff,
    changed: &mut Vec<String>,
    attr: &'static str,
    address: &str,
    reason: &'static str,
) {
    if !changed.iter().any(|c| c == attr) {
        changed.push(attr.to_owned());
    }
    diff.push(Item {
        attr,
        fate: None,
        role: String::new(),
        member: String::new(),
        condition: None,
        address: (!address.is_empty()).then(|| address.to_owned()),
        reason: Some(reason),
    });
}

/// A condition as an API writes it (`{expression, title, description?}`); absent or null is none. Err when
/// present but not an object whose expression and title (if any) are strings.
fn api_condition(value: Option<&Value>) -> Result<Condition<'_>, ()> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(c)) => {
            let text = |key: &str| match c.get(key) {
                None | Some(Value::Null) => Ok(""),
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(()),
            };
            Ok(Some((text("expression")?, text("title")?)))
        }
        Some(_) => Err(()),
    }
}

/// A condition as the provider keeps it: a list of at most one block, empty for none. None when unreadable.
fn state_condition(value: &Value) -> Option<Condition<'_>> {
    match value {
        Value::Null => Some(None),
        Value::Array(blocks) => match blocks.as_slice() {
            [] => Some(None),
            [one] => api_condition(Some(one)).ok(),
            _ => None,
        },
        other => api_condition(Some(other)).ok(),
    }
}

/// Every grant of a policy (`{bindings: [{role, members, condition?}]}`); a policy without bindings grants
/// nothing (proto3 JSON leaves an empty list out). Err when the policy or a binding cannot be read.
fn policy_grants<'v>(policy: &'v Value, mut each: impl FnMut(Grant<'v>)) -> Result<(), ()> {
    let Value::Object(policy) = policy else {
        return Err(());
    };
    let bindings = match policy.get("bindings") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(bindings)) => bindings,
        Some(_) => return Err(()),
    };
    for binding in bindings {
        let role = binding.get("role").and_then(Value::as_str).ok_or(())?;
        let condition = api_condition(binding.get("condition"))?;
        let members = match binding.get("members") {
            None | Some(Value::Null) => continue,
            Some(Value::Array(members)) => members,
            Some(_) => return Err(()),
        };
        for member in members {
            each(Grant {
                role,
                member: member.as_str().ok_or(())?,
                condition,
            });
        }
    }
    Ok(())
}

/// The binding deltas in the entry's details: Cloud Storage and Resource Manager write them in
/// `serviceData.policyDelta`, BigQuery in `metadata.datasetChange`. None when there is no delta at all.
fn delta_list(details: Option<&Value>) -> Option<Result<&[Value], ()>> {
    let details = details?;
    let holder = details.get("policyDelta").or_else(|| {
        details
            .get("datasetChange")
            .filter(|d| d.get("bindingDeltas").is_some())
    })?;
    Some(match holder.get("bindingDeltas") {
        // A delta that changed no binding (an audit config only) leaves the list out.
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items.as_slice()),
        Some(_) => Err(()),
    })
}

/// What the call changed: Google's delta, else the whole new policy.
fn read_requested<'v>(
    request: Option<&'v Value>,
    response: Option<&'v Value>,
    details: Option<&'v Value>,
) -> Result<Requested<'v>, &'static str> {
    if let Some(list) = delta_list(details) {
        let items = list.map_err(|()| "the binding deltas are not a list")?;
        let mut deltas = Vec::with_capacity(items.len());
        for item in items {
            let added = match item.get("action").and_then(Value::as_str) {
                Some("ADD") => true,
                Some("REMOVE") => false,
                _ => return Err("a binding delta has no ADD or REMOVE action"),
            };
            let role = item.get("role").and_then(Value::as_str);
            let member = item.get("member").and_then(Value::as_str);
            let (Some(role), Some(member), Ok(condition)) =
                (role, member, api_condition(item.get("condition")))
            else {
                return Err("a binding delta has no readable role, member or condition");
            };
            deltas.push((
                added,
                Grant {
                    role,
                    member,
                    condition,
                },
            ));
        }
        return Ok(Requested::Delta(deltas));
    }
    let policy = request
        .and_then(|r| r.get("policy"))
        .or_else(|| {
            response.filter(|r| {
                r.get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("google.iam.v1.Policy"))
            })
        })
        .or_else(|| {
            details
                .and_then(|d| d.get("datasetChange"))
                .and_then(|c| c.get("dataset"))
                .and_then(|d| d.get("acl"))
                .and_then(|a| a.get("policy"))
        })
        .ok_or("the entry holds neither a binding delta nor the new policy")?;
    let mut grants = Vec::new();
    policy_grants(policy, |grant| grants.push(grant))
        .map_err(|()| "the new policy is not a readable IAM policy")?;
    Ok(Requested::Policy(grants))
}

/// Whether the call changes audit configurations, which the grant comparison does not cover: Google's delta
/// lists audit config deltas, or the request's update mask names them (without a mask, `SetIamPolicy` sets
/// only bindings and etag).
fn changes_audit_configs(request: Option<&Value>, details: Option<&Value>) -> bool {
    let in_delta = details
        .and_then(|d| d.get("policyDelta"))
        .and_then(|d| d.get("auditConfigDeltas"))
        .is_some_and(|d| !matches!(d, Value::Null) && d.as_array().is_none_or(|a| !a.is_empty()));
    let in_mask = request
        .and_then(|r| r.get("updateMask").or_else(|| r.get("update_mask")))
        .is_some_and(|mask| {
            let text = match mask {
                Value::String(s) => s.to_ascii_lowercase(),
                other => other.to_string().to_ascii_lowercase(),
            };
            text.contains("auditconfig") || text.contains("audit_config")
        });
    in_delta || in_mask
}
