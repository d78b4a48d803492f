//! Parsing of Terraform state files into [`State`]: format v4 (Terraform 0.12 and later) and the legacy
//! formats v1–v3, with the limits that keep a hostile or broken file from costing unbounded memory.
//!
//! One streaming pass over the document: resources and instances are visited in place and only the
//! instances of managed resources are kept, with their attributes copied out as compact JSON text.
//! Strings are borrowed from the input wherever they carry no escapes. Fields this parser does not know
//! are skipped, so newer Terraform releases that add fields still load. Parts that arrive before what is
//! needed to read them (a `resources` list before `version`, `instances` before `type`) are held as raw
//! text and read at the end, so member order never changes the result.
//!
//! The records of each format are derived structs (`InstanceV4`, `ModuleV3`, `ResourceV3`, `InstanceV3`);
//! the lists that hold them are read by one streaming visitor (`Each`), element by element, so the
//! instance limit stops a long list where it is passed. Only the spine that carries context down (the top
//! level, a v4 resource, a legacy module's resources) is visited by hand.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{
    self, DeserializeSeed, Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::error::Category;
use serde_json::value::RawValue;

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
            poll_timeout: std::time::Duration::from_secs(300),
        }
    }
}

/// Why a state could not be loaded. The messages are meant for an operator reading a log line.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("too large: {size} bytes (limit {limit})")]
    TooLarge { size: usize, limit: usize },
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a Terraform state: {0}")]
    NotState(String),
    #[error("unsupported state format version {0} (tfdrift reads versions 1 to 4)")]
    UnsupportedVersion(u64),
    #[error("too many resource instances: more than {limit}")]
    TooManyInstances { limit: usize },
    /// The document is a state but a part of it has the wrong shape; `at` says where.
    #[error("invalid state at {at}: {msg}")]
    Invalid { at: String, msg: String },
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
    let first = text.trim_start().as_bytes().first().copied();
    match first {
        None => return Err(StateError::NotJson("the file is empty".into())),
        Some(b'{') => {}
        Some(c) => return Err(not_an_object(text, c)),
    }

    let mut b = Builder::new(limits);
    let mut de = serde_json::Deserializer::from_str(text);
    let header = match de
        .deserialize_map(TopVisitor { b: &mut b })
        .and_then(|h| de.end().map(|()| h))
    {
        Ok(h) => h,
        Err(e) => {
            let on_first_line = e.line() == 1 && e.classify() != Category::Data;
            let err = b.error(e);
            return Err(if on_first_line {
                quote_start(err, text)
            } else {
                err
            });
        }
    };

    let Some(version) = header.version else {
        return Err(StateError::NotState("no `version` field".into()));
    };
    if !header.has_resources && !header.has_modules {
        return Err(StateError::NotState(
            "no `resources` (format 4) or `modules` (formats 1 to 3) field".into(),
        ));
    }
    // Parts that came before `version` in the document.
    if let Some(raw) = header.resources {
        b.at = At::default();
        from_fragment(raw, ResourcesSeq { b: &mut b }).map_err(|e| b.error(e))?;
    }
    if let Some(raw) = header.modules {
        b.at = At::default();
        b.at.field = Some("modules");
        let mut progress = Progress::default();
        let r = from_fragment(
            raw,
            Each::new("a list of modules", &mut progress, |i, module| {
                b.at.outer = Some(i);
                b.module(module)
            }),
        );
        if let Err(e) = r {
            b.at.outer = Some(progress.at);
            return Err(b.list_error(progress, e));
        }
    }

    Ok(State {
        name: Arc::from(name),
        format_version: version,
        serial: header.serial.unwrap_or(0),
        lineage: header.lineage,
        terraform_version: header.terraform_version,
        instances: b.instances,
        scope: Default::default(),
    })
}

/// A file that is not JSON from its first line on is often something else entirely: a Git LFS pointer, a git
/// symlink checked out as a file (it holds its target's name), an encrypted blob. Say which when it is
/// recognisable, never what the file holds: a state file may hold secrets, and messages reach logs.
fn quote_start(err: StateError, text: &str) -> StateError {
    match err {
        StateError::NotJson(msg) => {
            let start = text.trim_start();
            let what = if start.starts_with("version https://git-lfs.github.com/spec/") {
                "it is a Git LFS pointer, not the state: fetch the LFS object"
            } else if !start.contains(['\n', '{', '[']) && start.len() < 4096 {
                "one line that is not JSON, perhaps a symlink checked out as a file; its content is not shown"
            } else {
                "its content is not shown: a state file may hold secrets"
            };
            StateError::NotJson(format!("{msg} ({what})"))
        }
        other => other,
    }
}

fn not_an_object(text: &str, first: u8) -> StateError {
    if let Err(e) = serde_json::from_str::<IgnoredAny>(text) {
        let err = StateError::NotJson(e.to_string());
        return if e.line() == 1 {
            quote_start(err, text)
        } else {
            err
        };
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

fn from_fragment<'de, S>(raw: &'de RawValue, seed: S) -> Result<S::Value, serde_json::Error>
where
    S: DeserializeSeed<'de>,
{
    let mut de = serde_json::Deserializer::from_str(raw.get());
    let v = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// Where the parser is, for error messages.
#[derive(Debug, Default, Clone)]
struct At {
    field: Option<&'static str>,
    outer: Option<usize>,
    legacy_key: Option<String>,
    inner: Option<(&'static str, usize)>,
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.field {
            None => f.write_str("the top level")?,
            Some(field) => f.write_str(field)?,
        }
        if let Some(i) = self.outer {
            write!(f, "[{i}]")?;
        }
        if let Some(k) = &self.legacy_key {
            write!(f, ".resources[{k:?}]")?;
        }
        if let Some((name, i)) = self.inner {
            write!(f, ".{name}[{i}]")?;
        }
        Ok(())
    }
}

struct Builder<'l> {
    limits: &'l Limits,
    instances: Vec<Instance>,
    at: At,
    /// Set when this parser (not serde) refuses the document: serde only carries a message, and this
    /// keeps the kind of error.
    fail: Option<StateError>,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Builder {
            limits,
            instances: Vec::new(),
            at: At::default(),
            fail: None,
        }
    }

    /// Records why the document is refused and gives serde an error to unwind with.
    fn refuse<E: de::Error>(&mut self, err: StateError) -> E {
        let e = E::custom(&err);
        self.fail = Some(err);
        e
    }

    fn invalid<E: de::Error>(&mut self, msg: impl Into<String>) -> E {
        let err = StateError::Invalid {
            at: self.at.to_string(),
            msg: msg.into(),
        };
        self.refuse(err)
    }

    /// Why a list read with `progress` failed (its place already set): the parser's own reason if it has one,
    /// else serde's.
    fn list_error(&mut self, progress: Progress, e: serde_json::Error) -> StateError {
        progress.failed.unwrap_or_else(|| self.error(e))
    }

    /// [`Builder::list_error`] for a list read in place: serde unwinds with the error.
    fn list_failed<E: de::Error>(&mut self, progress: Progress, e: E) -> E {
        match progress.failed {
            Some(err) => self.refuse(err),
            None => e,
        }
    }

    /// Reads the managed instances of the list `instances` (a JSON list or null) of the resource `res`.
    fn instances(&mut self, res: &ResourceCtx<'_>, raw: &RawValue) -> Result<(), StateError> {
        let mut progress = Progress::default();
        let r = from_fragment(
            raw,
            Each::new("a list of instances", &mut progress, |_, inst| {
                self.push_v4(res, inst)
            }),
        );
        r.map_err(|e| {
            self.at.inner = Some(("instances", progress.at));
            self.list_error(progress, e)
        })
    }

    /// Reads one legacy module: its resources, under its path's address.
    fn module(&mut self, module: ModuleV3<'_>) -> Result<(), StateError> {
        let address = module.path.map(|p| p.0).unwrap_or_default();
        if let Some(raw) = module.resources {
            let r = from_fragment(
                raw,
                LegacyResources {
                    b: &mut *self,
                    module: &address,
                },
            );
            r.map_err(|e| self.error(e))?;
        }
        self.at.legacy_key = None;
        Ok(())
    }

    /// A count (`version`, `serial`): a non-negative integer, else refused naming the kind of value found.
    fn count<E: de::Error>(&mut self, raw: &RawValue) -> Result<u64, E> {
        raw.get().parse().map_err(|_| {
            self.invalid(format!(
                "expected a non-negative integer, found {}",
                json_kind(raw.get())
            ))
        })
    }

    fn error(&mut self, e: serde_json::Error) -> StateError {
        if let Some(err) = self.fail.take() {
            return err;
        }
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => StateError::NotJson(e.to_string()),
            Category::Data => StateError::Invalid {
                at: self.at.to_string(),
                msg: without_content(&e.to_string()),
            },
        }
    }

    fn room_for_one(&self) -> Result<(), StateError> {
        if self.instances.len() >= self.limits.max_instances {
            return Err(StateError::TooManyInstances {
                limit: self.limits.max_instances,
            });
        }
        Ok(())
    }

    fn push_v4(&mut self, res: &ResourceCtx<'_>, inst: InstanceV4<'_>) -> Result<(), StateError> {
        self.room_for_one()?;
        let key_text;
        let key = match inst.index_key {
            None => None,
            Some(raw) => {
                key_text = scalar_text(raw.get());
                Some(instance_key(raw, key_text.as_deref()))
            }
        };
        let mut address = res.prefix.clone();
        if let Some(key) = key {
            address::push_key(&mut address, key);
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
        check_depth(&attributes, &address)?;
        self.instances.push(Instance {
            address: address.into_boxed_str(),
            module: res.module.into(),
            resource_type: res.resource_type.into(),
            status,
            known: Known::read(attributes.get()),
            members: Default::default(),
            attributes,
            sensitive_attrs,
        });
        Ok(())
    }

    fn push_legacy(
        &mut self,
        module: &str,
        key: &LegacyKey<'_>,
        resource_type: &str,
        inst: &InstanceV3<'_>,
        status: InstanceStatus,
    ) -> Result<(), StateError> {
        self.room_for_one()?;
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
        check_depth(&attributes, &address)?;
        self.instances.push(Instance {
            address: address.into_boxed_str(),
            module: module.into(),
            resource_type: resource_type.into(),
            status,
            known: Known::read(attributes.get()),
            members: Default::default(),
            attributes,
            sensitive_attrs: Box::default(),
        });
        Ok(())
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
    let mut progress = Progress::default();
    let r = from_fragment(
        raw,
        Each::new("a list", &mut progress, |_, path: FirstGetAttr<'_>| {
            let name: Box<str> = path.0.as_deref().unwrap_or("*").into();
            if !names.contains(&name) {
                names.push(name);
            }
            Ok(())
        }),
    );
    if r.is_err() {
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
        Each::new(
            "a list of path steps",
            &mut Progress::default(),
            |_, step: Step<'de>| {
                if name.is_none() && step.kind.get() == Some("get_attr") {
                    name = step
                        .value
                        .filter(|v| v.get().starts_with('"'))
                        .and_then(|v| scalar_text(v.get()));
                }
                Ok(())
            },
        )
        .deserialize(d)?;
        Ok(FirstGetAttr(name))
    }
}

/// The one streaming visitor of the state's lists (instances, modules, legacy deposed and tainted objects,
/// sensitive paths): a JSON list (or `null`) read one element at a time, so that a long list never becomes a
/// `Vec` and the instance limit stops it where it is passed. `f(position, element)` decides what to keep.
struct Each<'f, T, F> {
    /// What the list is, for serde's messages (`expected a list of instances`).
    what: &'static str,
    f: F,
    progress: &'f mut Progress,
    element: std::marker::PhantomData<fn() -> T>,
}

/// How far an [`Each`] got: the position of the element being read, and the error `f` returned.
#[derive(Default)]
struct Progress {
    at: usize,
    failed: Option<StateError>,
}

impl<'f, T, F> Each<'f, T, F> {
    fn new(what: &'static str, progress: &'f mut Progress, f: F) -> Self {
        Each {
            what,
            f,
            progress,
            element: std::marker::PhantomData,
        }
    }
}

impl<'de, T, F> DeserializeSeed<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(usize, T) -> Result<(), StateError>,
{
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T, F> Visitor<'de> for Each<'_, T, F>
where
    T: Deserialize<'de>,
    F: FnMut(usize, T) -> Result<(), StateError>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.what)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<T>()? {
            if let Err(err) = (self.f)(self.progress.at, element) {
                let e = de::Error::custom(&err);
                self.progress.failed = Some(err);
                return Err(e);
            }
            self.progress.at += 1;
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

// ---------------------------------------------------------------------------------------------------
// The top level.

#[derive(Default)]
struct Header<'de> {
    version: Option<u64>,
    serial: Option<u64>,
    lineage: Option<String>,
    terraform_version: Option<String>,
    has_resources: bool,
    has_modules: bool,
    resources: Option<&'de RawValue>,
    modules: Option<&'de RawValue>,
}

struct TopVisitor<'b, 'l> {
    b: &'b mut Builder<'l>,
}

impl<'de> Visitor<'de> for TopVisitor<'_, '_> {
    type Value = Header<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Header<'de>, A::Error> {
        let b = self.b;
        let mut h = Header::default();
        while let Some(key) = map.next_key::<Str<'de>>()? {
            match key.get().unwrap_or_default() {
                "version" => {
                    b.at.field = Some("`version`");
                    let v = b.count(map.next_value()?)?;
                    if !(1..=4).contains(&v) {
                        return Err(b.refuse(StateError::UnsupportedVersion(v)));
                    }
                    h.version = Some(v);
                }
                "serial" => {
                    b.at.field = Some("`serial`");
                    h.serial = Some(b.count(map.next_value()?)?);
                }
                "lineage" => {
                    b.at.field = Some("`lineage`");
                    h.lineage = map.next_value::<Str<'_>>()?.0.map(Cow::into_owned);
                }
                "terraform_version" => {
                    b.at.field = Some("`terraform_version`");
                    h.terraform_version = map.next_value::<Str<'_>>()?.0.map(Cow::into_owned);
                }
                "resources" => {
                    b.at.field = Some("resources");
                    h.has_resources = true;
                    if h.version.is_some() {
                        map.next_value_seed(ResourcesSeq { b: &mut *b })?;
                    } else {
                        h.resources = Some(map.next_value()?);
                    }
                }
                "modules" => {
                    b.at.field = Some("modules");
                    h.has_modules = true;
                    if h.version.is_some() {
                        let mut progress = Progress::default();
                        let r = map.next_value_seed(Each::new(
                            "a list of modules",
                            &mut progress,
                            |i, module| {
                                b.at.outer = Some(i);
                                b.module(module)
                            },
                        ));
                        if let Err(e) = r {
                            b.at.outer = Some(progress.at);
                            return Err(b.list_failed(progress, e));
                        }
                    } else {
                        h.modules = Some(map.next_value()?);
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            b.at = At::default();
        }
        Ok(h)
    }
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
// Format v4: `resources[]` with `instances[]`.

struct ResourcesSeq<'b, 'l> {
    b: &'b mut Builder<'l>,
}

impl<'de> DeserializeSeed<'de> for ResourcesSeq<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ResourcesSeq<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of resources")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.b.at.field = Some("resources");
        let mut i = 0;
        loop {
            self.b.at.outer = Some(i);
            self.b.at.inner = None;
            if seq
                .next_element_seed(ResourceSeed { b: &mut *self.b })?
                .is_none()
            {
                break;
            }
            i += 1;
        }
        self.b.at.outer = None;
        Ok(())
    }
}

struct ResourceSeed<'b, 'l> {
    b: &'b mut Builder<'l>,
}

impl<'de> DeserializeSeed<'de> for ResourceSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

/// What the instances of one resource share.
struct ResourceCtx<'a> {
    module: &'a str,
    resource_type: &'a str,
    /// The resource's address, to which each instance appends its key.
    prefix: String,
}

fn is_managed(mode: &Str<'_>) -> bool {
    // Terraform writes `managed` or `data`; a missing mode is taken as managed (hand-written states), and
    // any other mode is not a resource Terraform manages.
    mode.get().is_none_or(|m| m == "managed")
}

impl<'de> Visitor<'de> for ResourceSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.b;
        let mut module = Str::default();
        let mut mode = Str::default();
        let mut resource_type = Str::default();
        let mut name = Str::default();
        let mut deferred: Vec<&'de RawValue> = Vec::new();
        // Instances already pushed for this resource, fixed up if `module` or `mode` come after them.
        let start = b.instances.len();
        let mut streamed = false;

        while let Some(key) = map.next_key::<Str<'de>>()? {
            match key.get().unwrap_or_default() {
                "module" => {
                    module = map.next_value()?;
                    if streamed {
                        let m = module.get().unwrap_or_default();
                        for inst in b.instances.iter_mut().skip(start) {
                            inst.module = m.into();
                            let prefix_len = inst.address.len();
                            let mut a = String::with_capacity(m.len() + 1 + prefix_len);
                            if !m.is_empty() {
                                a.push_str(m);
                                a.push('.');
                            }
                            a.push_str(&inst.address);
                            inst.address = a.into_boxed_str();
                        }
                    }
                }
                "mode" => {
                    mode = map.next_value()?;
                    if streamed && !is_managed(&mode) {
                        b.instances.truncate(start);
                    }
                }
                "type" => resource_type = map.next_value()?,
                "name" => name = map.next_value()?,
                "instances" => match (resource_type.get(), name.get()) {
                    (Some(t), Some(n)) => {
                        if is_managed(&mode) {
                            let module_str = module.get().unwrap_or_default();
                            let ctx = ResourceCtx {
                                module: module_str,
                                resource_type: t,
                                prefix: address::resource_address(module_str, t, n),
                            };
                            let mut progress = Progress::default();
                            let r = map.next_value_seed(Each::new(
                                "a list of instances",
                                &mut progress,
                                |_, inst| b.push_v4(&ctx, inst),
                            ));
                            if let Err(e) = r {
                                b.at.inner = Some(("instances", progress.at));
                                return Err(b.list_failed(progress, e));
                            }
                            streamed = true;
                        } else {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    _ => deferred.push(map.next_value()?),
                },
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }

        if !is_managed(&mode) {
            return Ok(());
        }
        let (Some(t), Some(n)) = (resource_type.get(), name.get()) else {
            let missing = if resource_type.get().is_none() {
                "`type`"
            } else {
                "`name`"
            };
            return Err(b.invalid(format!("a managed resource has no {missing}")));
        };
        let module_str = module.get().unwrap_or_default();
        let ctx = ResourceCtx {
            module: module_str,
            resource_type: t,
            prefix: address::resource_address(module_str, t, n),
        };
        for raw in deferred {
            if let Err(err) = b.instances(&ctx, raw) {
                return Err(b.refuse(err));
            }
        }
        Ok(())
    }
}

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

#[derive(Deserialize)]
struct ModuleV3<'a> {
    #[serde(default)]
    path: Option<ModulePath>,
    #[serde(borrow, default)]
    resources: Option<&'a RawValue>,
}

/// A legacy module path (`["root", "net"]`) read straight into its address (`module.net`).
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

struct LegacyResources<'b, 'l, 'm> {
    b: &'b mut Builder<'l>,
    module: &'m str,
}

impl<'de> DeserializeSeed<'de> for LegacyResources<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

#[derive(Deserialize)]
struct ResourceV3<'a> {
    #[serde(rename = "type", borrow, default)]
    resource_type: Str<'a>,
    #[serde(borrow, default)]
    primary: Option<InstanceV3<'a>>,
    #[serde(borrow, default)]
    deposed: Option<&'a RawValue>,
    /// Format v1 kept tainted objects in a list beside `primary`.
    #[serde(borrow, default)]
    tainted: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct InstanceV3<'a> {
    #[serde(borrow, default)]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tainted: Option<&'a RawValue>,
}

impl<'de> Visitor<'de> for LegacyResources<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a map of resources")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let b = self.b;
        while let Some(key) = map.next_key::<Str<'de>>()? {
            let key = key.0.unwrap_or_default();
            b.at.legacy_key = Some(key.clone().into_owned());
            b.at.inner = None;
            let Some(lkey) = address::parse_legacy_key(&key) else {
                return Err(b.invalid("a resource key is not TYPE.NAME or TYPE.NAME.INDEX"));
            };
            if lkey.data {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let Some(res) = map.next_value::<Option<ResourceV3<'de>>>()? else {
                continue;
            };
            let resource_type = match res.resource_type.get() {
                Some(t) if !t.is_empty() => t,
                _ => lkey.resource_type,
            };
            let module = self.module;
            let push = |b: &mut Builder<'_>, inst: &InstanceV3<'_>, status| {
                let status = match status {
                    InstanceStatus::Current if inst.tainted.is_some_and(|t| t.get() == "true") => {
                        InstanceStatus::Tainted
                    }
                    s => s,
                };
                b.push_legacy(module, &lkey, resource_type, inst, status)
            };
            if let Some(p) = &res.primary {
                b.at.inner = Some(("primary", 0));
                if let Err(err) = push(b, p, InstanceStatus::Current) {
                    return Err(b.refuse(err));
                }
            }
            // Format 1 kept tainted objects in a list; anything else under that name is not ours.
            let lists = [
                ("tainted", res.tainted.filter(|t| t.get().starts_with('['))),
                ("deposed", res.deposed),
            ];
            for (list, raw) in lists {
                let Some(raw) = raw else { continue };
                let mut progress = Progress::default();
                let r = from_fragment(
                    raw,
                    Each::new(
                        "a list",
                        &mut progress,
                        |i: usize, inst: Option<InstanceV3<'de>>| {
                            let Some(inst) = inst else { return Ok(()) };
                            let status = if list == "tainted" {
                                InstanceStatus::Tainted
                            } else {
                                // Legacy deposed objects have no key; their position stands in for one.
                                InstanceStatus::Deposed(i.to_string().into())
                            };
                            push(b, &inst, status)
                        },
                    ),
                );
                if let Err(e) = r {
                    b.at.inner = Some((list, progress.at));
                    let err = b.list_error(progress, e);
                    return Err(b.refuse(err));
                }
            }
        }
        b.at.legacy_key = None;
        b.at.inner = None;
        Ok(())
    }
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
