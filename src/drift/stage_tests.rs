//! The staged entry against the full verdict, on every real record of `tests/data` (CloudTrail and GCP
//! audit entries): a verdict stopped at [`Stage::Caller`] holds, in every field of that stage, what the full
//! verdict of the same call holds; it stops only for a successful mutating call whose caller cannot make
//! drift; and asked for [`Stage::Full`], the staged entry gives [`Engine::evaluate_call`]'s verdict. The
//! state holds every resource the records name, so the full verdicts have matches that stage one skips.

use super::*;
use crate::call::Principals;
use crate::state::{Index, Limits, Scope, parse};
use std::time::SystemTime;

/// The folder of the real records.
fn data(path: &str) -> String {
    format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))
}

/// Every real CloudTrail record, as text: stratus-red-team's files (JSON arrays) and Panther's lines.
fn cloudtrail_records() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(data("cloudtrail/stratus-red-team"))
        .expect("stratus-red-team records")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let Value::Array(records) =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("a file")).expect("JSON")
        else {
            panic!("{} is not an array of records", file.display());
        };
        out.extend(records.iter().map(Value::to_string));
    }
    let panther =
        std::fs::read_to_string(data("cloudtrail/panther-analysis.jsonl")).expect("lines");
    out.extend(
        panther
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned),
    );
    out
}

/// Every real GCP audit log entry, with the LogEntry's own member names where Panther's copies lowercase them
/// (tests/data/README.md), as Cloud Logging writes them.
fn gcp_entries() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(data("gcp-audit"))
        .expect("GCP entries")
        .map(|e| e.expect("an entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        for line in std::fs::read_to_string(&file).expect("a file").lines() {
            let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            out.push(super::gcp_attrs_tests::log_entry_names(entry).to_string());
        }
    }
    out
}

/// Every (type, identifier) the catalog's entries for the call read from it.
fn named(catalog: &Catalog, call: &impl Call, out: &mut Vec<(String, String)>) {
    let sections = Sections::new(call);
    for entry in catalog.candidates(call.service(), call.operation()) {
        for target in entry.targets.iter() {
            for path in target.ids.iter() {
                let Some(root) = path.section().and_then(|s| sections.get(s)) else {
                    continue;
                };
                path.identifiers_from(root, |id| {
                    let pair = (target.resource_type.to_string(), id.to_string());
                    if !out.contains(&pair) {
                        out.push(pair);
                    }
                });
            }
        }
    }
}

/// A snapshot holding one instance per (type, identifier), the identifier in `id` and in every key the
/// catalog looks that type up by.
fn holding(catalog: &Catalog, named: &[(String, String)]) -> Snapshot {
    let resources: Vec<Value> = named
        .iter()
        .enumerate()
        .map(|(i, (resource_type, id))| {
            let mut attributes = Map::new();
            attributes.insert("id".into(), Value::String(id.clone()));
            for key in crate::state::KeySpec::keys(catalog, resource_type) {
                attributes.insert(key.to_string(), Value::String(id.clone()));
            }
            serde_json::json!({"mode": "managed", "type": resource_type, "name": format!("r{i}"),
                               "instances": [{"attributes": attributes}]})
        })
        .collect();
    let text = serde_json::json!({"version": 4, "serial": 3, "resources": resources}).to_string();
    let mut state = parse("all", text.as_bytes(), &Limits::default()).expect("the state");
    state.scope = Scope::infer(&state);
    Snapshot {
        index: Index::build(vec![Arc::new(state)], catalog),
        loaded_at: vec![SystemTime::now()],
    }
}

/// The policies tried: as configured by default (Terraform by its user agent), everyone Terraform, everyone
/// ignored, AWS services' changes counted, and a maintenance window over some of the records' times.
fn policies() -> Vec<(&'static str, Policy)> {
    let window = maintenance::Windows {
        weekly: Vec::new(),
        one_off: vec![maintenance::OneOff {
            name: "2020-2022".into(),
            from: "2020-01-01T00:00:00Z".parse().expect("a time"),
            to: "2022-01-01T00:00:00Z".parse().expect("a time"),
        }],
    };
    vec![
        ("default", Policy::default()),
        (
            "everyone terraform",
            Policy {
                terraform: TerraformIdentity::new(&["*"], true),
                maintenance: window.clone(),
                ..Policy::default()
            },
        ),
        (
            "everyone ignored",
            Policy {
                ignored_principals: Principals::new(&["*"]),
                terraform: TerraformIdentity::new::<&str>(&[], false),
                ..Policy::default()
            },
        ),
        (
            "services count",
            Policy {
                aws_service_changes_are_drift: true,
                maintenance: window,
                ..Policy::default()
            },
        ),
    ]
}

/// The fields of stage one, by name, for the messages.
fn stage_one(v: &Verdict) -> impl PartialEq + std::fmt::Debug + '_ {
    (
        ("parsed", v.parsed),
        ("covered", v.covered),
        ("by_terraform", v.by_terraform),
        ("caller_may_drift", v.caller_may_drift),
        ("actor", v.actor.as_deref()),
        ("actor_kind", v.actor_kind),
        ("in_maintenance", v.in_maintenance),
        ("maintenance_window", v.maintenance_window.as_deref()),
        ("drift", v.drift),
        ("unmanaged", v.unmanaged),
    )
}

#[test]
fn stage_one_holds_what_the_full_verdict_holds_in_its_fields_on_real_records() {
    let catalog = Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"));
    let cloudtrail = cloudtrail_records();
    let gcp = gcp_entries();
    assert!(
        cloudtrail.len() > 500 && gcp.len() > 100,
        "the real records"
    );
    let mut touched = Vec::new();
    for text in &cloudtrail {
        if let Ok(record) = Record::parse(text.as_bytes()) {
            named(&catalog, &record, &mut touched);
        }
    }
    for text in &gcp {
        if let Ok(entry) = Entry::parse(text.as_bytes()) {
            named(&catalog, &entry, &mut touched);
        }
    }
    let snapshot = holding(&catalog, &touched);

    for (name, policy) in policies() {
        let engine = Engine::new(Arc::clone(&catalog), policy);
        // Stopped at stage one; of those, the ones whose full verdict found a managed resource.
        let (mut stopped, mut stopped_managed, mut full_managed) = (0, 0, 0);
        let inputs = cloudtrail
            .iter()
            .map(|t| (t, false))
            .chain(gcp.iter().map(|t| (t, true)));
        for (i, (text, is_gcp)) in inputs.enumerate() {
            let bytes = text.as_bytes();
            let (full, staged, partial) = if is_gcp {
                (
                    engine.evaluate_gcp(bytes, &snapshot),
                    engine.evaluate_gcp_staged(bytes, &snapshot, Stage::Full),
                    engine.evaluate_gcp_staged(bytes, &snapshot, Stage::Caller),
                )
            } else {
                (
                    engine.evaluate(bytes, &snapshot),
                    engine.evaluate_staged(bytes, &snapshot, Stage::Full),
                    engine.evaluate_staged(bytes, &snapshot, Stage::Caller),
                )
            };
            assert_eq!(full.stage, Stage::Full, "{name}, record {i}");
            assert_eq!(staged, full, "{name}, record {i}");
            full_managed += usize::from(full.managed == Some(true));
            if partial.stage == Stage::Full {
                assert_eq!(partial, full, "{name}, record {i}");
                continue;
            }
            stopped += 1;
            stopped_managed += usize::from(full.managed == Some(true));
            assert_eq!(stage_one(&partial), stage_one(&full), "{name}, record {i}");
            // It stops only where the caller cannot make drift: the full verdict says neither.
            assert!(!full.caller_may_drift, "{name}, record {i}");
            assert!(!full.drift && !full.unmanaged, "{name}, record {i}");
            // And only where the index would have been searched: a successful mutating call.
            assert!(partial.parsed && partial.managed.is_none() && partial.matches.is_empty());
        }
        println!(
            "{name}: {stopped} verdicts stopped at stage one, {stopped_managed} of them managed; {full_managed} managed in all"
        );
        assert!(
            full_managed > 100,
            "{name}: the state holds what the records name"
        );
        if name.starts_with("everyone") {
            // Every caller with an identity is Terraform's or ignored: almost every call that found a
            // managed resource stopped before the index (those left name no principal at all).
            assert!(stopped_managed * 10 >= full_managed * 9, "{name}");
        } else {
            assert!(stopped > 0 && stopped_managed < full_managed, "{name}");
        }
    }
}
