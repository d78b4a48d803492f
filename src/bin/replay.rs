//! `tfdrift-replay`: runs CloudTrail log files through tfdrift against Terraform states and prints what Falco
//! rules would see: one line per drift or unmanaged finding (or every field as JSON with `--json`). The main
//! job on a laptop, with no Falco needed; it uses the same catalog, index and verdict as the plugin.

use anyhow::{Context, bail};
use clap::Parser;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tfdrift::catalog::Catalog;
use tfdrift::cloudtrail::{Record, TerraformIdentity};
use tfdrift::drift::{Engine, Policy, Verdict};
use tfdrift::plugin::config::Config;
use tfdrift::sources::local::LocalFile;
use tfdrift::sources::{StateSource, load_once};
use tfdrift::state::Limits;

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

    let config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(Config::parse(&text)?)
        }
        None => None,
    };
    let mut catalog_files = args.catalog_files.clone();
    let mut sources: Vec<Box<dyn StateSource>> = Vec::new();
    if let Some(config) = &config {
        catalog_files.extend(config.catalog_files.iter().cloned());
        sources.extend(config.states.iter().map(tfdrift::plugin::state_source));
    }
    let mut named: Vec<(String, PathBuf)> = Vec::new();
    for spec in &args.states {
        named.push(match spec.split_once('=') {
            Some((name, path)) => (name.to_owned(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(spec);
                let name = path
                    .file_stem()
                    .map_or_else(|| spec.clone(), |s| s.to_string_lossy().into_owned());
                (name, path)
            }
        });
    }
    let catalog = Arc::new(Catalog::with_extensions(&catalog_files)?);
    sources.extend(
        named
            .into_iter()
            .map(|(name, path)| Box::new(LocalFile::new(name, path)) as Box<dyn StateSource>),
    );
    let (snapshot, failures) = load_once(sources, Arc::clone(&catalog), Limits::default());
    if !failures.is_empty() {
        bail!("cannot load every state: {}", failures.join("; "));
    }
    let mut policy = match &config {
        Some(config) => config.policy()?,
        None => Policy::default(),
    };
    if config.is_none() || !args.terraform_principals.is_empty() || args.no_trust_user_agent {
        let trust = config.as_ref().is_none_or(|c| c.terraform.trust_user_agent)
            && !args.no_trust_user_agent;
        let mut principals = config
            .as_ref()
            .map(|c| c.terraform.principals.clone())
            .unwrap_or_default();
        principals.extend(args.terraform_principals.iter().cloned());
        policy.terraform = TerraformIdentity::new(&principals, trust);
    }
    let engine = Engine::new(catalog, policy);

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

fn to_line(v: &Verdict, record: Option<&Record>) -> String {
    let kind = if v.drift { "DRIFT" } else { "UNMANAGED" };
    let severity = v.severity.map_or("-", |s| s.as_str());
    let (what, id) = match v.primary() {
        Some(m) => (
            m.address.clone(),
            format!("{} {}", m.resource_type, m.resource_id),
        ),
        None => (
            v.unmatched_type.clone().unwrap_or_default(),
            v.unmatched_id.clone().unwrap_or_default(),
        ),
    };
    let mut line = format!(
        "{kind:<9} {severity:<8} {what} ({id}) {} by {} [{}] via {}",
        v.change.map_or("-", |c| c.as_str()),
        v.actor.as_deref().unwrap_or("?"),
        v.actor_kind.map_or("unknown", |k| k.as_str()),
        record.map_or("?", |r| r.event_name()),
    );
    if !v.touched_attrs.is_empty() {
        line.push_str(&format!(
            "; attributes {} (changed: {})",
            v.touched_attrs.join(","),
            if v.changed_attrs.is_empty() {
                "none".to_owned()
            } else {
                v.changed_attrs.join(",")
            }
        ));
    }
    if let Some(m) = v.primary() {
        line.push_str(&format!("; state {} serial {}", m.state, m.serial));
    }
    line
}

fn to_json(v: &Verdict, record: Option<&Record>) -> serde_json::Value {
    let primary = v.primary();
    serde_json::json!({
        "ct.name": record.map(|r| r.event_name()),
        "ct.src": record.map(|r| r.event_source()),
        "ct.id": record.and_then(|r| r.event_id.get()),
        "tfdrift.covered": v.covered,
        "tfdrift.match": v.match_kind.map(|k| k.as_str()),
        "tfdrift.managed": v.managed,
        "tfdrift.drift": v.drift,
        "tfdrift.unmanaged": v.unmanaged,
        "tfdrift.by_terraform": v.by_terraform,
        "tfdrift.change": v.change.map(|c| c.as_str()),
        "tfdrift.severity": v.severity.map(|s| s.as_str()),
        "tfdrift.resource_address": primary.map(|m| &m.address),
        "tfdrift.resource_addresses": v.matches.iter().map(|m| &m.address).collect::<Vec<_>>(),
        "tfdrift.resource_type": primary.map(|m| &m.resource_type).or(v.unmatched_type.as_ref()),
        "tfdrift.resource_id": primary.map(|m| &m.resource_id).or(v.unmatched_id.as_ref()),
        "tfdrift.module": primary.map(|m| &m.module),
        "tfdrift.state": primary.map(|m| &m.state),
        "tfdrift.state_serial": primary.map(|m| m.serial),
        "tfdrift.touched_attrs": v.touched_attrs,
        "tfdrift.changed_attrs": v.changed_attrs,
        "tfdrift.summary": v.diff.summary(),
        "tfdrift.diff": v.diff.text().and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok()),
        "tfdrift.actor": v.actor,
        "tfdrift.in_maintenance": v.in_maintenance,
        "tfdrift.maintenance_window": v.maintenance_window,
        "tfdrift.actor_kind": v.actor_kind.map(|k| k.as_str()),
    })
}
