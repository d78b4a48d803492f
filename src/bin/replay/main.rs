//! `tfdrift-replay`: runs AWS CloudTrail log files and Google Cloud Audit Logs entries through tfdrift against
//! Terraform states and prints what Falco rules would see: one line per drift or unmanaged finding, every
//! field as JSON, or a report for people and auditors (`--format`, see [`report`]). The main job on a laptop,
//! with no Falco needed; it uses the same catalog, index and verdict as the plugin.
//!
//! Which cloud a record is from is told per record, by what only that cloud writes (see [`View::recognised`]),
//! so a folder, or even a file, may hold both; each record is still read once: the view that read the
//! previous record reads it first, and the other one only when the first finds nothing of its cloud.

mod imports;
mod input;
mod output;
mod report;
mod view;

use anyhow::{Context, bail};
use clap::Parser;
use input::{Position, collect_files, for_each_record};
use output::Counts;
use report::{Finding, Format, Report};
use serde_json::{Map, Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tfdrift::config::Config;
use tfdrift::drift::Engine;
use tfdrift::fields;
use tfdrift::gcpaudit::LogKind;
use tfdrift::sources::load_once;
use tfdrift::state::Snapshot;
use view::{Cloud, View};

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
    /// What to print: a line per finding (text), every field of each finding as one JSON object per line
    /// (json), a report for people and auditors (markdown, or html: one self-contained page), or a row per
    /// finding for spreadsheets (csv). Default: text.
    #[arg(long, value_enum, value_name = "FORMAT")]
    format: Option<Format>,
    /// The same as `--format json`.
    #[arg(long, conflicts_with = "format")]
    json: bool,
    /// With `--format json` or `csv`, print records with no finding too.
    #[arg(long)]
    all: bool,
    /// Print the embedded catalog as the library parsed it (JSON, for scripts/check_catalog.py) and exit. With
    /// a file of names, one a line, also how the library resolves each: the attribute a request member of
    /// that name sets, and the event name without a version suffix.
    #[arg(long, exclusive = true, value_name = "NAMES_FILE", num_args = 0..=1)]
    dump_catalog: Option<Option<PathBuf>>,
    /// Write Terraform `import` blocks (Terraform 1.5 and later, OpenTofu) for every resource made by hand
    /// that the run finds to this file, for `terraform plan -generate-config-out=generated.tf`.
    #[arg(long, value_name = "PATH")]
    import_file: Option<PathBuf>,
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
    let format = args.format.unwrap_or(if args.json {
        Format::Json
    } else {
        Format::Text
    });
    let mut replay = Replay {
        engine: &engine,
        snapshot: &snapshot,
        all: args.all && matches!(format, Format::Json | Format::Csv),
        report: Report::new(format, std::io::BufWriter::new(stdout.lock())),
        counts: Counts::default(),
        hint: Cloud::Aws,
        import_file: args.import_file.is_some(),
        imports: imports::Imports::default(),
    };
    for file in &files {
        for_each_record(file, |text, at| replay.record(text, file, at))?;
    }
    let Replay {
        report,
        counts,
        imports,
        ..
    } = replay;
    report.finish(&counts)?;
    if let Some(path) = &args.import_file {
        write_import_file(path, &imports)?;
    }
    let counts = &counts;
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

/// The command's run over the records: the engine, the snapshot, the report and the tallies.
struct Replay<'r, W: Write> {
    engine: &'r Engine,
    snapshot: &'r Snapshot,
    /// Records with no finding are reported too (`--all`).
    all: bool,
    report: Report<W>,
    counts: Counts,
    /// The cloud of the last record read: the view tried first on the next, so a file of one cloud's records
    /// is read once per record; the other view reads a record only when the first does not recognise it.
    hint: Cloud,
    /// Whether `--import-file` asks for the resources made by hand.
    import_file: bool,
    /// The resources made by hand found so far, for `--import-file`.
    imports: imports::Imports,
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
                    return self.judge(&first, text);
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
        self.judge(&view, text)
    }

    /// The verdict on one record (`text`, which `view` reads), tallied and reported.
    fn judge(&mut self, view: &View, text: &str) -> anyhow::Result<()> {
        let verdict = view.verdict(self.engine, self.snapshot);
        self.counts.add(&verdict);
        if self.import_file {
            self.imports.add(&verdict, view);
        }
        if let Some(mut finding) = Finding::new(&verdict, view, text, self.all) {
            finding.import_id = fields::IMPORT_ID.str(&verdict).map(str::to_owned);
            self.report.add(finding)?;
        }
        Ok(())
    }
}

/// Writes the import blocks to `path`, whole or not at all (a temporary file beside it, then renamed).
fn write_import_file(path: &Path, imports: &imports::Imports) -> anyhow::Result<()> {
    let mut text = Vec::new();
    imports.write(&mut text)?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, &text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!(
        "{} import block(s) written to {}",
        imports.adoptions().len(),
        path.display()
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
