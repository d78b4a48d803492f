//! The reader that takes a section's strings from its text (`lenient::strings`, what a call outside the catalog
//! is looked up by) against the value it stands for (`lenient::value`, walked as the fallback walked it before),
//! over every section of every real record and over hostile sections.

use tfdrift::call::Call;
use tfdrift::catalog::Section;
use tfdrift::cloudtrail::Record;
use tfdrift::scan::lenient;
use tfdrift_test_support as common;

use serde_json::Value;

/// The walk of the value, as the fallback made it: every non-empty string once, objects by member name,
/// at most `max`.
fn from_value(value: &Value, out: &mut Vec<String>, max: usize) {
    if out.len() >= max {
        return;
    }
    match value {
        Value::String(s) if !s.is_empty() && !out.contains(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| from_value(v, out, max)),
        Value::Object(map) => map.values().for_each(|v| from_value(v, out, max)),
        _ => {}
    }
}

fn agree(text: &str, prefilled: &[&str], max: usize) -> Vec<String> {
    let start: Vec<String> = prefilled.iter().map(|s| (*s).to_owned()).collect();
    let mut expected = start.clone();
    if let Some(value) = lenient::value(text) {
        from_value(&value, &mut expected, max);
    }
    let mut got = start;
    lenient::strings(text, &mut got, max);
    assert_eq!(got, expected, "{text:.200}");
    got
}

#[test]
fn every_section_of_every_real_record_gives_the_strings_of_its_value() {
    let records = common::real_records();
    assert!(records.len() >= 763, "{} records", records.len());
    let mut sections = 0;
    for real in &records {
        let record = Record::parse(real.text.as_bytes()).expect("a record");
        for section in [
            Section::Request,
            Section::Response,
            Section::Resources,
            Section::Details,
        ] {
            let Some(text) = record.section_text(section) else {
                continue;
            };
            // The text is what the value is parsed from.
            assert_eq!(
                record.section_value(section),
                lenient::value(text),
                "{}",
                real.origin
            );
            // The fallback's cap, a cap that cuts most sections short, and strings found before.
            for max in [512, 2] {
                agree(text, &[], max);
            }
            agree(text, &["us-east-1", "arn:aws:iam::123456789012:root"], 512);
            sections += 1;
        }
    }
    assert!(sections >= 998, "{sections} sections");
}

#[test]
fn hostile_sections_give_the_strings_of_their_value() {
    let deep = format!("{}\"x\"{}", "[".repeat(200), "]".repeat(200));
    let deep_object = format!(
        "{{\"a\": \"sg-1\", \"b\": {}\"x\"{}}}",
        "{\"k\":".repeat(150),
        "}".repeat(150)
    );
    for text in [
        // Duplicated members: the first is read.
        r#"{"groupId": "sg-first", "groupId": "sg-second"}"#,
        r#"{"b": {"x": "one"}, "a": ["two", "three"], "b": "hidden"}"#,
        // Escaped names sort (and repeat) by their decoded form; escaped values are decoded.
        r#"{"\u0062": "b-escaped", "a": "a", "b": "b-plain", "c": "sg-\u0031"}"#,
        // A lone surrogate, a number out of range: marked, the rest read.
        r#"{"a": "\ud800", "b": 1e999, "c": "sg-2", "d": 12, "e": [true, null, ""]}"#,
        // Not JSON: unreadable as a whole.
        r#"{"a": "sg-3", "b": }"#,
        r#"{"a": "sg-3"} trailing"#,
        r#"["sg-4", "sg-4", "", "sg-5"]"#,
        &deep,
        &deep_object,
    ] {
        agree(text, &[], 512);
        agree(text, &[], 1);
        agree(text, &["sg-2"], 512);
    }
    // What the value says, checked by hand for one: first of duplicates, by name, each once.
    assert_eq!(
        agree(
            r#"{"z": "last", "a": ["x", "x"], "m": "mid", "a": "dup"}"#,
            &[],
            512
        ),
        ["x", "mid", "last"]
    );
}
