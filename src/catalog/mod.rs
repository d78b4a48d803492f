//! The catalog: which CloudTrail calls and GCP audit methods touch which Terraform resource types, where each
//! call carries the identifier of what it touches, and which Terraform attributes it sets.
//!
//! The catalog is data (`catalog/*.toml`, one file per AWS service and `catalog/gcp-*.toml` per Google API,
//! format in `catalog/README.md`), embedded at build time and extendable with files named in the configuration.
//! This module only loads and validates it and answers lookups; it is built once at init and read-only
//! afterwards, so lookups take no lock.

pub mod dump;
pub mod import_forms;
pub mod path;

use crate::state::KeySpec;
pub use path::Section;
use path::{Path, PathError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

type FastMap<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;
use std::fmt;
use std::sync::LazyLock;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// What kind of change a call makes to the resource it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Creates the resource.
    Create,
    /// Changes some of its attributes.
    Modify,
    /// Deletes it.
    Delete,
    /// Attaches something to it (a policy, a volume).
    Attach,
    /// Detaches something from it.
    Detach,
    /// Adds or changes tags.
    Tag,
    /// Removes tags.
    Untag,
}

impl Change {
    /// The change as the catalog and `tfdrift.change` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Modify => "modify",
            Change::Delete => "delete",
            Change::Attach => "attach",
            Change::Detach => "detach",
            Change::Tag => "tag",
            Change::Untag => "untag",
        }
    }
}

/// How much a change to this kind of resource matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Hardly matters.
    Low,
    /// Worth a look.
    Medium,
    /// Likely matters.
    High,
    /// Matters most.
    Critical,
}

impl Severity {
    /// The severity as the catalog and `tfdrift.severity` write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One resource type a call touches, and where the call names it.
#[derive(Debug, Serialize)]
pub struct Target {
    /// The Terraform resource type (`aws_security_group`).
    #[serde(rename = "type")]
    pub resource_type: Box<str>,
    /// Where the identifier is; every value found on any path is a candidate.
    pub ids: Box<[Path]>,
    /// State attributes the identifier is compared with; `None`: the type's keys.
    pub join: Option<Box<[Box<str>]>>,
    /// The other parts of a composite identity (a Lambda permission's statement id, a Route 53 record's name
    /// and type): where each is in the record, and the attribute that must hold it. An instance matches only
    /// when every part the record gives agrees, so a call never lands on a sibling that shares the parent.
    #[serde(serialize_with = "dump::parts")]
    pub parts: Box<[(Path, Box<str>)]>,
    /// The identifier in the form Terraform's import takes (`{requestParameters.keyId}:{responseElements.grantId}`),
    /// for a resource no state holds.
    pub import_id: Option<ImportId>,
    /// How Terraform's import names a resource of this type (`catalog/import-ids/forms.toml`).
    #[serde(skip)]
    pub import_form: Option<std::sync::Arc<import_forms::ImportForm>>,
}

/// A template of record paths and text: `{path}` stands for the path's first value.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ImportId(Box<[ImportPart]>);

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
enum ImportPart {
    Text(Box<str>),
    #[serde(rename = "path")]
    Value(Path),
}

impl ImportId {
    fn parse(template: &str) -> Result<ImportId, PathError> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(ImportPart::Text(rest[..open].into()));
            }
            // The matching `}`: a path's identity pattern may hold a `{}` of its own.
            let mut depth = 0usize;
            let close = rest[open..]
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(c, _)| open + c)
                .ok_or_else(|| PathError::Unclosed(template.to_owned()))?;
            parts.push(ImportPart::Value(Path::parse(&rest[open + 1..close])?));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(ImportPart::Text(rest.into()));
        }
        Ok(ImportId(parts.into()))
    }

    /// The paths the template reads.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().filter_map(|p| match p {
            ImportPart::Value(path) => Some(path),
            ImportPart::Text(_) => None,
        })
    }

    /// The identifier, when every path gives a value; `value` gives the first value a path reaches.
    pub fn render(&self, mut value: impl FnMut(&Path) -> Option<String>) -> Option<String> {
        let mut out = String::new();
        for part in self.0.iter() {
            match part {
                ImportPart::Text(text) => out.push_str(text),
                ImportPart::Value(path) => out.push_str(&value(path)?),
            }
        }
        Some(out)
    }
}

/// A part of the record that sets a Terraform attribute of the call's own resource type.
#[derive(Debug, Serialize)]
pub struct AttrMapping {
    /// Where the requested value is in the record.
    pub from: Path,
    /// The attribute's path in the state (`versioning_configuration.status`).
    pub attr: Path,
    /// The attribute's name as written in the catalog, for fields.
    pub attr_name: Box<str>,
    /// How its values compare.
    pub kind: Kind,
    /// What the call does to the value.
    pub op: Op,
}

/// A value the call implies for an attribute (`StopLogging` sets `enable_logging` to false).
#[derive(Debug)]
pub struct ImpliedValue {
    /// The attribute, as the state names it.
    pub attr: Box<str>,
    /// Its value after the call.
    pub value: serde_json::Value,
}

/// How the values of an attribute are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// By value, structurally; JSON text that holds a policy compares as a policy.
    #[default]
    Value,
    /// As a policy document.
    Policy,
    /// Key by key.
    Tags,
    /// As a set of security group rules.
    SecurityGroupRules,
    /// As references to Google Cloud resources: a name, a relative path and a URL are one reference when the
    /// shorter is the trailing segments of the longer (`zones/z/machineTypes/e2-small` and `e2-small`).
    Reference,
    /// As a set: order and repeats make no difference (firewall source ranges, network tags, permissions).
    Set,
}

/// What the call does to the attribute's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Sets the whole value.
    #[default]
    Set,
    /// Adds entries (tags, rules) to it.
    Add,
    /// Removes entries from it.
    Remove,
}

/// How an attribute compares when the catalog does not say: tags (and Google's labels) key by key, everything
/// else by value.
pub fn default_kind(attr: &str) -> Kind {
    match attr.split('.').next().unwrap_or(attr) {
        // Google's labels are a map that an update replaces whole, like tags.
        "tags" | "tags_all" | "labels" | "resource_labels" => Kind::Tags,
        _ => Kind::Value,
    }
}

/// What a call does to a value when the catalog does not say: tag calls add, untag calls remove.
pub fn default_op(change: Change) -> Op {
    match change {
        Change::Tag => Op::Add,
        Change::Untag => Op::Remove,
        _ => Op::Set,
    }
}

/// One call the catalog understands: a CloudTrail event name, or a GCP audit `methodName`.
#[derive(Debug, Serialize)]
pub struct Call {
    /// The service's name in the catalog (its file name).
    pub service: Box<str>,
    /// CloudTrail's `eventSource` (`ec2.amazonaws.com`), a GCP audit entry's `serviceName`
    /// (`compute.googleapis.com`).
    pub event_source: Box<str>,
    /// The operation (`eventName`; a GCP audit entry's `methodName`, Compute's without its version prefix).
    pub name: Box<str>,
    /// The API method the call is, when its name is not one (GCP: the discovery method id of a gRPC or legacy
    /// audit name, `iam.projects.serviceAccounts.create`). Documentation for checkers; unused at run time.
    pub method: Option<Box<str>>,
    /// What the call does to its resource.
    pub change: Change,
    /// How much that matters, unless the configuration overrides it by type.
    pub severity: Severity,
    /// The call's own resource type first.
    pub targets: Box<[Target]>,
    /// Which parts of the call set which attributes.
    pub attrs: Box<[AttrMapping]>,
    /// Values the call implies, whatever its parameters.
    pub sets: Box<[ImpliedValue]>,
    /// Whether the other top-level request parameters set the attributes named by their snake_case form.
    pub auto_attrs: bool,
    /// Where the resource body is, whose members `auto_attrs` maps and `explicit_params` names (`request.sink`
    /// for a gRPC `UpdateSinkRequest`); `None`: the request section itself (CloudTrail, Compute).
    pub body: Option<Path>,
    /// Members of the body (or request) that name the resource that name the resource, are mapped explicitly or set nothing (`ignore`):
    /// never automatic, never uncompared.
    pub explicit_params: Box<[Box<str>]>,
    /// An explicit mapping reads the whole request (security group rules): every parameter is accounted for.
    pub whole_request_mapped: bool,
    /// The call replaces or edits a Google IAM policy (`SetIamPolicy`, `storage.setIamPermissions`): the
    /// verdict compares the bindings it grants and revokes with every IAM member, binding and policy instance
    /// it matched, not attributes of one instance (`iam_policy = true` in the catalog).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub iam_policy: bool,
}

/// An id prefix (`sg-`) and the resource types it names.
type IdPrefix = (Box<str>, Box<[Box<str>]>);

/// Why a catalog file was refused.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A file that is not valid TOML or does not fit the catalog's schema.
    #[error("{file}: {source}")]
    Toml {
        /// The catalog file.
        file: String,
        /// What the TOML parser says.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A call entry that contradicts itself or the rest of the catalog.
    #[error("{file}: call {call}: {what}")]
    Call {
        /// The catalog file.
        file: String,
        /// The call's name.
        call: String,
        /// What is wrong with it.
        what: String,
    },
    /// A path in a call entry that cannot be read.
    #[error("{file}: call {call}: path `{path}`: {source}")]
    Path {
        /// The catalog file.
        file: String,
        /// The call's name.
        call: String,
        /// The path as written.
        path: String,
        /// Why it was refused.
        #[source]
        source: PathError,
    },
    /// A catalog file that could not be read from disk.
    #[error("cannot read catalog file {file}: {source}")]
    Read {
        /// The catalog file.
        file: String,
        /// Why it could not be read.
        #[source]
        source: std::io::Error,
    },
}

/// The whole catalog, indexed for lookups by `(eventSource, operation name)`. Services that share an event
/// source may both have a call of one name: those are candidates, in file order.
pub struct Catalog {
    calls: Vec<Call>,
    /// Looked up twice for every mutating call (source, then name): hashed with foldhash, several times
    /// faster than std's SipHash on short keys. The keys are the catalog's own, so hash flooding is not a
    /// concern (a lookup cannot add one).
    by_source: FastMap<FastMap<Vec<usize>>>,
    keys: HashMap<Box<str>, Box<[Box<str>]>>,
    default_keys: Box<[Box<str>]>,
    /// Resource id prefixes (`sg-`) and the types they name, for calls outside the catalog.
    id_prefixes: Vec<IdPrefix>,
    /// Request parameters that never set an attribute (`applyImmediately`).
    ignored_params: Vec<Box<str>>,
}

impl fmt::Debug for Catalog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Catalog")
            .field("calls", &self.calls.len())
            .field("resource_types", &self.resource_types().len())
            .finish()
    }
}

// The file format, as written (see catalog/README.md).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    /// Absent only in a file of `[id_prefixes]` (fallback.toml).
    service: Option<ServiceDoc>,
    #[serde(default)]
    keys: BTreeMap<String, Vec<String>>,
    #[serde(default, rename = "call")]
    calls: Vec<CallDoc>,
    #[serde(default)]
    id_prefixes: BTreeMap<String, Vec<String>>,
    auto_attrs: Option<AutoAttrsDoc>,
}

/// `[auto_attrs]` in a catalog-wide file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AutoAttrsDoc {
    #[serde(default)]
    ignore: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ServiceDoc {
    name: String,
    event_source: String,
    severity: Severity,
    #[serde(default = "default_true")]
    auto_attrs: bool,
}

fn default_true() -> bool {
    true
}

impl FileDoc {
    /// Reads one catalog file; the error names it.
    fn parse(file: &str, text: &str) -> Result<FileDoc, CatalogError> {
        toml::from_str(text).map_err(|source| CatalogError::Toml {
            file: file.to_owned(),
            source: Box::new(source),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallDoc {
    name: String,
    method: Option<String>,
    change: Change,
    severity: Option<Severity>,
    targets: Vec<TargetDoc>,
    #[serde(default)]
    attrs: BTreeMap<String, AttrDoc>,
    #[serde(default)]
    sets: BTreeMap<String, serde_json::Value>,
    auto_attrs: Option<AutoDoc>,
    /// Request members that set nothing: a fixed policy name (KMS `policyName: default`), the name of the
    /// attribute a call sets whose values are elsewhere (RDS `attributeName`).
    #[serde(default)]
    ignore: Vec<String>,
    /// The call sets a Google IAM policy: see [`Call::iam_policy`].
    #[serde(default)]
    iam_policy: bool,
}

/// A call's `auto_attrs`: on or off, or the path of the resource body whose members are mapped (on).
#[derive(Deserialize)]
#[serde(untagged)]
enum AutoDoc {
    On(bool),
    Body(String),
}

/// An attribute mapping: the attribute's path, or a table that also says how to compare.
#[derive(Deserialize)]
#[serde(untagged)]
enum AttrDoc {
    Attr(String),
    Detailed(AttrDetail),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AttrDetail {
    attr: String,
    #[serde(rename = "as")]
    kind: Option<Kind>,
    op: Option<Op>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetDoc {
    #[serde(rename = "type")]
    resource_type: String,
    id: Vec<String>,
    join: Option<Vec<String>>,
    #[serde(default)]
    parts: BTreeMap<String, String>,
    import_id: Option<String>,
}

static EMBEDDED: LazyLock<Result<Catalog, String>> =
    LazyLock::new(|| Catalog::from_files(embedded::EMBEDDED).map_err(|e| e.to_string()));

/// The largest catalog extension file read (the embedded catalog, every service together, is a few hundred
/// KiB).
pub const MAX_CATALOG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A catalog extension file, read at init: only a regular file (a FIFO would block init for good, a device
/// would never end), and at most [`MAX_CATALOG_FILE_BYTES`].
fn read_catalog_file(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Read};
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a directory)",
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CATALOG_FILE_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CATALOG_FILE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {MAX_CATALOG_FILE_BYTES} bytes"),
        ));
    }
    Ok(text)
}

impl Catalog {
    /// The catalog embedded in the library. Its files are checked by the tests, so an error here is a build
    /// that should never have shipped; it is still reported, not panicked on.
    pub fn embedded() -> Result<&'static Catalog, String> {
        EMBEDDED.as_ref().map_err(Clone::clone)
    }

    /// The embedded files followed by extension files; a later file's call replaces an earlier one with the
    /// same event source and name.
    pub fn with_extensions(extra: &[std::path::PathBuf]) -> Result<Catalog, CatalogError> {
        let mut extensions = Vec::with_capacity(extra.len());
        for path in extra {
            let text = read_catalog_file(path).map_err(|source| CatalogError::Read {
                file: path.display().to_string(),
                source,
            })?;
            extensions.push((path.display().to_string(), text));
        }
        let files: Vec<(&str, &str)> = embedded::EMBEDDED
            .iter()
            .copied()
            .chain(
                extensions
                    .iter()
                    .map(|(name, text)| (name.as_str(), text.as_str())),
            )
            .collect();
        Catalog::from_files(&files)
    }

    /// Builds a catalog from `(file name, TOML text)` pairs.
    pub fn from_files<N: AsRef<str>, T: AsRef<str>>(
        files: &[(N, T)],
    ) -> Result<Catalog, CatalogError> {
        let mut catalog = Catalog {
            calls: Vec::new(),
            by_source: FastMap::default(),
            keys: HashMap::new(),
            default_keys: vec!["id".into(), "arn".into()].into(),
            id_prefixes: Vec::new(),
            ignored_params: Vec::new(),
        };
        let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (file, text) in files {
            let (file, text) = (file.as_ref(), text.as_ref());
            let doc = FileDoc::parse(file, text)?;
            for (prefix, types) in doc.id_prefixes {
                if prefix.is_empty() || types.is_empty() {
                    return Err(CatalogError::Call {
                        file: file.to_owned(),
                        call: "[id_prefixes]".into(),
                        what: format!(
                            "prefix {prefix:?} needs a non-empty name and at least one type"
                        ),
                    });
                }
                catalog
                    .id_prefixes
                    .push((prefix.into(), types.into_iter().map(Into::into).collect()));
            }
            if let Some(auto) = doc.auto_attrs {
                catalog
                    .ignored_params
                    .extend(auto.ignore.into_iter().map(Into::into));
            }
            for (resource_type, attrs) in doc.keys {
                let entry = keys.entry(resource_type).or_default();
                for attr in attrs {
                    if !entry.contains(&attr) {
                        entry.push(attr);
                    }
                }
            }
            let Some(service) = doc.service else {
                if doc.calls.is_empty() {
                    continue;
                }
                return Err(CatalogError::Call {
                    file: file.to_owned(),
                    call: doc.calls[0].name.clone(),
                    what: "a file with calls needs a [service]".into(),
                });
            };
            for call in doc.calls {
                let call = Self::build_call(file, &service, call, &mut keys)?;
                let candidates = catalog
                    .by_source
                    .entry(call.event_source.clone())
                    .or_default()
                    .entry(call.name.clone())
                    .or_default();
                // The same service's call again (an extension file): it replaces the earlier one.
                match candidates
                    .iter()
                    .find(|&&i| catalog.calls[i].service == call.service)
                {
                    Some(&existing) => catalog.calls[existing] = call,
                    None => {
                        candidates.push(catalog.calls.len());
                        catalog.calls.push(call);
                    }
                }
            }
        }
        catalog.keys = keys
            .into_iter()
            .map(|(t, attrs)| (t.into(), attrs.into_iter().map(Into::into).collect()))
            .collect();
        import_forms::ImportForms::embedded()?.attach(&mut catalog);
        // Longest prefix first, so `subnet-` is tried before `s`-anything shorter.
        catalog
            .id_prefixes
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        Ok(catalog)
    }

    fn build_call(
        file: &str,
        service: &ServiceDoc,
        doc: CallDoc,
        keys: &mut BTreeMap<String, Vec<String>>,
    ) -> Result<Call, CatalogError> {
        let call_error = |what: String| CatalogError::Call {
            file: file.to_owned(),
            call: doc.name.clone(),
            what,
        };
        let parse = |text: &str| {
            Path::parse(text).map_err(|source| CatalogError::Path {
                file: file.to_owned(),
                call: doc.name.clone(),
                path: text.to_owned(),
                source,
            })
        };
        // A path into the record must start where the record has something to read.
        let parse_in_record = |text: &str| {
            let path = parse(text)?;
            if path.section().is_none() {
                return Err(call_error(format!(
                    "path `{text}` starts at `{}`, which is not a part of a record tfdrift reads",
                    path.root()
                )));
            }
            Ok(path)
        };
        if doc.targets.is_empty() {
            return Err(call_error("no targets".into()));
        }
        // An IAM policy call edits the policy of a resource that exists: a modification.
        if doc.iam_policy && doc.change != Change::Modify {
            return Err(call_error(
                "iam_policy = true needs change = \"modify\"".into(),
            ));
        }
        let mut targets = Vec::with_capacity(doc.targets.len());
        for target in &doc.targets {
            if target.id.is_empty() {
                return Err(call_error(format!(
                    "target {} has no id path",
                    target.resource_type
                )));
            }
            let ids = target
                .id
                .iter()
                .map(|p| parse_in_record(p))
                .collect::<Result<Vec<_>, _>>()?;
            // A join attribute must be indexed, so it becomes one of the type's keys.
            let default_keys = || vec!["id".to_owned(), "arn".to_owned()];
            if let Some(join) = &target.join {
                let entry = keys
                    .entry(target.resource_type.clone())
                    .or_insert_with(default_keys);
                for attr in join {
                    if !entry.contains(attr) {
                        entry.push(attr.clone());
                    }
                }
            }
            let parts = target
                .parts
                .iter()
                .map(|(path, attr)| Ok((parse_in_record(path)?, attr.as_str().into())))
                .collect::<Result<Vec<_>, CatalogError>>()?;
            let import_id = match &target.import_id {
                None => None,
                Some(template) => {
                    let parsed =
                        ImportId::parse(template).map_err(|source| CatalogError::Path {
                            file: file.to_owned(),
                            call: doc.name.clone(),
                            path: template.clone(),
                            source,
                        })?;
                    for path in parsed.paths() {
                        parse_in_record(&path.to_string())?;
                    }
                    Some(parsed)
                }
            };
            targets.push(Target {
                resource_type: target.resource_type.as_str().into(),
                ids: ids.into(),
                join: target
                    .join
                    .as_ref()
                    .map(|j| j.iter().map(|a| a.as_str().into()).collect()),
                parts: parts.into(),
                import_id,
                import_form: None,
            });
        }
        let attrs = doc
            .attrs
            .iter()
            .map(|(from, mapping)| {
                let (attr, kind, op) = match mapping {
                    AttrDoc::Attr(attr) => (attr, None, None),
                    AttrDoc::Detailed(d) => (&d.attr, d.kind, d.op),
                };
                let (from, attr_path) = (parse_in_record(from)?, parse(attr)?);
                // A mapping compares values whole: an identity pattern has nothing to cut there.
                if from.pattern().is_some() || attr_path.pattern().is_some() {
                    return Err(call_error(format!(
                        "attrs `{from}` = `{attr}`: an identity pattern (`|...`) belongs to identifier paths only"
                    )));
                }
                Ok(AttrMapping {
                    from,
                    attr: attr_path,
                    attr_name: attr.as_str().into(),
                    kind: kind.unwrap_or_else(|| default_kind(attr)),
                    op: op.unwrap_or_else(|| default_op(doc.change)),
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let sets = doc
            .sets
            .iter()
            .map(|(attr, value)| {
                if parse(attr)?.pattern().is_some() {
                    return Err(call_error(format!(
                        "sets `{attr}`: an identity pattern (`|...`) belongs to identifier paths only"
                    )));
                }
                Ok(ImpliedValue {
                    attr: attr.as_str().into(),
                    value: value.clone(),
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let (auto_attrs, body) = match &doc.auto_attrs {
            None => (service.auto_attrs, None),
            Some(AutoDoc::On(on)) => (*on, None),
            Some(AutoDoc::Body(text)) => {
                let body = parse_in_record(text)?;
                if body.section() != Some(Section::Request) || body.pattern().is_some() {
                    return Err(call_error(format!(
                        "auto_attrs `{text}`: the body is a member of the request, without a pattern"
                    )));
                }
                (true, Some(body))
            }
        };
        // Members are named relative to the body: `request.sink.destination` is the body's `destination`.
        let body_steps: &[Box<str>] = body.as_ref().map_or(&[], |b| b.rest());
        let mut explicit_params: Vec<Box<str>> = Vec::new();
        let request_params = targets
            .iter()
            .flat_map(|t| t.ids.iter())
            .chain(attrs.iter().map(|a| &a.from))
            .filter(|p| p.section() == Some(Section::Request))
            .filter_map(|p| p.rest().strip_prefix(body_steps)?.first());
        let ignored = doc
            .ignore
            .iter()
            .map(|name| Box::<str>::from(name.as_str()));
        for param in request_params.cloned().chain(ignored) {
            if !explicit_params.contains(&param) {
                explicit_params.push(param);
            }
        }
        let whole_request_mapped = attrs
            .iter()
            .any(|a| a.from.section() == Some(Section::Request) && a.from.rest() == body_steps);
        Ok(Call {
            service: service.name.as_str().into(),
            event_source: service.event_source.as_str().into(),
            name: doc.name.as_str().into(),
            method: doc.method.as_deref().map(Into::into),
            change: doc.change,
            severity: doc.severity.unwrap_or(service.severity),
            targets: targets.into(),
            attrs: attrs.into(),
            sets: sets.into(),
            auto_attrs: auto_attrs && matches!(doc.change, Change::Create | Change::Modify),
            body,
            explicit_params: explicit_params.into(),
            whole_request_mapped,
            iam_policy: doc.iam_policy,
        })
    }

    /// The first call for a CloudTrail `eventSource` and `eventName` (the name as it is, else without its
    /// version suffix).
    pub fn lookup(&self, event_source: &str, event_name: &str) -> Option<&Call> {
        self.candidates(event_source, event_name).next()
    }

    /// Every call for a CloudTrail `eventSource` and `eventName`: one, or, for services that share an event
    /// source, each service's, in file order.
    pub fn candidates<'c>(
        &'c self,
        event_source: &str,
        event_name: &str,
    ) -> impl Iterator<Item = &'c Call> + use<'c> {
        let found = self.by_source.get(event_source).and_then(|calls| {
            calls
                .get(event_name)
                .or_else(|| calls.get(strip_version_suffix(event_name)))
        });
        found
            .into_iter()
            .flatten()
            .filter_map(|&i| self.calls.get(i))
    }

    /// Whether a request parameter is one that never sets an attribute (`applyImmediately`).
    /// Whether a request member never sets an attribute. Matched regardless of case: CloudTrail writes S3's
    /// `Host` header as `Host` or `host`.
    pub fn ignores_param(&self, param: &str) -> bool {
        self.ignored_params
            .iter()
            .any(|p| p.eq_ignore_ascii_case(param))
    }

    /// The resource types an id with a known prefix (`sg-0123`) may name.
    pub fn types_for_id(&self, id: &str) -> &[Box<str>] {
        self.id_prefixes
            .iter()
            .find(|(prefix, _)| id.starts_with(&**prefix))
            .map_or(&[], |(_, types)| &**types)
    }

    /// Every call, in the order they were loaded.
    pub fn calls(&self) -> &[Call] {
        &self.calls
    }

    /// Every resource type some call targets, sorted.
    pub fn resource_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = self
            .calls
            .iter()
            .flat_map(|c| c.targets.iter().map(|t| &*t.resource_type))
            .collect();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// Every event source the catalog covers, sorted.
    pub fn event_sources(&self) -> Vec<&str> {
        let mut sources: Vec<&str> = self.by_source.keys().map(|s| &**s).collect();
        sources.retain(|s| !s.is_empty());
        sources.sort_unstable();
        sources
    }
}

impl KeySpec for Catalog {
    fn keys(&self, resource_type: &str) -> &[Box<str>] {
        self.keys.get(resource_type).unwrap_or(&self.default_keys)
    }
}

/// The Terraform attribute name for a request parameter: `memorySize` → `memory_size`,
/// `dBInstanceClass` → `db_instance_class`, `KMSKeyId` → `kms_key_id`. The first letter counts as uppercase;
/// then a word starts at an uppercase letter
/// that follows a lowercase letter or a digit, and at an uppercase letter followed by a lowercase one when an
/// uppercase letter precedes it; everything is lowercased and words are joined with `_`. The catalog check
/// (`scripts/check_catalog.py`) applies the same rule.
pub fn snake_case(name: &str) -> String {
    // CloudTrail lowercases the first letter of the API's member name (`DBInstanceClass` → `dBInstanceClass`):
    // read it as the capital it was, so the acronym stays one word.
    let mut chars: Vec<char> = name.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Strips the API version CloudTrail appends to some event names: `UpdateFunctionCode20150331v2` →
/// `UpdateFunctionCode`, `CreateDistribution2020_05_31` → `CreateDistribution`. A suffix is at least six
/// digits and underscores, optionally followed by `v<N>`, so names such as `ListObjectsV2` stay as they are.
pub fn strip_version_suffix(name: &str) -> &str {
    let bytes = name.as_bytes();
    let mut end = bytes.len();
    // optional `v<digits>`
    let mut i = end;
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i < end && i > 0 && bytes[i - 1] == b'v' {
        end = i - 1;
    }
    let mut start = end;
    while start > 0 && (bytes[start - 1].is_ascii_digit() || bytes[start - 1] == b'_') {
        start -= 1;
    }
    let suffix = &bytes[start..end];
    let digits = suffix.iter().filter(|b| b.is_ascii_digit()).count();
    if start > 0 && digits >= 6 && bytes[start - 1].is_ascii_alphabetic() {
        &name[..start]
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_version_suffixes() {
        assert_eq!(
            strip_version_suffix("UpdateFunctionConfiguration20150331v2"),
            "UpdateFunctionConfiguration"
        );
        assert_eq!(
            strip_version_suffix("AddPermission20150331"),
            "AddPermission"
        );
        assert_eq!(
            strip_version_suffix("CreateDistribution2020_05_31"),
            "CreateDistribution"
        );
        assert_eq!(strip_version_suffix("ListObjectsV2"), "ListObjectsV2");
        assert_eq!(strip_version_suffix("Ec2v2"), "Ec2v2");
        assert_eq!(strip_version_suffix("20150331"), "20150331");
        assert_eq!(strip_version_suffix(""), "");
        assert_eq!(strip_version_suffix("v2"), "v2");
    }

    #[test]
    fn snake_case_follows_terraform_names() {
        for (from, to) in [
            ("memorySize", "memory_size"),
            ("dBInstanceClass", "db_instance_class"),
            ("KMSKeyId", "kms_key_id"),
            ("SSESpecification", "sse_specification"),
            ("timeout", "timeout"),
            ("ipv6CidrBlock", "ipv6_cidr_block"),
            ("enableDnsHostnames", "enable_dns_hostnames"),
            ("", ""),
        ] {
            assert_eq!(snake_case(from), to, "{from}");
        }
    }

    #[test]
    fn attribute_tables_and_implied_values() {
        let text = r#"
[service]
name = "ec2"
event_source = "ec2.amazonaws.com"
severity = "critical"
[[call]]
name = "RevokeSecurityGroupIngress"
change = "modify"
targets = [{ type = "aws_security_group", id = ["requestParameters.groupId"] }]
[call.attrs]
"requestParameters" = { attr = "ingress", as = "security_group_rules", op = "remove" }
[[call]]
name = "CreateTags"
change = "tag"
targets = [{ type = "aws_instance", id = ["requestParameters.resourcesSet.items.resourceId"] }]
[call.attrs]
"requestParameters.tagSet.items" = "tags"
[call.sets]
"monitoring" = true
"#;
        let catalog = Catalog::from_files(&[("ec2.toml".to_string(), String::from(text))]).unwrap();
        let revoke = catalog
            .lookup("ec2.amazonaws.com", "RevokeSecurityGroupIngress")
            .unwrap();
        assert_eq!(
            (revoke.attrs[0].kind, revoke.attrs[0].op),
            (Kind::SecurityGroupRules, Op::Remove)
        );
        assert_eq!(revoke.attrs[0].from.rest().len(), 0, "the whole request");
        let tags = catalog.lookup("ec2.amazonaws.com", "CreateTags").unwrap();
        assert_eq!(
            (tags.attrs[0].kind, tags.attrs[0].op),
            (Kind::Tags, Op::Add)
        );
        assert_eq!(
            (&*tags.sets[0].attr, &tags.sets[0].value),
            ("monitoring", &serde_json::json!(true))
        );
        let bad = text.replace("op = \"remove\"", "op = \"explode\"");
        assert!(Catalog::from_files(&[("ec2.toml".to_string(), bad)]).is_err());
    }

    #[test]
    fn services_sharing_an_event_source_are_candidates() {
        let rest = r#"
[service]
name = "apigateway"
event_source = "apigateway.amazonaws.com"
severity = "medium"
[[call]]
name = "CreateStage"
change = "create"
targets = [{ type = "aws_api_gateway_stage", id = ["requestParameters.restApiId"] }]
"#;
        let v2 = rest
            .replace("name = \"apigateway\"", "name = \"apigatewayv2\"")
            .replace("aws_api_gateway_stage", "aws_apigatewayv2_stage")
            .replace("restApiId", "apiId");
        let catalog = Catalog::from_files(&[
            ("apigateway.toml".to_string(), String::from(rest)),
            ("apigatewayv2.toml".to_string(), v2),
        ])
        .unwrap();
        let services: Vec<&str> = catalog
            .candidates("apigateway.amazonaws.com", "CreateStage")
            .map(|c| &*c.service)
            .collect();
        assert_eq!(services, ["apigateway", "apigatewayv2"]);
        assert_eq!(
            &*catalog
                .lookup("apigateway.amazonaws.com", "CreateStage")
                .unwrap()
                .service,
            "apigateway"
        );
    }

    #[test]
    fn id_prefixes_and_auto_attrs() {
        let fallback = "[auto_attrs]\nignore = [\"applyImmediately\"]\n[id_prefixes]\n\"sg-\" = [\"aws_security_group\"]\n\"s\" = [\"aws_s\"]\n\"subnet-\" = [\"aws_subnet\"]\n";
        let catalog = Catalog::from_files(&[
            ("ec2.toml".to_string(), String::from(FILE)),
            ("common.toml".to_string(), String::from(fallback)),
        ])
        .unwrap();
        assert_eq!(catalog.types_for_id("sg-0123").len(), 1);
        assert_eq!(&*catalog.types_for_id("subnet-1")[0], "aws_subnet");
        assert!(catalog.types_for_id("i-0123").is_empty());
        assert!(catalog.ignores_param("applyImmediately") && !catalog.ignores_param("timeout"));
        let call = catalog
            .lookup("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress")
            .unwrap();
        assert!(
            call.auto_attrs,
            "modify calls map parameters automatically by default"
        );
        let explicit: Vec<&str> = call.explicit_params.iter().map(|p| &**p).collect();
        assert_eq!(explicit, ["groupId", "ipPermissions"]);
        assert!(
            !catalog
                .lookup("ec2.amazonaws.com", "DeleteVpc")
                .unwrap()
                .auto_attrs,
            "not for deletes"
        );
        let calls_without_service = "[[call]]\nname = \"X\"\nchange = \"modify\"\ntargets = []\n";
        assert!(
            Catalog::from_files(&[("x.toml".to_string(), String::from(calls_without_service))])
                .is_err()
        );
    }

    const FILE: &str = r#"
[service]
name = "ec2"
event_source = "ec2.amazonaws.com"
severity = "medium"

[keys]
aws_security_group = ["id", "arn", "name"]

[[call]]
name = "AuthorizeSecurityGroupIngress"
change = "modify"
severity = "critical"
targets = [
  { type = "aws_security_group", id = ["requestParameters.groupId"] },
  { type = "aws_vpc_security_group_ingress_rule", id = ["requestParameters.groupId"], join = ["security_group_id"] },
]
[call.attrs]
"requestParameters.ipPermissions" = "ingress"

[[call]]
name = "DeleteVpc"
change = "delete"
targets = [{ type = "aws_vpc", id = ["requestParameters.vpcId"] }]
"#;

    fn catalog() -> Catalog {
        Catalog::from_files(&[("ec2.toml".to_string(), String::from(FILE))]).unwrap()
    }

    #[test]
    fn loads_and_looks_up() {
        let catalog = catalog();
        let call = catalog
            .lookup("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress")
            .unwrap();
        assert_eq!(call.change, Change::Modify);
        assert_eq!(call.severity, Severity::Critical);
        assert_eq!(call.targets.len(), 2);
        assert_eq!(&*call.attrs[0].attr_name, "ingress");
        let delete = catalog.lookup("ec2.amazonaws.com", "DeleteVpc").unwrap();
        assert_eq!(delete.severity, Severity::Medium, "service default");
        assert!(catalog.lookup("kms.amazonaws.com", "DeleteVpc").is_none());
        assert!(
            catalog
                .lookup("ec2.amazonaws.com", "DescribeVpcs")
                .is_none()
        );
    }

    #[test]
    fn keys_include_join_attributes_and_default() {
        let catalog = catalog();
        let keys: Vec<&str> = catalog
            .keys("aws_vpc_security_group_ingress_rule")
            .iter()
            .map(|k| &**k)
            .collect();
        assert_eq!(keys, ["id", "arn", "security_group_id"]);
        let sg: Vec<&str> = catalog
            .keys("aws_security_group")
            .iter()
            .map(|k| &**k)
            .collect();
        assert_eq!(sg, ["id", "arn", "name"]);
        let other: Vec<&str> = catalog.keys("aws_anything").iter().map(|k| &**k).collect();
        assert_eq!(other, ["id", "arn"]);
    }

    #[test]
    fn later_files_replace_calls() {
        let extension = r#"
[service]
name = "ec2"
event_source = "ec2.amazonaws.com"
severity = "low"
[[call]]
name = "DeleteVpc"
change = "delete"
targets = [{ type = "aws_vpc", id = ["requestParameters.VpcId"] }]
"#;
        let catalog = Catalog::from_files(&[
            ("ec2.toml".to_string(), String::from(FILE)),
            ("mine.toml".to_string(), String::from(extension)),
        ])
        .unwrap();
        let call = catalog.lookup("ec2.amazonaws.com", "DeleteVpc").unwrap();
        assert_eq!(call.severity, Severity::Low);
        assert_eq!(catalog.calls().len(), 2);
    }

    #[test]
    fn refuses_bad_files_with_context() {
        let unknown_key = FILE.replace("change = \"delete\"", "change = \"delete\"\ncolour = 1");
        let err = Catalog::from_files(&[("x.toml".to_string(), unknown_key)]).unwrap_err();
        assert!(
            err.to_string().contains("x.toml") && err.to_string().contains("colour"),
            "{err}"
        );

        let bad_change = FILE.replace("change = \"delete\"", "change = \"explode\"");
        let err = Catalog::from_files(&[("x.toml".to_string(), bad_change)]).unwrap_err();
        assert!(err.to_string().contains("explode"), "{err}");

        let bad_path = FILE.replace("requestParameters.vpcId", "requestParameters..vpcId");
        let err = Catalog::from_files(&[("x.toml".to_string(), bad_path)]).unwrap_err();
        assert!(err.to_string().contains("DeleteVpc"), "{err}");

        let bad_root = FILE.replace("requestParameters.vpcId", "requestParams.vpcId");
        let err = Catalog::from_files(&[("x.toml".to_string(), bad_root)]).unwrap_err();
        assert!(err.to_string().contains("requestParams"), "{err}");

        let no_targets = FILE.replace(
            "targets = [{ type = \"aws_vpc\", id = [\"requestParameters.vpcId\"] }]",
            "targets = []",
        );
        let err = Catalog::from_files(&[("x.toml".to_string(), no_targets)]).unwrap_err();
        assert!(err.to_string().contains("no targets"), "{err}");
    }

    const GCP_STORAGE: &str = r#"
[service]
name = "storage"
event_source = "storage.googleapis.com"
severity = "medium"
auto_attrs = false

[keys]
google_storage_bucket = ["id", "name", "self_link"]

[[call]]
name = "storage.buckets.create"
method = "storage.buckets.insert"
change = "create"
[[call.targets]]
type = "google_storage_bucket"
id = ["resourceName|projects/_/buckets/{}"]
import_id = "{resourceName|projects/_/buckets/{}}"

[[call]]
name = "storage.setIamPermissions"
method = "storage.buckets.setIamPolicy"
change = "modify"
severity = "critical"
[[call.targets]]
type = "google_storage_bucket_iam_policy"
id = ["resourceName|projects/_/buckets/{}"]
join = ["bucket"]
[[call.targets]]
type = "google_storage_bucket"
id = ["resourceName|projects/_/buckets/{}"]
"#;

    fn gcp_catalog(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_files(&[("gcp-storage.toml", text)])
    }

    #[test]
    fn loads_a_gcp_service_file() {
        let catalog = gcp_catalog(GCP_STORAGE).unwrap();
        let create = catalog
            .lookup("storage.googleapis.com", "storage.buckets.create")
            .unwrap();
        assert_eq!(create.method.as_deref(), Some("storage.buckets.insert"));
        assert_eq!(create.service.as_ref(), "storage");
        assert!(!create.auto_attrs);
        let id = &create.targets[0].ids[0];
        assert_eq!(id.section(), Some(Section::Name));
        let record = serde_json::json!("projects/_/buckets/tf-state");
        let mut found = Vec::new();
        id.identifiers_from(&record, |v| found.push(v.to_string()));
        assert_eq!(found, ["tf-state"]);
        // The import template's path keeps its pattern, braces and all.
        let import = create.targets[0].import_id.as_ref().unwrap();
        let rendered = import.render(|path| {
            let mut first = None;
            path.identifiers_from(&record, |v| {
                first.get_or_insert(v.to_string());
            });
            first
        });
        assert_eq!(rendered.as_deref(), Some("tf-state"));
        let policy = catalog
            .lookup("storage.googleapis.com", "storage.setIamPermissions")
            .unwrap();
        assert_eq!(policy.severity, Severity::Critical);
        assert_eq!(
            catalog.keys("google_storage_bucket_iam_policy"),
            [Box::from("id"), "arn".into(), "bucket".into()]
        );
        assert_eq!(
            catalog.keys("google_storage_bucket"),
            [Box::from("id"), "name".into(), "self_link".into()]
        );
        // The method is shown in the dump.
        let dump = dump::dump(&[("gcp-storage.toml", GCP_STORAGE)], &[]).unwrap();
        let call = &dump["files"][0]["calls"][0];
        assert_eq!(call["method"], "storage.buckets.insert");
        assert_eq!(
            call["targets"][0]["ids"][0],
            serde_json::json!({"steps": ["resourceName"], "pattern": "projects/_/buckets/{}"})
        );
    }

    const GCP_SINKS: &str = r#"
[service]
name = "logging"
event_source = "logging.googleapis.com"
severity = "high"
auto_attrs = false

[[call]]
name = "google.logging.v2.ConfigServiceV2.UpdateSink"
change = "modify"
auto_attrs = "request.sink"
[[call.targets]]
type = "google_logging_project_sink"
id = ["resourceName|projects/*/sinks/*", "request.sinkName|projects/*/sinks/*"]
[call.attrs]
"request.sink.outputVersionFormat" = "output_version_format"

[[call]]
name = "google.logging.v2.ConfigServiceV2.DeleteSink"
change = "delete"
auto_attrs = "request.sink"
[[call.targets]]
type = "google_logging_project_sink"
id = ["resourceName|projects/*/sinks/*"]
"#;

    #[test]
    fn auto_attrs_may_name_the_body() {
        let catalog = gcp_catalog_named("gcp-logging.toml", GCP_SINKS).unwrap();
        let update = catalog
            .lookup(
                "logging.googleapis.com",
                "google.logging.v2.ConfigServiceV2.UpdateSink",
            )
            .unwrap();
        assert!(update.auto_attrs, "a body turns automatic mapping on");
        let body = update.body.as_ref().unwrap();
        assert_eq!(body.section(), Some(Section::Request));
        let steps: Vec<&str> = body.rest().iter().map(|s| &**s).collect();
        assert_eq!(steps, ["sink"]);
        // Members are named relative to the body; `sinkName`, outside it, is not one of them.
        let explicit: Vec<&str> = update.explicit_params.iter().map(|p| &**p).collect();
        assert_eq!(explicit, ["outputVersionFormat"]);
        assert!(!update.whole_request_mapped);
        let delete = catalog
            .lookup(
                "logging.googleapis.com",
                "google.logging.v2.ConfigServiceV2.DeleteSink",
            )
            .unwrap();
        assert!(!delete.auto_attrs, "never for deletes");
        // The body is a member of the request, with no pattern.
        for bad in ["response.sink", "request.sink|projects/{}", "resourceName"] {
            let text = GCP_SINKS.replacen(
                "auto_attrs = \"request.sink\"",
                &format!("auto_attrs = \"{bad}\""),
                1,
            );
            let err = gcp_catalog_named("gcp-logging.toml", &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains("UpdateSink"), "{bad}: {err}");
        }
        // The dump shows it for the checker.
        let dump = dump::dump(&[("gcp-logging.toml", GCP_SINKS)], &[]).unwrap();
        assert_eq!(
            dump["files"][0]["calls"][0]["body"],
            serde_json::json!(["request", "sink"])
        );
    }

    fn gcp_catalog_named(file: &str, text: &str) -> Result<Catalog, CatalogError> {
        Catalog::from_files(&[(file, text)])
    }

    #[test]
    fn refuses_bad_patterns_with_a_message() {
        let bad = GCP_STORAGE.replace(
            r#"id = ["resourceName|projects/_/buckets/{}"]
import_id"#,
            r#"id = ["resourceName|projects/**/buckets/{}"]
import_id"#,
        );
        let err = gcp_catalog(&bad).unwrap_err().to_string();
        assert!(err.contains("`**` may only be the last segment"), "{err}");
        assert!(err.contains("storage.buckets.create"), "{err}");
        let bad_import = GCP_STORAGE.replace(
            "{resourceName|projects/_/buckets/{}}",
            "{resourceName|projects/_/buckets/{}",
        );
        let err = gcp_catalog(&bad_import).unwrap_err().to_string();
        assert!(err.contains("without"), "{err}");
        let bad_import = GCP_STORAGE.replace(
            "{resourceName|projects/_/buckets/{}}",
            "{resourceName|projects/_/b{x}}",
        );
        assert!(gcp_catalog(&bad_import).is_err());
        // Attribute mappings compare whole values: no pattern there.
        let in_attrs = format!(
            "{GCP_STORAGE}\n[call.attrs]\n\"request.policy|projects/{{}}\" = \"policy_data\"\n"
        );
        let err = gcp_catalog(&in_attrs).unwrap_err().to_string();
        assert!(err.contains("identifier paths only"), "{err}");
        // A path must start at a part of the record.
        let elsewhere = GCP_STORAGE.replace(
            r#"id = ["resourceName|projects/_/buckets/{}"]
join"#,
            r#"id = ["protoPayload.resourceName"]
join"#,
        );
        let err = gcp_catalog(&elsewhere).unwrap_err().to_string();
        assert!(err.contains("not a part of a record"), "{err}");
    }
}
