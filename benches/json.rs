//! The JSON approach: what reading a CloudTrail record costs with each way of parsing it, on every real
//! record of `tests/data/cloudtrail`.
//!
//! - `serde_json::from_slice::<Value>`: the baseline the extraction targets are measured against;
//! - `Record::parse`: tfdrift's view (`src/scan.rs` delimits the members with SIMD bit masks, the members
//!   tfdrift reads are decoded, strings borrowed, free-form sections kept as text);
//! - `serde_json` into `IgnoredAny`: the floor of any serde_json approach (validation, no output);
//! - the same borrowed view (strings borrowed where they have no escapes, as `Record` borrows them) with
//!   sonic-rs (sections as `LazyValue`) and with simd-json (sections parsed into `BorrowedValue`: simd-json
//!   has no raw value; it also needs a mutable copy of the bytes, which Falco does not give);
//! - the DOMs of sonic-rs and simd-json;
//! - sonic-rs's lazy readers: `get_many` of the paths `Record` reads, and `to_object_iter` over the top-level
//!   members (values skipped, not validated, until asked for).

mod support;

use criterion::Throughput;
use serde::Deserialize;
use std::hint::black_box;
use support::Report;
use tfdrift::cloudtrail::Record;
// Strings borrowed from the text where they have no escapes (`Option<Cow<str>>` would always allocate):
// the crates compared are given the view `Record` itself uses.
use tfdrift::scan::Str;

/// The fields `Record` reads, for parsers other than serde_json (which has `RawValue`): `$section` is what
/// the free-form sections become.
macro_rules! mirror {
    ($name:ident, $identity:ident, $context:ident, $issuer:ident, $section:ty, #[$attr:meta] $(#[$outer:meta])?) => {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        $(#[$outer])?
        #[allow(dead_code)]
        struct $name<'a> {
            #[serde(borrow, default)]
            event_name: Str<'a>,
            #[serde(borrow, default)]
            event_source: Str<'a>,
            #[serde(borrow, default)]
            event_id: Str<'a>,
            #[serde(borrow, default)]
            event_time: Str<'a>,
            #[serde(borrow, default)]
            aws_region: Str<'a>,
            #[serde(borrow, default)]
            recipient_account_id: Str<'a>,
            #[serde(borrow, default)]
            user_agent: Str<'a>,
            #[serde(borrow, default, rename = "sourceIPAddress")]
            source_ip_address: Str<'a>,
            #[serde(borrow, default)]
            error_code: Str<'a>,
            #[serde(default)]
            read_only: Option<serde::de::IgnoredAny>,
            #[serde(default)]
            session_credential_from_console: Option<serde::de::IgnoredAny>,
            #[serde(borrow, default)]
            user_identity: Option<$identity<'a>>,
            #[$attr]
            request_parameters: Option<$section>,
            #[$attr]
            response_elements: Option<$section>,
            #[$attr]
            resources: Option<$section>,
            #[$attr]
            additional_event_data: Option<$section>,
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct $identity<'a> {
            #[serde(borrow, default, rename = "type")]
            identity_type: Str<'a>,
            #[serde(borrow, default)]
            principal_id: Str<'a>,
            #[serde(borrow, default)]
            arn: Str<'a>,
            #[serde(borrow, default)]
            account_id: Str<'a>,
            #[serde(borrow, default)]
            user_name: Str<'a>,
            #[serde(borrow, default)]
            invoked_by: Str<'a>,
            #[serde(borrow, default)]
            session_context: Option<$context<'a>>,
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct $context<'a> {
            #[serde(borrow, default)]
            session_issuer: Option<$issuer<'a>>,
            #[serde(borrow, default)]
            source_identity: Str<'a>,
        }

        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct $issuer<'a> {
            #[serde(borrow, default, rename = "type")]
            issuer_type: Str<'a>,
            #[serde(borrow, default)]
            arn: Str<'a>,
            #[serde(borrow, default)]
            user_name: Str<'a>,
        }
    };
}

mirror!(
    SonicRecord,
    SonicIdentity,
    SonicContext,
    SonicIssuer,
    sonic_rs::LazyValue<'a>,
    #[serde(borrow, default)]
);
mirror!(
    SimdRecord,
    SimdIdentity,
    SimdContext,
    SimdIssuer,
    simd_json::BorrowedValue<'a>,
    #[serde(borrow, default)]
    // `BorrowedValue<'a>` deserializes from text of exactly its own lifetime.
    #[serde(bound(deserialize = "'a: 'de"))]
);

type Parser = fn(&[u8]) -> bool;

/// Each contender: a name, and a function that parses one record (true if it could).
const CONTENDERS: &[(&str, Parser)] = &[
    ("serde_json::from_slice::<Value> (baseline)", |b| {
        black_box(serde_json::from_slice::<serde_json::Value>(b)).is_ok()
    }),
    (
        "tfdrift Record::parse (src/scan.rs: SIMD delimiting, members decoded on demand)",
        |b| black_box(Record::parse(b)).is_ok(),
    ),
    ("serde_json into IgnoredAny (floor: validation only)", |b| {
        black_box(serde_json::from_slice::<serde::de::IgnoredAny>(b)).is_ok()
    }),
    ("sonic-rs borrowed view (sections LazyValue)", |b| {
        black_box(sonic_rs::from_slice::<SonicRecord>(b)).is_ok()
    }),
    ("sonic-rs Value (DOM)", |b| {
        black_box(sonic_rs::from_slice::<sonic_rs::Value>(b)).is_ok()
    }),
    (
        "simd-json borrowed view (copy + sections as BorrowedValue)",
        |b| {
            let mut copy = b.to_vec();
            black_box(simd_json::serde::from_slice::<SimdRecord>(&mut copy)).is_ok()
        },
    ),
    ("simd-json BorrowedValue (copy + DOM)", |b| {
        let mut copy = b.to_vec();
        black_box(simd_json::to_borrowed_value(&mut copy)).is_ok()
    }),
    (
        "sonic-rs get_many: the 22 paths Record reads (lazy skipping)",
        |b| black_box(sonic_rs::get_many(b, paths())).is_ok(),
    ),
    (
        "serde_json prefix scan: stops once eventSource, eventName, userIdentity, userAgent are read",
        prefix_scan,
    ),
    ("sonic-rs to_object_iter: top-level members (lazy)", |b| {
        let mut ok = true;
        for member in sonic_rs::to_object_iter(b) {
            ok &= black_box(member).is_ok();
        }
        ok
    }),
];

/// The median round of every contender: rounds of one pass over `texts` for each contender in turn.
fn medians(rounds: usize, texts: &[&[u8]]) -> Vec<f64> {
    let all: Vec<usize> = (0..CONTENDERS.len()).collect();
    medians_of(rounds, texts, &all)
        .into_iter()
        .map(|(_, ns)| ns)
        .collect()
}

/// The median round of the `which` contenders, with their positions.
fn medians_of(rounds: usize, texts: &[&[u8]], which: &[usize]) -> Vec<(usize, f64)> {
    let mut per_round: Vec<Vec<f64>> = vec![Vec::new(); which.len()];
    for _ in 0..rounds {
        for (slot, &i) in which.iter().enumerate() {
            let parse = CONTENDERS[i].1;
            per_round[slot].push(support::ns_per_item(texts, 1, |t| {
                black_box(parse(black_box(t)));
            }));
        }
    }
    which
        .iter()
        .zip(per_round.iter_mut())
        .map(|(&i, v)| (i, support::median(v)))
        .collect()
}

/// What a read-only verdict needs, read from the front of the record, stopping as soon as the four members
/// are seen (CloudTrail writes them before the large sections): how cheap an early exit could be.
fn prefix_scan(bytes: &[u8]) -> bool {
    use serde::de::{Deserializer as _, Error as _, IgnoredAny, MapAccess, Visitor};
    use serde_json::value::RawValue;
    struct Prefix<'s>(&'s std::cell::Cell<bool>);
    impl<'de> Visitor<'de> for Prefix<'_> {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a record")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<usize, A::Error> {
            let mut seen = 0;
            while let Some(key) = map.next_key::<&'de str>()? {
                if matches!(
                    key,
                    "eventSource" | "eventName" | "userIdentity" | "userAgent"
                ) {
                    black_box(map.next_value::<&'de RawValue>()?);
                    seen += 1;
                    if seen == 4 {
                        self.0.set(true);
                        return Err(A::Error::custom(""));
                    }
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(seen)
        }
    }
    let done = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.deserialize_map(Prefix(&done)).is_ok() || done.get()
}

/// The paths `Record` reads, for `sonic_rs::get_many`.
fn paths() -> &'static sonic_rs::PointerTree {
    static TREE: std::sync::OnceLock<sonic_rs::PointerTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| {
        let mut tree = sonic_rs::PointerTree::new();
        for top in [
            "eventName",
            "eventSource",
            "eventID",
            "eventTime",
            "awsRegion",
            "recipientAccountId",
            "userAgent",
            "sourceIPAddress",
            "errorCode",
            "readOnly",
            "sessionCredentialFromConsole",
            "requestParameters",
            "responseElements",
            "resources",
            "additionalEventData",
        ] {
            tree.add_path([top]);
        }
        for identity in [
            "type",
            "principalId",
            "arn",
            "accountId",
            "userName",
            "invokedBy",
        ] {
            tree.add_path(["userIdentity", identity]);
        }
        tree.add_path(["userIdentity", "sessionContext"]);
        tree
    })
}

fn main() {
    let catalog = support::catalog();
    let records = support::real_records(&catalog);
    let texts: Vec<&[u8]> = records.iter().map(|r| r.bytes.as_slice()).collect();
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    // The full parsers must read every record; the lazy readers report an error for a path whose parent is
    // not an object (a `userIdentity` that is a string, say), which the table notes.
    let failures: Vec<usize> = CONTENDERS
        .iter()
        .map(|(_, parse)| texts.iter().filter(|t| !parse(t)).count())
        .collect();
    let full_parsers = 7;
    for ((name, _), failed) in CONTENDERS.iter().zip(&failures).take(full_parsers) {
        assert_eq!(*failed, 0, "{name} fails on {failed} real records");
    }

    let mut c = support::criterion();
    let mut group = c.benchmark_group("json/every real record");
    group.throughput(Throughput::Bytes(bytes as u64));
    for (name, parse) in CONTENDERS {
        group.bench_function(*name, |b| {
            b.iter(|| {
                for t in &texts {
                    black_box(parse(black_box(t)));
                }
            })
        });
    }
    group.finish();
    c.final_summary();

    // The same-run table: rounds of every contender in turn, the median round of each.
    let rounds = if support::smoke() { 3 } else { 41 };
    let medians = medians(rounds, &texts);
    let mut report = Report::new("json");
    report.line(format!("machine: {}", support::machine()));
    report.line(format!(
        "{} real records, {} bytes in all ({} bytes on average)\n",
        texts.len(),
        bytes,
        bytes / texts.len().max(1)
    ));
    report.line("| parser | per record | MB/s | vs serde_json::Value | records it errs on |");
    report.line("|---|---:|---:|---:|---:|");
    let per_byte = texts.len() as f64 / bytes as f64;
    for (((name, _), ns), failed) in CONTENDERS.iter().zip(&medians).zip(&failures) {
        report.line(format!(
            "| {name} | {} | {:.0} | {:.2} | {failed} |",
            support::human_ns(*ns),
            1e3 / (ns * per_byte),
            ns / medians[0]
        ));
    }
    // The stratus-red-team files list each record's members in alphabetical order (userAgent and
    // userIdentity last); panther-analysis keeps CloudTrail's own order (userIdentity second): the order
    // decides how much of a record a reader that stops early can skip.
    let in_order: Vec<&[u8]> = records
        .iter()
        .filter(|r| r.origin.starts_with("panther"))
        .map(|r| r.bytes.as_slice())
        .collect();
    let ordered = medians_of(rounds, &in_order, &[0, 1, 2, 3, 8]);
    report.line(format!(
        "\non the {} records in CloudTrail's own member order (panther-analysis):\n",
        in_order.len()
    ));
    report.line("| parser | per record | vs serde_json::Value |");
    report.line("|---|---:|---:|");
    for (i, ns) in &ordered {
        report.line(format!(
            "| {} | {} | {:.2} |",
            CONTENDERS[*i].0,
            support::human_ns(*ns),
            ns / ordered[0].1
        ));
    }
    report.finish();
}
