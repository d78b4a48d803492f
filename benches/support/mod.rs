//! Shared by tfdrift's benchmarks: the run mode (full or smoke), the real CloudTrail records and GCP audit log
//! entries sorted by what tfdrift does with them, synthetic states made by `scripts/gen_state.py` (cached under the target
//! directory), the engine and snapshot the plugin would build, reading the five fields of a typical rule set,
//! and the report every benchmark prints and writes to `target/tmp/tfdrift-bench/<name>.md`.
#![allow(dead_code)]

use arc_swap::ArcSwap;
use serde_json::{Value, json};
use std::ffi::CString;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tfdrift::call::Call;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;
use tfdrift::config::Config;
use tfdrift::drift::{Engine, Verdict};
use tfdrift::gcpaudit::Entry;
use tfdrift::sources::Reloader;
use tfdrift::state::{Index, Limits, Scope, Snapshot, SnapshotReader};
use tfdrift_test_support::{cloudtrail_files, gcp_audit_entries, record_texts};

// ------------------------------------------------------------------------------------------- the mode

/// Smoke mode: every benchmark runs a few iterations on small inputs, to prove it still compiles and runs
/// (CI). On with `cargo bench -- --test` (criterion's test mode), under `cargo test --benches`, or with
/// `TFDRIFT_BENCH_SMOKE=1`.
pub fn smoke() -> bool {
    let args: Vec<String> = std::env::args().collect();
    std::env::var_os("TFDRIFT_BENCH_SMOKE").is_some_and(|v| v != "0")
        || args.iter().any(|a| a == "--test")
        || !args.iter().any(|a| a == "--bench")
}

/// The criterion settings of these benchmarks: short enough that the whole `cargo bench` stays within a
/// few minutes on two cores.
/// In smoke mode (without criterion's own `--test`), each benchmark takes a few milliseconds.
pub fn criterion() -> criterion::Criterion {
    let c = criterion::Criterion::default().without_plots();
    let c = if smoke() {
        c.warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(20))
            .sample_size(10)
    } else {
        c.warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .sample_size(30)
    };
    c.configure_from_args()
}

// ------------------------------------------------------------------------------------------ records

/// What tfdrift does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Successful, mutating, in the catalog: the full verdict (lookup, comparison).
    MutatingCovered,
    /// Read-only: answered from the cheap part of the record.
    ReadOnly,
    /// Failed (an `errorCode`): answered from the cheap part of the record.
    Failed,
    /// Successful and mutating but outside the catalog: the fallback scan.
    Uncovered,
}

/// Which log a record is from: the event source it reaches Falco on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A CloudTrail record (`aws_cloudtrail`).
    CloudTrail,
    /// A Cloud Audit Logs entry (`gcp_auditlog`).
    GcpAudit,
}

pub struct RealRecord {
    pub origin: String,
    pub bytes: Vec<u8>,
    /// CloudTrail's `eventName`, the audit entry's `methodName`.
    pub event_name: String,
    pub class: Class,
    pub source: Source,
}

/// What tfdrift does with a call, as the verdict sees it.
fn class_of(catalog: &Catalog, call: &impl Call) -> Class {
    if call.read_only() {
        Class::ReadOnly
    } else if call.failed() {
        Class::Failed
    } else if catalog
        .candidates(call.service(), call.operation())
        .next()
        .is_some()
    {
        Class::MutatingCovered
    } else {
        Class::Uncovered
    }
}

/// Every real record (tests/support's files, in their order), classified; `origin` is `file#index`.
pub fn real_records(catalog: &Catalog) -> Vec<RealRecord> {
    let mut out = Vec::new();
    for file in cloudtrail_files() {
        let content = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        let texts = record_texts(&content)
            .unwrap_or_else(|e| panic!("{} is not a CloudTrail file: {e}", file.display()));
        for (i, text) in texts.into_iter().enumerate() {
            let record = Record::parse(text.as_bytes())
                .unwrap_or_else(|e| panic!("{name}#{i} is not a record: {e}"));
            let class = class_of(catalog, &record);
            let event_name = record.event_name().to_owned();
            let text = if std::env::var_os("TFDRIFT_BENCH_COMPACT").is_some() {
                compact(&text)
            } else {
                text
            };
            out.push(RealRecord {
                origin: format!("{name}#{i}"),
                bytes: text.into_bytes(),
                event_name,
                class,
                source: Source::CloudTrail,
            });
        }
    }
    out
}

/// Every real GCP audit log entry (tests/data/gcp-audit, one a line, as the gcpaudit plugin hands each to
/// Falco), classified; `origin` is `file#line` (from 0, as `PROVENANCE.tsv` counts).
pub fn real_gcp_entries(catalog: &Catalog) -> Vec<RealRecord> {
    gcp_audit_entries()
        .into_iter()
        .map(|e| {
            let entry = Entry::parse(e.text.as_bytes())
                .unwrap_or_else(|err| panic!("{}#{} is not an entry: {err}", e.file, e.line));
            let class = class_of(catalog, &entry);
            let event_name = entry.method_name().to_owned();
            RealRecord {
                origin: format!("{}#{}", e.file, e.line),
                bytes: e.text.into_bytes(),
                event_name,
                class,
                source: Source::GcpAudit,
            }
        })
        .collect()
}

/// The JSON text without whitespace between tokens, as CloudTrail writes its log files (members in the same
/// order, strings untouched).
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
}

/// The resources the mutating, successful, covered records name (type, identifier, the attribute that
/// holds it), as `scripts/gen_state.py --include` reads them: what a state must hold for their lookups to
/// hit. The same rule as `tests/plugin/real_records.rs`: the first target of the call that yields an identifier.
pub fn touched_resources(catalog: &Catalog, records: &[RealRecord]) -> Vec<Value> {
    let mut seen: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for real in records.iter().filter(|r| r.class == Class::MutatingCovered) {
        let touched = match real.source {
            Source::CloudTrail => Record::parse(&real.bytes)
                .ok()
                .and_then(|record| touched_by(catalog, &record)),
            Source::GcpAudit => Entry::parse(&real.bytes)
                .ok()
                .and_then(|entry| touched_by(catalog, &entry)),
        };
        let Some((resource_type, id, key)) = touched else {
            continue;
        };
        if !seen.contains(&(resource_type.clone(), id.clone())) {
            seen.push((resource_type.clone(), id.clone()));
            out.push(json!({ "type": resource_type, "id": id, "key": key }));
        }
    }
    out
}

/// The resource one call names (type, identifier, the attribute that holds it): the first target of its
/// catalog entry whose identifier paths find an identifier in the call.
fn touched_by(catalog: &Catalog, call: &impl Call) -> Option<(String, String, String)> {
    let entry = catalog.lookup(call.service(), call.operation())?;
    for target in entry.targets.iter() {
        let mut ids: Vec<String> = Vec::new();
        for path in target.ids.iter() {
            let Some(section) = Section::from_root(path.root()) else {
                continue;
            };
            let Some(root) = call.section_value(section) else {
                continue;
            };
            path.identifiers_from(&root, |id| ids.push(id.to_string()));
        }
        let Some(id) = ids.into_iter().next() else {
            continue;
        };
        let resource_type = target.resource_type.to_string();
        let key = match &target.join {
            Some(join) => join[0].to_string(),
            None => {
                use tfdrift::state::KeySpec;
                catalog.keys(&resource_type)[0].to_string()
            }
        };
        return Some((resource_type, id, key));
    }
    None
}

// ------------------------------------------------------------------------------------------- states

/// Where generated states and reports go: cargo's scratch directory for benchmarks (`target/tmp`).
pub fn work_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tfdrift-bench");
    std::fs::create_dir_all(&dir).expect("create the benchmarks' work directory");
    dir
}

/// A state of `resources` instances from `scripts/gen_state.py` (and the `include`d resources), generated
/// once and kept under the target directory: the file name carries a hash of the generator, its arguments
/// and the included list, so a changed generator makes a new file.
pub fn generated_state(resources: usize, seed: u64, include: &[Value]) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/gen_state.py");
    let source = std::fs::read(&script).expect("scripts/gen_state.py");
    let include_text = serde_json::to_vec(include).expect("the include list serialises");
    let mut hash = Fnv::default();
    hash.write(&source);
    hash.write(&include_text);
    hash.write(&(resources as u64).to_le_bytes());
    hash.write(&seed.to_le_bytes());
    let dir = work_dir().join("states");
    std::fs::create_dir_all(&dir).expect("create the states directory");
    let path = dir.join(format!("state-{resources}-{seed}-{:016x}.tfstate", hash.0));
    if path.is_file() {
        return path;
    }
    // Versions of the same state from an older generator or record set: no longer wanted.
    let stale = format!("state-{resources}-{seed}-");
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&stale) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let include_path = dir.join(format!("include-{:016x}.json", hash.0));
    std::fs::write(&include_path, &include_text).expect("write the include list");
    let started = Instant::now();
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--resources", &resources.to_string()])
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(&path)
        .arg("--include")
        .arg(&include_path)
        .status()
        .expect("run python3 scripts/gen_state.py");
    let _ = std::fs::remove_file(&include_path);
    assert!(status.success(), "scripts/gen_state.py failed: {status}");
    eprintln!(
        "generated {} in {:.1} s",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    path
}

/// FNV-1a: a stable hash for cache file names.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The snapshot the plugin would hold for this one state file: parsed, unscoped (the real records come from
/// many anonymised accounts), indexed with the embedded catalog's keys.
pub fn snapshot_of(path: &Path, catalog: &Catalog) -> Snapshot {
    let bytes = std::fs::read(path).expect("read the state");
    let mut state = tfdrift::state::parse("bench", &bytes, &Limits::default()).expect("a state");
    state.scope = Scope::default();
    Snapshot {
        index: Index::build(vec![Arc::new(state)], catalog),
        loaded_at: vec![SystemTime::now()],
    }
}

/// The embedded catalog, owned (as the plugin holds it).
pub fn catalog() -> Arc<Catalog> {
    Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"))
}

/// The engine with the policy of a typical configuration: a Terraform CI role, user agents trusted.
pub fn engine(catalog: Arc<Catalog>) -> Engine {
    let config = Config::parse(
        r#"{"states":[{"name":"bench","path":"/nonexistent"}],
            "terraform":{"principals":["arn:aws:iam::*:role/terraform-ci"]}}"#,
    )
    .expect("a valid configuration");
    Engine::new(catalog, config.policy().expect("a valid policy"))
}

// ------------------------------------------------------------------------------------ the five fields

/// The values of `tfdrift.drift`, `tfdrift.resource_address`, `tfdrift.changed_attrs`, `tfdrift.actor` and
/// `tfdrift.severity`, made as the plugin makes them (C strings).
pub struct FiveFields {
    pub drift: Option<bool>,
    pub address: Option<CString>,
    pub changed: Vec<CString>,
    pub actor: Option<CString>,
    pub severity: Option<CString>,
}

/// Reads the five fields of a verdict as the plugin's field methods do.
pub fn five_fields(v: &Verdict) -> FiveFields {
    FiveFields {
        drift: v.parsed.then_some(v.drift),
        address: v
            .primary()
            .and_then(|m| CString::new(m.address.as_str()).ok()),
        changed: v
            .changed_attrs
            .iter()
            .filter_map(|a| CString::new(a.as_str()).ok())
            .collect(),
        actor: v.actor.as_deref().and_then(|a| CString::new(a).ok()),
        severity: v.severity.and_then(|s| CString::new(s.as_str()).ok()),
    }
}

/// Where the extraction gets its snapshot: a fixed `ArcSwap`, or the reload thread's.
pub enum Snapshots {
    Fixed(Arc<ArcSwap<Snapshot>>),
    Reloaded(Reloader),
}

impl Snapshots {
    pub fn load(&self) -> Arc<Snapshot> {
        match self {
            Snapshots::Fixed(swap) => swap.load_full(),
            Snapshots::Reloaded(reloader) => reloader.snapshot(),
        }
    }

    pub fn reader(&self) -> SnapshotReader {
        match self {
            Snapshots::Fixed(swap) => SnapshotReader::new(Arc::clone(swap)),
            Snapshots::Reloaded(reloader) => reloader.reader(),
        }
    }
}

/// The library path of one event as the plugin runs it: look at the current snapshot, compute the verdict,
/// read the five fields, and keep the snapshot in the per-event cache (cloned when a reload swapped in
/// another), as `TfDrift::with_verdict` does.
pub struct Extractor {
    pub engine: Engine,
    pub snapshots: Snapshots,
    reader: SnapshotReader,
    /// Whether the snapshot is kept until the next event (the plugin's cache), or loaded for each event and
    /// dropped at once.
    pub keep: bool,
    cached: Option<Arc<Snapshot>>,
}

impl Extractor {
    pub fn new(engine: Engine, snapshots: Snapshots) -> Self {
        Extractor {
            engine,
            reader: snapshots.reader(),
            snapshots,
            keep: true,
            cached: None,
        }
    }

    pub fn event(&mut self, bytes: &[u8]) -> FiveFields {
        if !self.keep {
            self.cached = None;
            let snapshot = self.snapshots.load();
            return five_fields(&self.engine.evaluate(bytes, &snapshot));
        }
        let current = self.reader.current();
        let snapshot = match &self.cached {
            Some(cached) if Arc::ptr_eq(cached, current) => cached,
            _ => self.cached.insert(Arc::clone(current)),
        };
        five_fields(&self.engine.evaluate(bytes, snapshot))
    }

    /// [`Extractor::event`] for a GCP audit log entry (the plugin's path on the `gcp_auditlog` source).
    pub fn gcp_event(&mut self, bytes: &[u8]) -> FiveFields {
        if !self.keep {
            self.cached = None;
            let snapshot = self.snapshots.load();
            return five_fields(&self.engine.evaluate_gcp(bytes, &snapshot));
        }
        let current = self.reader.current();
        let snapshot = match &self.cached {
            Some(cached) if Arc::ptr_eq(cached, current) => cached,
            _ => self.cached.insert(Arc::clone(current)),
        };
        five_fields(&self.engine.evaluate_gcp(bytes, snapshot))
    }

    /// The record's extraction on its own source's path.
    pub fn record(&mut self, record: &RealRecord) -> FiveFields {
        match record.source {
            Source::CloudTrail => self.event(&record.bytes),
            Source::GcpAudit => self.gcp_event(&record.bytes),
        }
    }

    pub fn index_instances(&self) -> usize {
        self.snapshots.load().index.instance_count()
    }
}

// ---------------------------------------------------------------------------------------- measuring

/// Nanoseconds per call of `f` over `items`, measured the same way for every contender: `rounds` rounds
/// of one pass over the items, the median round kept.
pub fn ns_per_item<T>(items: &[T], rounds: usize, mut f: impl FnMut(&T)) -> f64 {
    let mut per_round = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for item in items {
            f(item);
        }
        per_round.push(started.elapsed().as_nanos() as f64 / items.len().max(1) as f64);
    }
    median(&mut per_round)
}

/// The median time of `f` (one call), over `rounds` calls.
pub fn median_ns(rounds: usize, mut f: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_nanos() as f64
        })
        .collect();
    median(&mut times)
}

pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The value at quantile `q` (0..=1) of sorted values.
pub fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// A duration in ns as text with a fitting unit.
pub fn human_ns(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

// ------------------------------------------------------------------------------------------- report

/// What a benchmark found, printed at its end and written to `target/tmp/tfdrift-bench/<name>.md`.
pub struct Report {
    name: &'static str,
    text: String,
}

impl Report {
    pub fn new(name: &'static str) -> Self {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "## {name}{}\n",
            if smoke() {
                " (smoke run: small inputs, few iterations; the figures mean nothing)"
            } else {
                ""
            }
        );
        Report { name, text }
    }

    pub fn line(&mut self, line: impl AsRef<str>) {
        self.text.push_str(line.as_ref());
        self.text.push('\n');
    }

    /// A target: its figure and whether it is met.
    pub fn target(&mut self, what: &str, figure: String, met: bool) {
        self.line(format!(
            "- target: {what}: {figure}: **{}**",
            if met { "met" } else { "NOT met" }
        ));
    }

    pub fn finish(self) {
        println!("\n{}", self.text);
        let path = work_dir().join(format!("{}.md", self.name));
        if let Err(e) = std::fs::write(&path, &self.text) {
            eprintln!("cannot write {}: {e}", path.display());
        } else {
            println!("(written to {})", path.display());
        }
    }
}

/// The machine, for the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(str::trim)
        .unwrap_or("unknown CPU");
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{model}, {cpus} CPUs")
}

/// The texts of records, for a source plugin's config.
pub fn texts(records: &[RealRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.bytes.clone()).expect("UTF-8 records"))
        .collect()
}

/// tfdrift's init config for one local state, any account, project and region, and Terraform's role.
pub fn plugin_config(state: &Path) -> String {
    serde_json::json!({
        "states": [{"name": "bench", "path": state, "account_id": "*", "region": "*", "project_id": "*"}],
        "terraform": {"principals": ["arn:aws:iam::*:role/terraform-ci"]},
        "refresh_interval": 3600,
    })
    .to_string()
}
