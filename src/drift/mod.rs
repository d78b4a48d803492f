//! The verdict on one call: the join of the [`Call`] with the catalog and the state index.
//!
//! [`Engine::evaluate_call`] is the whole per-event path after parsing: it finds the call in the catalog,
//! reads the identifiers the catalog names (parsing only the sections of the call it needs), looks them up in
//! the index, compares the attributes the call sets with the state, and classifies the caller. Read-only and
//! failed calls stop after the cheap part. It reads the call only through [`Call`], whichever log recorded
//! it. The verdict is owned data, so the adapter can cache it for every field of the same event.
//!
//! The verdict comes in two [`Stage`]s. Most mutating calls are made by callers whose changes are never drift
//! (Terraform, ignored principals, AWS services acting for someone): for those, what the shipped rules read
//! first (`drift`, `unmanaged`) is known before the index is searched. [`Engine::evaluate_call_staged`] can
//! stop there, and the adapter takes the same call to [`Stage::Full`] only when a field needs it; the full
//! verdict is always the one [`Engine::evaluate_call`] makes.

pub mod compare;
#[cfg(test)]
mod gcp_attrs_tests;
pub mod iam;
#[cfg(test)]
mod iam_tests;
pub mod import_id;
pub mod maintenance;
#[cfg(test)]
mod stage_tests;

use crate::call::{ActorKind, Call, Principals, TerraformIdentity};
use crate::catalog::path::IdRef;
use crate::catalog::{
    self, Catalog, Change, Kind, Op, Section, Severity, default_kind, default_op,
};
use crate::cloudtrail::Record;
use crate::gcpaudit::Entry;
use crate::state::Snapshot;
use crate::state::{Hit, Instance, InstanceStatus};
use compare::Outcome;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::SystemTime;

/// What redacted values read as, in every field.
pub const REDACTED: &str = "<redacted>";

/// One managed resource instance the call touches.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The Terraform address (`module.net.aws_security_group.web`).
    pub address: String,
    /// The Terraform resource type.
    pub resource_type: String,
    /// The instance's `id` attribute, or the identifier it was found by.
    pub resource_id: String,
    /// The module path, `""` for the root module.
    pub module: String,
    /// The name of the state that holds it.
    pub state: String,
    /// That state's serial.
    pub serial: u64,
    /// When that state was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Marked for replacement on the next apply.
    pub tainted: bool,
    /// A deposed object: replaced, waiting to be destroyed.
    pub deposed: bool,
    /// The identifier it was found by, to find it again.
    lookup_value: String,
}

/// How a managed resource was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// Through the call's catalog entry.
    Catalog,
    /// A call outside the catalog whose record names, by ARN or by a known id prefix, a resource a state holds.
    Fallback,
}

impl MatchKind {
    /// The kind as `tfdrift.match_kind` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Catalog => "catalog",
            MatchKind::Fallback => "fallback",
        }
    }
}

/// How far a verdict is taken: what each field needs ([`crate::fields::Field::needs`]), and how far a
/// verdict went ([`Verdict::stage`]). Ordered: `Caller < Full`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Stage one: what the record and the policy say without the index: `parsed`, `covered`, `by_terraform`,
    /// `caller_may_drift`, `actor`, `actor_kind`, `in_maintenance`, `maintenance_window`; and, since a verdict stops here only
    /// for a caller whose changes are never drift, `drift` and `unmanaged` (both false).
    Caller,
    /// Stage two: everything, the matches in the index and the comparison with the state included.
    #[default]
    Full,
}

/// Everything tfdrift says about one record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verdict {
    /// How far it was taken: [`Stage::Caller`] when the call's caller cannot make drift and the rest (the
    /// matches, the comparison, the entry's change and severity) was left for a field that needs it; only
    /// the fields of that stage are then meaningful. Every other verdict is [`Stage::Full`].
    pub stage: Stage,
    /// The event was read as a call.
    pub parsed: bool,
    /// The call is in the catalog.
    pub covered: bool,
    /// What the call does to its resource (from the catalog).
    pub change: Option<Change>,
    /// How much that matters (the catalog's, or the configuration's override for the type).
    pub severity: Option<Severity>,
    /// Some: the call was looked up (covered, successful, an identifier was found); true if a state holds it.
    pub managed: Option<bool>,
    /// Every managed instance the call touches, the call's own type first.
    pub matches: Vec<Match>,
    /// How the matches were found.
    pub match_kind: Option<MatchKind>,
    /// The call's own resource type and the identifier found for it, when no state holds it.
    pub unmatched_type: Option<String>,
    /// See `unmatched_type`.
    pub unmatched_id: Option<String>,
    /// How Terraform's import would name that resource (`tfdrift.import_id`, see [`import_id::of`]).
    pub import: import_id::ImportSlot,
    /// Attributes the call sets.
    pub touched_attrs: Vec<String>,
    /// Attributes the call sets to a value other than the state's.
    pub changed_attrs: Vec<String>,
    /// Request parameters that set something no comparison covered (no mapping, no such attribute).
    pub uncompared: Vec<String>,
    /// Attribute → {state, requested}, for the changed attributes; rendered as JSON text when asked for.
    pub diff: Diff,
    /// The call was Terraform's.
    pub by_terraform: bool,
    /// Who made the call.
    pub actor: Option<String>,
    /// How the call was made.
    pub actor_kind: Option<ActorKind>,
    /// The caller is one whose changes may be drift: not Terraform, not an ignored principal, not an AWS or
    /// Google service acting for someone (unless the policy counts those). False for a read-only call, whose
    /// caller is not judged.
    pub caller_may_drift: bool,
    /// A successful change to a managed resource, by a caller whose changes may be drift (`tfdrift.drift`).
    pub drift: bool,
    /// A successful create or change, by such a caller, of a resource no state holds, of a type some state
    /// manages (`tfdrift.unmanaged`).
    pub unmanaged: bool,
    /// Whether the call was made in a maintenance window (`None`: its time is unknown).
    pub in_maintenance: Option<bool>,
    /// The name of the window the call was made in.
    pub maintenance_window: Option<String>,
}

impl Verdict {
    /// Whether the call changes the managed resource, as far as can be told: creating, deleting, attaching
    /// and detaching always do; a modification does unless every value it sets was compared with the state
    /// and found equal (nothing set, or something set that could not be compared, counts as a change).
    pub fn changes_something(&self) -> bool {
        match self.change {
            Some(Change::Modify | Change::Tag | Change::Untag) => {
                !self.changed_attrs.is_empty()
                    || self.touched_attrs.is_empty()
                    || !self.uncompared.is_empty()
            }
            _ => true,
        }
    }

    /// The first match: the call's own resource type when a state holds it.
    pub fn primary(&self) -> Option<&Match> {
        self.matches.first()
    }

    /// The state's value of one attribute of the primary match, as text (JSON for anything but a string);
    /// sensitive values read as [`REDACTED`].
    pub fn primary_attribute(&self, snapshot: &Snapshot, name: &str) -> Option<String> {
        let primary = self.primary()?;
        let hit = find_again(snapshot, primary)?;
        if hit.instance.is_sensitive(name) {
            return Some(REDACTED.to_owned());
        }
        match hit.instance.attribute(name)? {
            Value::Null => None,
            Value::String(s) => Some(s),
            other => Some(other.to_string()),
        }
    }
}

/// The changed attributes' values, kept as the comparison found them. Most rules never read `tfdrift.diff`,
/// so its text (security group rules described one by one, secrets redacted, the JSON written out) is only
/// made on the first read, and then kept for the other reads of the same event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Diff {
    entries: Vec<DiffEntry>,
    /// The grants a Google IAM policy call made appear or vanish (see [`iam`]).
    iam: Option<Box<iam::IamDiff>>,
    text: OnceCell<Option<String>>,
    summary: OnceCell<Option<String>>,
}

/// The most bytes of `tfdrift.summary`: Falcosidekick cuts every string field over 512 bytes when an alert
/// is over 4 KiB, which breaks JSON such as `tfdrift.diff`; the summary stays whole under that.
pub const SUMMARY_MAX_BYTES: usize = 400;

/// The most bytes one value takes in the summary.
const SUMMARY_VALUE_BYTES: usize = 60;

#[derive(Debug, Clone, PartialEq)]
struct DiffEntry {
    attr: String,
    kind: Kind,
    /// What the call does to the value: sets it, or adds or removes entries.
    op: Op,
    state: Value,
    requested: Value,
    /// Why the values could not be compared, when they could not.
    reason: Option<&'static str>,
    sensitive: bool,
}

impl Diff {
    /// Whether no attribute changed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.iam.as_ref().is_none_or(|iam| iam.is_empty())
    }

    /// JSON: attribute → {state, requested, reason?}; for a Google IAM policy call, attribute → {appeared,
    /// vanished, reason?} (see [`iam`]). None when nothing changed.
    pub fn text(&self) -> Option<&str> {
        self.text.get_or_init(|| self.render()).as_deref()
    }

    /// One line for people, at most [`SUMMARY_MAX_BYTES`]: `instance_type: t3.micro -> t3.large; ingress:
    /// +tcp 22 cidr 0.0.0.0/0`. Lists say what the call adds (`+`) and removes (`-`); long values are cut;
    /// secrets read `<redacted>`. None when nothing changed.
    pub fn summary(&self) -> Option<&str> {
        self.summary.get_or_init(|| self.summarise()).as_deref()
    }

    fn summarise(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let (requested, state) = if entry.kind == Kind::SecurityGroupRules {
                compare::describe_rules(&entry.requested, &entry.state)
            } else {
                (entry.requested.clone(), entry.state.clone())
            };
            let change = if entry.sensitive {
                REDACTED.to_owned()
            } else if compare::hidden_by_cloudtrail(&requested) {
                "<hidden by CloudTrail>".to_owned()
            } else {
                match (&state, &requested) {
                    (Value::Array(held), Value::Array(asked)) => {
                        // An added entry the state lacks; a removed one the state holds, or, for a call that
                        // sets the whole list, one the list no longer has.
                        let added = asked
                            .iter()
                            .filter(|v| entry.op != Op::Remove && !held.contains(v))
                            .map(|v| format!("+{}", short(v)));
                        let removed: Vec<String> = match entry.op {
                            Op::Add => Vec::new(),
                            Op::Remove => asked
                                .iter()
                                .filter(|v| held.contains(v))
                                .map(|v| format!("-{}", short(v)))
                                .collect(),
                            Op::Set => held
                                .iter()
                                .filter(|v| !asked.contains(v))
                                .map(|v| format!("-{}", short(v)))
                                .collect(),
                        };
                        let all: Vec<String> = added.chain(removed).collect();
                        if all.is_empty() {
                            "reordered".to_owned()
                        } else {
                            all.join(" ")
                        }
                    }
                    _ => format!("{} -> {}", short(&state), short(&requested)),
                }
            };
            parts.push(format!("{}: {change}", entry.attr));
        }
        if let Some(iam) = &self.iam {
            iam.summary_parts(&mut parts);
        }
        let mut line = parts.join("; ");
        if line.len() > SUMMARY_MAX_BYTES {
            let mut end = SUMMARY_MAX_BYTES - "…".len();
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
            line.push('…');
        }
        Some(line)
    }

    fn render(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut diff = Map::new();
        for entry in &self.entries {
            let (requested, state) = if entry.kind == Kind::SecurityGroupRules {
                compare::describe_rules(&entry.requested, &entry.state)
            } else {
                (entry.requested.clone(), entry.state.clone())
            };
            let show = |v: Value| {
                if entry.sensitive {
                    Value::String(REDACTED.into())
                } else {
                    v
                }
            };
            let mut fields = Map::new();
            fields.insert("state".into(), show(state));
            let requested = if compare::hidden_by_cloudtrail(&requested) {
                Value::String("<hidden by CloudTrail>".into())
            } else {
                show(requested)
            };
            fields.insert("requested".into(), requested);
            if let Some(reason) = entry.reason {
                fields.insert("reason".into(), Value::String(reason.into()));
            }
            diff.insert(entry.attr.clone(), Value::Object(fields));
        }
        if let Some(iam) = &self.iam {
            iam.render_into(&mut diff);
        }
        Some(Value::Object(diff).to_string())
    }
}

/// A value as the summary shows it: a string as it is, anything else as JSON, at most
/// [`SUMMARY_VALUE_BYTES`]; a document (a policy) as `<document>`.
fn short(value: &Value) -> String {
    let text = match value {
        Value::Null => "(none)".to_owned(),
        Value::String(s) if s.trim_start().starts_with('{') => "<document>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Object(_) => "<document>".to_owned(),
        other => other.to_string(),
    };
    if text.len() <= SUMMARY_VALUE_BYTES {
        return text;
    }
    let mut end = SUMMARY_VALUE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn find_again<'s>(snapshot: &'s Snapshot, m: &Match) -> Option<Hit<'s>> {
    snapshot
        .index
        .lookup(&m.resource_type, &m.lookup_value)
        .find(|hit| *hit.state.name == *m.state && *hit.instance.address == *m.address)
}

/// The call's sections, each parsed at most once and only when asked for (a slot per section, the last
/// being `Account`).
struct Sections<'c, C> {
    call: &'c C,
    parsed: [OnceCell<Option<Value>>; Section::Account as usize + 1],
}

impl<'c, C: Call> Sections<'c, C> {
    fn new(call: &'c C) -> Self {
        Self {
            call,
            parsed: Default::default(),
        }
    }

    fn get(&self, section: Section) -> Option<&Value> {
        self.parsed[section as usize]
            .get_or_init(|| self.call.section_value(section))
            .as_ref()
    }
}

/// What decides a verdict beyond the catalog and the states: whose calls are Terraform's or ignored, whether
/// AWS services acting for someone count, severities by resource type, maintenance windows.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Which callers are Terraform.
    pub terraform: TerraformIdentity,
    /// Callers whose changes are never drift (service-linked roles, a break-glass automation).
    pub ignored_principals: Principals,
    /// Whether a change an AWS service makes on someone's behalf (`invokedBy`, service-linked roles) is drift.
    pub aws_service_changes_are_drift: bool,
    /// Severity by resource type, over the catalog's.
    pub severity_overrides: HashMap<String, Severity>,
    /// When changes are expected and are not drift.
    pub maintenance: maintenance::Windows,
}

/// The fixed part of the per-event work: the catalog and the policy.
pub struct Engine {
    catalog: Arc<Catalog>,
    policy: Policy,
}

impl Engine {
    /// An engine over the catalog and the policy; loads the providers' sensitivity tables now.
    pub fn new(catalog: Arc<Catalog>, policy: Policy) -> Self {
        // The providers' sensitivity tables are read here, at init, not on the first event.
        crate::state::sensitive::load();
        Self { catalog, policy }
    }

    /// The catalog it reads.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The verdict for one CloudTrail record's bytes (the cloudtrail event source's entry; a source with
    /// another record view parses it and asks [`Engine::evaluate_call`]). Bytes that are not a record give a
    /// verdict with `parsed` false.
    pub fn evaluate(&self, bytes: &[u8], snapshot: &Snapshot) -> Verdict {
        self.evaluate_staged(bytes, snapshot, Stage::Full)
    }

    /// [`Engine::evaluate`], taken only as far as `upto` (see [`Engine::evaluate_call_staged`]).
    pub fn evaluate_staged(&self, bytes: &[u8], snapshot: &Snapshot, upto: Stage) -> Verdict {
        // Read where it lies: a record is a few hundred bytes, not worth a move.
        let mut record = Record::default();
        match record.read(bytes) {
            Ok(()) => self.evaluate_call_staged(&record, snapshot, upto),
            Err(_) => Verdict::default(),
        }
    }

    /// The verdict for one GCP audit log entry's bytes (the gcp_auditlog event source's entry). Bytes that are
    /// not an entry give a verdict with `parsed` false.
    pub fn evaluate_gcp(&self, bytes: &[u8], snapshot: &Snapshot) -> Verdict {
        self.evaluate_gcp_staged(bytes, snapshot, Stage::Full)
    }

    /// [`Engine::evaluate_gcp`], taken only as far as `upto` (see [`Engine::evaluate_call_staged`]).
    pub fn evaluate_gcp_staged(&self, bytes: &[u8], snapshot: &Snapshot, upto: Stage) -> Verdict {
        match Entry::parse(bytes) {
            Ok(entry) => self.evaluate_call_staged(&entry, snapshot, upto),
            Err(_) => Verdict::default(),
        }
    }

    /// The verdict for one call, as its record view reads it.
    pub fn evaluate_call(&self, call: &impl Call, snapshot: &Snapshot) -> Verdict {
        self.evaluate_call_staged(call, snapshot, Stage::Full)
    }

    /// The verdict for one call, taken only as far as `upto`: with [`Stage::Caller`], a successful mutating
    /// call whose caller's changes are never drift (Terraform, an ignored principal, an AWS service acting
    /// for someone unless those count) stops before the index is searched, with [`Verdict::stage`]
    /// `Caller`; every other call gets its full verdict, as with [`Stage::Full`]. The same call asked again
    /// with [`Stage::Full`] gives exactly [`Engine::evaluate_call`]'s verdict: a stage-one verdict's fields
    /// of that stage are that verdict's.
    pub fn evaluate_call_staged(
        &self,
        call: &impl Call,
        snapshot: &Snapshot,
        upto: Stage,
    ) -> Verdict {
        let by_terraform = self.policy.terraform.is_terraform(call);
        let actor_kind = if by_terraform {
            ActorKind::Terraform
        } else {
            call.actor_kind()
        };
        let mut verdict = Verdict {
            parsed: true,
            by_terraform,
            actor_kind: Some(actor_kind),
            actor: call.actor().map(|a| a.into_owned()),
            ..Verdict::default()
        };
        if !self.policy.maintenance.is_empty()
            && let Some(at) = call.time().and_then(|t| t.parse::<jiff::Timestamp>().ok())
        {
            verdict.maintenance_window = self.policy.maintenance.window_at(at).map(str::to_owned);
            verdict.in_maintenance = Some(verdict.maintenance_window.is_some());
        } else if self.policy.maintenance.is_empty() {
            verdict.in_maintenance = Some(false);
        }
        if call.read_only() {
            return verdict;
        }
        // Whoever made the call, is it someone whose changes may be drift at all?
        let outsider = !by_terraform
            && !self.policy.ignored_principals.matches(call)
            && (!matches!(actor_kind, ActorKind::AwsService | ActorKind::GcpService)
                || self.policy.aws_service_changes_are_drift);
        verdict.caller_may_drift = outsider;
        // Such a caller's successful change is neither drift nor unmanaged, whatever the index holds: what
        // is left (the matches, the comparison) waits for a field that needs it. A failed call stops below
        // without the index anyway, so it is finished here.
        if upto == Stage::Caller && !outsider && !call.failed() {
            verdict.covered = self
                .catalog
                .candidates(call.service(), call.operation())
                .next()
                .is_some();
            verdict.stage = Stage::Caller;
            return verdict;
        }

        let mut candidates = self
            .catalog
            .candidates(call.service(), call.operation())
            .peekable();
        let Some(&first) = candidates.peek() else {
            if !call.failed() {
                fallback(&self.catalog, call, snapshot, &mut verdict);
                verdict.drift = outsider && verdict.managed == Some(true);
            }
            return verdict;
        };
        verdict.covered = true;
        verdict.change = Some(first.change);
        verdict.severity = Some(first.severity);
        if call.failed() {
            return verdict;
        }

        let sections = Sections::new(call);
        // Services that share an event source may both have this call: the first whose identifiers are in
        // the call is the one.
        let Some(entry) =
            candidates.find(|entry| find_matches(entry, &sections, snapshot, &mut verdict))
        else {
            return verdict;
        };
        verdict.change = Some(entry.change);
        verdict.managed = Some(!verdict.matches.is_empty());
        if !verdict.matches.is_empty() {
            verdict.match_kind = Some(MatchKind::Catalog);
        }
        // An IAM policy call is compared grant by grant with every IAM instance it matched, before the
        // severity is read: the instance holding the first changed grant becomes the primary match.
        if entry.iam_policy {
            iam::compare(&sections, snapshot, &mut verdict);
        }
        let resource_type = verdict
            .primary()
            .map(|m| m.resource_type.as_str())
            .or(verdict.unmatched_type.as_deref());
        verdict.severity = Some(
            resource_type
                .and_then(|t| self.policy.severity_overrides.get(t).copied())
                .unwrap_or(entry.severity),
        );
        if !entry.iam_policy {
            compare_attributes(&self.catalog, entry, &sections, snapshot, &mut verdict);
        }

        // Attaching what the state already holds (the attachment itself is a managed instance, and every
        // value the call sets is the state's) changes nothing Terraform knows: not drift. Attaching to a
        // managed parent what no state holds is.
        let own_type = entry.targets.first().map(|t| &*t.resource_type);
        let attaches_what_is_held = matches!(entry.change, Change::Attach)
            && verdict
                .primary()
                .is_some_and(|m| Some(m.resource_type.as_str()) == own_type)
            && !verdict.touched_attrs.is_empty()
            && verdict.changed_attrs.is_empty()
            && verdict.uncompared.is_empty();
        verdict.drift = outsider
            && verdict.managed == Some(true)
            && verdict.changes_something()
            && !attaches_what_is_held;
        verdict.unmanaged = outsider
            && verdict.managed == Some(false)
            && entry.change != Change::Delete
            && verdict
                .unmatched_type
                .as_deref()
                .is_some_and(|t| snapshot.index.manages_type(t));
        verdict
    }
}

/// The most strings of a record the fallback looks at: a hostile record cannot make it scan without end.
const FALLBACK_MAX_STRINGS: usize = 512;

/// For a successful mutating call outside the catalog: every ARN in the record and every request string with
/// a known id prefix, looked up in the index.
fn fallback(catalog: &Catalog, call: &impl Call, snapshot: &Snapshot, verdict: &mut Verdict) {
    let mut strings: Vec<String> = Vec::new();
    for section in [Section::Request, Section::Resources] {
        if let Some(value) = call.section_value(section) {
            collect_strings(&value, &mut strings);
        }
    }
    let mut matched = HashSet::new();
    'strings: for text in &strings {
        if text.starts_with("arn:") {
            for hit in snapshot.index.lookup_arn(text) {
                if in_scope(&hit, text, call)
                    && !push_match(verdict, &mut matched, hit, text, snapshot)
                {
                    break 'strings;
                }
            }
        } else {
            for resource_type in catalog.types_for_id(text) {
                for hit in snapshot.index.lookup(resource_type, text) {
                    if in_scope(&hit, text, call)
                        && !push_match(verdict, &mut matched, hit, text, snapshot)
                    {
                        break 'strings;
                    }
                }
            }
        }
    }
    if !verdict.matches.is_empty() {
        verdict.managed = Some(true);
        verdict.match_kind = Some(MatchKind::Fallback);
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    if out.len() >= FALLBACK_MAX_STRINGS {
        return;
    }
    match value {
        Value::String(s) if !s.is_empty() && !out.contains(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// Whether a hit found by `value` can be what the call touched. A full ARN names its account and region
/// itself, so it needs no scoping (a call in one region may name a resource of another by ARN, as a global
/// cluster's failover does), and so does a full Google resource path or URL that names its project
/// (`projects/p/zones/z/instances/vm`); a name or an id is scoped by the state (a state of another account
/// or project never matches: see [`crate::state::Scope::accepts`]) and the instance's own place.
fn in_scope(hit: &Hit, value: &str, call: &impl Call) -> bool {
    value.starts_with("arn:")
        || crate::state::google::names_its_project(value)
        || hit
            .state
            .scope
            .accepts(hit.instance, call.account_id(), call.region())
}

/// The most matches one verdict keeps: a call names a handful of resources, and a state where thousands of
/// instances share a name must not make one event cost thousands of matches (the verdict is as managed with
/// the first of them).
pub const MAX_MATCHES: usize = 256;

/// Adds `hit` to the verdict's matches unless it is there already (`matched` holds the instances matched so
/// far, by address in memory, so that the check is one probe, not a walk over the matches); false once the
/// verdict holds [`MAX_MATCHES`].
fn push_match(
    verdict: &mut Verdict,
    matched: &mut HashSet<*const Instance>,
    hit: Hit,
    id: &str,
    snapshot: &Snapshot,
) -> bool {
    if verdict.matches.len() >= MAX_MATCHES {
        return false;
    }
    if matched.insert(std::ptr::from_ref(hit.instance)) {
        verdict.matches.push(to_match(hit, id, snapshot));
    }
    true
}

/// What a service answers in place of an identifier it has not made yet: SNS's `subscriptionArn` is "pending
/// confirmation" until an HTTP or email endpoint confirms. It names no resource.
fn is_placeholder(value: &str) -> bool {
    value.eq_ignore_ascii_case("pending confirmation") || value == "PendingConfirmation"
}

/// Up to this many identifiers, duplicates are found by looking along them; past it, with a set.
const SMALL_IDS: usize = 16;

/// A part of a composite identity as compared: without the trailing dot of a fully qualified DNS name
/// (Route 53 writes `www.example.com.`, Terraform keeps `www.example.com`), regardless of ASCII case (DNS
/// names are; a difference of case alone is not worth a silence), and IP protocols by name (EC2 takes `6`
/// for `tcp`, and `all` for `-1`).
fn part_key(value: &str) -> String {
    let key = value
        .strip_suffix('.')
        .unwrap_or(value)
        .to_ascii_lowercase();
    match key.as_str() {
        "6" => "tcp".into(),
        "17" => "udp".into(),
        "1" => "icmp".into(),
        "58" => "icmpv6".into(),
        "all" => "-1".into(),
        _ => key,
    }
}

/// Looks every identifier of every target up; returns whether any identifier was found at all.
fn find_matches(
    entry: &catalog::Call,
    sections: &Sections<impl Call>,
    snapshot: &Snapshot,
    verdict: &mut Verdict,
) -> bool {
    let mut found_any = false;
    let mut ids: Vec<String> = Vec::new();
    // The identifiers seen, to keep each once with one probe (a record may name many thousands).
    let mut seen_ids: HashSet<String> = HashSet::new();
    let mut matched: HashSet<*const Instance> = HashSet::new();
    // What `tfdrift.import_id` is made from, kept until the lookups tell whether any state holds the resource:
    // only a resource no state holds, and that the call creates or changes, has an import id.
    let mut importable: Option<(&catalog::Target, Option<String>, Vec<String>)> = None;
    'targets: for target in entry.targets.iter() {
        ids.clear();
        seen_ids.clear();
        for path in target.ids.iter() {
            let Some(root) = path.section().and_then(|s| sections.get(s)) else {
                continue;
            };
            path.identifiers_from(root, |id| {
                let text = match id {
                    IdRef::Str(s) if is_placeholder(s) => return,
                    IdRef::Str(s) => s.to_owned(),
                    IdRef::Num(n) => n.to_string(),
                };
                // Route 53 answers with path-like ids (`/hostedzone/Z123`) where the state keeps `Z123`.
                let bare = text
                    .strip_prefix('/')
                    .and_then(|rest| rest.rsplit('/').next())
                    .filter(|last| !last.is_empty())
                    .map(str::to_owned);
                for candidate in std::iter::once(text).chain(bare) {
                    // A call names a handful of identifiers: a look along them costs less than hashing.
                    // Past that (a hostile record naming thousands), a set keeps the work linear.
                    let known = if ids.len() < SMALL_IDS {
                        ids.contains(&candidate)
                    } else {
                        if seen_ids.is_empty() {
                            seen_ids.extend(ids.iter().cloned());
                        }
                        !seen_ids.insert(candidate.clone())
                    };
                    if !known {
                        ids.push(candidate);
                    }
                }
            });
        }
        if ids.is_empty() {
            continue;
        }
        found_any = true;
        if verdict.unmatched_id.is_none() {
            verdict.unmatched_type = Some(target.resource_type.to_string());
            // A resource no state holds is named as Terraform's import takes it, when the catalog says how.
            let import_id = target.import_id.as_ref().and_then(|template| {
                template.render(|path| {
                    let root = sections.get(path.section()?)?;
                    let mut first = None;
                    path.identifiers_from(root, |id| {
                        // Route 53 writes names fully qualified (`www.example.com.`); import ids do not.
                        let text = id.to_string();
                        first.get_or_insert_with(|| {
                            text.strip_suffix('.').map(str::to_owned).unwrap_or(text)
                        });
                    });
                    first
                })
            });
            if target.import_form.is_some()
                && !matches!(entry.change, Change::Delete | Change::Detach)
            {
                importable = Some((target, import_id.clone(), ids.clone()));
            }
            verdict.unmatched_id = import_id.or_else(|| ids.first().cloned());
        }
        // The other parts of a composite identity, as the record gives them.
        let parts: Vec<(&str, Vec<String>)> = target
            .parts
            .iter()
            .filter_map(|(path, attr)| {
                let root = sections.get(path.section()?)?;
                let mut values = Vec::new();
                path.identifiers_from(root, |id| values.push(part_key(&id.to_string())));
                (!values.is_empty()).then_some((&**attr, values))
            })
            .collect();
        for id in &ids {
            for hit in snapshot.index.lookup(&target.resource_type, id) {
                if !in_scope(&hit, id, sections.call) {
                    continue;
                }
                // Every part the record names must agree: a call never lands on a sibling of the same parent.
                if !parts.iter().all(|(attr, values)| {
                    hit.instance
                        .string_attribute(attr)
                        .is_some_and(|held| values.contains(&part_key(&held)))
                }) {
                    continue;
                }
                // The index keeps one entry per instance, under the first key that matched; an instance whose
                // `id` equals its join attribute is found under `id`, so check that the join attribute holds
                // the value too (the index knows which keys do: the attributes are not read again).
                if let Some(join) = &target.join
                    && !join.iter().any(|attr| hit.holds(attr))
                {
                    continue;
                }
                if !push_match(verdict, &mut matched, hit, id, snapshot) {
                    break 'targets;
                }
            }
        }
    }
    if !verdict.matches.is_empty() {
        verdict.unmatched_type = None;
        verdict.unmatched_id = None;
    } else if let Some((target, rendered, ids)) = importable {
        verdict.import =
            import_id::ImportSlot::capture(target, rendered.as_deref(), &ids, sections);
    }
    found_any
}

fn to_match(hit: Hit, lookup_value: &str, snapshot: &Snapshot) -> Match {
    let instance = hit.instance;
    Match {
        address: instance.address.to_string(),
        resource_type: instance.resource_type.to_string(),
        // An id the state or the provider marks secret is a secret in every field.
        resource_id: if instance.is_sensitive("id") {
            REDACTED.to_owned()
        } else {
            instance
                .known
                .id
                .as_deref()
                .unwrap_or(lookup_value)
                .to_owned()
        },
        module: instance.module.to_string(),
        state: hit.state.name.to_string(),
        serial: hit.state.serial,
        loaded_at: snapshot.loaded_at(hit.state),
        tainted: matches!(instance.status, InstanceStatus::Tainted),
        deposed: matches!(instance.status, InstanceStatus::Deposed(_)),
        lookup_value: lookup_value.to_owned(),
    }
}

/// Fills the touched and changed attributes and the diff, against the primary match when it is of the
/// call's own type: the catalog's explicit mappings, the values the call implies, then (with `auto_attrs`)
/// every other top-level request parameter whose snake_case name is an attribute the resource has in the
/// state. Request parameters that set something no comparison covered are counted in `uncompared`.
fn compare_attributes(
    catalog: &Catalog,
    entry: &catalog::Call,
    sections: &Sections<impl Call>,
    snapshot: &Snapshot,
    verdict: &mut Verdict,
) {
    let own_type = &*entry.targets[0].resource_type;
    let primary = verdict
        .primary()
        .and_then(|m| find_again(snapshot, m))
        .map(|hit| hit.instance);
    let instance = primary.filter(|i| &*i.resource_type == own_type);
    // The call is about a sub-resource (a bucket's policy) that no state holds as its own type, while the
    // parent is managed: its values compare with the parent's attribute of that name where the parent has
    // one (older providers kept a bucket's policy on the bucket); else they cannot be compared, which is a
    // change, never "nothing changed".
    let parent = primary.filter(|_| instance.is_none());
    let request = sections.get(Section::Request);
    // A GCP update's field mask names exactly the members it changes: the others, re-sent as they are, are
    // not compared (and a masked member the body leaves out is cleared).
    let mask = request.and_then(update_mask);
    let body_steps: &[Box<str>] = entry.body.as_ref().map_or(&[], |b| b.rest());
    let masked_out = |path: &catalog::path::Path| {
        let Some(mask) = &mask else { return false };
        path.section() == Some(Section::Request)
            && path
                .rest()
                .strip_prefix(body_steps)
                .and_then(|rest| rest.first())
                .is_some_and(|member| !mask.contains(&catalog::snake_case(member)))
    };
    let mut found = Vec::new();
    for mapping in entry.attrs.iter() {
        let Some(root) = mapping.from.section().and_then(|s| sections.get(s)) else {
            continue;
        };
        if masked_out(&mapping.from) {
            continue;
        }
        found.clear();
        mapping.from.values_from(root, &mut found);
        let requested = match found.as_slice() {
            [] => continue,
            [one] => (*one).clone(),
            many => Value::Array(many.iter().map(|v| (*v).clone()).collect()),
        };
        let how = Comparison {
            kind: mapping.kind,
            op: mapping.op,
        };
        compare_one(
            &mapping.attr_name,
            mapping.attr.root(),
            requested,
            how,
            instance.or(parent),
            parent.is_some(),
            verdict,
        );
    }
    for implied in entry.sets.iter() {
        let how = Comparison {
            kind: default_kind(&implied.attr),
            op: Op::Set,
        };
        let top = implied.attr.split('.').next().unwrap_or(&implied.attr);
        compare_one(
            &implied.attr,
            top,
            implied.value.clone(),
            how,
            instance.or(parent),
            parent.is_some(),
            verdict,
        );
    }
    if entry.whole_request_mapped {
        return;
    }
    // The body's members: the request itself, or the member the catalog names (`request.sink`).
    let mut bodies = Vec::new();
    match (&entry.body, request) {
        (Some(body), Some(request)) => body.values_from(request, &mut bodies),
        (None, Some(request)) => bodies.push(request),
        _ => {}
    }
    let explicit = |param: &str| {
        entry.explicit_params.iter().any(|p| **p == *param) || catalog.ignores_param(param)
    };
    let mut absent: Vec<(Cow<'_, str>, &Value)> = Vec::new();
    if let Some(mask) = &mask {
        // A masked member that no body holds is set to its default: compared as empty. The body's names are
        // read once (a body may have many members; the mask at most MAX_MASK_PATHS).
        let held_names: HashSet<String> = bodies
            .iter()
            .filter_map(|b| b.as_object())
            .flat_map(|o| o.keys().map(|k| catalog::snake_case(k)))
            .collect();
        for member in mask {
            let held = held_names.contains(member);
            let mapped = entry
                .explicit_params
                .iter()
                .any(|p| catalog::snake_case(p) == *member);
            if !held && !mapped && !catalog.ignores_param(member) {
                absent.push((Cow::Owned(member.clone()), &Value::Null));
            }
        }
    }
    let members = bodies
        .iter()
        .filter_map(|b| b.as_object())
        .flat_map(|o| o.iter().map(|(k, v)| (Cow::Borrowed(k.as_str()), v)))
        .chain(absent);
    for (param, requested) in members {
        if explicit(&param) || sets_nothing(requested) {
            continue;
        }
        let attr = catalog::snake_case(&param);
        if mask.as_ref().is_some_and(|m| !m.contains(&attr)) {
            continue;
        }
        match instance {
            Some(instance) if entry.auto_attrs && instance.raw_attribute(&attr).is_some() => {
                let how = Comparison {
                    kind: default_kind(&attr),
                    op: default_op(entry.change),
                };
                compare_one(
                    &attr,
                    &attr,
                    requested.clone(),
                    how,
                    Some(instance),
                    false,
                    verdict,
                );
            }
            _ => verdict.uncompared.push(param.into_owned()),
        }
    }
}

/// The most top-level members a field mask is read for.
const MAX_MASK_PATHS: usize = 64;

/// The top-level members a GCP update's field mask names (`updateMask`, as proto3 JSON writes a `FieldMask`:
/// `"description,displayName"`, or `{paths: [...]}`), in snake_case; `None` without a mask, or with an empty
/// one or `*` (the whole resource is replaced: every member it sends counts).
fn update_mask(request: &Value) -> Option<Vec<String>> {
    let mask = request
        .get("updateMask")
        .or_else(|| request.get("update_mask"))?;
    let mut out: Vec<String> = Vec::new();
    let mut add = |path: &str| {
        if out.len() > MAX_MASK_PATHS {
            return;
        }
        let top = catalog::snake_case(path.trim().split('.').next().unwrap_or_default());
        if !top.is_empty() && !out.contains(&top) {
            out.push(top);
        }
    };
    match mask {
        Value::String(text) => text.split(',').for_each(&mut add),
        Value::Object(o) => match o.get("paths") {
            Some(Value::Array(paths)) => paths.iter().filter_map(Value::as_str).for_each(&mut add),
            Some(Value::String(path)) => add(path),
            _ => {}
        },
        Value::Array(paths) => paths.iter().filter_map(Value::as_str).for_each(&mut add),
        _ => {}
    }
    // A mask longer than any resource has members is no guide: every member counts (fail closed).
    (!out.is_empty() && out.len() <= MAX_MASK_PATHS && !out.iter().any(|p| p == "*")).then_some(out)
}

/// An empty string, or a list of them: CloudTrail writes S3's sub-resource markers (`"policy": [""]`,
/// `"versioning": ""`) that way, and they set nothing.
fn sets_nothing(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.iter().all(|v| v.as_str() == Some("")),
        _ => false,
    }
}

/// How one attribute compares.
#[derive(Clone, Copy)]
struct Comparison {
    kind: Kind,
    op: Op,
}

/// Records one attribute the call sets: touched always; changed, with its diff entry, when the state's
/// value differs or cannot be compared (the entry then says why).
fn compare_one(
    name: &str,
    top: &str,
    requested: Value,
    how: Comparison,
    instance: Option<&Instance>,
    of_parent: bool,
    verdict: &mut Verdict,
) {
    // The lists hold top-level attribute names, which is what a rule writes
    // (`tfdrift.changed_attrs intersects (versioning_configuration)`); the diff keeps the nested path.
    if !verdict.touched_attrs.iter().any(|t| t == top) {
        verdict.touched_attrs.push(top.to_owned());
    }
    let Some(instance) = instance else { return };
    if of_parent && instance.raw_attribute(top).is_none() {
        // The parent has no such attribute. Removing what no state holds (a share Terraform does not track)
        // changes nothing Terraform knows; any other value cannot be compared, so it counts as a change.
        if how.op != Op::Remove && !verdict.uncompared.iter().any(|u| u == name) {
            verdict.uncompared.push(name.to_owned());
        }
        return;
    }
    let state_value = instance.attribute(name).unwrap_or(Value::Null);
    let outcome = compare::compare(how.kind, how.op, &requested, &state_value);
    if outcome == Outcome::Same {
        return;
    }
    if !verdict.changed_attrs.iter().any(|c| c == top) {
        verdict.changed_attrs.push(top.to_owned());
    }
    verdict.diff.entries.push(DiffEntry {
        attr: name.to_owned(),
        kind: how.kind,
        op: how.op,
        state: state_value,
        requested,
        reason: match outcome {
            Outcome::Unknown(reason) => Some(reason),
            _ => None,
        },
        sensitive: instance.is_sensitive(top) || instance.is_sensitive(name),
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Index, KeyTable, Limits, Scope, parse};

    /// A call that only says where it was made: all `in_scope` reads.
    struct Place {
        project: Option<&'static str>,
        location: Option<&'static str>,
    }

    impl Call for Place {
        fn service(&self) -> &str {
            "cloudkms.googleapis.com"
        }
        fn operation(&self) -> &str {
            "Encrypt"
        }
        fn read_only(&self) -> bool {
            false
        }
        fn failed(&self) -> bool {
            false
        }
        fn time(&self) -> Option<&str> {
            None
        }
        fn account_id(&self) -> Option<&str> {
            self.project
        }
        fn region(&self) -> Option<&str> {
            self.location
        }
        fn section_value(&self, _: Section) -> Option<Value> {
            None
        }
        fn principals(&self) -> impl Iterator<Item = &str> {
            std::iter::empty()
        }
        fn terraform_client(&self) -> bool {
            false
        }
        fn actor_kind(&self) -> ActorKind {
            ActorKind::Unknown
        }
        fn actor(&self) -> Option<Cow<'_, str>> {
            None
        }
    }

    /// Where the entries in `tests/data/gcp-audit/panther-analysis.jsonl` (line 34, an `Encrypt` whose
    /// `resourceName` names `attacker-project` and whose `resource.labels.project_id` is `victim-project`)
    /// show that a log's project need not be the one its resource path names.
    #[test]
    fn a_google_path_names_its_project_and_a_name_is_scoped_by_the_calls() {
        let mut state = parse(
            "keys",
            br#"{"version": 4, "resources": [{"mode": "managed", "type": "google_kms_crypto_key",
              "name": "k", "instances": [{"attributes": {
                "id": "projects/attacker-project/locations/us/keyRings/malicious-keyring/cryptoKeys/ransomware-key",
                "key_ring": "projects/attacker-project/locations/us/keyRings/malicious-keyring",
                "name": "ransomware-key"}}]}]}"#,
            &Limits::default(),
        )
        .expect("state");
        state.scope = Scope::infer(&state);
        let index = Index::build(vec![Arc::new(state)], &KeyTable::new(&["id", "arn"]));
        let path = "projects/attacker-project/locations/us/keyRings/malicious-keyring/cryptoKeys/ransomware-key";
        let victim = Place {
            project: Some("victim-project"),
            location: Some("us"),
        };
        let hit = index
            .lookup("google_kms_crypto_key", path)
            .next()
            .expect("by path");
        assert!(in_scope(&hit, path, &victim));
        // By its bare name, the key is scoped by the call's project: another project's key of that name
        // is not this one.
        let hit = index
            .lookup("google_kms_crypto_key", "ransomware-key")
            .next()
            .expect("by name");
        assert!(!in_scope(&hit, "ransomware-key", &victim));
        let own = Place {
            project: Some("attacker-project"),
            location: Some("us"),
        };
        assert!(in_scope(&hit, "ransomware-key", &own));
        let elsewhere = Place {
            project: Some("attacker-project"),
            location: Some("europe-west1"),
        };
        // `us` is a multi-region: not compared with a region, so never excluding.
        assert!(in_scope(&hit, "ransomware-key", &elsewhere));
        // A log naming the project by number (line 12 of the same file) is not compared.
        let numbered = Place {
            project: Some("123456789012"),
            location: None,
        };
        assert!(in_scope(&hit, "ransomware-key", &numbered));
    }
}
