//! `tfdrift-replay`: runs CloudTrail log files through tfdrift against Terraform states and prints what Falco
//! rules would see: one line per drift or unmanaged finding (or every field as JSON with `--json`). The main
//! job on a laptop, with no Falco needed; it uses the same catalog, index and verdict as the plugin.

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
use tfdrift::drift::Verdict;
use tfdrift::fields::{self, Field};
use tfdrift::sources::load_once;

/// Replay CloudTrail records through tfdrift and print the findings.
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
    /// CloudTrail log files ({"Records":[...]}, a JSON array, or one record per line; .json or .json.gz),
    /// or folders of them.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// ARN (or `*` pattern) of an identity that runs Terraform. Repeatable.
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
    let mut out = stdout.lock();
    let mut counts = Counts::default();
    for file in &files {
        for record in read_records(file)? {
            counts.records += 1;
            let verdict = engine.evaluate(record.get().as_bytes(), &snapshot);
            counts.add(&verdict);
            let finding = verdict.drift || verdict.unmanaged;
            if args.json {
                if finding || args.all {
                    let parsed = Record::parse(record.get().as_bytes()).ok();
                    writeln!(out, "{}", to_json(&verdict, parsed.as_ref()))?;
                }
            } else if finding {
                let parsed = Record::parse(record.get().as_bytes()).ok();
                writeln!(out, "{}", to_line(&verdict, parsed.as_ref()))?;
            }
        }
    }
    eprintln!(
        "{} records from {} files: {} mutating calls covered by the catalog, {} on managed resources, {} drift, {} unmanaged, {} by Terraform",
        counts.records,
        files.len(),
        counts.covered,
        counts.managed,
        counts.drift,
        counts.unmanaged,
        counts.by_terraform
    );
    Ok(())
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
            {
                collect_files(&entry, out)?;
            }
        }
    } else {
        out.push(path.to_owned());
    }
    Ok(())
}

/// The records of one file, each as its own JSON text (what the cloudtrail plugin hands Falco).
fn read_records(path: &Path) -> anyhow::Result<Vec<Box<RawValue>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(file).read_to_string(&mut text)
    } else {
        BufReader::new(file).read_to_string(&mut text)
    }
    .with_context(|| format!("cannot read {}", path.display()))?;

    #[derive(Deserialize)]
    struct Log {
        #[serde(rename = "Records")]
        records: Vec<Box<RawValue>>,
    }
    let trimmed = text.trim_start();
    if trimmed.starts_with('{')
        && let Ok(log) = serde_json::from_str::<Log>(&text)
    {
        return Ok(log.records);
    }
    if trimmed.starts_with('[') {
        return serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JSON array of records", path.display()));
    }
    // One record per line.
    text.as_bytes()
        .lines()
        .map_while(Result::ok)
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(n, line)| {
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}: not a JSON record", path.display(), n + 1))
        })
        .collect()
}

/// One line for people: what the finding is, on what, by whom, through which call.
fn to_line(v: &Verdict, record: Option<&Record>) -> String {
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
        "{kind:<9} {severity:<8} {what} ({id}) {} by {} [{}] via {}",
        fields::CHANGE.str(v).unwrap_or("-"),
        fields::ACTOR.str(v).unwrap_or("?"),
        fields::ACTOR_KIND.str(v).unwrap_or("unknown"),
        record.map_or("?", |r| r.event_name()),
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

/// Every field that takes no key, by name, as Falco would give it (`null`: no value), and the record's own
/// name, source and id.
fn to_json(v: &Verdict, record: Option<&Record>) -> Value {
    let mut object = Map::new();
    object.insert("ct.name".into(), json!(record.map(|r| r.event_name())));
    object.insert("ct.src".into(), json!(record.map(|r| r.event_source())));
    object.insert("ct.id".into(), json!(record.and_then(|r| r.event_id.get())));
    for field in fields::ALL.iter().filter(|f| !f.is_keyed()) {
        object.insert(field.name.into(), json!(field.value(v)));
    }
    Value::Object(object)
}
