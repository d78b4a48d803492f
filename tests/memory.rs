//! Memory stays bounded under a sustained stream: 300,000 real CloudTrail records (every record of
//! tests/data/cloudtrail, over and over; Apache-2.0, see its README) through the C ABI of the built
//! `libtfdrift.so`, with the fields rules ask for extracted from each. The resident set after the stream is
//! compared with the one after a warm-up: no per-event growth of the cache, the metrics or anything else.
//! A test binary of its own (not in tests/plugin): it measures the whole process, which no other test
//! may share.

use tfdrift_test_support as common;

use common::*;
use serde_json::json;

#[test]
fn a_sustained_stream_does_not_grow_memory() {
    let mut records: Vec<String> = real_records().into_iter().map(|r| r.text).collect();
    records.push(source_sg_record());
    let total = 300_000;
    let repeat = total / records.len() + 1;
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "sg.tfstate", &security_group_state(1, "web"));
    let config = config(&[("main", &path)], json!({"refresh_interval": 1}));
    let mut capture = start(&records, repeat, 0, &config).expect("tfdrift starts");
    let fields = [
        "tfdrift.managed",
        "tfdrift.drift",
        "tfdrift.resource_address",
        "tfdrift.changed_attrs",
        "tfdrift.diff",
        "tfdrift.actor",
        "tfdrift.attr[id]",
    ];
    let warm_up = 20_000;
    let mut seen = 0usize;
    let mut managed = 0usize;
    let mut rss_warm = 0;
    while let Some(event) = next(&mut capture) {
        let answer = extract_all(&mut capture, &event, &fields);
        managed += usize::from(answer.bool("tfdrift.managed") == Some(true));
        seen += 1;
        if seen == warm_up {
            rss_warm = rss();
        }
        if seen == total {
            break;
        }
    }
    let rss_end = rss();
    let events = metric(&mut capture, "events_seen");
    eprintln!(
        "memory: {seen} events ({managed} managed): resident {} KiB after {warm_up}, {} KiB after {seen}",
        rss_warm / 1024,
        rss_end / 1024
    );
    assert_eq!(seen, total);
    assert_eq!(events, total as u64);
    assert!(
        managed >= total / records.len(),
        "the managed record matched"
    );
    // 280,000 events after the warm-up: a leak of even 64 bytes an event would be 17 MB.
    assert!(
        rss_end < rss_warm + 8 * 1024 * 1024,
        "resident memory grew from {} KiB to {} KiB",
        rss_warm / 1024,
        rss_end / 1024
    );
}
