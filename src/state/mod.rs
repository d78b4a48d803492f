//! Terraform state: the model tfdrift keeps of one state file, its parsing, and the index that answers
//! "which managed resource instance has this identifier?".
//!
//! - [`parse`] (in `parse.rs`) turns the bytes of a state file (format v4, and the legacy v1–v3 formats of
//!   Terraform before 0.12) into a [`State`]: the managed resource instances with their addresses, status,
//!   sensitive attribute names, and their attributes kept as raw JSON text.
//! - `address.rs` owns Terraform's address syntax (`module.a["x"].aws_s3_bucket.logs[0]`).
//! - [`Index`] (in `index.rs`) joins several states and answers lookups by (resource type, identifier) and
//!   by ARN without allocating.
//!
//! Attributes stay JSON text until someone asks for one: most instances are never looked at after the
//! index is built, so building `serde_json::Value` trees for them would only cost time and memory. Their
//! members are found with the record view's SIMD walker ([`crate::scan::members`]): the text was validated
//! when the state was loaded, so it is only delimited, never parsed again.

mod address;
pub mod google;
#[cfg(test)]
mod google_tests;
mod index;
mod parse;
pub mod sensitive;
mod snapshot;

use std::sync::Arc;

use serde_json::Value;
use serde_json::value::RawValue;

pub use address::{InstanceKey, hcl_quote, instance_address};
pub use index::{Hit, Index, KeySpec, KeyTable};
pub use parse::{Limits, StateError, parse};
pub use snapshot::{Snapshot, SnapshotReader};

/// One Terraform state, parsed: what tfdrift needs of it.
#[derive(Debug)]
pub struct State {
    /// The name the configuration gives this state (as passed to [`parse`]).
    pub name: Arc<str>,
    /// The file's `version` (1 to 4).
    pub format_version: u64,
    /// The state's `serial`: it grows with every write.
    pub serial: u64,
    /// The state's `lineage`: the same across the versions of one state.
    pub lineage: Option<String>,
    /// The Terraform version that wrote it.
    pub terraform_version: Option<String>,
    /// Managed resource instances in file order; data sources are skipped.
    pub instances: Vec<Instance>,
    /// The account and region the state's resources live in, where known (set by the source that loaded
    /// it: from the configuration, or inferred from the state's ARNs). Empty after [`parse`].
    pub scope: Scope,
}

/// The account and region a state covers: a lookup only matches states of the event's account, so two
/// accounts with an IAM role of the same name never mix. `None` covers every account (or region). Google
/// Cloud resources are scoped by project the same way; a state may hold both clouds' resources, so the
/// AWS account and the Google project are kept apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `None`: every account.
    pub account: Option<Box<str>>,
    /// `None`: every region.
    pub region: Option<Box<str>>,
    /// The Google Cloud project (its id, `my-project`) of the state's `google_*` resources. `None`: every
    /// project.
    pub project: Option<Box<str>>,
}

/// Resource types whose instances have no region: their calls are recorded in `us-east-1` (or wherever
/// the caller's endpoint was) whatever region the state is for. Used for instances with no `arn` attribute;
/// an instance with one is global when its ARN has no region (`arn:aws:iam::1:role/x`, `arn:aws:s3:::b`).
const GLOBAL_TYPE_PREFIXES: &[&str] = &[
    "aws_iam_",
    "aws_s3_",
    "aws_route53_",
    "aws_cloudfront_",
    "aws_organizations_",
    "aws_shield_",
];

impl Scope {
    /// What every ARN of the state agrees on: the one account all `arn` attributes name (ARNs with no
    /// numeric account, such as AWS-managed ones, are ignored), and the one region all regional ARNs name.
    /// A state spanning several accounts or regions is not scoped by them.
    ///
    /// The project is the one all `google_*` instances name (their `project` attribute, else the
    /// `projects/<p>/` of their `id` or `self_link`; project numbers are ignored). Google locations are not
    /// inferred for the state: nearly every regional or zonal Google resource says where it is itself, and
    /// one that does not is taken as global rather than excluded by its neighbours' location.
    pub fn infer(state: &State) -> Scope {
        let mut account = Agreement::Nothing;
        let mut region = Agreement::Nothing;
        let mut project = Agreement::Nothing;
        for instance in &state.instances {
            if account == Agreement::Conflict
                && region == Agreement::Conflict
                && project == Agreement::Conflict
            {
                break;
            }
            if google::is_google(&instance.resource_type) {
                if let Some(own) = &instance.known.account {
                    project.see(own);
                }
                continue;
            }
            if !instance.known.from_arn {
                continue;
            }
            if let Some(own) = &instance.known.account {
                account.see(own);
            }
            if let Some(own) = instance.known.region.as_deref().filter(|r| !r.is_empty()) {
                region.see(own);
            }
        }
        Scope {
            account: account.value(),
            region: region.value(),
            project: project.value(),
        }
    }

    /// Whether `instance` (of a state with this scope) can be the resource a call made in `account` and
    /// `region` touched. An unknown account or region (on either side) does not exclude.
    /// - Region: a regional resource matches only in its own region, known from its ARN or, with no ARN, its
    ///   `region` attribute, whatever the state's scope (one state may hold a type in several regions through
    ///   provider aliases); with neither, the state's scope decides. A region never excludes a global
    ///   resource: one whose ARN has no region, or, with no ARN, of a global type (IAM, S3, Route 53,
    ///   CloudFront, Organizations).
    /// - Account: in a state scoped to an account, an instance whose own ARN names an account is judged by
    ///   it, one with no ARN by the state's scope.
    ///
    /// A `google_*` instance is judged by project and location instead ([`Scope::accepts_google`]).
    pub fn accepts(
        &self,
        instance: &Instance,
        account: Option<&str>,
        region: Option<&str>,
    ) -> bool {
        if google::is_google(&instance.resource_type) {
            return self.accepts_google(instance, account, region);
        }
        let known = &instance.known;
        if let (Some(want), Some(got)) = (self.account.as_deref(), account) {
            let want = known.account.as_deref().unwrap_or(want);
            if want != got {
                return false;
            }
        }
        let Some(got) = region else {
            return true;
        };
        match known.region.as_deref() {
            Some(own) => own.is_empty() || own == got,
            None => match self.region.as_deref() {
                None => true,
                Some(want) => {
                    want == got
                        || GLOBAL_TYPE_PREFIXES
                            .iter()
                            .any(|prefix| instance.resource_type.starts_with(prefix))
                }
            },
        }
    }
}

impl Scope {
    /// Whether a `google_*` instance can be the resource a call in project `project` (the log's
    /// `resource.labels.project_id`) and location `location` (a region, a zone, `global`, a multi-region)
    /// touched.
    /// - Project: the instance's own (its `project` attribute or the project its path names), else the
    ///   state's scope. A call whose project is a number, or a wildcard, is not compared.
    /// - Location: only the instance's own (`zone`, `region` or `location` attribute, else the zone, region
    ///   or location its path names). A zone lies in its region (`europe-west1-b` in `europe-west1`); a
    ///   global resource, one with no location, a multi-region and any location that cannot be read never
    ///   exclude ([`google::same_place`]).
    pub fn accepts_google(
        &self,
        instance: &Instance,
        project: Option<&str>,
        location: Option<&str>,
    ) -> bool {
        let known = &instance.known;
        if let Some(got) = project.filter(|p| google::is_project_id(p))
            && let Some(want) = known.account.as_deref().or(self.project.as_deref())
            && want != got
        {
            return false;
        }
        match (known.region.as_deref(), location) {
            (Some(own), Some(got)) => {
                own.is_empty()
                    || google::global_as_empty(got).is_empty()
                    || google::same_place(own, got)
            }
            _ => true,
        }
    }
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the values seen so far agree.
#[derive(Debug, PartialEq, Eq)]
enum Agreement {
    Nothing,
    One(Box<str>),
    Conflict,
}

impl Agreement {
    fn see(&mut self, value: &str) {
        match self {
            Agreement::Nothing => *self = Agreement::One(value.into()),
            Agreement::One(seen) if **seen != *value => *self = Agreement::Conflict,
            _ => {}
        }
    }

    fn value(self) -> Option<Box<str>> {
        match self {
            Agreement::One(value) => Some(value),
            _ => None,
        }
    }
}

/// The fields of an ARN (`arn:partition:service:region:account:resource`).
struct ArnParts<'a> {
    region: &'a str,
    account: &'a str,
}

impl<'a> ArnParts<'a> {
    fn parse(arn: &'a str) -> Option<ArnParts<'a>> {
        let mut parts = arn.splitn(6, ':');
        if parts.next()? != "arn" {
            return None;
        }
        let _partition = parts.next()?;
        let _service = parts.next()?;
        let region = parts.next()?;
        let account = parts.next()?;
        parts.next()?;
        Some(ArnParts { region, account })
    }
}

/// One object of a managed resource instance: the current one, or a deposed one.
#[derive(Debug)]
pub struct Instance {
    /// Terraform syntax: `aws_instance.web[0]`, `module.a.aws_instance.web["blue"]`,
    /// `module.a["x"].module.b.aws_s3_bucket.logs`. A deposed object has the address of its instance.
    pub address: Box<str>,
    /// `""` for the root module, else e.g. `module.a` or `module.a["x"].module.b`.
    pub module: Box<str>,
    /// `aws_instance`.
    pub resource_type: Box<str>,
    /// Whether the object is the live one.
    pub status: InstanceStatus,
    /// The attributes as a JSON object, whitespace removed. Legacy (v1–v3) states and v4 `attributes_flat`
    /// give a flat object of strings (`"tags.%": "1"`, `"tags.Name": "web"`).
    pub attributes: Box<RawValue>,
    /// Top-level attribute names the state marks sensitive. `"*"` means the state marks something this
    /// parser could not place, so every attribute is treated as sensitive.
    pub sensitive_attrs: Box<[Box<str>]>,
    /// What every lookup needs, read from the attributes once, when the state is loaded.
    pub known: Known,
    /// Where each top-level attribute is in `attributes`, found at the first read of any: later reads of an
    /// instance that calls keep touching are a probe, not a scan of its text (one attribute may be hundreds
    /// of megabytes). Instances never read cost nothing.
    pub members: std::sync::OnceLock<Box<[MemberSpan]>>,
}

/// One top-level member of an instance's attributes: byte ranges of its name (between the quotes) and its
/// value, and whether the name has escapes.
#[derive(Debug, Clone, Copy)]
pub struct MemberSpan {
    key: (u32, u32),
    value: (u32, u32),
    escaped: bool,
}

/// What lookups need of an instance, read once when its state is loaded: a lookup must never read the
/// attributes again (one of them may be hundreds of megabytes).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Known {
    /// The `id` attribute's text.
    pub id: Option<Box<str>>,
    /// The account its `arn` names (a twelve-digit one only). For a `google_*` instance, its project id: the
    /// `project` attribute, else the project its `id` or `self_link` path names (never a project number).
    pub account: Option<Box<str>>,
    /// The region it lives in: its `arn`'s (empty for a global resource, whose ARN has none), else its
    /// `region` attribute (every regional resource of the AWS provider has one since v6). For a `google_*`
    /// instance, its location: the `zone`, `region` or `location` attribute, else the one its `id` or
    /// `self_link` path names; empty for a global one.
    pub region: Option<Box<str>>,
    /// Whether account and region come from an `arn`.
    pub from_arn: bool,
}

impl Known {
    /// Reads what lookups need from the attributes (a JSON object) of an instance of `resource_type`:
    /// `id`, `arn` and `region`, or for a `google_*` type its project and location.
    pub fn read(resource_type: &str, attributes: &str) -> Known {
        if google::is_google(resource_type) {
            return Known::read_google(attributes);
        }
        let mut id = None;
        let mut arn = None;
        let mut region = None;
        for member in crate::scan::members(attributes).map_while(Result::ok) {
            let slot = match member.key {
                "id" => &mut id,
                "arn" => &mut arn,
                "region" => &mut region,
                _ => continue,
            };
            if slot.is_none() {
                *slot = crate::scan::scalar_text(member.value)
                    .filter(|v| !v.is_empty())
                    .map(|v| Box::<str>::from(&*v));
            }
        }
        let parts = arn.as_deref().and_then(ArnParts::parse);
        Known {
            id,
            account: parts
                .as_ref()
                .map(|p| p.account)
                .filter(|a| is_account_id(a))
                .map(Box::from),
            region: match &parts {
                Some(p) => Some(Box::from(p.region)),
                None => region,
            },
            from_arn: parts.is_some(),
        }
    }
}

impl Known {
    /// `id`, project and location of a `google_*` instance.
    fn read_google(attributes: &str) -> Known {
        let mut id = None;
        let mut self_link = None;
        let mut project = None;
        let mut zone = None;
        let mut region = None;
        let mut location = None;
        for member in crate::scan::members(attributes).map_while(Result::ok) {
            let slot = match member.key {
                "id" => &mut id,
                "self_link" => &mut self_link,
                "project" => &mut project,
                "zone" => &mut zone,
                "region" => &mut region,
                "location" => &mut location,
                _ => continue,
            };
            if slot.is_none() {
                *slot = crate::scan::scalar_text(member.value)
                    .filter(|v| !v.is_empty())
                    .map(|v| Box::<str>::from(&*v));
            }
        }
        let paths = || [id.as_deref(), self_link.as_deref()].into_iter().flatten();
        let project = project
            .as_deref()
            .and_then(google::project_attribute)
            .or_else(|| paths().find_map(google::project_in_path))
            .map(Box::from);
        // The most precise first: a zonal resource's `region` (an instance template's) is less exact.
        let location = zone
            .or(region)
            .or(location)
            .map(|l| Box::from(google::global_as_empty(&l)))
            .or_else(|| paths().find_map(google::location_in_path).map(Box::from));
        Known {
            id,
            account: project,
            region: location,
            from_arn: false,
        }
    }
}

/// Whether an instance object is the live one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstanceStatus {
    /// The live object.
    Current,
    /// Marked for replacement on the next apply; the object still exists.
    Tainted,
    /// Replaced by a create-before-destroy and waiting to be destroyed; the key names the object.
    Deposed(Box<str>),
}

impl InstanceStatus {
    /// Lookup order: current, then tainted, then deposed.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            InstanceStatus::Current => 0,
            InstanceStatus::Tainted => 1,
            InstanceStatus::Deposed(_) => 2,
        }
    }
}

/// Substrings of attribute names that mark a value as secret even when the state does not say so
/// (the AWS provider marks few attributes sensitive, and states written before Terraform 0.15 mark
/// none): `password` (`master_password`, `ses_smtp_password_v4`), `passwd`, `passphrase`, `secret`
/// (`secret`, `client_secret`), `private_key` (`private_key_pem`), `token` (`auth_token`), `user_data`
/// (`user_data`, `user_data_base64`: boot scripts routinely carry credentials), `credential`.
/// Matched case-insensitively on the first path segment. Over-matching (`token_validity_units`) only
/// redacts a value; under-matching leaks one.
pub const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "secret",
    "private_key",
    "token",
    "user_data",
    "credential",
];

impl Instance {
    /// The value at `path`: a top-level attribute name, or a dotted path through nested objects
    /// (`versioning.enabled`, `ingress.0.from_port`). Arrays met on the way are traversed: a numeric
    /// segment picks an element, any other segment applies to every element. One match gives that value;
    /// several give an array of them. Flat attributes (legacy states) are matched too: the exact flat key
    /// first (`tags.Name`), then keys that add list indexes or set hashes to the path
    /// (`versioning.0.enabled` for `versioning.enabled`). Count entries (`x.#`, `x.%`) are never matched
    /// unless asked for exactly.
    pub fn attribute(&self, path: &str) -> Option<Value> {
        if path.is_empty() {
            return None;
        }
        if let Some(raw) = self.raw_attribute(path) {
            return serde_json::from_str(raw).ok();
        }
        if let Some((first, rest)) = path.split_once('.')
            && let Some(raw) = self.raw_attribute(first)
        {
            let root: Value = serde_json::from_str(raw).ok()?;
            let segments: Vec<&str> = rest.split('.').collect();
            let mut found = Vec::new();
            walk(&root, &segments, &mut found);
            return one_or_array(found);
        }
        self.flat_attribute(path)
    }

    /// A top-level attribute as text: a string, or a number as written in the state.
    pub fn string_attribute(&self, name: &str) -> Option<String> {
        self.raw_attribute(name)
            .and_then(crate::scan::scalar_text)
            .map(Into::into)
    }

    /// The JSON text of a top-level attribute (the first one, should the object repeat a name). The text was
    /// validated when the state was loaded, so it is only delimited here, not parsed again.
    pub fn raw_attribute(&self, name: &str) -> Option<&str> {
        let text = self.attributes.get();
        let spans = self.members.get_or_init(|| member_spans(text));
        spans
            .iter()
            .find(|span| {
                let key = text
                    .get(span.key.0 as usize..span.key.1 as usize)
                    .unwrap_or("");
                if span.escaped {
                    crate::scan::decode_name(key) == name
                } else {
                    key == name
                }
            })
            .and_then(|span| text.get(span.value.0 as usize..span.value.1 as usize))
    }

    /// Whether the value at `name` (an attribute name or a dotted path) must not be shown: the state marks
    /// its first segment sensitive, the provider's schema marks it (or a path within it) for this resource
    /// type whatever Terraform version wrote the state ([`sensitive::provider_marks`]), or any segment looks
    /// secret ([`SECRET_NAME_PARTS`]), so that `auth.password` is hidden although `auth` is not.
    pub fn is_sensitive(&self, name: &str) -> bool {
        let first = name.split('.').next().unwrap_or(name);
        self.sensitive_attrs
            .iter()
            .any(|s| &**s == first || &**s == "*")
            || sensitive::provider_marks(&self.resource_type, name)
            || name.split('.').any(name_looks_secret)
    }

    fn flat_attribute(&self, path: &str) -> Option<Value> {
        let want: Vec<&str> = path.split('.').collect();
        let found = crate::scan::members(self.attributes.get())
            .map_while(Result::ok)
            .filter(|member| flat_key_matches(&member.name(), &want))
            .filter_map(|member| serde_json::from_str::<Value>(member.value).ok())
            .collect();
        one_or_array(found)
    }
}

/// The spans of the top-level members of an object's text (offsets past 4 GiB are not kept: no state
/// accepted by the limits has them).
fn member_spans(text: &str) -> Box<[MemberSpan]> {
    let base = text.as_ptr() as usize;
    let offset = |part: &str| {
        let at = (part.as_ptr() as usize).checked_sub(base)?;
        (at + part.len() <= text.len()).then_some(())?;
        u32::try_from(at).ok()
    };
    crate::scan::members(text)
        .map_while(Result::ok)
        .filter_map(|member| {
            let key = offset(member.key)?;
            let value = offset(member.value)?;
            Some(MemberSpan {
                key: (key, key.checked_add(u32::try_from(member.key.len()).ok()?)?),
                value: (
                    value,
                    value.checked_add(u32::try_from(member.value.len()).ok()?)?,
                ),
                escaped: member.key_escaped,
            })
        })
        .collect()
}

/// Whether an attribute name looks like it holds a secret ([`SECRET_NAME_PARTS`]).
pub fn name_looks_secret(name: &str) -> bool {
    // Case-insensitive in place: this runs for every attribute a call sets.
    let name = name.as_bytes();
    SECRET_NAME_PARTS.iter().any(|part| {
        name.windows(part.len())
            .any(|window| window.eq_ignore_ascii_case(part.as_bytes()))
    })
}

fn one_or_array(mut found: Vec<Value>) -> Option<Value> {
    match found.len() {
        0 => None,
        1 => found.pop(),
        _ => Some(Value::Array(found)),
    }
}

fn walk(value: &Value, segments: &[&str], out: &mut Vec<Value>) {
    let Some((segment, rest)) = segments.split_first() else {
        out.push(value.clone());
        return;
    };
    match value {
        Value::Object(map) => {
            if let Some(child) = map.get(*segment) {
                walk(child, rest, out);
            }
        }
        Value::Array(items) => match segment.parse::<usize>() {
            Ok(i) => {
                if let Some(item) = items.get(i) {
                    walk(item, rest, out);
                }
            }
            Err(_) => items.iter().for_each(|item| walk(item, segments, out)),
        },
        _ => {}
    }
}

/// `versioning.0.enabled` matches the path `versioning.enabled`: the flat key may add all-digit segments
/// (list indexes, set hashes) that the path leaves out, and must otherwise equal it.
fn flat_key_matches(key: &str, want: &[&str]) -> bool {
    if key.ends_with(".#") || key.ends_with(".%") {
        return false;
    }
    let mut want = want.iter().peekable();
    for segment in key.split('.') {
        match want.peek() {
            Some(w) if **w == segment => {
                want.next();
            }
            _ if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return false,
        }
    }
    want.peek().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn instance(attrs: &str, sensitive: &[&str]) -> Instance {
        Instance {
            address: "aws_s3_bucket.b".into(),
            module: "".into(),
            resource_type: "aws_s3_bucket".into(),
            status: InstanceStatus::Current,
            attributes: RawValue::from_string(attrs.to_owned()).expect("test JSON"),
            sensitive_attrs: sensitive.iter().map(|s| Box::<str>::from(*s)).collect(),
            known: Known::read("aws_s3_bucket", attrs),
            members: Default::default(),
        }
    }

    fn scoped_state(instances: Vec<Instance>) -> State {
        State {
            name: Arc::from("s"),
            format_version: 4,
            serial: 1,
            lineage: None,
            terraform_version: None,
            instances,
            scope: Scope::default(),
        }
    }

    fn typed(resource_type: &str, attrs: &str) -> Instance {
        Instance {
            resource_type: resource_type.into(),
            known: Known::read(resource_type, attrs),
            ..instance(attrs, &[])
        }
    }

    #[test]
    fn scope_is_inferred_from_arns() {
        let state = scoped_state(vec![
            typed(
                "aws_iam_role",
                r#"{"arn":"arn:aws:iam::111111111111:role/r"}"#,
            ),
            typed(
                "aws_sqs_queue",
                r#"{"arn":"arn:aws:sqs:eu-west-1:111111111111:q"}"#,
            ),
            typed(
                "aws_iam_role_policy_attachment",
                r#"{"policy_arn":"arn:aws:iam::aws:policy/x"}"#,
            ),
            typed(
                "aws_iam_policy",
                r#"{"arn":"arn:aws:iam::aws:policy/AWSManaged"}"#,
            ),
            typed("aws_s3_bucket", r#"{"arn":"arn:aws:s3:::b"}"#),
            typed("aws_x", r#"{"arn":"not an arn"}"#),
        ]);
        let scope = Scope::infer(&state);
        assert_eq!(scope.account.as_deref(), Some("111111111111"));
        assert_eq!(scope.region.as_deref(), Some("eu-west-1"));

        let two_accounts = scoped_state(vec![
            typed(
                "aws_iam_role",
                r#"{"arn":"arn:aws:iam::111111111111:role/r"}"#,
            ),
            typed(
                "aws_iam_role",
                r#"{"arn":"arn:aws:iam::222222222222:role/r"}"#,
            ),
        ]);
        assert_eq!(Scope::infer(&two_accounts), Scope::default());
        assert_eq!(Scope::infer(&scoped_state(vec![])), Scope::default());
    }

    #[test]
    fn scope_accepts_by_account_and_regional_resources_by_region() {
        let scope = Scope {
            account: Some("111111111111".into()),
            region: Some("eu-west-1".into()),
            project: None,
        };
        let role = typed(
            "aws_iam_role",
            r#"{"arn":"arn:aws:iam::111111111111:role/r"}"#,
        );
        let queue = typed(
            "aws_sqs_queue",
            r#"{"arn":"arn:aws:sqs:eu-west-1:111111111111:q"}"#,
        );
        let other_region = typed(
            "aws_sqs_queue",
            r#"{"arn":"arn:aws:sqs:us-east-1:111111111111:q"}"#,
        );
        let rule = typed("aws_security_group_rule", r#"{"id":"sgr-1"}"#);
        let policy = typed("aws_iam_role_policy", r#"{"id":"r:p"}"#);
        let (a, b) = (Some("111111111111"), Some("222222222222"));
        let (eu, us) = (Some("eu-west-1"), Some("us-east-1"));

        assert!(scope.accepts(&role, a, us));
        assert!(!scope.accepts(&role, b, us));
        assert!(scope.accepts(&role, None, None));
        assert!(scope.accepts(&queue, a, eu));
        assert!(!scope.accepts(&queue, a, us));
        assert!(scope.accepts(&other_region, a, us));
        assert!(!scope.accepts(&rule, a, us));
        assert!(scope.accepts(&rule, a, eu));
        assert!(scope.accepts(&policy, a, us));
        // Unscoped (a state spanning accounts and regions): the account is anyone's, but a regional
        // resource still matches only in its own region, from its ARN or its `region` attribute.
        assert!(Scope::default().accepts(&queue, b, eu));
        assert!(!Scope::default().accepts(&queue, b, us));
        let by_attribute = typed("aws_sqs_queue", r#"{"id":"q","region":"eu-west-1"}"#);
        assert!(Scope::default().accepts(&by_attribute, a, eu));
        assert!(!Scope::default().accepts(&by_attribute, a, us));
        let global = typed(
            "aws_s3_bucket",
            r#"{"arn":"arn:aws:s3:::b","region":"eu-west-1"}"#,
        );
        assert!(Scope::default().accepts(&global, a, us));
        // An instance whose ARN names another account is judged by it (a state spanning accounts).
        let other_account = typed(
            "aws_sqs_queue",
            r#"{"arn":"arn:aws:sqs:eu-west-1:222222222222:q"}"#,
        );
        assert!(scope.accepts(&other_account, b, eu));
        assert!(!scope.accepts(&other_account, a, eu));
        assert!(!scope.accepts(&rule, b, eu));
    }

    #[test]
    fn top_level_and_nested_attributes() {
        let i = instance(
            r#"{"id":"b1","count":3,"versioning":[{"enabled":true,"mfa_delete":false}],
                "tags":{"Name":"x"},"rules":[{"id":"r1"},{"id":"r2"}],"nothing":null}"#,
            &[],
        );
        assert_eq!(i.attribute("id"), Some(json!("b1")));
        assert_eq!(i.attribute("versioning.enabled"), Some(json!(true)));
        assert_eq!(i.attribute("versioning.0.mfa_delete"), Some(json!(false)));
        assert_eq!(
            i.attribute("versioning"),
            Some(json!([{"enabled": true, "mfa_delete": false}]))
        );
        assert_eq!(i.attribute("tags.Name"), Some(json!("x")));
        assert_eq!(i.attribute("rules.id"), Some(json!(["r1", "r2"])));
        assert_eq!(i.attribute("rules.1.id"), Some(json!("r2")));
        assert_eq!(i.attribute("nothing"), Some(Value::Null));
        assert_eq!(i.attribute("missing"), None);
        assert_eq!(i.attribute("tags.Missing"), None);
        assert_eq!(i.attribute(""), None);
        assert_eq!(i.string_attribute("id").as_deref(), Some("b1"));
        assert_eq!(i.string_attribute("count").as_deref(), Some("3"));
        assert_eq!(i.string_attribute("tags"), None);
        assert_eq!(i.string_attribute("nothing"), None);
    }

    #[test]
    fn flat_attributes() {
        let i = instance(
            r#"{"id":"b1","tags.%":"1","tags.Name":"web","versioning.#":"1","versioning.0.enabled":"true",
                "subnets.#":"2","subnets.1359096304":"subnet-a","subnets.3529352084":"subnet-b"}"#,
            &[],
        );
        assert_eq!(i.attribute("tags.Name"), Some(json!("web")));
        assert_eq!(i.attribute("versioning.enabled"), Some(json!("true")));
        assert_eq!(
            i.attribute("subnets"),
            Some(json!(["subnet-a", "subnet-b"]))
        );
        assert_eq!(i.attribute("tags.%"), Some(json!("1")));
        assert_eq!(i.attribute("versioning.mfa_delete"), None);
    }

    #[test]
    fn escaped_names_and_values() {
        let i = instance(r#"{"a\"b":"x\ny","\u0069d":"i-1"}"#, &[]);
        assert_eq!(i.string_attribute("a\"b").as_deref(), Some("x\ny"));
        assert_eq!(i.string_attribute("id").as_deref(), Some("i-1"));
    }

    #[test]
    fn sensitivity() {
        let i = instance(
            r#"{"id":"x","custom":"s","master_password":"p"}"#,
            &["custom"],
        );
        assert!(i.is_sensitive("custom"));
        assert!(i.is_sensitive("custom.inner"));
        assert!(i.is_sensitive("master_password"));
        assert!(i.is_sensitive("Auth_Token"));
        assert!(i.is_sensitive("user_data_base64"));
        assert!(i.is_sensitive("private_key_pem"));
        assert!(i.is_sensitive("client_secret"));
        assert!(!i.is_sensitive("id"));
        assert!(!i.is_sensitive("bucket"));
        assert!(i.is_sensitive("auth.password"));
        assert!(!i.is_sensitive("tags.Name"));
        let all = instance(r#"{"id":"x"}"#, &["*"]);
        assert!(all.is_sensitive("id"));
    }

    #[test]
    fn flat_key_matching() {
        assert!(flat_key_matches("a.0.b", &["a", "b"]));
        assert!(flat_key_matches("a.123.b.4", &["a", "b"]));
        assert!(!flat_key_matches("a.0.c", &["a", "b"]));
        assert!(!flat_key_matches("a.#", &["a"]));
        assert!(!flat_key_matches("ab", &["a"]));
        assert!(!flat_key_matches("a", &["a", "b"]));
    }
}
