//! Log files as records: the layouts CloudTrail and Cloud Logging write, plain or gzipped, handed over as text.

use anyhow::Context;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// The log files under `path` (itself, or every `.json`, `.json.gz`, `.jsonl`, `.jsonl.gz` file in its folders), in
/// name order.
pub fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
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
pub enum Position {
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
/// The bytes come from `reader` (gzip with `gz`): a file or an object, called `name` in messages.
pub fn for_each_record_in(
    reader: impl Read,
    name: &str,
    gz: bool,
    mut each: impl FnMut(&str, Position) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let reader: Box<dyn Read + '_> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let cannot_read = || format!("cannot read {name}");
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
                            name
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
            .with_context(|| format!("{name} is not a JSON array of records"))?;
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
        let record = record.with_context(|| format!("{name} record {}: not JSON", n + 1))?;
        each(record.get(), Position::Item(n + 1))?;
    }
    Ok(())
}
