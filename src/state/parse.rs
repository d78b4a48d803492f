//! Parsing of Terraform state files into [`State`]: format v4 (Terraform 0.12 and later) and the legacy
//! formats v1–v3, with the limits that keep a hostile or broken file from costing unbounded memory.
//!
//! Two steps. The scanner finds `version` (Terraform writes it first, so this stops almost at once); then one
//! streaming pass reads the document. Only the instances of managed resources are kept, their attributes
//! copied out as compact JSON text; strings are borrowed wherever they carry no escapes, and fields this
//! parser does not know are skipped, so newer Terraform releases that add fields still load.
//!
//! The records are derived structs (`InstanceV4`, `InstanceV3`); the lists are read element by element by one
//! streaming visitor (`Each`), so the instance limit stops a long list where it is passed. The spine that
//! carries context down (the top level, a v4 resource, a legacy module and its resources) is visited by hand.
//! A v4 resource's instances are held until the resource ends (its `type` and `name` may follow them), and a
//! legacy module's are moved under its `path` should it follow them: member order never changes the result.
//!
//! Success costs no bookkeeping of where the parser is: only a document refused as invalid is read a second
//! time, through `serde_path_to_error`, to name the place in the message.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::error::Category;
use serde_json::value::RawValue;
use serde_path_to_error::Segment;

use super::address::{self, InstanceKey, LegacyKey};
use super::{Instance, InstanceStatus, Known, State};
use crate::scan::{Str, members, scalar_text};

/// Bounds on what one state may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest state file accepted, in bytes.
    pub max_bytes: usize,
    /// Most managed resource instances (deposed objects included) accepted in one state.
    pub max_instances: usize,
    /// Most resource instances of all states together; a new version that would cross it is refused.
    pub max_total_instances: usize,
    /// How long one poll of a source may take, all its requests together (listing, downloads): then it is
    /// given up and its states kept.
    pub poll_timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 512 * 1024 * 1024,
            // An empty instance costs about 230 bytes of index: a million is ~230 MB at worst. Configurable
            // as `max_state_instances`.
            max_instances: 1_000_000,
            // All states together: about 1.2 GB of index at worst. Configurable as `max_total_instances`.
            max_total_instances: 5_000_000,
            poll_timeout: std::time::Duration::from_secs(300),
        }
    }
}

/// Why a state could not be loaded. The messages are meant for an operator reading a log line.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The file is larger than [`Limits::max_bytes`].
    #[error("too large: {size} bytes (limit {limit})")]
    TooLarge {
        /// The file's size, in bytes.
        size: usize,
        /// The limit it passes.
        limit: usize,
    },
    /// The file is not JSON text (or not UTF-8); the message never quotes it.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The file is JSON but not a Terraform state.
    #[error("not a Terraform state: {0}")]
    NotState(String),
    /// The state's `version` is not one this parser reads.
    #[error("unsupported state format version {0} (tfdrift reads versions 1 to 4)")]
    UnsupportedVersion(u64),
    /// The state holds more managed instances than [`Limits::max_instances`].
    #[error("too many resource instances: more than {limit}")]
    TooManyInstances {
        /// The limit passed.
        limit: usize,
    },
    /// The document is a state but a part of it has the wrong shape; `at` says where.
    #[error("invalid state at {at}: {msg}")]
    Invalid {
        /// Where, e.g. `resources[3].instances[0]`.
        at: String,
        /// What is wrong, without the content.
        msg: String,
    },
}

/// Parses the bytes of one state file. `name` is the name the configuration gives the state.
pub fn parse(name: &str, bytes: &[u8], limits: &Limits) -> Result<State, StateError> {
    if bytes.len() > limits.max_bytes {
        return Err(StateError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes)
        .map_err(|e| StateError::NotJson(format!("not UTF-8 text: {e}")))?;
    match text.trim_start().as_bytes().first() {
        None => return Err(StateError::NotJson("the file is empty".into())),
        Some(b'{') => {}
        Some(&c) => return Err(not_an_object(text, c)),
    }

    // The resources are read only under a supported `version`: an unknown format is refused as such, not for
    // the shape of its resources. Found by the scanner first; should it miss one, the pass that meets it
    // says so and the document is read again.
    let mut read = members(text)
        .map_while(Result::ok)
        .find(|m| m.name() == "version")
        .is_some_and(|m| version(m.value).is_ok());
    let header = loop {
        let mut b = Builder::new(limits, read);
        let mut de = serde_json::Deserializer::from_str(text);
        match de
            .deserialize_map(Top(&mut b))
            .and_then(|h| de.end().map(|()| h))
        {
            Ok(h) if h.version.is_some() && !read => read = true,
            Ok(h) => break (h, b.instances),
            Err(e) => return Err(refusal(text, read, limits, b.fail, e)),
        }
    };
    let (header, instances) = header;

    let Some(version) = header.version else {
        return Err(StateError::NotState("no `version` field".into()));
    };
    if !header.has_resources && !header.has_modules {
        return Err(StateError::NotState(
            "no `resources` (format 4) or `modules` (formats 1 to 3) field".into(),
        ));
    }
    Ok(State {
        name: Arc::from(name),
        format_version: version,
        serial: header.serial.unwrap_or(0),
        lineage: header.lineage,
        terraform_version: header.terraform_version,
        instances,
        scope: Default::default(),
    })
}

/// The error a refused document is reported with. The parser's own refusal (`fail`) wins over serde's
/// message; an invalid part is placed by reading the document again, its path tracked.
fn refusal(
    text: &str,
    read: bool,
    limits: &Limits,
    fail: Option<StateError>,
    e: serde_json::Error,
) -> StateError {
    let msg = match fail {
        Some(StateError::Invalid { at, msg }) if at.is_empty() => msg,
        Some(err) => return err,
        None if e.classify() == Category::Data => without_content(&e.to_string()),
        None => return not_json(&e, text),
    };
    let mut track = serde_path_to_error::Track::new();
    let mut b = Builder::new(limits, read);
    let mut de = serde_json::Deserializer::from_str(text);
    let _ =
        serde_path_to_error::Deserializer::new(&mut de, &mut track).deserialize_map(Top(&mut b));
    StateError::Invalid {
        at: location(&track.path()),
        msg,
    }
}

/// Where a refused part is, said the way an operator looks for it: the top-level member, the resource or
/// module, the instance (`resources[3].instances[0]`) or the legacy resource and object
/// (`modules[0].resources["aws_instance.web"].deposed[1]`); never deeper, never the member of an instance.
fn location(path: &serde_path_to_error::Path) -> String {
    use std::fmt::Write as _;
    let segments: Vec<&Segment> = path.iter().collect();
    let [Segment::Map { key: top }, rest @ ..] = segments.as_slice() else {
        return "the top level".into();
    };
    if top != "resources" && top != "modules" {
        return format!("`{top}`");
    }
    let mut at = top.clone();
    let [Segment::Seq { index }, rest @ ..] = rest else {
        return at;
    };
    let _ = write!(at, "[{index}]");
    // A list and the position in it, `[0]` when the list itself has the wrong shape.
    let list = |name: &str, rest: &[&Segment]| match rest {
        [Segment::Seq { index }, ..] => format!(".{name}[{index}]"),
        _ => format!(".{name}[0]"),
    };
    match rest {
        [Segment::Map { key }, rest @ ..] if key == "instances" && top == "resources" => {
            at.push_str(&list(key, rest));
        }
        [Segment::Map { key }, Segment::Map { key: name }, rest @ ..] if key == "resources" => {
            let _ = write!(at, ".resources[{name:?}]");
            if let [Segment::Map { key }, rest @ ..] = rest
                && (key == "deposed" || key == "tainted")
            {
                at.push_str(&list(key, rest));
            }
        }
        _ => {}
    }
    at
}

/// The refusal of text that is not JSON. A file that is not JSON from its first line on is often something
/// else entirely: a Git LFS pointer, a git
/// symlink checked out as a file (it holds its target's name), an encrypted blob. Say which when it is
/// recognisable, never what the file holds: a state file may hold secrets, and messages reach logs.
fn not_json(e: &serde_json::Error, text: &str) -> StateError {
    if e.line() != 1 {
        return StateError::NotJson(e.to_string());
    }
    let start = text.trim_start();
    let what = if start.starts_with("version https://git-lfs.github.com/spec/") {
        "it is a Git LFS pointer, not the state: fetch the LFS object"
    } else if !start.contains(['\n', '{', '[']) && start.len() < 4096 {
        "one line that is not JSON, perhaps a symlink checked out as a file; its content is not shown"
    } else {
        "its content is not shown: a state file may hold secrets"
    };
    StateError::NotJson(format!("{e} ({what})"))
}

fn not_an_object(text: &str, first: u8) -> StateError {
    if let Err(e) = serde_json::from_str::<IgnoredAny>(text) {
        return not_json(&e, text);
    }
    let kind = match first {
        b'[' => "an array",
        b'"' => "a string",
        b'n' => "null",
        b't' | b'f' => "a boolean",
        _ => "a number",
    };
    StateError::NotState(format!("the document is {kind}, not a JSON object"))
}

/// A count (`version`, `serial`): a non-negative integer, else refused naming the kind of value found.
fn count(raw: &str) -> Result<u64, StateError> {
    raw.parse().map_err(|_| {
        invalid(format!(
            "expected a non-negative integer, found {}",
            json_kind(raw)
        ))
    })
}

/// The format version: a count from 1 to 4.
fn version(raw: &str) -> Result<u64, StateError> {
    let v = count(raw)?;
    if !(1..=4).contains(&v) {
        return Err(StateError::UnsupportedVersion(v));
    }
    Ok(v)
}

/// A refusal of a part of the document, placed by [`refusal`] once the pass has unwound.
fn invalid(msg: impl Into<String>) -> StateError {
    StateError::Invalid {
        at: String::new(),
        msg: msg.into(),
    }
}

/// A member's name, borrowed where it has no escapes. Read as a string, so that the second pass of a refused
/// document sees it and can name the place.
struct Name<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// The parser refused the document: the reason is in [`Builder::fail`], and serde unwinds with a stand-in.
struct Refused;

fn unwind<E: de::Error>(_: Refused) -> E {
    E::custom("refused by the state parser")
}

/// What the pass has read so far, and why it refused the document if it did.
struct Builder<'de, 'l> {
    limits: &'l Limits,
    /// Whether `version` is known good: the resources are only checked for shape when it is.
    read: bool,
    instances: Vec<Instance>,
    /// The instances of the v4 resource being read, built when it ends; kept to reuse its allocation.
    pending: Vec<InstanceV4<'de>>,
    /// Set when this parser (not serde) refuses the document: serde only carries a message.
    fail: Option<StateError>,
}

impl<'de, 'l> Builder<'de, 'l> {
    fn new(limits: &'l Limits, read: bool) -> Self {
        Builder {
            limits,
            read,
            instances: Vec::new(),
            pending: Vec::new(),
            fail: None,
        }
    }

    fn refuse(&mut self, err: StateError) -> Refused {
        self.fail = Some(err);
        Refused
    }

    /// Refuses the document if `more` instances beyond those kept would pass the limit.
    fn room(&mut self, more: usize) -> Result<(), Refused> {
        if self.instances.len() + more >= self.limits.max_instances {
            let limit = self.limits.max_instances;
            return Err(self.refuse(StateError::TooManyInstances { limit }));
        }
        Ok(())
    }

    fn push(
        &mut self,
        address: String,
        module: &str,
        resource_type: &str,
        status: InstanceStatus,
        attributes: Box<RawValue>,
        sensitive_attrs: Box<[Box<str>]>,
    ) -> Result<(), Refused> {
        if let Err(err) = check_depth(&attributes, &address) {
            return Err(self.refuse(err));
        }
        self.instances.push(Instance {
            address: address.into_boxed_str(),
            module: module.into(),
            resource_type: resource_type.into(),
            status,
            known: Known::read(resource_type, attributes.get()),
            members: Default::default(),
            attributes,
            sensitive_attrs,
        });
        Ok(())
    }

    /// Holds an instance of the v4 resource being read.
    fn hold(&mut self, inst: InstanceV4<'de>) -> Result<(), Refused> {
        self.room(self.pending.len())?;
        self.pending.push(inst);
        Ok(())
    }

    /// Builds the instances held for a v4 resource, now that its members are all read.
    fn resource_v4(
        &mut self,
        r: &ResourceFields<'_>,
        pending: impl Iterator<Item = InstanceV4<'de>>,
    ) -> Result<(), Refused> {
        if !is_managed(&r.mode) {
            return Ok(());
        }
        let (Some(t), Some(n)) = (r.resource_type.get(), r.name.get()) else {
            let missing = if r.resource_type.get().is_none() {
                "`type`"
            } else {
                "`name`"
            };
            return Err(self.refuse(invalid(format!("a managed resource has no {missing}"))));
        };
        let module = r.module.get().unwrap_or_default();
        let prefix = address::resource_address(module, t, n);
        for inst in pending {
            let key_text;
            let mut address = prefix.clone();
            if let Some(raw) = inst.index_key {
                key_text = scalar_text(raw.get());
                address::push_key(&mut address, instance_key(raw, key_text.as_deref()));
            }
            let status = match (inst.deposed.get(), inst.status.get()) {
                (Some(d), _) if !d.is_empty() => InstanceStatus::Deposed(d.into()),
                (_, Some("tainted")) => InstanceStatus::Tainted,
                _ => InstanceStatus::Current,
            };
            let attributes = match (inst.attributes, inst.attributes_flat) {
                (Some(a), _) if is_object(a) => compact(a),
                (_, Some(f)) if is_object(f) => compact(f),
                _ => empty_object(),
            };
            let sensitive_attrs = inst
                .sensitive_attributes
                .map(sensitive_names)
                .unwrap_or_default();
            self.push(address, module, t, status, attributes, sensitive_attrs)?;
        }
        Ok(())
    }

    fn push_legacy(
        &mut self,
        module: &str,
        key: &LegacyKey<'_>,
        resource_type: &str,
        inst: &InstanceV3<'_>,
        status: InstanceStatus,
    ) -> Result<(), Refused> {
        self.room(0)?;
        let address = address::instance_address(
            module,
            resource_type,
            key.name,
            key.index.map(InstanceKey::Int),
        );
        let id = inst
            .id
            .and_then(|id| scalar_text(id.get()))
            .filter(|id| !id.is_empty());
        let attributes = match inst.attributes.filter(|a| is_object(a)) {
            Some(a) => {
                let has_id = members(a.get())
                    .map_while(Result::ok)
                    .any(|member| member.name() == "id");
                match id {
                    // Legacy states keep the id beside the attributes, and older ones leave it out of
                    // them; the index looks for it among the attributes.
                    Some(id) if !has_id => with_id(&minify(a.get()), &id),
                    _ => compact(a),
                }
            }
            None => match id {
                Some(id) => with_id("{}", &id),
                None => empty_object(),
            },
        };
        let none = Box::default();
        self.push(address, module, resource_type, status, attributes, none)
    }
}

fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// The key of an instance: integers (also written as `1.0`) for `count`, strings for `for_each`.
fn instance_key<'a>(raw: &'a RawValue, text: Option<&'a str>) -> InstanceKey<'a> {
    let t = raw.get();
    if t.starts_with('"') {
        if let Some(s) = text {
            return InstanceKey::Str(s);
        }
    } else if let Ok(i) = t.parse::<i64>() {
        return InstanceKey::Int(i);
    } else if let Ok(f) = t.parse::<f64>()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return InstanceKey::Int(f as i64);
    }
    InstanceKey::Raw(t)
}

/// Top-level attribute names of `sensitive_attributes` (a list of paths, each a list of steps such as
/// `{"type": "get_attr", "value": "password"}`). A path this parser cannot place marks the whole instance
/// (`"*"`): hiding too much beats showing a secret.
fn sensitive_names(raw: &RawValue) -> Box<[Box<str>]> {
    let text = raw.get();
    if text == "[]" || text == "null" {
        return Box::default();
    }
    let mut names: Vec<Box<str>> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let each = Each::new("a list", |_, path: FirstGetAttr<'_>| {
        let name: Box<str> = path.0.as_deref().unwrap_or("*").into();
        if !names.contains(&name) {
            names.push(name);
        }
        Ok(())
    });
    if each.deserialize(&mut de).and_then(|()| de.end()).is_err() {
        return Box::new(["*".into()]);
    }
    names.into_boxed_slice()
}

/// The value of the first `get_attr` step of a path, read step by step.
struct FirstGetAttr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstGetAttr<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Step<'a> {
            #[serde(rename = "type", borrow, default)]
            kind: Str<'a>,
            #[serde(borrow, default)]
            value: Option<&'a RawValue>,
        }
        let mut name = None;
        Each::new("a list of path steps", |_, step: Step<'de>| {
            if name.is_none() && step.kind.get() == Some("get_attr") {
                name = step
                    .value
                    .filter(|v| v.get().starts_with('"'))
                    .and_then(|v| scalar_text(v.get()));
            }
            Ok(())
        })
        .deserialize(d)?;
        Ok(FirstGetAttr(name))
    }
}

/// The one streaming visitor of the state's lists (instances, legacy deposed and tainted objects, sensitive
/// paths): a JSON list (or `null`) read one element at a time, so that a long list never becomes a `Vec` and
/// the instance limit stops it where it is passed. `f(position, element)` decides what to keep.
struct Each<T, F> {
    /// What the list is, for serde's messages (`expected a list of instances`).
    what: &'static str,
    /// Whether a value that is not a list is passed over rather than refused.
    lenient: bool,
    f: F,
    element: std::marker::PhantomData<fn() -> T>,
}

impl<T, F> Each<T, F> {
    fn new(what: &'static str, f: F) -> Self {
        Each {
            what,
            lenient: false,
            f,
            element: std::marker::PhantomData,
        }
    }

    fn skip<E: de::Error>(&self, found: de::Unexpected<'_>) -> Result<(), E> {
        if self.lenient {
            return Ok(());
        }
        Err(E::invalid_type(found, &self.what))
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Each<T, F>
where
    T: Deserialize<'de>,
    F: FnMut(usize, T) -> Result<(), Refused>,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T, F> Visitor<'de> for Each<T, F>
where
    T: Deserialize<'de>,
    F: FnMut(usize, T) -> Result<(), Refused>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.skip(de::Unexpected::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.skip(de::Unexpected::Signed(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.skip(de::Unexpected::Unsigned(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.skip(de::Unexpected::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.skip(de::Unexpected::Str(v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.skip(de::Unexpected::Map)?;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut at = 0;
        while let Some(element) = seq.next_element::<T>()? {
            (self.f)(at, element).map_err(unwind)?;
            at += 1;
        }
        Ok(())
    }
}

fn compact(raw: &RawValue) -> Box<RawValue> {
    let text = raw.get();
    if !text.bytes().any(is_json_space) {
        return raw.to_owned();
    }
    RawValue::from_string(minify(text)).unwrap_or_else(|_| raw.to_owned())
}

/// How deep a state's values may nest: serde_json's recursion limit, which every later read of an attribute
/// obeys.
pub const MAX_DEPTH: usize = 128;

/// Refuses attributes nested deeper than [`MAX_DEPTH`]. serde_json passes over a raw value without a depth
/// limit, so a state could load whose attributes no later read can parse; refusing it keeps the documented
/// rule (a state nested deeper than the limit is refused) true on every path. A value with fewer opening
/// brackets than the limit cannot be that deep, and counting them is a SIMD search: only the few large values
/// (long policies, many rules) are walked.
fn check_depth(attributes: &RawValue, address: &str) -> Result<(), StateError> {
    let text = attributes.get().as_bytes();
    if memchr::memchr2_iter(b'[', b'{', text)
        .nth(MAX_DEPTH)
        .is_none()
    {
        return Ok(());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in text {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(StateError::Invalid {
                        at: format!("the attributes of {address}"),
                        msg: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// `{"id":"…",` + the members of `object` (compact JSON object text).
fn with_id(object: &str, id: &str) -> Box<RawValue> {
    let mut s = String::with_capacity(object.len() + id.len() + 8);
    s.push_str("{\"id\":");
    s.push_str(&serde_json::Value::from(id).to_string());
    let rest = object.strip_prefix('{').unwrap_or("}");
    if !rest.starts_with('}') {
        s.push(',');
    }
    s.push_str(rest);
    RawValue::from_string(s).unwrap_or_else(|_| empty_object())
}

fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Removes the whitespace between the tokens of valid JSON text (pretty-printed states are a third
/// indentation, or more).
fn minify(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Outside strings: copy up to the next quote or whitespace, drop the whitespace run.
        let run = bytes[i..]
            .iter()
            .position(|&c| c == b'"' || is_json_space(c))
            .unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        match bytes.get(i) {
            None => break,
            Some(b'"') => {
                // A string, copied whole: up to the closing quote, stepping over escapes.
                let start = i;
                i += 1;
                while let Some(p) = bytes
                    .get(i..)
                    .and_then(|rest| rest.iter().position(|&c| c == b'"' || c == b'\\'))
                {
                    i += p;
                    if bytes[i] == b'\\' {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                let end = i.min(bytes.len());
                out.extend_from_slice(&bytes[start..end]);
                i = end;
            }
            Some(_) => {
                i += bytes[i..]
                    .iter()
                    .position(|&c| !is_json_space(c))
                    .unwrap_or(bytes.len() - i);
            }
        }
    }
    // Only ASCII bytes were removed, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| text.to_owned())
}

/// serde's message for a value of the wrong type or out of range quotes the value (`invalid type: string
/// "…", expected …`); a state's values may be secrets, and the message is logged: keep the kind, drop the
/// value.
fn without_content(message: &str) -> String {
    for prefix in ["invalid type: ", "invalid value: ", "unknown variant "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(at) = rest.rfind(", expected ")
        {
            let found = &rest[..at];
            let kind = [
                "string",
                "integer",
                "floating point",
                "boolean",
                "character",
                "byte array",
            ]
            .into_iter()
            .find(|kind| found.starts_with(kind))
            // Kinds that quote nothing (map, sequence, unit value) stay as serde says them.
            .unwrap_or(if found.contains(['"', '`']) {
                "a value"
            } else {
                found
            });
            return format!("{prefix}{kind}{}", &rest[at..]);
        }
    }
    message.to_owned()
}

/// What kind of JSON value `text` is, for messages that must not show a state's content.
fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-') => "a negative number",
        Some(_) => "a number too large or not whole",
        None => "nothing",
    }
}

// ---------------------------------------------------------------------------------------------------
// The top level.

#[derive(Default)]
struct Header {
    version: Option<u64>,
    serial: Option<u64>,
    lineage: Option<String>,
    terraform_version: Option<String>,
    has_resources: bool,
    has_modules: bool,
}

/// The document: the header, and the resources (format 4) or modules (formats 1 to 3) read in place.
struct Top<'b, 'de, 'l>(&'b mut Builder<'de, 'l>);

impl<'de> Visitor<'de> for Top<'_, 'de, '_> {
    type Value = Header;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header, A::Error> {
        let b = self.0;
        let mut h = Header::default();
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match &*key.0 {
                "version" => h.version = Some(map.next_value_seed(Count(&mut *b, version))?),
                "serial" => h.serial = Some(map.next_value_seed(Count(&mut *b, count))?),
                "lineage" => h.lineage = map.next_value::<Str<'_>>()?.0.map(Cow::into_owned),
                "terraform_version" => {
                    h.terraform_version = map.next_value::<Str<'_>>()?.0.map(Cow::into_owned);
                }
                "resources" => {
                    h.has_resources = true;
                    map.next_value_seed(List {
                        b: &mut *b,
                        legacy: false,
                    })?;
                }
                "modules" => {
                    h.has_modules = true;
                    map.next_value_seed(List {
                        b: &mut *b,
                        legacy: true,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(h)
    }
}

/// A count (`version`, `serial`), checked in place so that a refusal is placed at its member.
struct Count<'b, 'de, 'l>(
    &'b mut Builder<'de, 'l>,
    fn(&str) -> Result<u64, StateError>,
);

impl<'de> DeserializeSeed<'de> for Count<'_, 'de, '_> {
    type Value = u64;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        let raw = <&RawValue>::deserialize(d)?;
        (self.1)(raw.get()).map_err(|err| unwind(self.0.refuse(err)))
    }
}

/// The list (or null) of resources (format 4) or of modules (formats 1 to 3), each read in place. Under a
/// `version` not yet known good, only checked to be JSON.
struct List<'b, 'de, 'l> {
    b: &'b mut Builder<'de, 'l>,
    legacy: bool,
}

impl<'de> DeserializeSeed<'de> for List<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if !self.b.read {
            return d.deserialize_ignored_any(IgnoredAny).map(drop);
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for List<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.legacy {
            "a list of modules"
        } else {
            "a list of resources"
        })
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let b = self.b;
        loop {
            let next = if self.legacy {
                seq.next_element_seed(Module(&mut *b))?
            } else {
                seq.next_element_seed(Resource(&mut *b))?
            };
            if next.is_none() {
                return Ok(());
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Format v4: `resources[]` with `instances[]`.

/// What the instances of one resource share.
#[derive(Default)]
struct ResourceFields<'a> {
    module: Str<'a>,
    mode: Str<'a>,
    resource_type: Str<'a>,
    name: Str<'a>,
}

fn is_managed(mode: &Str<'_>) -> bool {
    // Terraform writes `managed` or `data`; a missing mode is taken as managed (hand-written states), and
    // any other mode is not a resource Terraform manages.
    mode.get().is_none_or(|m| m == "managed")
}

/// One resource: its instances are held (as borrowed text) until its `type`, `name` and `module`, which may
/// follow them, are known.
struct Resource<'b, 'de, 'l>(&'b mut Builder<'de, 'l>);

impl<'de> DeserializeSeed<'de> for Resource<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Resource<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let mut r = ResourceFields::default();
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match &*key.0 {
                "module" => r.module = map.next_value()?,
                "mode" => r.mode = map.next_value()?,
                "type" => r.resource_type = map.next_value()?,
                "name" => r.name = map.next_value()?,
                "instances" if is_managed(&r.mode) => {
                    map.next_value_seed(Each::new("a list of instances", |_, inst| b.hold(inst)))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut pending = std::mem::take(&mut b.pending);
        let built = b.resource_v4(&r, pending.drain(..));
        b.pending = pending;
        built.map_err(unwind)
    }
}

/// One instance of a v4 resource, its values left as borrowed JSON text.
#[derive(Deserialize)]
struct InstanceV4<'a> {
    #[serde(borrow, default)]
    index_key: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(borrow, default)]
    deposed: Str<'a>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    attributes_flat: Option<&'a RawValue>,
    #[serde(borrow, default)]
    sensitive_attributes: Option<&'a RawValue>,
}

// ---------------------------------------------------------------------------------------------------
// Formats v1–v3: `modules[]`, each with a `path` and a `resources` map.

/// One legacy module. Its resources are read where they stand; should the `path` follow them, their
/// instances are moved into the module then.
struct Module<'b, 'de, 'l>(&'b mut Builder<'de, 'l>);

impl<'de> DeserializeSeed<'de> for Module<'_, 'de, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Module<'_, 'de, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a module object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.0;
        let start = b.instances.len();
        let mut path: Option<String> = None;
        while let Some(key) = map.next_key::<Name<'de>>()? {
            match &*key.0 {
                "path" => {
                    if path.is_some() {
                        return Err(de::Error::duplicate_field("path"));
                    }
                    let module = map
                        .next_value::<Option<ModulePath>>()?
                        .unwrap_or_default()
                        .0;
                    if !module.is_empty() {
                        for inst in &mut b.instances[start..] {
                            inst.address = format!("{module}.{}", inst.address).into_boxed_str();
                            inst.module = module.as_str().into();
                        }
                    }
                    path = Some(module);
                }
                "resources" => map.next_value_seed(LegacyResources {
                    b: &mut *b,
                    module: path.as_deref().unwrap_or_default(),
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A legacy module path (`["root", "net"]`) read straight into its address (`module.net`).
#[derive(Default)]
struct ModulePath(String);

impl<'de> Deserialize<'de> for ModulePath {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ModulePath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a module path (a list of names)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ModulePath, A::Error> {
                let mut out = String::new();
                let mut first = true;
                while let Some(step) = seq.next_element::<Str<'de>>()? {
                    // Each step is a string: null is refused as serde refuses it.
                    let Some(step) = step.get() else {
                        return Err(de::Error::invalid_type(de::Unexpected::Unit, &"a string"));
                    };
                    if std::mem::take(&mut first) && step == "root" {
                        continue;
                    }
                    address::push_module_step(&mut out, step);
                }
                Ok(ModulePath(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A legacy module's `resources`: a map (or null) from keys such as `aws_instance.web.0` to resources.
struct LegacyResources<'b, 'de, 'l, 'm> {
    b: &'b mut Builder<'de, 'l>,
    module: &'m str,
}

impl<'de> DeserializeSeed<'de> for LegacyResources<'_, 'de, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for LegacyResources<'_, 'de, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of resources")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Name<'de>>()? {
            map.next_value_seed(LegacyResource {
                b: &mut *self.b,
                module: self.module,
                key: address::parse_legacy_key(&key.0),
            })?;
        }
        Ok(())
    }
}

/// One legacy resource (or null), under its key: `primary`, and the lists `deposed` and (format 1)
/// `tainted`. The key is checked here, so that a refusal is placed at it.
struct LegacyResource<'b, 'de, 'l, 'm, 'k> {
    b: &'b mut Builder<'de, 'l>,
    module: &'m str,
    key: Option<LegacyKey<'k>>,
}

impl<'de> DeserializeSeed<'de> for LegacyResource<'_, 'de, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.key {
            None => {
                let err = invalid("a resource key is not TYPE.NAME or TYPE.NAME.INDEX");
                Err(unwind(self.b.refuse(err)))
            }
            Some(key) if key.data => d.deserialize_ignored_any(IgnoredAny).map(drop),
            Some(_) => d.deserialize_option(self),
        }
    }
}

impl<'de> Visitor<'de> for LegacyResource<'_, 'de, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (b, module) = (self.b, self.module);
        let Some(key) = self.key else {
            return Ok(()); // Refused by the seed.
        };
        let mut resource_type = Str::default();
        let mut primary: Option<InstanceV3<'de>> = None;
        // Tainted (no position) and deposed objects (their position stands in for the key they lack).
        let mut objects: Vec<(Option<usize>, InstanceV3<'de>)> = Vec::new();
        while let Some(field) = map.next_key::<Name<'de>>()? {
            match &*field.0 {
                "type" => resource_type = map.next_value()?,
                "primary" => primary = map.next_value()?,
                list @ ("tainted" | "deposed") => {
                    let each = Each::new("a list", |i, inst: Option<InstanceV3<'de>>| {
                        if let Some(inst) = inst {
                            b.room(usize::from(primary.is_some()) + objects.len())?;
                            objects.push(((list == "deposed").then_some(i), inst));
                        }
                        Ok(())
                    });
                    // Format 1 kept tainted objects in a list; anything else under that name is not ours.
                    let lenient = list == "tainted";
                    map.next_value_seed(Each { lenient, ..each })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let resource_type = match resource_type.get() {
            Some(t) if !t.is_empty() => t,
            _ => key.resource_type,
        };
        if let Some(p) = &primary {
            let status = match p.tainted {
                Some(t) if t.get() == "true" => InstanceStatus::Tainted,
                _ => InstanceStatus::Current,
            };
            b.push_legacy(module, &key, resource_type, p, status)
                .map_err(unwind)?;
        }
        // The tainted objects first, then the deposed ones.
        objects.sort_by_key(|(deposed, _)| deposed.is_some());
        for (deposed, inst) in &objects {
            let status = match deposed {
                Some(i) => InstanceStatus::Deposed(i.to_string().into()),
                None => InstanceStatus::Tainted,
            };
            b.push_legacy(module, &key, resource_type, inst, status)
                .map_err(unwind)?;
        }
        Ok(())
    }
}

/// One object (primary, tainted or deposed) of a legacy resource.
#[derive(Deserialize)]
struct InstanceV3<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tainted: Option<&'a RawValue>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> State {
        match parse("t", text.as_bytes(), &Limits::default()) {
            Ok(s) => s,
            Err(e) => panic!("refused: {e}\n{text}"),
        }
    }

    fn err(text: &str) -> String {
        match parse("t", text.as_bytes(), &Limits::default()) {
            Ok(s) => panic!("accepted: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn refusals_never_quote_what_the_state_holds() {
        // A state that is refused may still hold secrets, and refusals are logged: wherever a string stands
        // where something else belongs, the message names the place and the kind, never the string.
        const SECRET: &str = "AKIAhunter2SecretValue";
        let s = format!("\"{SECRET}\"");
        for text in [
            format!(r#"{{"version": {s}, "resources": []}}"#),
            format!(r#"{{"version": 4, "serial": {s}, "resources": []}}"#),
            format!(r#"{{"version": 4, "lineage": {{"a": {s}}}, "resources": []}}"#),
            format!(r#"{{"version": 4, "resources": {s}}}"#),
            format!(r#"{{"version": 4, "resources": [{s}]}}"#),
            format!(
                r#"{{"version": 4, "resources": [{{"type": "aws_db_instance", "name": "x", "instances": {s}}}]}}"#
            ),
            format!(
                r#"{{"version": 4, "resources": [{{"type": "aws_db_instance", "name": "x", "instances": [{s}]}}]}}"#
            ),
            format!(
                r#"{{"version": 4, "resources": [{{"type": "aws_db_instance", "name": "x", "instances": [{{"attributes": {s}}}]}}]}}"#
            ),
            format!(
                r#"{{"version": 4, "resources": [{{"type": "aws_db_instance", "name": "x", "instances": [{{"index_key": {{"k": {s}}}, "attributes": {{}}}}]}}]}}"#
            ),
            format!(
                r#"{{"version": 4, "resources": [{{"type": "aws_db_instance", "name": "x", "instances": [{{"sensitive_attributes": {s}, "attributes": {{}}}}]}}]}}"#
            ),
            format!(
                r#"{{"version": 4, "resources": [{{"type": {{"t": {s}}}, "name": "x", "instances": []}}]}}"#
            ),
            format!(r#"{{"version": 3, "modules": [{{"path": {s}, "resources": {{}}}}]}}"#),
            format!(
                r#"{{"version": 3, "modules": [{{"path": ["root"], "resources": {{"aws_db_instance.x": {{"primary": {{"attributes": {s}}}}}}}}}]}}"#
            ),
            format!("{SECRET} is the password"),
            format!("{SECRET}\n{{}}"),
        ] {
            if let Err(e) = parse("t", text.as_bytes(), &Limits::default()) {
                let message = e.to_string();
                assert!(!message.contains("hunter2"), "{text}\n  -> {message}");
            }
        }
    }

    fn addresses(s: &State) -> Vec<&str> {
        s.instances.iter().map(|i| &*i.address).collect()
    }

    const V4: &str = r#"{
      "version": 4, "terraform_version": "1.5.7", "serial": 12, "lineage": "abc",
      "outputs": {"x": {"value": 1, "type": "number"}},
      "future_field": {"anything": [1, 2, 3]},
      "resources": [
        {"mode": "data", "type": "aws_ami", "name": "ubuntu", "instances": [{"attributes": {"id": "ami-1"}}]},
        {"mode": "managed", "type": "aws_instance", "name": "web", "each": "list", "provider": "p",
         "instances": [
           {"index_key": 0, "schema_version": 1, "attributes": {"id": "i-0", "arn": "arn:aws:ec2:::i-0"}, "private": "eA=="},
           {"index_key": 1, "status": "tainted", "attributes": {"id": "i-1"}},
           {"index_key": 1, "deposed": "a1b2c3d4", "attributes": {"id": "i-old"}}
         ]},
        {"module": "module.a[\"x\"].module.b", "mode": "managed", "type": "aws_s3_bucket", "name": "logs",
         "each": "map",
         "instances": [
           {"index_key": "blue \"q\" \\", "attributes": {"id": "b1", "bucket": "b1"},
            "sensitive_attributes": [[{"type": "get_attr", "value": "policy"}, {"type": "index", "value": {"value": 0, "type": "number"}}],
                                     [{"type": "get_attr", "value": "policy"}],
                                     [{"type": "get_attr", "value": "website"}]]}
         ]},
        {"mode": "managed", "type": "null_resource", "name": "flat",
         "instances": [{"attributes_flat": {"id": "7", "triggers.%": "1"}}]},
        {"mode": "managed", "type": "null_resource", "name": "bare", "instances": [{}]},
        {"mode": "managed", "type": "aws_vpc", "name": "none", "instances": []}
      ]
    }"#;

    #[test]
    fn v4() {
        let s = ok(V4);
        assert_eq!(s.format_version, 4);
        assert_eq!(s.serial, 12);
        assert_eq!(s.lineage.as_deref(), Some("abc"));
        assert_eq!(s.terraform_version.as_deref(), Some("1.5.7"));
        assert_eq!(&*s.name, "t");
        assert_eq!(
            addresses(&s),
            [
                "aws_instance.web[0]",
                "aws_instance.web[1]",
                "aws_instance.web[1]",
                r#"module.a["x"].module.b.aws_s3_bucket.logs["blue \"q\" \\"]"#,
                "null_resource.flat",
                "null_resource.bare",
            ]
        );
        let i = &s.instances;
        assert_eq!(i[0].status, InstanceStatus::Current);
        assert_eq!(i[1].status, InstanceStatus::Tainted);
        assert_eq!(i[2].status, InstanceStatus::Deposed("a1b2c3d4".into()));
        assert_eq!(
            i[0].attributes.get(),
            r#"{"id":"i-0","arn":"arn:aws:ec2:::i-0"}"#
        );
        assert_eq!(i[0].module.as_ref(), "");
        assert_eq!(i[0].resource_type.as_ref(), "aws_instance");
        assert_eq!(i[3].module.as_ref(), r#"module.a["x"].module.b"#);
        assert_eq!(
            &*i[3].sensitive_attrs,
            [Box::from("policy"), Box::from("website")]
        );
        assert!(i[3].is_sensitive("policy"));
        assert!(!i[3].is_sensitive("bucket"));
        assert_eq!(i[4].string_attribute("id").as_deref(), Some("7"));
        assert_eq!(i[5].attributes.get(), "{}");
    }

    #[test]
    fn member_order_does_not_matter() {
        let s = ok(r#"{"resources": [
              {"instances": [{"index_key": "k", "attributes": {"id": "1"}}], "name": "n", "type": "t",
               "module": "module.m", "mode": "managed"},
              {"type": "t", "name": "d", "instances": [{"attributes": {"id": "2"}}], "mode": "data"},
              {"type": "t", "name": "late", "instances": [{"attributes": {"id": "3"}}], "module": "module.z"}
            ], "version": 4, "serial": 3}"#);
        assert_eq!(addresses(&s), [r#"module.m.t.n["k"]"#, "module.z.t.late"]);
        assert_eq!(s.instances[1].module.as_ref(), "module.z");
        assert_eq!(s.serial, 3);
        // Streamed (version first) with `module` and `mode` after `instances`.
        let s = ok(r#"{"version": 4, "resources": [
              {"type": "t", "name": "late", "instances": [{"attributes": {"id": "3"}}], "module": "module.z"},
              {"type": "t", "name": "d", "instances": [{"attributes": {"id": "2"}}], "mode": "data"}
            ]}"#);
        assert_eq!(addresses(&s), ["module.z.t.late"]);
    }

    #[test]
    fn sensitive_paths() {
        let names = |t: &str| -> Vec<String> {
            let raw: Box<RawValue> =
                RawValue::from_string(t.to_owned()).unwrap_or_else(|_| empty_object());
            sensitive_names(&raw)
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        assert_eq!(names("[]"), Vec::<String>::new());
        assert_eq!(
            names(r#"[[{"type":"get_attr","value":"password"}]]"#),
            ["password"]
        );
        assert_eq!(
            names(r#"[[{"type":"index","value":{"value":0,"type":"number"}}]]"#),
            ["*"]
        );
        assert_eq!(names(r#"{"weird": true}"#), ["*"]);
        assert_eq!(names(r#"[[]]"#), ["*"]);
        // A path that is not a list of steps marks everything, whatever the others name.
        assert!(names(r#"[[{"type":"get_attr","value":"a"}], null]"#).contains(&"*".to_owned()));
        assert_eq!(names(r#"[[{"type":5}]]"#), ["*"]);
    }

    #[test]
    fn legacy() {
        let s = ok(r#"{
          "version": 3, "terraform_version": "0.11.14", "serial": 9, "lineage": "l",
          "modules": [
            {"path": ["root"], "outputs": {}, "resources": {
              "aws_instance.web.0": {"type": "aws_instance", "primary": {"id": "i-0", "attributes": {"id": "i-0", "ami": "ami-1"}, "tainted": false}, "deposed": []},
              "aws_instance.web.1": {"type": "aws_instance", "primary": {"id": "i-1", "attributes": {"ami": "ami-1"}, "tainted": true},
                                     "deposed": [{"id": "i-old", "attributes": {"id": "i-old"}}]},
              "data.aws_ami.x": {"type": "aws_ami", "primary": {"id": "ami-1", "attributes": {"id": "ami-1"}}},
              "aws_eip.ip": {"type": "aws_eip", "primary": {"id": "eip-1"}}
            }},
            {"path": ["root", "net", "sub"], "resources": {
              "aws_vpc.main": {"type": "aws_vpc", "primary": {"id": "vpc-1", "attributes": {"id": "vpc-1", "tags.%": "1", "tags.Name": "main"}}}
            }}
          ]}"#);
        assert_eq!(s.format_version, 3);
        assert_eq!(
            addresses(&s),
            [
                "aws_instance.web[0]",
                "aws_instance.web[1]",
                "aws_instance.web[1]",
                "aws_eip.ip",
                "module.net.module.sub.aws_vpc.main",
            ]
        );
        let i = &s.instances;
        assert_eq!(i[1].status, InstanceStatus::Tainted);
        assert_eq!(i[1].attributes.get(), r#"{"id":"i-1","ami":"ami-1"}"#);
        assert_eq!(i[2].status, InstanceStatus::Deposed("0".into()));
        assert_eq!(i[3].attributes.get(), r#"{"id":"eip-1"}"#);
        assert_eq!(i[4].module.as_ref(), "module.net.module.sub");
        assert_eq!(i[4].string_attribute("tags.Name").as_deref(), Some("main"));
    }

    #[test]
    fn legacy_odd_shapes() {
        // `root` only leads a path; a null path is the root; `tainted: false` at resource level is not
        // a list of objects; null entries in lists are skipped.
        let s = ok(r#"{"version": 3, "modules": [
            {"path": ["root", "root"], "resources": {"a.b": {"primary": {"id": "1"}, "tainted": false, "deposed": [null, {"id": "2"}]}}},
            {"path": null, "resources": {"a.c": {"primary": null}}}]}"#);
        assert_eq!(addresses(&s), ["module.root.a.b", "module.root.a.b"]);
        assert_eq!(s.instances[1].status, InstanceStatus::Deposed("1".into()));
        let e = err(
            r#"{"version": 3, "modules": [{"path": ["root"], "resources": {"a.b": {"deposed": [{"id": "x", "tainted": true}, 5]}}}]}"#,
        );
        assert!(
            e.starts_with("invalid state at modules[0].resources[\"a.b\"].deposed[1]: invalid type: integer, expected"),
            "{e}"
        );
        let e = err(r#"{"version": 3, "modules": [{"path": "root", "resources": {}}]}"#);
        assert!(
            e.starts_with(
                "invalid state at modules[0]: invalid type: string, expected a module path"
            ),
            "{e}"
        );
        let few = Limits {
            max_bytes: 1 << 20,
            max_instances: 1,
            ..Limits::default()
        };
        let r = parse("t", br#"{"version": 3, "modules": [{"path": ["root"], "resources": {"a.b": {"primary": {"id": "1"}, "deposed": [{"id": "2"}]}}}]}"#, &few);
        assert!(
            matches!(r, Err(StateError::TooManyInstances { limit: 1 })),
            "{r:?}"
        );
    }

    #[test]
    fn legacy_v1_tainted_list() {
        let s = ok(
            r#"{"version": 1, "serial": 1, "modules": [{"path": ["root"], "resources": {
            "aws_instance.a": {"type": "aws_instance", "primary": {"id": "i-1"}, "tainted": [{"id": "i-t"}]}}}]}"#,
        );
        assert_eq!(s.instances.len(), 2);
        assert_eq!(s.instances[1].status, InstanceStatus::Tainted);
        assert_eq!(
            s.instances[1].string_attribute("id").as_deref(),
            Some("i-t")
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(err(""), "not JSON: the file is empty");
        assert_eq!(err("  \n"), "not JSON: the file is empty");
        let e = err("terraform.tfstate");
        assert_eq!(
            e,
            "not JSON: expected ident at line 1 column 2 (one line that is not JSON, perhaps a symlink checked out as a file; its content is not shown)"
        );
        assert!(err(r#"{"version": 4, "resources": ["#).starts_with("not JSON: EOF while parsing"));
        assert!(
            err(r#"{"version": 4, "resources": []} x"#)
                .starts_with("not JSON: trailing characters")
        );
        assert_eq!(
            err("null"),
            "not a Terraform state: the document is null, not a JSON object"
        );
        assert_eq!(
            err("[1, 2]"),
            "not a Terraform state: the document is an array, not a JSON object"
        );
        assert_eq!(
            err("12"),
            "not a Terraform state: the document is a number, not a JSON object"
        );
        assert_eq!(
            err(r#"{"resources": []}"#),
            "not a Terraform state: no `version` field"
        );
        assert_eq!(
            err(r#"{"resources": [], "x": 1}"#),
            "not a Terraform state: no `version` field"
        );
        assert_eq!(
            err(r#"{"version": 2, "serial": 83}"#),
            "not a Terraform state: no `resources` (format 4) or `modules` (formats 1 to 3) field"
        );
        assert_eq!(
            err(r#"{"version": 5, "resources": []}"#),
            "unsupported state format version 5 (tfdrift reads versions 1 to 4)"
        );
        assert_eq!(
            err(r#"{"resources": [{"new": "format"}], "version": 5}"#),
            "unsupported state format version 5 (tfdrift reads versions 1 to 4)"
        );
        assert!(
            err(r#"{"version": 0, "resources": []}"#)
                .starts_with("unsupported state format version 0")
        );
        assert_eq!(
            err(r#"{"version": "4", "resources": []}"#),
            "invalid state at `version`: expected a non-negative integer, found a string"
        );
        assert_eq!(
            err(r#"{"version": 4, "serial": -1, "resources": []}"#),
            "invalid state at `serial`: expected a non-negative integer, found a negative number"
        );
        assert_eq!(
            err(r#"{"version": 4, "serial": 100000000000000000000000, "resources": []}"#),
            "invalid state at `serial`: expected a non-negative integer, found a number too large or not whole"
        );
        let e = err(r#"{"version": 4, "resources": {}}"#);
        assert!(
            e.starts_with(
                "invalid state at resources: invalid type: map, expected a list of resources"
            ),
            "{e}"
        );
        let e = err(
            r#"{"version": 4, "resources": [{"type": "t", "name": "n", "instances": [{"attributes": {}}]}, {"type": 5}]}"#,
        );
        assert!(
            e.starts_with(
                "invalid state at resources[1]: invalid type: integer, expected a string"
            ),
            "{e}"
        );
        let e = err(
            r#"{"version": 4, "resources": [{"type": "t", "name": "n", "instances": [{}, {"status": 1}]}]}"#,
        );
        assert!(
            e.starts_with(
                "invalid state at resources[0].instances[1]: invalid type: integer, expected"
            ),
            "{e}"
        );
        let e = err(
            r#"{"version": 4, "resources": [{"mode": "managed", "name": "n", "instances": []}]}"#,
        );
        assert_eq!(
            e,
            "invalid state at resources[0]: a managed resource has no `type`"
        );
        let e =
            err(r#"{"version": 3, "modules": [{"path": ["root"], "resources": {"bad key": {}}}]}"#);
        assert_eq!(
            e,
            "invalid state at modules[0].resources[\"bad key\"]: a resource key is not TYPE.NAME or TYPE.NAME.INDEX"
        );
    }

    #[test]
    fn tolerated() {
        // null where a list or string is expected, and a data resource without type.
        let s = ok(r#"{"version": 4, "lineage": null, "resources": null}"#);
        assert!(s.instances.is_empty());
        assert_eq!(s.lineage, None);
        let s = ok(
            r#"{"version": 4, "resources": [{"mode": "data", "instances": [{"x": 1}]},
            {"type": "t", "name": "n", "instances": null},
            {"type": "t", "name": "m", "instances": [{"index_key": 1.0, "attributes": {"id": "x"}}, {"index_key": true, "attributes": 5}]}]}"#,
        );
        assert_eq!(addresses(&s), ["t.m[1]", "t.m[true]"]);
        assert_eq!(s.instances[1].attributes.get(), "{}");
        // Format 3 written with `resources` (inframap's empty.json) and a BOM.
        let s = ok(
            r#"{"version": 3, "modules": [{"path": ["root"], "resources": {"a.b": {"primary": {"attributes": 5, "tainted": 3, "id": []}}}}]}"#,
        );
        assert_eq!(addresses(&s), ["a.b"]);
        assert_eq!(s.instances[0].attributes.get(), "{}");
        assert_eq!(s.instances[0].status, InstanceStatus::Current);
        let s = ok("\u{feff}{\"version\": 3, \"resources\": []}");
        assert_eq!(s.format_version, 3);
    }

    #[test]
    fn limits() {
        let small = Limits {
            max_bytes: 10,
            max_instances: 1,
            ..Limits::default()
        };
        match parse("t", V4.as_bytes(), &small) {
            Err(StateError::TooLarge { size, limit: 10 }) => assert_eq!(size, V4.len()),
            other => panic!("{other:?}"),
        }
        let few = Limits {
            max_bytes: 1 << 20,
            max_instances: 2,
            ..Limits::default()
        };
        let e = parse("t", V4.as_bytes(), &few)
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(
            e,
            Err("too many resource instances: more than 2".to_owned())
        );
        let exact = Limits {
            max_bytes: 1 << 20,
            max_instances: 6,
            ..Limits::default()
        };
        assert!(parse("t", V4.as_bytes(), &exact).is_ok());
    }

    #[test]
    fn minify_keeps_strings() {
        assert_eq!(
            minify("{ \"a b\" : [ 1 , \"x\\\" y\" ],\n\t\"c\":{} }"),
            "{\"a b\":[1,\"x\\\" y\"],\"c\":{}}"
        );
        assert_eq!(
            minify(r#"["\\", " \\\" ", "", "\\\\"]"#),
            r#"["\\"," \\\" ","","\\\\"]"#
        );
        assert_eq!(minify(" 1 "), "1");
        assert_eq!(minify(""), "");
        assert_eq!(minify("\"unterminated \\"), "\"unterminated \\");
        assert_eq!(minify("{\n  \"é\": \"日 本\"\n}"), "{\"é\":\"日 本\"}");
    }

    /// Every truncation and many byte flips of a valid state: refused or parsed, never a panic.
    #[test]
    fn no_panic_on_damaged_input() {
        let limits = Limits::default();
        let bytes = V4.as_bytes();
        for end in 0..bytes.len() {
            let _ = parse("t", &bytes[..end], &limits);
        }
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let specials = b"{}[]\":,0123456789-.eE \\ntfa";
        for _ in 0..20_000 {
            let mut v = bytes.to_vec();
            for _ in 0..(1 + next() % 4) {
                let at = (next() % v.len() as u64) as usize;
                v[at] = specials[(next() % specials.len() as u64) as usize];
            }
            let _ = parse("t", &v, &limits);
        }
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse("t", deep.as_bytes(), &limits).is_err());
        let deep = format!(
            r#"{{"version":4,"resources":[{{"type":"t","name":"n","instances":[{{"attributes":{{"a":{}1{}}}}}]}}]}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        // serde_json skips nested values without recursing, so deep attributes load (and cannot overflow
        // the stack); reading them as a `Value` stops at the recursion limit.
        if let Ok(s) = parse("t", deep.as_bytes(), &limits) {
            assert_eq!(s.instances.len(), 1);
            assert_eq!(s.instances[0].attribute("a"), None);
        }
    }
}
