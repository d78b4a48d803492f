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
mod pipeline;
mod progress;
mod report;
mod trail;
mod view;

use anyhow::{Context, bail};
use clap::Parser;
use pipeline::{Input, Judge, Outcome, Plan};
use progress::{Mode, Progress};
use report::{Finding, Format, Report};
use serde_json::{Map, Value, json};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tfdrift::config::Config;
use tfdrift::fields;
use tfdrift::sources::load_once;
use trail::{Connection, Filters, S3Uri, Window};

/// Set by Ctrl-C (SIGINT, SIGTERM): the run stops between inputs and reports what it read.
static STOP: AtomicBool = AtomicBool::new(false);

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
    /// Or a CloudTrail trail's bucket, `s3://BUCKET[/PREFIX]`: the objects under
    /// `PREFIX/AWSLogs/[ORG_ID/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/`, in that order.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Only records from this time on: an RFC 3339 time, a date (YYYY-MM-DD, from its start in UTC), or a
    /// duration back from now (90d, 12h, 30m, 2w). A trail's objects delivered before it are never read.
    #[arg(long)]
    since: Option<String>,
    /// Only records before this time (same forms as --since). A trail's objects delivered later than it (and
    /// --delivery-grace) are never read.
    #[arg(long)]
    until: Option<String>,
    /// How long after --until a trail's file may still be delivered with records from before it (CloudTrail
    /// delivers a file with records "written at any point before" its time).
    #[arg(long, default_value = "1d", value_name = "DURATION")]
    delivery_grace: String,
    /// Read only this account's part of a trail (12 digits). Repeatable.
    #[arg(long = "account", value_name = "ACCOUNT_ID")]
    accounts: Vec<String>,
    /// Read only this region's part of a trail (us-east-1). Repeatable.
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Most objects read from S3 at a time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    concurrency: u16,
    /// Threads that read and judge the records (default: one per core).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    threads: Option<u16>,
    /// The region of the trail's bucket (default: the AWS SDK's, AWS_REGION or the profile's).
    #[arg(long, value_name = "REGION")]
    s3_region: Option<String>,
    /// Another S3 endpoint than AWS's, for an S3-compatible store (AWS_ENDPOINT_URL works too).
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// No progress on standard error.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Seconds between progress lines when standard error is not a terminal.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    progress_interval: f64,
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

    let now = jiff::Timestamp::now();
    let window = Window {
        since: args
            .since
            .as_deref()
            .map(|t| trail::parse_time(t, now))
            .transpose()
            .context("--since")?,
        until: args
            .until
            .as_deref()
            .map(|t| trail::parse_time(t, now))
            .transpose()
            .context("--until")?,
    };
    if let (Some(since), Some(until)) = (window.since, window.until)
        && since >= until
    {
        bail!("--since {since} is not before --until {until}");
    }
    let mut inputs = Vec::new();
    for input in &args.inputs {
        match input.to_str().and_then(S3Uri::parse) {
            Some(uri) => inputs.push(Input::Trail(uri?)),
            None => inputs.push(Input::Path(input.clone())),
        }
    }
    let plan = Plan {
        inputs,
        filters: Filters {
            accounts: args.accounts.clone(),
            regions: args.regions.clone(),
            window,
            grace: trail::parse_duration(&args.delivery_grace).context("--delivery-grace")?,
            now,
        },
        connection: Connection {
            region: args.s3_region.clone(),
            endpoint: args.endpoint_url.clone(),
        },
        concurrency: usize::from(args.concurrency),
        threads: args.threads.map_or_else(
            || std::thread::available_parallelism().map_or(1, |n| n.get()),
            usize::from,
        ),
    };
    let judge = Judge {
        engine: Arc::new(engine),
        snapshot: Arc::new(snapshot),
        window,
    };
    let format = args.format.unwrap_or(if args.json {
        Format::Json
    } else {
        Format::Text
    });
    // Records with no finding are reported too only where a row per record makes sense.
    let all = args.all && matches!(format, Format::Json | Format::Csv);
    let import_file = args.import_file.is_some();
    // On the workers: what the report and the import file keep of a record, owned, nothing of the record itself.
    let each = move |view: &view::View, verdict: &tfdrift::drift::Verdict| {
        let adoption = import_file
            .then(|| imports::Adoption::of(verdict, view))
            .flatten();
        let finding = Finding::new(verdict, view, all, format).map(|mut finding| {
            finding.import_id = fields::IMPORT_ID.str(verdict).map(str::to_owned);
            finding
        });
        (finding.is_some() || adoption.is_some()).then_some((finding, adoption))
    };
    ctrlc::set_handler(|| {
        // A second Ctrl-C does not wait for the first to be handled.
        if STOP.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .context("cannot handle Ctrl-C")?;
    let mode = if args.quiet {
        Mode::Quiet
    } else if std::io::stderr().is_terminal() {
        Mode::Bar
    } else {
        Mode::Lines(
            Duration::try_from_secs_f64(args.progress_interval).context("--progress-interval")?,
        )
    };
    let tick = match mode {
        Mode::Lines(every) => every.clamp(Duration::from_millis(10), Duration::from_millis(200)),
        _ => Duration::from_millis(200),
    };
    let mut progress = Progress::new(mode);
    let stdout = std::io::stdout();
    let mut report = Report::new(format, std::io::BufWriter::new(stdout.lock()));
    report.describe(describe(&args));
    let mut adoptions = imports::Imports::default();
    let sink =
        |(finding, adoption): (Option<Finding>, Option<imports::Adoption>)| -> anyhow::Result<()> {
            if let Some(adoption) = adoption {
                adoptions.push(adoption);
            }
            if let Some(finding) = finding {
                report.add(finding)?;
            }
            Ok(())
        };
    let ran = pipeline::run(plan, judge, each, sink, &mut progress, tick, &STOP);
    progress.finish();
    let (tally, outcome) = match ran {
        Ok(ran) => ran,
        Err(pipeline::Failed { tally, error }) => {
            // What was judged before the failure is still printed (a stream's lines are out already), with
            // the tallies of what was read: the report covers those records only, and says so, and never
            // reads as a clean, empty window.
            report.mark_partial(format!(
                "the run stopped on an error: {error:#}; it covers the {} objects read before it",
                tally.objects
            ));
            report.finish(&tally.counts)?;
            eprintln!(
                "error: the report is partial: it covers the {} objects read before the error",
                tally.objects
            );
            eprintln!("{}", summary_line(&tally));
            return Err(error);
        }
    };
    if outcome == Outcome::Interrupted {
        report.mark_partial(format!(
            "interrupted (Ctrl-C): it covers the {} objects read before the stop",
            tally.objects
        ));
    }
    report.finish(&tally.counts)?;
    if let Some(path) = &args.import_file {
        write_import_file(path, &adoptions)?;
    }
    if outcome == Outcome::Interrupted {
        eprintln!(
            "interrupted: the report is partial: it covers the {} objects read before the stop",
            tally.objects
        );
    }
    eprintln!("{}", summary_line(&tally));
    if outcome == Outcome::Interrupted {
        std::process::exit(130);
    }
    Ok(())
}

/// The line on standard error that counts what a run read and judged.
fn summary_line(tally: &pipeline::Tally) -> String {
    let counts = &tally.counts;
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
    let mut window_note = String::new();
    if tally.outside > 0 {
        window_note.push_str(&format!(
            "; {} records outside --since/--until skipped",
            tally.outside
        ));
    }
    if tally.undated > 0 {
        window_note.push_str(&format!(
            "; {} records with no time judged as in the window",
            tally.undated
        ));
    }
    format!(
        "{} records ({} CloudTrail, {} GCP audit log{neither}) from {} files: {} mutating calls covered by the catalog, {} on managed resources, {} drift, {} unmanaged, {} by Terraform{no_audit_log}{window_note}",
        counts.records,
        counts.aws,
        counts.gcp,
        tally.objects,
        counts.covered,
        counts.managed,
        counts.drift,
        counts.unmanaged,
        counts.by_terraform
    )
}

/// What the run reads, for the top of a report: the inputs, and the window and filters when given.
fn describe(args: &Args) -> String {
    let inputs: Vec<String> = args
        .inputs
        .iter()
        .map(|input| input.display().to_string())
        .collect();
    let mut line = format!("Read: {}", inputs.join(", "));
    if let Some(since) = &args.since {
        line.push_str(&format!("; since {since}"));
    }
    if let Some(until) = &args.until {
        line.push_str(&format!("; until {until}"));
    }
    if !args.accounts.is_empty() {
        line.push_str(&format!("; accounts {}", args.accounts.join(", ")));
    }
    if !args.regions.is_empty() {
        line.push_str(&format!("; regions {}", args.regions.join(", ")));
    }
    line
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
