//! `tfdrift-replay`: runs AWS CloudTrail log files and Google Cloud Audit Logs entries through tfdrift against
//! Terraform states and prints what Falco rules would see: one line per drift or unmanaged finding (or every
//! field as JSON with `--json`). The main job on a laptop, with no Falco needed; it uses the same catalog,
//! index and verdict as the plugin.
//!
//! Which cloud a record is from is told per record, by what only that cloud writes (see [`View::recognised`]),
//! so a folder, or even a file, may hold both; each record is still read once: the view that read the
//! previous record reads it first, and the other one only when the first finds nothing of its cloud.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tfdrift::cloudtrail::Record;
use tfdrift::config::Config;
use tfdrift::drift::{Engine, Verdict};
use tfdrift::fields::{self, Field};
use tfdrift::gcpaudit::{Entry, LogKind};
use tfdrift::sources::load_once;
use tfdrift::state::Snapshot;

/// Replay CloudTrail records and GCP audit log entries through tfdrift and print the findings.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// A Terraform state file, as NAME=PATH or PATH (named after the file). Repeatable.
    #[arg(long = "state", short = 's', required_unless_present = "config")]
    states: Vec<String>,
    /// The plugin's configuration (the JSON of `init_config`): its states, Terraform principals, ignored
    /// principals, severity overrides and maintenance windows. `--state` adds states to it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Log files, or folders of them (.json, .jsonl, .json.gz, .jsonl.gz): CloudTrail's ({"Records":[...]}, a
    /// JSON array of records, or one record per line) and Cloud Audit Logs entries (one LogEntry per line, as
    /// a Cloud Logging export writes them, or a JSON array, as `gcloud logging read --format=json` prints them).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// ARN, or Google principal (service account email), of an identity that runs Terraform (`*` and `?`
    /// wildcards). Repeatable.
    #[arg(long = "terraform-principal")]
    terraform_principals: Vec<String>,
    /// Do not take Terraform's user agent alone as proof that Terraform made a call.
    #[arg(long)]
    no_trust_user_agent: bool,
    /// Extra catalog files. Repeatable.
    #[arg(long = "catalog")]
    catalog_files: Vec<PathBuf>,
    /// Print every record's fields as one JSON object per line.
    #[arg(long)]
    json: bool,
    /// With --json, print records with no finding too.
    #[arg(long)]
    all: bool,
    /// Print the embedded catalog as the library parsed it (JSON, for scripts/check_catalog.py) and exit. With
    /// a file of names, one a line, also how the library resolves each: the attribute a request member of
    /// that name sets, and the event name without a version suffix.
    #[arg(long, exclusive = true, value_name = "NAMES_FILE", num_args = 0..=1)]
    dump_catalog: Option<Option<PathBuf>>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(names) = &args.dump_catalog {
        let names = match names {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?,
            None => String::new(),
        };
        let names: Vec<&str> = names.lines().filter(|n| !n.is_empty()).collect();
        let dump = tfdrift::catalog::dump::dump_embedded(&names)?;
        serde_json::to_writer(std::io::stdout().lock(), &dump)?;
        return Ok(());
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let config = configuration(&args)?;
    for warning in config.warnings() {
        tracing::warn!("{warning}");
    }
    let catalog = config.catalog()?;
    let (snapshot, failures) = load_once(config.sources(), Arc::clone(&catalog), config.limits());
    if !failures.is_empty() {
        bail!("cannot load every state: {}", failures.join("; "));
    }
    let engine = config.engine(catalog)?;

    let mut files = Vec::new();
    for input in &args.inputs {
        collect_files(input, &mut files)?;
    }
    let stdout = std::io::stdout();
    let mut replay = Replay {
        engine: &engine,
        snapshot: &snapshot,
        args: &args,
        out: std::io::BufWriter::new(stdout.lock()),
        counts: Counts::default(),
        hint: Cloud::Aws,
    };
    for file in &files {
        for_each_record(file, |text, at| replay.record(text, file, at))?;
    }
    replay.out.flush()?;
    let counts = &replay.counts;
    let neither = if counts.unrecognised > 0 {
        format!(", {} neither", counts.unrecognised)
    } else {
        String::new()
    };
    let no_audit_log = if counts.gcp_not_audit > 0 {
        format!(
            "; {} GCP entries name no Cloud Audit Log (logName) and are never judged",
            counts.gcp_not_audit
        )
    } else {
        String::new()
    };
    eprintln!(
        "{} records ({} CloudTrail, {} GCP audit log{neither}) from {} files: {} mutating calls covered by the catalog, {} on managed resources, {} drift, {} unmanaged, {} by Terraform{no_audit_log}",
        counts.records,
        counts.aws,
        counts.gcp,
        files.len(),
        counts.covered,
        counts.managed,
        counts.drift,
        counts.unmanaged,
        counts.by_terraform
    );
    Ok(())
}

/// Which cloud's log a record is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cloud {
    /// AWS CloudTrail (Falco's `aws_cloudtrail` source).
    Aws,
    /// Google Cloud Audit Logs (Falco's `gcp_auditlog` source).
    Gcp,
}

impl Cloud {
    fn other(self) -> Cloud {
        match self {
            Cloud::Aws => Cloud::Gcp,
            Cloud::Gcp => Cloud::Aws,
        }
    }

    /// The cloud as the findings' lines name it.
    fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
        }
    }
}

/// One record, read by its cloud's view: the one parse of the record, which the verdict and the output share.
enum View<'a> {
    Aws(Record<'a>),
    Gcp(Entry<'a>),
}

impl<'a> View<'a> {
    /// Reads the record with the view of `cloud`. Either view reads any JSON object; only bytes that are no
    /// JSON object fail.
    fn read(cloud: Cloud, text: &'a str) -> anyhow::Result<View<'a>> {
        Ok(match cloud {
            Cloud::Aws => View::Aws(Record::parse(text.as_bytes())?),
            Cloud::Gcp => View::Gcp(Entry::parse(text.as_bytes())?),
        })
    }

    fn cloud(&self) -> Cloud {
        match self {
            View::Aws(_) => Cloud::Aws,
            View::Gcp(_) => Cloud::Gcp,
        }
    }

    /// Whether the record has what only its cloud writes: a CloudTrail record's `eventSource` or `eventName`;
    /// a LogEntry's `logName`, or its `protoPayload`'s `serviceName` or `methodName`.
    fn recognised(&self) -> bool {
        match self {
            View::Aws(r) => r.event_source.get().is_some() || r.event_name.get().is_some(),
            View::Gcp(e) => {
                e.log_name.get().is_some()
                    || e.payload.service_name.get().is_some()
                    || e.payload.method_name.get().is_some()
            }
        }
    }

    fn verdict(&self, engine: &Engine, snapshot: &Snapshot) -> Verdict {
        match self {
            View::Aws(record) => engine.evaluate_call(record, snapshot),
            View::Gcp(entry) => engine.evaluate_call(entry, snapshot),
        }
    }

    /// The call's name: CloudTrail's `eventName`, the audit log's `methodName`.
    fn operation_name(&self) -> &str {
        match self {
            View::Aws(r) => r.event_name(),
            View::Gcp(e) => e.method_name(),
        }
    }
}

/// The command's run over the records: the engine, the snapshot, what to print and the tallies.
struct Replay<'r, W: Write> {
    engine: &'r Engine,
    snapshot: &'r Snapshot,
    args: &'r Args,
    out: W,
    counts: Counts,
    /// The cloud of the last record read: the view tried first on the next, so a file of one cloud's records
    /// is read once per record; the other view reads a record only when the first does not recognise it.
    hint: Cloud,
}

impl<W: Write> Replay<'_, W> {
    fn record(&mut self, text: &str, file: &Path, at: Position) -> anyhow::Result<()> {
        let first = View::read(self.hint, text)
            .with_context(|| format!("{} {at}: not a JSON object", file.display()))?;
        self.counts.records += 1;
        let view = if first.recognised() {
            first
        } else {
            match View::read(self.hint.other(), text) {
                Ok(other) if other.recognised() => other,
                _ => {
                    // Judged all the same (it may still name something the catalog knows), but counted
                    // apart: the summary says how much of the input tfdrift could not place.
                    self.counts.unrecognised += 1;
                    tracing::warn!(
                        "{} {at}: neither a CloudTrail record (no eventSource, eventName) nor a Cloud Audit Log \
                         entry (no logName, protoPayload.serviceName, protoPayload.methodName)",
                        file.display()
                    );
                    return self.judge(&first);
                }
            }
        };
        self.hint = view.cloud();
        match &view {
            View::Aws(_) => self.counts.aws += 1,
            View::Gcp(entry) => {
                self.counts.gcp += 1;
                if entry.log_kind() == LogKind::Other {
                    self.counts.gcp_not_audit += 1;
                    tracing::debug!(
                        "{} {at}: no Cloud Audit Log's logName: never judged",
                        file.display()
                    );
                }
            }
        }
        self.judge(&view)
    }

    /// The verdict on one record, tallied and printed.
    fn judge(&mut self, view: &View) -> anyhow::Result<()> {
        let verdict = view.verdict(self.engine, self.snapshot);
        self.counts.add(&verdict);
        let finding = verdict.drift || verdict.unmanaged;
        if self.args.json {
            if finding || self.args.all {
                writeln!(self.out, "{}", to_json(&verdict, view))?;
            }
        } else if finding {
            writeln!(self.out, "{}", to_line(&verdict, view))?;
        }
        Ok(())
    }
}

/// The plugin's configuration (`--config`, or none) with the command line's states, Terraform principals and
/// catalog files added: checked, and built into sources, catalog and policy, as the plugin does.
fn configuration(args: &Args) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if text.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not JSON", path.display()))?
            }
        }
        None => json!({}),
    };
    // A configuration that is no object is refused by the checks, with the key named.
    if let Some(object) = config.as_object_mut() {
        let states = args.states.iter().map(|spec| {
            let (name, path) = match spec.split_once('=') {
                Some((name, path)) => (name.to_owned(), PathBuf::from(path)),
                None => {
                    let path = PathBuf::from(spec);
                    let name = path
                        .file_stem()
                        .map_or_else(|| spec.clone(), |s| s.to_string_lossy().into_owned());
                    (name, path)
                }
            };
            json!({"name": name, "path": path})
        });
        append(object, "states", states, false);
        // The command line's catalog files come first, as the configuration's extend them.
        let catalogs = args.catalog_files.iter().map(|path| json!(path));
        append(object, "catalog_files", catalogs, true);
        if let Some(terraform) = object
            .entry("terraform")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            let principals = args.terraform_principals.iter().map(|p| json!(p));
            append(terraform, "principals", principals, false);
            if args.no_trust_user_agent {
                terraform.insert("trust_user_agent".into(), json!(false));
            }
        }
    }
    Ok(Config::from_value(config)?)
}

/// Adds `items` to the list at `key` (at its front with `first`), making the list if there is none.
fn append(
    object: &mut Map<String, Value>,
    key: &str,
    items: impl Iterator<Item = Value>,
    first: bool,
) {
    let mut items: Vec<Value> = items.collect();
    if items.is_empty() {
        return;
    }
    if let Value::Array(list) = object.entry(key).or_insert_with(|| json!([])) {
        if first {
            items.append(list);
            *list = items;
        } else {
            list.append(&mut items);
        }
    }
}

#[derive(Default)]
struct Counts {
    records: usize,
    aws: usize,
    gcp: usize,
    unrecognised: usize,
    gcp_not_audit: usize,
    covered: usize,
    managed: usize,
    drift: usize,
    unmanaged: usize,
    by_terraform: usize,
}

impl Counts {
    fn add(&mut self, v: &Verdict) {
        self.covered += usize::from(v.covered);
        self.managed += usize::from(v.managed == Some(true));
        self.drift += usize::from(v.drift);
        self.unmanaged += usize::from(v.unmanaged);
        self.by_terraform += usize::from(v.by_terraform && v.covered);
    }
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read folder {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            let name = entry.to_string_lossy();
            if entry.is_dir()
                || name.ends_with(".json")
                || name.ends_with(".json.gz")
                || name.ends_with(".jsonl")
                || name.ends_with(".jsonl.gz")
            {
                collect_files(&entry, out)?;
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// Where a record is in its file, for messages.
#[derive(Debug, Clone, Copy)]
enum Position {
    /// The line of a file of one record per line.
    Line(usize),
    /// The place of a record in a JSON array or in `{"Records": [...]}`, from 1.
    Item(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(n) => write!(f, "line {n}"),
            Position::Item(n) => write!(f, "record {n}"),
        }
    }
}

/// A CloudTrail log file: `{"Records": [...]}`.
#[derive(Deserialize)]
struct Log<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// Calls `each` with the JSON text of every record of one file (`.gz`: gzip), in order, whatever the cloud:
/// - `{"Records": [...]}` (a CloudTrail log file, on one line or not; several such objects, one a line, too);
/// - a JSON array of records (`gcloud logging read --format=json`, an exported array, a CloudTrail array);
/// - one record per line (JSON Lines: a Cloud Logging export to Cloud Storage), read a line at a time, so the
///   memory such a file takes is its longest line's; any other file is read whole, as the cloudtrail plugin
///   reads a log file;
/// - records one after the other however they are laid out (pretty-printed entries).
///
/// The records' text is handed over as it is in the file, with no copy and no parse beyond finding where a
/// record ends in an array: the record views read each record once.
fn for_each_record(
    path: &Path,
    mut each: impl FnMut(&str, Position) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let cannot_read = || format!("cannot read {}", path.display());
    let mut line = String::new();
    let mut number = 0;
    // The first line with something on it tells the layout.
    loop {
        line.clear();
        if reader.read_line(&mut line).with_context(cannot_read)? == 0 {
            return Ok(());
        }
        number += 1;
        if !line.trim().is_empty() {
            break;
        }
    }
    if !line.trim_start().starts_with('[') {
        match serde_json::from_str::<Log>(line.trim()) {
            // CloudTrail's file on one line (and any more such lines after it).
            Ok(log) => {
                let mut item = 0;
                for record in log.records {
                    item += 1;
                    each(record.get(), Position::Item(item))?;
                }
                loop {
                    line.clear();
                    if reader.read_line(&mut line).with_context(cannot_read)? == 0 {
                        return Ok(());
                    }
                    number += 1;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let log = serde_json::from_str::<Log>(line.trim()).with_context(|| {
                        format!(
                            "{} line {number}: not a {{\"Records\": [...]}} object as line 1",
                            path.display()
                        )
                    })?;
                    for record in log.records {
                        item += 1;
                        each(record.get(), Position::Item(item))?;
                    }
                }
            }
            // A whole value that is no CloudTrail file (or no JSON, which the views say): one record a line.
            Err(error) if !error.is_eof() => loop {
                let record = line.trim();
                if !record.is_empty() {
                    each(record, Position::Line(number))?;
                }
                line.clear();
                if reader.read_line(&mut line).with_context(cannot_read)? == 0 {
                    return Ok(());
                }
                number += 1;
            },
            // The first value goes on past its line: read the whole file.
            Err(_) => {}
        }
    }
    let mut text = line;
    reader.read_to_string(&mut text).with_context(cannot_read)?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        let records: Vec<&RawValue> = serde_json::from_str(trimmed)
            .with_context(|| format!("{} is not a JSON array of records", path.display()))?;
        for (n, record) in records.into_iter().enumerate() {
            each(record.get(), Position::Item(n + 1))?;
        }
        return Ok(());
    }
    if let Ok(log) = serde_json::from_str::<Log>(trimmed) {
        for (n, record) in log.records.into_iter().enumerate() {
            each(record.get(), Position::Item(n + 1))?;
        }
        return Ok(());
    }
    let values = serde_json::Deserializer::from_str(trimmed).into_iter::<&RawValue>();
    for (n, record) in values.enumerate() {
        let record =
            record.with_context(|| format!("{} record {}: not JSON", path.display(), n + 1))?;
        each(record.get(), Position::Item(n + 1))?;
    }
    Ok(())
}

/// One line for people: what the finding is, in which cloud, on what, by whom, through which call.
fn to_line(v: &Verdict, view: &View) -> String {
    let read = |field: &Field| field.str(v).unwrap_or_default();
    let kind = if v.drift { "DRIFT" } else { "UNMANAGED" };
    let severity = fields::SEVERITY.str(v).unwrap_or("-");
    let (what, id) = match v.primary() {
        Some(_) => (
            read(&fields::RESOURCE_ADDRESS).to_owned(),
            format!(
                "{} {}",
                read(&fields::RESOURCE_TYPE),
                read(&fields::RESOURCE_ID)
            ),
        ),
        None => (
            read(&fields::RESOURCE_TYPE).to_owned(),
            read(&fields::RESOURCE_ID).to_owned(),
        ),
    };
    let mut line = format!(
        "{kind:<9} {severity:<8} {} {what} ({id}) {} by {} [{}] via {}",
        view.cloud().as_str(),
        fields::CHANGE.str(v).unwrap_or("-"),
        fields::ACTOR.str(v).unwrap_or("?"),
        fields::ACTOR_KIND.str(v).unwrap_or("unknown"),
        view.operation_name(),
    );
    let touched = fields::TOUCHED_ATTRS.list(v);
    if !touched.is_empty() {
        let changed = fields::CHANGED_ATTRS.list(v);
        line.push_str(&format!(
            "; attributes {} (changed: {})",
            touched.join(","),
            if changed.is_empty() {
                "none".to_owned()
            } else {
                changed.join(",")
            }
        ));
    }
    if let (Some(state), Some(serial)) = (fields::STATE.str(v), fields::STATE_SERIAL.u64(v)) {
        line.push_str(&format!("; state {state} serial {serial}"));
    }
    line
}

/// Every field that takes no key, by name, as Falco would give it (`null`: no value), with the event's source
/// (`evt.source`) and the record's own name, service and id under the fields of its cloud's plugin
/// (`ct.name`, `ct.src`, `ct.id`; `gcp.methodName`, `gcp.serviceName`, `gcp.resourceName`, and the entry's
/// `insertId`, which rules read as `json.value[/insertId]`).
fn to_json(v: &Verdict, view: &View) -> Value {
    let mut object = Map::new();
    match view {
        View::Aws(record) => {
            object.insert(
                "evt.source".into(),
                json!(tfdrift::cloudtrail::EVENT_SOURCE),
            );
            object.insert("ct.name".into(), json!(record.event_name()));
            object.insert("ct.src".into(), json!(record.event_source()));
            object.insert("ct.id".into(), json!(record.event_id.get()));
        }
        View::Gcp(entry) => {
            let payload = &entry.payload;
            object.insert("evt.source".into(), json!(tfdrift::gcpaudit::EVENT_SOURCE));
            object.insert("gcp.methodName".into(), json!(payload.method_name.get()));
            object.insert("gcp.serviceName".into(), json!(payload.service_name.get()));
            object.insert(
                "gcp.resourceName".into(),
                json!(payload.resource_name.get()),
            );
            object.insert("json.value[/insertId]".into(), json!(entry.insert_id.get()));
        }
    }
    for field in fields::ALL.iter().filter(|f| !f.is_keyed()) {
        object.insert(field.name.into(), json!(field.value(v)));
    }
    Value::Object(object)
}
