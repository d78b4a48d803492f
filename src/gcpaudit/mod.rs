//! A borrowed view of one Google Cloud audit log entry (a `LogEntry` whose `protoPayload` is an `AuditLog`, as
//! Falco's gcpaudit plugin hands it over on the `gcp_auditlog` source): the [`Call`] the verdict reads, and who
//! made it ([`actor`]).
//!
//! Read like a CloudTrail record: once, with the [`scan`] walker, the members tfdrift needs decoded (borrowing
//! from the event bytes) and the free-form parts (`request`, `response`, `metadata`, `serviceData`) kept as
//! JSON text until something asks for them. Read as the gcpaudit plugin's parser (fastjson) reads the same
//! bytes: the first of duplicated members counts, escaped member names are decoded, and a member of the wrong
//! type reads as absent (a number where a string belongs is no string at all). A malformed nested object or
//! array hides only itself; only bytes that are not one JSON object fail the read.
//!
//! What makes a call a change (see [`Entry::log_kind`] and `read_only`): only Admin Activity entries, and Data
//! Access entries that Google marks `DATA_WRITE`, can be drift; a long-running operation is judged once, from
//! its `first` entry, which carries the caller and the request.

pub mod actor;

use crate::call::Call;
use crate::catalog::Section;
use crate::scan::{self, Scanner, Str, lenient};
use serde_json::Value;
use std::borrow::Cow;

pub use crate::call::ActorKind;
pub use crate::scan::ScanError;

/// Why bytes are not an audit log entry.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// The bytes are not UTF-8.
    #[error("a GCP audit log entry is UTF-8 text: {0}")]
    NotText(#[from] simdutf8::compat::Utf8Error),
    /// The text is not a JSON object.
    #[error("a GCP audit log entry is a JSON object: {0}")]
    NotAnObject(#[from] ScanError),
}

/// How many items of `serviceAccountDelegationInfo` are kept: real chains have one or two; a longer one is
/// cut here (and says so in [`Authentication::delegation_truncated`]), so no allocation grows with the entry.
pub const MAX_DELEGATES: usize = 16;

/// The Falco event source whose events carry GCP audit log entries (Falco's gcpaudit plugin).
pub const EVENT_SOURCE: &str = "gcp_auditlog";

/// The audit log entry, as tfdrift reads it.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    /// `logName`: `projects/<p>/logs/cloudaudit.googleapis.com%2Factivity` and the like.
    pub log_name: Str<'a>,
    /// `timestamp`, RFC 3339.
    pub timestamp: Str<'a>,
    /// `insertId`.
    pub insert_id: Str<'a>,
    /// `resource`: the monitored resource.
    pub resource: Resource<'a>,
    /// `operation`: set on the entries of a long-running operation.
    pub operation: Operation<'a>,
    /// `protoPayload`: the `AuditLog`.
    pub payload: Payload<'a>,
}

/// `resource`: the monitored resource the entry is about.
#[derive(Debug, Default)]
pub struct Resource<'a> {
    /// `type` (`gce_instance`, `gcs_bucket`, `audited_resource`, ...).
    pub resource_type: Str<'a>,
    /// `labels`, as JSON text.
    pub labels: Option<&'a str>,
    /// `labels.project_id`.
    pub project_id: Str<'a>,
    /// `labels.location`.
    pub location: Str<'a>,
    /// `labels.region`.
    pub region: Str<'a>,
    /// `labels.zone`.
    pub zone: Str<'a>,
}

/// `operation`: which long-running operation the entry belongs to, and whether it starts or ends it.
#[derive(Debug, Default)]
pub struct Operation<'a> {
    /// `id`: shared by the operation's entries.
    pub id: Str<'a>,
    /// `first`: the entry that starts the operation (it has the caller and the request).
    pub first: Option<bool>,
    /// `last`: the entry that ends it.
    pub last: Option<bool>,
}

/// `protoPayload`: the `AuditLog` message.
#[derive(Debug, Default)]
pub struct Payload<'a> {
    /// `serviceName` (`compute.googleapis.com`).
    pub service_name: Str<'a>,
    /// `methodName` (`v1.compute.instances.insert`).
    pub method_name: Str<'a>,
    /// `resourceName` (`projects/p/zones/z/instances/n`).
    pub resource_name: Str<'a>,
    /// `authenticationInfo`.
    pub authentication: Authentication<'a>,
    /// `requestMetadata`.
    pub request_metadata: RequestMetadata<'a>,
    /// `status.code`: a gRPC code, 0 for success; `None` when absent or not a number.
    pub status_code: Option<f64>,
    /// The `permissionType`s of `authorizationInfo[]`.
    pub permission_types: PermissionTypes,
    /// `request`, as JSON text.
    pub request: Option<&'a str>,
    /// `response`, as JSON text.
    pub response: Option<&'a str>,
    /// `metadata`, as JSON text.
    pub metadata: Option<&'a str>,
    /// `serviceData` (the legacy form of `metadata`), as JSON text.
    pub service_data: Option<&'a str>,
}

/// `authenticationInfo`: who called, as Google authenticated them.
#[derive(Debug, Default)]
pub struct Authentication<'a> {
    /// `principalEmail`: the caller (for an impersonated service account, that account).
    pub principal_email: Str<'a>,
    /// `principalSubject` (`user:...`, `serviceAccount:...`, `principal://...`).
    pub principal_subject: Str<'a>,
    /// `serviceAccountDelegationInfo[]`, in the order Google writes it: from the original caller on.
    pub delegation: Vec<Delegate<'a>>,
    /// The chain had more than [`MAX_DELEGATES`] items; the rest were not read.
    pub delegation_truncated: bool,
}

/// One item of `serviceAccountDelegationInfo`.
#[derive(Debug, Default)]
pub struct Delegate<'a> {
    /// `firstPartyPrincipal.principalEmail`: a Google identity (a user, a service account, a Google robot).
    pub first_party_email: Str<'a>,
    /// `principalSubject`: a third-party identity (`serviceAccount:<p>.svc.id.goog[<ns>/<ksa>]`, ...).
    pub principal_subject: Str<'a>,
}

/// `requestMetadata`: what the caller's request said about itself.
#[derive(Debug, Default)]
pub struct RequestMetadata<'a> {
    /// `callerIp` (not always an address: `private`, `gce-internal-ip`).
    pub caller_ip: Str<'a>,
    /// `callerSuppliedUserAgent`: the caller's own words, decorated by Google's front end.
    pub caller_supplied_user_agent: Str<'a>,
    /// `requestAttributes.reason`: the Cloud Console tags its calls here.
    pub reason: Str<'a>,
}

/// The `permissionType`s found in `authorizationInfo[]`, as a set.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PermissionTypes(u8);

impl PermissionTypes {
    /// `ADMIN_READ`.
    pub const ADMIN_READ: u8 = 1;
    /// `ADMIN_WRITE`.
    pub const ADMIN_WRITE: u8 = 2;
    /// `DATA_READ`.
    pub const DATA_READ: u8 = 4;
    /// `DATA_WRITE`.
    pub const DATA_WRITE: u8 = 8;

    fn add(&mut self, name: &str) {
        self.0 |= match name {
            "ADMIN_READ" => Self::ADMIN_READ,
            "ADMIN_WRITE" => Self::ADMIN_WRITE,
            "DATA_READ" => Self::DATA_READ,
            "DATA_WRITE" => Self::DATA_WRITE,
            _ => 0,
        };
    }

    /// Whether some item has this type (one of the constants).
    pub fn has(self, kind: u8) -> bool {
        self.0 & kind != 0
    }
}

/// Which audit log an entry is in, from the end of its `logName`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    /// `cloudaudit.googleapis.com%2Factivity`: calls that change configuration or metadata (always on).
    Activity,
    /// `cloudaudit.googleapis.com%2Fdata_access`: reads, and writes of user data (off by default).
    DataAccess,
    /// `cloudaudit.googleapis.com%2Fsystem_event`: Google's own actions on resources.
    SystemEvent,
    /// `cloudaudit.googleapis.com%2Fpolicy`: requests a security policy denied.
    Policy,
    /// Any other log, or no `logName`: not an audit entry tfdrift can judge.
    Other,
}

/// `match` on a member name's bytes, one arm per name, each name compared whole.
macro_rules! match_key {
    ($key:expr, { $($name:literal => $arm:expr,)+ _ => $default:expr $(,)? }) => {{
        let key: &[u8] = $key;
        $(if key == $name { $arm } else)+ { $default }
    }};
}

/// The arm of a member that counts only the first time it appears in its object, as in the gcpaudit plugin's
/// parser (fastjson's `Get` returns the first member of a name): bit `$bit` of `$seen` records that it was
/// read; a repeat is passed over.
macro_rules! first {
    ($seen:ident, $bit:literal, $scanner:expr, $read:expr) => {{
        if $seen & (1u32 << $bit) == 0 {
            $seen |= 1u32 << $bit;
            $read
        } else {
            $scanner.skip()?
        }
    }};
}

// The helpers below mirror the CloudTrail view's (a record view may not import another): the same reading of
// names, strings and nested objects.

/// A member's name with its escapes decoded (Cloud Logging writes none; `buffer` holds a decoded one).
#[inline(always)]
fn name<'k>(key: scan::Key<'k>, buffer: &'k mut String) -> &'k [u8] {
    if key.escaped {
        *buffer = scan::decode_name(std::str::from_utf8(key.raw).unwrap_or_default());
        buffer.as_bytes()
    } else {
        key.raw
    }
}

/// A string value: borrowed when it has no escapes, decoded otherwise (an escape naming no character reads
/// as U+FFFD); any other JSON reads as absent.
fn text(value: scan::Value<'_>) -> Str<'_> {
    match value.plain_string() {
        Some(plain) => Str(Some(Cow::Borrowed(plain))),
        None if value.is_string() => Str(Some(Cow::Owned(scan::decode_lossy(value.text())))),
        None => Str(None),
    }
}

/// A JSON boolean; any other value reads as absent.
fn boolean(value: scan::Value<'_>) -> Option<bool> {
    match value.text() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A JSON number; a string or anything else reads as absent.
fn number(value: scan::Value<'_>) -> Option<f64> {
    if value.is_string() {
        return None;
    }
    value.text().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A free-form section: kept as text when it is an object or an array (`null` and the like mean absent).
fn section(value: scan::Value<'_>) -> Option<&str> {
    let text = value.text();
    text.starts_with(['{', '[']).then_some(text)
}

/// Reads the object at the scanner's position with `read` when it is one (a malformed object hides only
/// itself); passes over any other value. `read` gets each member's decoded name.
fn nested<'a>(
    scanner: &mut Scanner<'a>,
    mut read: impl FnMut(&mut Scanner<'a>, &[u8]) -> Result<(), ScanError>,
) -> Result<bool, ScanError> {
    if scanner.peek() == Some(b'{') {
        let mut buffer = String::new();
        scanner.read_object(|scanner, key| read(scanner, name(key, &mut buffer)))?;
        Ok(true)
    } else {
        scanner.value()?;
        Ok(false)
    }
}

/// Reads the array at the scanner's position with `read`, once per element, when it is one; passes over any
/// other value. The array is delimited first, so a fault inside it hides only the rest of it.
fn array<'a>(
    scanner: &mut Scanner<'a>,
    read: impl FnMut(&mut Scanner<'a>) -> Result<(), ScanError>,
) -> Result<(), ScanError> {
    let value = scanner.value()?;
    if value.text().starts_with('[') {
        let _ = Scanner::new(value.text()).read_elements(read);
    }
    Ok(())
}

impl<'a> Resource<'a> {
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"type" => first!(seen, 0, scanner, self.resource_type = text(scanner.value()?)),
                b"labels" => first!(seen, 1, scanner, {
                    let labels = scanner.clone().value()?;
                    self.labels = labels.text().starts_with('{').then_some(labels.text());
                    let mut label_seen = 0u32;
                    nested(scanner, |scanner, key| {
                        match_key!(key, {
                            b"project_id" => first!(label_seen, 0, scanner, self.project_id = text(scanner.value()?)),
                            b"location" => first!(label_seen, 1, scanner, self.location = text(scanner.value()?)),
                            b"region" => first!(label_seen, 2, scanner, self.region = text(scanner.value()?)),
                            b"zone" => first!(label_seen, 3, scanner, self.zone = text(scanner.value()?)),
                            _ => scanner.skip()?,
                        });
                        Ok(())
                    })?;
                }),
                _ => scanner.skip()?,
            });
            Ok(())
        })
        .map(|_| ())
    }
}

impl<'a> Operation<'a> {
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"id" => first!(seen, 0, scanner, self.id = text(scanner.value()?)),
                b"first" => first!(seen, 1, scanner, self.first = boolean(scanner.value()?)),
                b"last" => first!(seen, 2, scanner, self.last = boolean(scanner.value()?)),
                _ => scanner.skip()?,
            });
            Ok(())
        })
        .map(|_| ())
    }
}

impl<'a> Authentication<'a> {
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"principalEmail" => first!(seen, 0, scanner, self.principal_email = text(scanner.value()?)),
                b"principalSubject" => first!(seen, 1, scanner, self.principal_subject = text(scanner.value()?)),
                b"serviceAccountDelegationInfo" => first!(seen, 2, scanner, {
                    array(scanner, |scanner| {
                        if self.delegation.len() == MAX_DELEGATES {
                            self.delegation_truncated = true;
                            return scanner.skip();
                        }
                        let mut delegate = Delegate::default();
                        if delegate.read(scanner)? {
                            self.delegation.push(delegate);
                        }
                        Ok(())
                    })?
                }),
                _ => scanner.skip()?,
            });
            Ok(())
        })
        .map(|_| ())
    }
}

impl<'a> Delegate<'a> {
    /// Reads the item; false when it is no object (and so no item).
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<bool, ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"firstPartyPrincipal" => first!(seen, 0, scanner, {
                    let mut inner = 0u32;
                    nested(scanner, |scanner, key| {
                        match_key!(key, {
                            b"principalEmail" => first!(inner, 0, scanner, self.first_party_email = text(scanner.value()?)),
                            _ => scanner.skip()?,
                        });
                        Ok(())
                    })?;
                }),
                b"principalSubject" => first!(seen, 1, scanner, self.principal_subject = text(scanner.value()?)),
                _ => scanner.skip()?,
            });
            Ok(())
        })
    }
}

impl<'a> RequestMetadata<'a> {
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"callerIp" => first!(seen, 0, scanner, self.caller_ip = text(scanner.value()?)),
                b"callerSuppliedUserAgent" => first!(seen, 1, scanner, {
                    self.caller_supplied_user_agent = text(scanner.value()?);
                }),
                b"requestAttributes" => first!(seen, 2, scanner, {
                    let mut inner = 0u32;
                    nested(scanner, |scanner, key| {
                        match_key!(key, {
                            b"reason" => first!(inner, 0, scanner, self.reason = text(scanner.value()?)),
                            _ => scanner.skip()?,
                        });
                        Ok(())
                    })?;
                }),
                _ => scanner.skip()?,
            });
            Ok(())
        })
        .map(|_| ())
    }
}

impl<'a> Payload<'a> {
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(scanner, |scanner, key| {
            match_key!(key, {
                b"serviceName" => first!(seen, 0, scanner, self.service_name = text(scanner.value()?)),
                b"methodName" => first!(seen, 1, scanner, self.method_name = text(scanner.value()?)),
                b"resourceName" => first!(seen, 2, scanner, self.resource_name = text(scanner.value()?)),
                b"authenticationInfo" => first!(seen, 3, scanner, self.authentication.read(scanner)?),
                b"requestMetadata" => first!(seen, 4, scanner, self.request_metadata.read(scanner)?),
                b"status" => first!(seen, 5, scanner, {
                    let mut inner = 0u32;
                    nested(scanner, |scanner, key| {
                        match_key!(key, {
                            b"code" => first!(inner, 0, scanner, self.status_code = number(scanner.value()?)),
                            _ => scanner.skip()?,
                        });
                        Ok(())
                    })?;
                }),
                b"authorizationInfo" => first!(seen, 6, scanner, {
                    array(scanner, |scanner| {
                        let mut inner = 0u32;
                        nested(scanner, |scanner, key| {
                            match_key!(key, {
                                b"permissionType" => first!(inner, 0, scanner, {
                                    if let Some(kind) = text(scanner.value()?).get() {
                                        self.permission_types.add(kind);
                                    }
                                }),
                                _ => scanner.skip()?,
                            });
                            Ok(())
                        })
                        .map(|_| ())
                    })?
                }),
                b"request" => first!(seen, 7, scanner, self.request = section(scanner.value()?)),
                b"response" => first!(seen, 8, scanner, self.response = section(scanner.value()?)),
                b"metadata" => first!(seen, 9, scanner, self.metadata = section(scanner.value()?)),
                b"serviceData" => first!(seen, 10, scanner, self.service_data = section(scanner.value()?)),
                _ => scanner.skip()?,
            });
            Ok(())
        })
        .map(|_| ())
    }
}

impl<'a> Entry<'a> {
    /// Reads one entry: the JSON text of a `LogEntry` (NUL bytes after it are ignored).
    pub fn parse(bytes: &'a [u8]) -> Result<Entry<'a>, EntryError> {
        let mut entry = Entry::default();
        entry.read(bytes)?;
        Ok(entry)
    }

    /// [`Entry::parse`] into an entry the caller holds (a default one: what the bytes do not set stays).
    pub fn read(&mut self, bytes: &'a [u8]) -> Result<(), EntryError> {
        let end = bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        let json = simdutf8::compat::from_utf8(&bytes[..end])?;
        let entry = self;
        let mut scanner = Scanner::new(json);
        let mut seen = 0u32;
        let mut buffer = String::new();
        let mut key = scanner.first_key()?;
        while let Some(found) = key {
            match_key!(name(found, &mut buffer), {
                b"logName" => first!(seen, 0, scanner, entry.log_name = text(scanner.value()?)),
                b"timestamp" => first!(seen, 1, scanner, entry.timestamp = text(scanner.value()?)),
                b"insertId" => first!(seen, 2, scanner, entry.insert_id = text(scanner.value()?)),
                b"resource" => first!(seen, 3, scanner, entry.resource.read(&mut scanner)?),
                b"operation" => first!(seen, 4, scanner, entry.operation.read(&mut scanner)?),
                b"protoPayload" => first!(seen, 5, scanner, entry.payload.read(&mut scanner)?),
                _ => scanner.skip()?,
            });
            key = scanner.next_key()?;
        }
        scanner.finish()?;
        Ok(())
    }

    /// Which audit log the entry is in. Google writes `logName` with the log's id URL-encoded
    /// (`.../logs/cloudaudit.googleapis.com%2Factivity`); anything else (a typo, a log that is not an audit log)
    /// is [`LogKind::Other`].
    pub fn log_kind(&self) -> LogKind {
        let Some(name) = self.log_name.get() else {
            return LogKind::Other;
        };
        let Some((_, id)) = name.rsplit_once("/logs/") else {
            return LogKind::Other;
        };
        let Some(kind) = id
            .strip_prefix("cloudaudit.googleapis.com%2F")
            .or_else(|| id.strip_prefix("cloudaudit.googleapis.com%2f"))
        else {
            return LogKind::Other;
        };
        match kind {
            "activity" => LogKind::Activity,
            "data_access" => LogKind::DataAccess,
            "system_event" => LogKind::SystemEvent,
            "policy" => LogKind::Policy,
            _ => LogKind::Other,
        }
    }

    /// The end of a long-running operation that did not also start it: it repeats (without the caller) a
    /// change its `first` entry reported.
    pub fn is_operation_end(&self) -> bool {
        self.operation.last == Some(true) && self.operation.first != Some(true)
    }

    /// `protoPayload.serviceName`, or `""`.
    pub fn service_name(&self) -> &str {
        self.payload.service_name.get().unwrap_or("")
    }

    /// `protoPayload.methodName`, or `""`.
    pub fn method_name(&self) -> &str {
        self.payload.method_name.get().unwrap_or("")
    }

    /// `protoPayload.requestMetadata.callerSuppliedUserAgent`, or `""`.
    pub fn user_agent(&self) -> &str {
        self.payload
            .request_metadata
            .caller_supplied_user_agent
            .get()
            .unwrap_or("")
    }
}

/// The project in a resource or log name: `projects/<p>/...` or a bare `projects/<p>`; `_` (Cloud Storage's
/// "any project") names none.
fn project_in(name: &str) -> Option<&str> {
    let rest = name.strip_prefix("projects/")?;
    let project = rest.split('/').next().unwrap_or(rest);
    (!project.is_empty() && project != "_").then_some(project)
}

/// The region of a zone (`us-central1-a` → `us-central1`: a region's name ends in a digit, a zone adds `-` and
/// one letter); any other location as it is.
fn region_of(location: &str) -> &str {
    match location.rsplit_once('-') {
        Some((region, zone))
            if zone.len() == 1
                && zone.bytes().all(|b| b.is_ascii_lowercase())
                && region.ends_with(|c: char| c.is_ascii_digit()) =>
        {
            region
        }
        _ => location,
    }
}

impl Call for Entry<'_> {
    fn service(&self) -> &str {
        self.service_name()
    }

    /// `methodName`, with Compute's API version (`v1.`, `beta.`, `alpha.`) taken off its Compute names
    /// (`v1.compute.instances.insert` is the catalog's `compute.instances.insert`); other names as written.
    fn operation(&self) -> &str {
        let method = self.method_name();
        ["v1.", "beta.", "alpha."]
            .iter()
            .find_map(|version| {
                method
                    .strip_prefix(version)
                    .filter(|rest| rest.starts_with("compute."))
            })
            .unwrap_or(method)
    }

    /// Whether the entry can be no change. Google sorts calls into logs by what they do, so the log decides:
    /// - Admin Activity (configuration and metadata writes): a change, except the `last` entry of a
    ///   long-running operation that is not also its `first` (the change is judged once, from `first`).
    /// - Data Access: a change only when `authorizationInfo[].permissionType` says `DATA_WRITE` (a write of
    ///   user data, such as an object Terraform may manage); its reads (`ADMIN_READ`, `DATA_READ`) and entries
    ///   without a permission type (older ones, all reads in practice) are not.
    /// - System Event: a change (Google's own, which the caller's policy may count as drift or not; its actor is
    ///   [`ActorKind::GcpService`]), with the same rule for operations.
    /// - Policy Denied: never a change (the request was refused); nor any other log.
    fn read_only(&self) -> bool {
        match self.log_kind() {
            LogKind::Activity | LogKind::SystemEvent => self.is_operation_end(),
            LogKind::DataAccess => {
                !self
                    .payload
                    .permission_types
                    .has(PermissionTypes::DATA_WRITE)
                    || self.is_operation_end()
            }
            LogKind::Policy | LogKind::Other => true,
        }
    }

    /// `protoPayload.status.code` is a number other than 0. A code that cannot be read is no failure: the
    /// call is then judged, not dropped.
    fn failed(&self) -> bool {
        self.payload.status_code.is_some_and(|code| code != 0.0)
    }

    fn time(&self) -> Option<&str> {
        self.timestamp.get()
    }

    /// The project: `resource.labels.project_id`, else the `projects/<p>` that `resourceName`, then
    /// `logName`, starts with.
    fn account_id(&self) -> Option<&str> {
        self.resource
            .project_id
            .get()
            .filter(|p| !p.is_empty())
            .or_else(|| self.payload.resource_name.get().and_then(project_in))
            .or_else(|| self.log_name.get().and_then(project_in))
    }

    /// The region, from the monitored resource's labels in the gcpaudit plugin's order (its `gcp.location`):
    /// `location` (a region, `global`, or a zone for zonal GKE clusters), else `region`, else `zone`; a zone
    /// (`us-central1-a`) reads as its region (`us-central1`), so a zonal resource is in the region a state's
    /// scope names.
    fn region(&self) -> Option<&str> {
        let resource = &self.resource;
        [&resource.location, &resource.region, &resource.zone]
            .into_iter()
            .find_map(|label| label.get().filter(|l| !l.is_empty()))
            .map(region_of)
    }

    /// `request`, `response`, `metadata` (else the legacy `serviceData`) as values read as the plugin reads
    /// them (see [`lenient::value`]); the resource's name as a string; the location and the project.
    fn section_value(&self, section: Section) -> Option<Value> {
        let payload = &self.payload;
        let raw = match section {
            Section::Request => payload.request,
            Section::Response => payload.response,
            Section::Details => payload.metadata.or(payload.service_data),
            Section::Name => {
                return payload
                    .resource_name
                    .get()
                    .map(|n| Value::String(n.to_owned()));
            }
            // An audit entry has no list of resources: the name is the resource.
            Section::Resources => return None,
            Section::Region => return self.region().map(|r| Value::String(r.to_owned())),
            Section::Account => return self.account_id().map(|p| Value::String(p.to_owned())),
        };
        raw.and_then(lenient::value)
    }

    /// Every identity Google authenticated for the call: `principalEmail`, `principalSubject`, and each
    /// principal of the delegation chain; a subject `user:<email>` or `serviceAccount:<email>` also as the
    /// bare email, so a configured service-account email matches however it is written.
    fn principals(&self) -> impl Iterator<Item = &str> {
        let auth = &self.payload.authentication;
        let own = [auth.principal_email.get(), auth.principal_subject.get()];
        let chain = auth
            .delegation
            .iter()
            .flat_map(|d| [d.first_party_email.get(), d.principal_subject.get()]);
        own.into_iter()
            .chain(chain)
            .flatten()
            .flat_map(|id| [Some(id), actor::subject_email(id)])
            .flatten()
    }

    fn terraform_client(&self) -> bool {
        actor::is_terraform_user_agent(self.user_agent())
    }

    fn actor_kind(&self) -> ActorKind {
        actor::actor_kind(self)
    }

    fn actor(&self) -> Option<Cow<'_, str>> {
        actor::actor(self)
    }
}

#[cfg(test)]
mod tests;
