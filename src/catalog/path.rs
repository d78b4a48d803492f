//! Paths into JSON documents, as the catalog writes them: `requestParameters.instancesSet.items[].instanceId`,
//! `resourceName|projects/_/buckets/{}`.
//!
//! A path is a list of member names. Wherever a step meets an array, the rest of the path applies to every
//! element, so the catalog does not have to know whether CloudTrail wrote one item or a list. Evaluation never
//! allocates beyond the caller's output and never fails: a member that is not there is simply no value.
//!
//! A path may end in an identity pattern (`|<pattern>`, see [`Pattern`]): GCP names resources by slash-separated
//! paths (`projects/p/zones/z/instances/vm`), and the pattern says which of them, or which segment of them, is
//! the identifier.

use serde::{Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// A parsed path. Its first step names a [`Section`] of the call (`requestParameters`, `responseElements`,
/// `resources`, ...). Serialised as its list of steps, or, with a pattern, as `{"steps": [...], "pattern": "..."}`.
#[derive(Clone, PartialEq, Eq)]
pub struct Path {
    steps: Box<[Box<str>]>,
    pattern: Option<Pattern>,
}

/// An identity pattern, applied to each string a path reaches, segment by segment on `/`: a literal segment
/// must be equal, `*` matches one segment, `{}` matches one segment and is the identifier, `**` (last only)
/// matches the rest (none or more segments). Without `{}` the whole string is the identifier; a string that
/// does not match gives nothing. `projects/_/buckets/{}` gives a bucket's name; `projects/*/zones/*/instances/*`
/// the whole path of an instance (the `id` Terraform gives `google_compute_instance`).
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern {
    text: Box<str>,
    segments: Box<[Segment]>,
}

#[derive(Clone, PartialEq, Eq)]
enum Segment {
    Literal(Box<str>),
    Any,
    Id,
    Rest,
}

/// Why a path was refused when the catalog was loaded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// Nothing to read.
    #[error("empty path")]
    Empty,
    /// Two dots in a row, or a dot at either end.
    #[error("empty step in path `{0}`")]
    EmptyStep(String),
    /// A `[` that does not start `[]`.
    #[error("`[` without `[]` in path `{0}`")]
    BadBrackets(String),
    /// A template `{` that is never closed.
    #[error("`{{` without `}}` in the template `{0}`")]
    Unclosed(String),
    /// An identity pattern that cannot be read.
    #[error("identity pattern `{pattern}`: {why}")]
    BadPattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl Pattern {
    /// Parses `projects/*/zones/*/instances/{}`.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let bad = |why| PathError::BadPattern {
            pattern: text.to_owned(),
            why,
        };
        if text.is_empty() {
            return Err(bad("empty"));
        }
        let raw: Vec<&str> = text.split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, seg) in raw.iter().enumerate() {
            let segment = match *seg {
                "" => return Err(bad("empty segment (`//`, or `/` at either end)")),
                "*" => Segment::Any,
                "{}" => Segment::Id,
                "**" if i + 1 == raw.len() => Segment::Rest,
                "**" => return Err(bad("`**` may only be the last segment")),
                literal if literal.contains(['*', '{', '}', '|']) => {
                    return Err(bad(
                        "a segment is a literal, `*`, `{}` or a final `**`, never a mix",
                    ));
                }
                literal => Segment::Literal(literal.into()),
            };
            segments.push(segment);
        }
        if segments.iter().filter(|s| **s == Segment::Id).count() > 1 {
            return Err(bad("more than one `{}`"));
        }
        Ok(Self {
            text: text.into(),
            segments: segments.into(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern has a `{}`: the identifier is one segment rather than the whole string.
    pub fn has_id_segment(&self) -> bool {
        self.segments.contains(&Segment::Id)
    }

    /// The identifier `name` holds under this pattern, if it matches: the `{}` segment, else the whole string.
    /// Linear in `name`; no allocation.
    pub fn extract<'s>(&self, name: &'s str) -> Option<&'s str> {
        let mut found = None;
        let mut parts = name.split('/');
        for segment in self.segments.iter() {
            if *segment == Segment::Rest {
                // The rest, whatever it holds (also nothing).
                return Self::identifier(name, found);
            }
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if **literal == *part => {}
                Segment::Any if !part.is_empty() => {}
                Segment::Id if !part.is_empty() => found = Some(part),
                _ => return None,
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Self::identifier(name, found)
    }

    fn identifier<'s>(name: &'s str, segment: Option<&'s str>) -> Option<&'s str> {
        let id = segment.unwrap_or(name);
        (!id.is_empty()).then_some(id)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({})", self.text)
    }
}

impl Serialize for Path {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.pattern {
            None => self.steps.serialize(s),
            Some(pattern) => {
                use serde::ser::SerializeStruct;
                let mut out = s.serialize_struct("Path", 2)?;
                out.serialize_field("steps", &self.steps)?;
                out.serialize_field("pattern", pattern.as_str())?;
                out.end()
            }
        }
    }
}

impl Path {
    /// Parses `a.b[].c`, optionally followed by `|<pattern>`. `[]` after a member only documents that an array
    /// is expected.
    pub fn parse(text: &str) -> Result<Self, PathError> {
        let (members, pattern) = match text.split_once('|') {
            Some((members, pattern)) => (members, Some(Pattern::parse(pattern)?)),
            None => (text, None),
        };
        if members.trim().is_empty() {
            return Err(PathError::Empty);
        }
        let mut steps = Vec::new();
        for raw in members.split('.') {
            let step = raw.strip_suffix("[]").unwrap_or(raw);
            if step.contains('[') || step.contains(']') {
                return Err(PathError::BadBrackets(text.to_owned()));
            }
            if step.is_empty() {
                return Err(PathError::EmptyStep(text.to_owned()));
            }
            steps.push(step.into());
        }
        Ok(Self {
            steps: steps.into(),
            pattern,
        })
    }

    /// The identity pattern the path ends in, if any.
    pub fn pattern(&self) -> Option<&Pattern> {
        self.pattern.as_ref()
    }

    /// The first step: which top-level member of the document the path starts from.
    pub fn root(&self) -> &str {
        &self.steps[0]
    }

    /// The part of the call the path reads, if its root names one.
    pub fn section(&self) -> Option<Section> {
        Section::from_root(self.root())
    }

    /// The steps after the root.
    pub fn rest(&self) -> &[Box<str>] {
        &self.steps[1..]
    }

    /// Every value the steps after the root reach from `from` (arrays met on the way are traversed;
    /// an array at the end is returned as it is).
    pub fn values_from<'v>(&self, from: &'v Value, out: &mut Vec<&'v Value>) {
        walk(from, self.rest(), out);
    }

    /// Like [`Path::values_from`], but for a path that starts at `from` itself (no root step): used for
    /// attribute paths over a resource's attributes.
    pub fn values_from_top<'v>(&self, from: &'v Value, out: &mut Vec<&'v Value>) {
        walk(from, &self.steps, out);
    }

    /// Every identifier (string or number; arrays at the end are flattened) the path reaches from `from`,
    /// starting after the root step. Empty strings are not identifiers. With a pattern, only strings are, and
    /// only those the pattern matches, as the pattern cuts them.
    pub fn identifiers_from<'v>(&self, from: &'v Value, mut each: impl FnMut(IdRef<'v>)) {
        let mut found = Vec::new();
        self.values_from(from, &mut found);
        for value in found {
            match &self.pattern {
                None => flatten_ids(value, &mut each),
                Some(pattern) => flatten_ids(value, &mut |id| {
                    if let IdRef::Str(s) = id
                        && let Some(cut) = pattern.extract(s)
                    {
                        each(IdRef::Str(cut));
                    }
                }),
            }
        }
    }
}

/// Which part of a call a path reads, named by the path's first step as the log names it: what the call
/// asks for (CloudTrail's `requestParameters`, a GCP audit entry's `request`), what the service answered
/// (`responseElements`, `response`), the resources the log lists (`resources`), what else it says
/// (`additionalEventData`, `metadata`), the resource the call names (a GCP entry's `resourceName`), and where
/// the call was made (`awsRegion`, for per-region settings such as EBS default encryption;
/// `recipientAccountId`). Each record view maps these to its own members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    /// `requestParameters` (CloudTrail), `request` (GCP).
    Request,
    /// `responseElements` (CloudTrail), `response` (GCP).
    Response,
    /// `resources`.
    Resources,
    /// `additionalEventData` (CloudTrail), `metadata` (GCP).
    Details,
    /// `resourceName` (GCP): the path of the resource the call names, `projects/p/zones/z/instances/vm`.
    Name,
    /// `awsRegion`.
    Region,
    /// `recipientAccountId`.
    Account,
}

impl Section {
    /// The section a path's first step names, if any.
    pub fn from_root(root: &str) -> Option<Section> {
        match root {
            "requestParameters" | "request" => Some(Section::Request),
            "responseElements" | "response" => Some(Section::Response),
            "resources" => Some(Section::Resources),
            "additionalEventData" | "metadata" => Some(Section::Details),
            "resourceName" => Some(Section::Name),
            "awsRegion" => Some(Section::Region),
            "recipientAccountId" => Some(Section::Account),
            _ => None,
        }
    }
}

/// An identifier found in a record: a string as it is, or a number's text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum IdRef<'v> {
    /// A string, as written.
    Str(&'v str),
    /// A number, written as its JSON text.
    Num(&'v serde_json::Number),
}

impl fmt::Display for IdRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdRef::Str(s) => f.write_str(s),
            IdRef::Num(n) => write!(f, "{n}"),
        }
    }
}

fn flatten_ids<'v>(value: &'v Value, each: &mut impl FnMut(IdRef<'v>)) {
    match value {
        Value::String(s) if !s.is_empty() => each(IdRef::Str(s)),
        Value::Number(n) => each(IdRef::Num(n)),
        Value::Array(items) => items.iter().for_each(|item| flatten_ids(item, each)),
        _ => {}
    }
}

fn walk<'v>(value: &'v Value, steps: &[Box<str>], out: &mut Vec<&'v Value>) {
    match value {
        // Arrays are traversed wherever they stand, but the last step's value is kept whole.
        Value::Array(items) if !steps.is_empty() => {
            for item in items {
                walk(item, steps, out);
            }
        }
        Value::Object(map) => match steps.split_first() {
            None => out.push(value),
            Some((step, rest)) => {
                if let Some(next) = map.get(&**step).or_else(|| member_like(map, step)) {
                    walk(next, rest, out);
                }
            }
        },
        Value::Null => {}
        _ if steps.is_empty() => out.push(value),
        _ => {}
    }
}

/// The member a step names when the record does not spell it as the API model does (looked for only when the
/// exact name is missing):
/// - the same name in another case: CloudTrail writes some members as the service serialises them (`aRN` for
///   the model's `ARN`, `Host` and `host`);
/// - for a step `<Something>Request`, the one wrapper a newer EC2 call puts its parameters in, whatever
///   CloudTrail names it (`DeleteFlowLogsRequest`, but `DelTGwVpcAttachReq` for
///   DeleteTransitGatewayVpcAttachment): the object's only member whose name ends in `Request` or `Req` and
///   whose value is an object.
fn member_like<'v>(map: &'v serde_json::Map<String, Value>, step: &str) -> Option<&'v Value> {
    if let Some((_, value)) = map.iter().find(|(key, _)| key.eq_ignore_ascii_case(step)) {
        return Some(value);
    }
    if !step.ends_with("Request") {
        return None;
    }
    let mut wrappers = map.iter().filter(|(key, value)| {
        (key.ends_with("Request") || key.ends_with("Req")) && value.is_object()
    });
    match (wrappers.next(), wrappers.next()) {
        (Some((_, value)), None) => Some(value),
        _ => None,
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.steps.join("."))?;
        match &self.pattern {
            Some(pattern) => write!(f, "|{pattern}"),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(path: &str, doc: &Value) -> Vec<String> {
        let path = Path::parse(path).unwrap();
        let mut out = Vec::new();
        path.identifiers_from(&doc[path.root()], |id| out.push(id.to_string()));
        out
    }

    #[test]
    fn members_spelled_otherwise_than_the_model() {
        // Case: CloudTrail's `aRN` for the model's `ARN`, read by a path that says `arn`.
        assert_eq!(
            ids(
                "requestParameters.arn",
                &json!({"requestParameters": {"aRN": "arn:aws:sns:x"}})
            ),
            ["arn:aws:sns:x"]
        );
        // The exact name wins over another case.
        assert_eq!(
            ids(
                "requestParameters.host",
                &json!({"requestParameters": {"Host": "a", "host": "b"}})
            ),
            ["b"]
        );
        // A newer EC2 call's one wrapper, whatever CloudTrail names it.
        let wrapped = json!({"requestParameters": {"DelTGwVpcAttachReq": {"TransitGatewayAttachmentId": "tgw-attach-1"}}});
        assert_eq!(
            ids(
                "requestParameters.DeleteTransitGatewayVpcAttachmentRequest.TransitGatewayAttachmentId",
                &wrapped
            ),
            ["tgw-attach-1"]
        );
        // Two candidate wrappers: neither is taken for the one the path names.
        let two = json!({"requestParameters": {"AReq": {"Id": "1"}, "BRequest": {"Id": "2"}}});
        assert!(ids("requestParameters.CRequest.Id", &two).is_empty());
        // Only steps that name a wrapper look for one.
        assert!(ids("requestParameters.Other.Id", &wrapped).is_empty());
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!(Path::parse("a.b[].c").unwrap().to_string(), "a.b.c");
        assert_eq!(Path::parse(""), Err(PathError::Empty));
        assert!(matches!(Path::parse("a..b"), Err(PathError::EmptyStep(_))));
        assert!(matches!(
            Path::parse("a.b[0]"),
            Err(PathError::BadBrackets(_))
        ));
    }

    #[test]
    fn traverses_arrays_and_single_items() {
        let doc = json!({"responseElements": {"instancesSet": {"items": [
            {"instanceId": "i-1"}, {"instanceId": "i-2"}, {"other": 1}
        ]}}});
        assert_eq!(
            ids("responseElements.instancesSet.items[].instanceId", &doc),
            ["i-1", "i-2"]
        );
        let single =
            json!({"responseElements": {"instancesSet": {"items": {"instanceId": "i-9"}}}});
        assert_eq!(
            ids("responseElements.instancesSet.items.instanceId", &single),
            ["i-9"]
        );
    }

    #[test]
    fn identifiers_are_strings_numbers_and_lists_of_them() {
        let doc = json!({"requestParameters": {"ids": ["a", "", 7, {"x": 1}], "n": 12, "none": null, "t": true}});
        assert_eq!(ids("requestParameters.ids", &doc), ["a", "7"]);
        assert_eq!(ids("requestParameters.n", &doc), ["12"]);
        assert!(ids("requestParameters.none", &doc).is_empty());
        assert!(ids("requestParameters.t", &doc).is_empty());
        assert!(ids("requestParameters.missing.deeper", &doc).is_empty());
    }

    #[test]
    fn values_keep_the_last_array_whole() {
        let doc = json!({"versioning": [{"enabled": true}], "layers": ["a", "b"]});
        let mut out = Vec::new();
        Path::parse("versioning.enabled")
            .unwrap()
            .values_from_top(&doc, &mut out);
        assert_eq!(out, [&json!(true)]);
        out.clear();
        Path::parse("layers")
            .unwrap()
            .values_from_top(&doc, &mut out);
        assert_eq!(out, [&json!(["a", "b"])]);
    }

    #[test]
    fn patterns_cut_the_identifier_out_of_a_resource_name() {
        let bucket = json!({"resourceName": "projects/_/buckets/tf-state"});
        assert_eq!(
            ids("resourceName|projects/_/buckets/{}", &bucket),
            ["tf-state"]
        );
        // A literal segment must be equal; the segment count too, unless `**` ends the pattern.
        assert!(ids("resourceName|projects/p/buckets/{}", &bucket).is_empty());
        let object =
            json!({"resourceName": "projects/_/buckets/b/objects/env/prod/default.tfstate"});
        assert!(ids("resourceName|projects/_/buckets/{}", &object).is_empty());
        assert_eq!(ids("resourceName|projects/_/buckets/{}/**", &object), ["b"]);
        assert_eq!(
            ids("resourceName|projects/_/buckets/{}/**", &bucket),
            ["tf-state"]
        );
        // Without `{}`: the whole string, when it matches.
        let vm = json!({"resourceName": "projects/p/zones/us-central1-a/instances/vm-1"});
        assert_eq!(
            ids("resourceName|projects/*/zones/*/instances/*", &vm),
            ["projects/p/zones/us-central1-a/instances/vm-1"]
        );
        assert!(ids("resourceName|projects/*/regions/*/instances/*", &vm).is_empty());
        assert!(ids("resourceName|projects/*/zones/*/instances", &vm).is_empty());
        // `*` and `{}` never match an empty segment.
        let hollow = json!({"resourceName": "projects//buckets/b", "other": "projects/_/buckets/"});
        assert!(ids("resourceName|projects/*/buckets/{}", &hollow).is_empty());
        assert!(ids("other|projects/_/buckets/{}", &hollow).is_empty());
        // Applied to every string reached, numbers give nothing under a pattern.
        let many = json!({"request": {"names": ["projects/p/topics/a", "projects/p/subscriptions/s", 12, "projects/q/topics/b"]}});
        assert_eq!(ids("request.names|projects/*/topics/{}", &many), ["a", "b"]);
        assert!(ids("request.names|*", &json!({"request": {"names": [5]}})).is_empty());
    }

    #[test]
    fn bad_patterns_are_refused_and_good_ones_print_back() {
        for bad in [
            "a|",
            "a|projects//x",
            "a|/projects",
            "a|projects/",
            "a|**/x",
            "a|p/{}/{}",
            "a|p/x*",
            "a|p/{id}",
            "a|p|q",
        ] {
            assert!(
                matches!(Path::parse(bad), Err(PathError::BadPattern { .. })),
                "{bad} was accepted"
            );
        }
        assert_eq!(Path::parse("|p/{}"), Err(PathError::Empty));
        let path = Path::parse("resourceName|projects/*/buckets/{}/**").unwrap();
        assert_eq!(path.to_string(), "resourceName|projects/*/buckets/{}/**");
        assert_eq!(Path::parse(&path.to_string()).unwrap(), path);
        assert_eq!(path.root(), "resourceName");
        assert_eq!(path.section(), Some(Section::Name));
        assert!(path.pattern().unwrap().has_id_segment());
        assert_eq!(
            serde_json::to_value(&path).unwrap(),
            json!({"steps": ["resourceName"], "pattern": "projects/*/buckets/{}/**"})
        );
        assert_eq!(
            serde_json::to_value(Path::parse("request.a").unwrap()).unwrap(),
            json!(["request", "a"])
        );
    }
}
