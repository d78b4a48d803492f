//! Every real CloudTrail record of `tests/data/cloudtrail` through tfdrift's C ABI, against a state built to
//! hold exactly the resources the mutating, successful, covered records name: each must be found at the
//! address written for it, and none in a state that holds none of them.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use tfdrift::call::Call;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;
use tfdrift::state::KeySpec;

/// What a record is expected to match.
struct Expected {
    /// Position in `real_records()`.
    index: usize,
    origin: String,
    event_name: String,
    resource_type: String,
    identifier: String,
    address: String,
}

/// `readOnly: false`, or no `readOnly` and a name that does not read.
fn mutating(record: &Value) -> bool {
    match &record["readOnly"] {
        Value::Bool(read_only) => !read_only,
        Value::String(s) if s == "true" || s == "false" => s == "false",
        _ => {
            let name = record["eventName"].as_str().unwrap_or("");
            !["Get", "List", "Describe", "Head"]
                .iter()
                .any(|verb| name.starts_with(verb))
        }
    }
}

fn successful(record: &Value) -> bool {
    match &record["errorCode"] {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The first target of the call that yields an identifier, with the identifiers it yields.
fn identifiers<'c>(
    call: &'c tfdrift::catalog::Call,
    record: &Record,
) -> Option<(&'c tfdrift::catalog::Target, Vec<String>)> {
    for target in call.targets.iter() {
        let mut ids: Vec<String> = Vec::new();
        for path in target.ids.iter() {
            let Some(section) = Section::from_root(path.root()) else {
                continue;
            };
            let Some(root) = record.section_value(section) else {
                continue;
            };
            path.identifiers_from(&root, |id| {
                let id = id.to_string();
                if !ids.contains(&id) {
                    ids.push(id);
                }
            });
        }
        if !ids.is_empty() {
            return Some((target, ids));
        }
    }
    None
}

#[test]
fn every_covered_real_record_finds_its_resource() {
    let catalog = Catalog::embedded().expect("the embedded catalog loads");
    let records = real_records();
    let texts: Vec<String> = records.iter().map(|r| r.text.clone()).collect();

    let (mut mutating_successful, mut covered) = (0usize, 0usize);
    let mut no_identifier: Vec<(String, String)> = Vec::new();
    let mut expected: Vec<Expected> = Vec::new();
    // (type, identifier) -> (address, key attribute, the other parts of a composite identity): records
    // naming the same resource share it.
    type Parts = Vec<(String, String)>;
    let mut resources: BTreeMap<(String, String, Parts), (String, String)> = BTreeMap::new();
    for (index, real) in records.iter().enumerate() {
        if !(mutating(&real.value) && successful(&real.value)) {
            continue;
        }
        mutating_successful += 1;
        let record =
            Record::parse(real.text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", real.origin));
        let Some(call) = catalog.lookup(record.event_source(), record.event_name()) else {
            continue;
        };
        covered += 1;
        let Some((target, ids)) = identifiers(call, &record) else {
            no_identifier.push((real.origin.clone(), record.event_name().to_owned()));
            continue;
        };
        let resource_type = target.resource_type.to_string();
        let key = match &target.join {
            Some(join) => join[0].to_string(),
            None => catalog.keys(&resource_type)[0].to_string(),
        };
        let identifier = ids[0].clone();
        // The record's value of each other part: the resource the state holds has it too.
        let parts: Parts = target
            .parts
            .iter()
            .filter_map(|(path, attr)| {
                let root = record.section_value(Section::from_root(path.root())?)?;
                let mut first = None;
                path.identifiers_from(&root, |id| {
                    first.get_or_insert_with(|| id.to_string());
                });
                Some((attr.to_string(), first?))
            })
            .collect();
        let count = resources.len();
        let (address, _) = resources
            .entry((resource_type.clone(), identifier.clone(), parts))
            .or_insert_with(|| (format!("{resource_type}.rec_{count}"), key));
        expected.push(Expected {
            index,
            origin: real.origin.clone(),
            event_name: record.event_name().to_owned(),
            resource_type,
            identifier,
            address: address.clone(),
        });
    }

    println!("real records: {} seen", records.len());
    println!("  mutating and successful: {mutating_successful}");
    println!("  covered by the catalog:  {covered}");
    println!("  identifier found:        {}", expected.len());
    println!("  distinct resources:      {}", resources.len());
    println!(
        "covered records where no identifier was found ({}):",
        no_identifier.len()
    );
    for (origin, name) in &no_identifier {
        println!("  {origin} {name}");
    }
    let mut by_call: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &expected {
        *by_call.entry(e.event_name.as_str()).or_default() += 1;
    }
    println!("identified records by call: {by_call:?}");

    let state = state_v4(
        7,
        resources
            .iter()
            .map(|((resource_type, identifier, parts), (address, key))| {
                let name = address.rsplit('.').next().unwrap();
                let mut attributes = json!({ "id": identifier });
                attributes[key.as_str()] = json!(identifier);
                for (attr, value) in parts {
                    attributes[attr.as_str()] = json!(value);
                }
                resource("", resource_type, name, attributes)
            })
            .collect(),
    );
    let unrelated = state_v4(
        1,
        vec![resource(
            "",
            "aws_vpc",
            "unrelated",
            json!({"id": "vpc-00000000000000000", "cidr_block": "10.9.0.0/16"}),
        )],
    );
    let dir = tempfile::tempdir().unwrap();
    let holds_all = write_state(dir.path(), "all.tfstate", &state);
    let holds_none = write_state(dir.path(), "none.tfstate", &unrelated);

    let fields = [
        "tfdrift.managed",
        "tfdrift.resource_address",
        "tfdrift.resource_addresses",
        "tfdrift.resource_type",
        "tfdrift.resource_id",
        "tfdrift.state",
        "tfdrift.covered",
        "tfdrift.drift",
        "tfdrift.actor_kind",
        "tfdrift.diff",
        "tfdrift.changed_attrs",
        "tfdrift.touched_attrs",
    ];
    // Every record, covered or not: `run` fails on any extraction error.
    let against_all = run(&texts, &config(&[("all", &holds_all)], json!({})), &fields);
    let against_none = run(
        &texts,
        &config(&[("none", &holds_none)], json!({})),
        &fields,
    );

    let mut matched = 0usize;
    let mut mismatches: Vec<String> = Vec::new();
    let looked_up: HashMap<usize, &Expected> = expected.iter().map(|e| (e.index, e)).collect();
    for e in &expected {
        let r = &against_all[e.index];
        let got = (
            r.bool("tfdrift.managed"),
            r.str("tfdrift.resource_type"),
            r.str("tfdrift.resource_address"),
        );
        if got
            == (
                Some(true),
                Some(e.resource_type.clone()),
                Some(e.address.clone()),
            )
        {
            matched += 1;
            assert!(
                r.list("tfdrift.resource_addresses").contains(&e.address),
                "{}",
                e.origin
            );
            assert_eq!(
                r.str("tfdrift.state").as_deref(),
                Some("all"),
                "{}",
                e.origin
            );
            assert_eq!(r.bool("tfdrift.covered"), Some(true), "{}", e.origin);
        } else {
            mismatches.push(format!(
                "{} {}: expected {} {} (id {}), got managed {:?} type {:?} address {:?}",
                e.origin,
                e.event_name,
                e.resource_type,
                e.address,
                e.identifier,
                got.0,
                got.1,
                got.2
            ));
        }
        let n = &against_none[e.index];
        if n.bool("tfdrift.managed") != Some(false) || n.str("tfdrift.resource_address").is_some() {
            mismatches.push(format!(
                "{} {}: in a state that does not hold it: managed {:?}, address {:?}",
                e.origin,
                e.event_name,
                n.bool("tfdrift.managed"),
                n.str("tfdrift.resource_address")
            ));
        }
        assert_eq!(
            n.bool("tfdrift.drift"),
            Some(false),
            "{}: nothing managed, no drift",
            e.origin
        );
    }
    // A record that names no resource the catalog knows how to find is never said to be managed or not.
    for (index, real) in records.iter().enumerate() {
        if looked_up.contains_key(&index) {
            continue;
        }
        for (label, results) in [("all", &against_all), ("none", &against_none)] {
            if let Some(managed) = results[index].bool("tfdrift.managed") {
                mismatches.push(format!(
                    "{} (state {label}): managed {managed} for a record that names no identifier",
                    real.origin
                ));
            }
        }
    }

    println!("  matched:                 {matched}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert_eq!(matched, expected.len());
    assert!(covered > 0, "no real record is covered by the catalog");
    assert!(
        expected.len() * 10 >= covered * 9,
        "identifiers found for only {} of {covered} covered records",
        expected.len()
    );
}
