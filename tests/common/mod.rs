//! Shared by the end-to-end tests: the built `libtfdrift.so` loaded through the C ABI, a test source plugin
//! that emits `aws_cloudtrail` events as the cloudtrail plugin does, a runner around both, small Terraform
//! states, and the real CloudTrail records of `../shared/data/cloudtrail`.
//!
//! Each test file includes this module (`mod common;`) and uses a part of it.
#![allow(dead_code)]

use falco_plugin::FailureReason;
use falco_plugin::anyhow;
use falco_plugin::api::{
    plugin_api, plugin_api__bindgen_ty_1, plugin_api__bindgen_ty_2, plugin_api__bindgen_ty_3,
    plugin_api__bindgen_ty_4, plugin_api__bindgen_ty_5,
};
use falco_plugin::base::Plugin;
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::Event;
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
    "tfdrift.module",
    "tfdrift.state",
    "tfdrift.changed_attrs",
    "tfdrift.touched_attrs",
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

/// The folder of real CloudTrail records (see `../shared/data/README.md`).
pub const CLOUDTRAIL_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/cloudtrail");

/// One real record: its verbatim text, parsed value and where it comes from (`file#index`).
pub struct RealRecord {
    pub origin: String,
    pub text: String,
    pub value: Value,
}

/// Every real record: `stratus-red-team/*.json` (arrays) and `panther-analysis.jsonl` (one per line).
pub fn real_records() -> Vec<RealRecord> {
    let root = Path::new(CLOUDTRAIL_DATA);
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("stratus-red-team"))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", root.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.push(root.join("panther-analysis.jsonl"));
    let mut out = Vec::new();
    for file in files {
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
