//! The fuzz targets' regression inputs (fuzz/regressions/<target>/, inputs that crashed or hung a target once,
//! and hostile inputs kept beside them), replayed through the same calls as the targets in fuzz/fuzz_targets/,
//! in a plain `cargo test`: none may panic. docs/ROBUSTNESS.md says how to add one.
//!
//! `fuzz/regressions/record/crash-scan-value-end-depth-underflow` was found by the `record` target in the
//! structural scanner then in the working tree (`src/scan.rs`, `value_end`: `depth -= 1` underflows when the
//! first bracket found is a closing one, after a stray quote such as `"principalId":Role"`). The scanner
//! must return `None` there (`depth = depth.checked_sub(1)?;`) before it ships.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;
use tfdrift::call::Call;
use tfdrift::catalog::path::Path as IdPath;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;
use tfdrift::config::Config;
use tfdrift::drift::Engine;
use tfdrift::state::{Index, Limits, Scope, Snapshot, parse};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("a regression input");
            (path, bytes)
        })
        .collect()
}

static CATALOG: LazyLock<Arc<Catalog>> =
    LazyLock::new(|| Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog")));

/// What fuzz/fuzz_targets/record.rs does with one input.
fn record(data: &[u8], engine: &Engine, snapshot: &Snapshot) {
    let verdict = engine.evaluate(data, snapshot);
    for name in ["id", "arn", "tags", "ingress", "policy", "name"] {
        let _ = verdict.primary_attribute(snapshot, name);
    }
    if let Ok(record) = Record::parse(data) {
        for section in [
            Section::Request,
            Section::Response,
            Section::Resources,
            Section::Details,
            Section::Region,
            Section::Account,
        ] {
            let _ = record.section_value(section);
        }
    }
}

#[test]
fn record_regressions() {
    let state = parse(
        "example",
        &std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/terraform.tfstate"
        ))
        .unwrap(),
        &Limits::default(),
    )
    .unwrap();
    let config = Config::parse(
        r#"{"states":[{"name":"example","path":"/x"}],"terraform":{"principals":["arn:aws:iam::*:role/terraform-*"]},
            "maintenance_windows":[{"name":"w","days":["sat"],"start":"22:00","end":"02:00","time_zone":"Europe/Paris"}]}"#,
    )
    .unwrap();
    let snapshot = Snapshot {
        index: Index::build(vec![Arc::new(state)], &**CATALOG),
        loaded_at: vec![SystemTime::now()],
    };
    let engine = Engine::new(Arc::clone(&CATALOG), config.policy().unwrap());
    for (path, data) in inputs("record") {
        eprintln!("{}", path.display());
        record(&data, &engine, &snapshot);
    }
}

#[test]
fn state_regressions() {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_instances: 10_000,
        ..Limits::default()
    };
    for (path, data) in inputs("state") {
        eprintln!("{}", path.display());
        let Ok(mut state) = parse("fuzz", &data, &limits) else {
            continue;
        };
        state.scope = Scope::infer(&state);
        for instance in state.instances.iter().take(100) {
            let _ = instance.attribute("id");
            let _ = instance.attribute("tags.Name");
            let _ = instance.string_attribute("arn");
            let _ = instance.raw_attribute("ingress");
            let _ = instance.is_sensitive("password");
        }
        let index = Index::build(vec![Arc::new(state)], &**CATALOG);
        let _ = index.instance_count();
        let _ = index.lookup_arn("arn:aws:iam::123456789012:role/x").count();
    }
}

#[test]
fn config_regressions() {
    for (path, data) in inputs("config") {
        eprintln!("{}", path.display());
        if let Ok(text) = std::str::from_utf8(&data)
            && let Ok(config) = Config::parse(text)
        {
            let _ = config.policy();
        }
    }
}

#[test]
fn path_regressions() {
    for (path, data) in inputs("path") {
        eprintln!("{}", path.display());
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        let (path, document) = text.split_once('\n').unwrap_or((text, "null"));
        let Ok(path) = IdPath::parse(path) else {
            continue;
        };
        let _ = path.root();
        let _ = path.to_string();
        let Ok(document) = serde_json::from_str::<serde_json::Value>(document) else {
            continue;
        };
        let mut out = Vec::new();
        path.values_from(&document, &mut out);
        path.values_from_top(&document, &mut out);
        let mut ids = 0usize;
        path.identifiers_from(&document, |_| ids += 1);
    }
}
