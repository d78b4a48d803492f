//! State files that change while events flow: the reload thread swaps the new index in without a torn read,
//! and a broken file keeps the last good index. Extraction stays on the test thread (the runner is not
//! `Send`); only the file writes happen elsewhere.

use tfdrift_test_support as common;

use common::*;
use falco_plugin_runner::CapturingPluginRunner;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

const SG_ID: &str = "sg-003dc7f1f1c686164";

/// What one event says: the address, the serial and a state attribute, which must all come from one state.
type Answer = (Option<String>, Option<u64>, Option<String>);

fn sg_record() -> String {
    stratus_record(
        "aws.exfiltration.ec2-security-group-open-port-22-ingress.json",
        "AuthorizeSecurityGroupIngress",
    )
}

/// A state holding the security group at `module.name`, with the serial and the group's name tied to it.
fn state(serial: u64, module: &str, name: &str) -> Value {
    state_v4(
        serial,
        vec![resource(
            module,
            "aws_security_group",
            name,
            json!({"id": SG_ID, "name": format!("{name}-{serial}"), "ingress": []}),
        )],
    )
}

fn answer_for(serial: u64, module: &str, name: &str) -> Answer {
    let address = if module.is_empty() {
        format!("aws_security_group.{name}")
    } else {
        format!("{module}.aws_security_group.{name}")
    };
    (
        Some(address),
        Some(serial),
        Some(format!("{name}-{serial}")),
    )
}

fn next_answer(capture: &mut CapturingPluginRunner) -> Answer {
    let event = next(capture).expect("the source has more events");
    let r = extract_all(
        capture,
        &event,
        &[
            "tfdrift.resource_address",
            "tfdrift.state_serial",
            "tfdrift.attr[name]",
        ],
    );
    (
        r.str("tfdrift.resource_address"),
        r.u64("tfdrift.state_serial"),
        r.str("tfdrift.attr[name]"),
    )
}

/// Reads answers until `target` is seen (then a little longer, to see it stay), failing on any answer that
/// is not one of `allowed` and when `target` is not seen within `within`.
fn watch_until(
    capture: &mut CapturingPluginRunner,
    target: &Answer,
    allowed: &[&Answer],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    let mut seen_at: Option<Instant> = None;
    loop {
        let answer = next_answer(capture);
        match seen_at {
            Some(_) => assert_eq!(&answer, target, "went back after {target:?} was seen"),
            None => {
                assert!(
                    answer == *target || allowed.contains(&&answer),
                    "unexpected (torn?) answer {answer:?}"
                );
                if answer == *target {
                    seen_at = Some(Instant::now());
                }
            }
        }
        if let Some(at) = seen_at
            && at.elapsed() > Duration::from_millis(300)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{target:?} not seen within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Reads answers for `duration`; every one must be `expected`.
fn hold(capture: &mut CapturingPluginRunner, expected: &Answer, duration: Duration) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        assert_eq!(&next_answer(capture), expected);
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Writes `bytes` next to `path` and renames it over, as Terraform and most tools replace a file.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn start_on(path: &Path, extra: Value) -> CapturingPluginRunner {
    let mut extra = extra;
    extra["refresh_interval"] = json!(1);
    start(
        &[sg_record()],
        1_000_000,
        0,
        &config(&[("net", path)], extra),
    )
    .expect("tfdrift starts")
}

#[test]
fn renamed_over_state_swaps_without_torn_reads_and_survives_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "net.tfstate", &state(1, "", "x_address"));
    let x = answer_for(1, "", "x_address");
    let y = answer_for(2, "module.moved", "y_address_longer");
    let z = answer_for(3, "", "z");
    let mut capture = start_on(&path, json!({}));
    assert_eq!(next_answer(&mut capture), x);

    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            replace(
                &path,
                &serde_json::to_vec(&state(2, "module.moved", "y_address_longer")).unwrap(),
            );
        })
    };
    watch_until(&mut capture, &y, &[&x], Duration::from_secs(5));
    writer.join().unwrap();

    // A broken file keeps the last good index...
    replace(
        &path,
        b"{\"version\": 4, \"serial\": 3, \"resources\": [ {\"type\": ",
    );
    hold(&mut capture, &y, Duration::from_millis(2500));
    // ...and a good one after it is taken.
    replace(&path, &serde_json::to_vec(&state(3, "", "z")).unwrap());
    watch_until(&mut capture, &z, &[&y], Duration::from_secs(5));
}

#[test]
fn rewritten_in_place_state_swaps_without_torn_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_state(dir.path(), "net.tfstate", &state(1, "", "x_address"));
    let x = answer_for(1, "", "x_address");
    let y = answer_for(2, "module.moved", "y_address_longer");
    let mut capture = start_on(&path, json!({}));
    assert_eq!(next_answer(&mut capture), x);

    // Rewritten in place, slowly, in pieces: the reload thread may read a truncated or half-written file.
    let writer = {
        let path = path.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            std::thread::sleep(Duration::from_millis(300));
            let bytes =
                serde_json::to_vec_pretty(&state(2, "module.moved", "y_address_longer")).unwrap();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&path)
                .unwrap();
            for chunk in bytes.chunks(bytes.len() / 3 + 1) {
                file.write_all(chunk).unwrap();
                file.flush().unwrap();
                std::thread::sleep(Duration::from_millis(700));
            }
        })
    };
    watch_until(&mut capture, &y, &[&x], Duration::from_secs(8));
    writer.join().unwrap();

    // A broken file written in place keeps the last good index.
    std::fs::write(&path, b"not a state").unwrap();
    hold(&mut capture, &y, Duration::from_millis(2500));
}

#[test]
fn a_state_that_appears_later_is_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("late.tfstate");
    let mut capture = start_on(&path, json!({"require_state_on_start": false}));
    let nothing: Answer = (None, None, None);
    assert_eq!(next_answer(&mut capture), nothing);
    replace(&path, &serde_json::to_vec(&state(5, "", "late")).unwrap());
    watch_until(
        &mut capture,
        &answer_for(5, "", "late"),
        &[&nothing],
        Duration::from_secs(5),
    );
}

// ------------------------------------------------------------------------------------ sources under stress

/// Aborts the test process (a failure, with `what` said) unless dropped within `within`: for code that,
/// broken, would never return.
struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    fn new(what: &'static str, within: Duration) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::clone(&done);
        std::thread::spawn(move || {
            let end = Instant::now() + within;
            while Instant::now() < end {
                if seen.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            eprintln!("{what}: did not return within {within:?}");
            std::process::abort();
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_fifo_or_a_device_as_a_state_path_blocks_nothing() {
    // Reading a FIFO blocks until a writer comes, forever if none does; a device never ends. Neither is a
    // state: refused without being opened, while the other states load and Falco starts and stops.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("state.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    let good = dir.path().join("good.tfstate");
    replace(&good, &serde_json::to_vec(&state(3, "", "web")).unwrap());
    let dog = Watchdog::new(
        "init and destroy with a FIFO state",
        Duration::from_secs(90),
    );
    let mut capture = start(
        &[sg_record()],
        1_000_000,
        0,
        &config(
            &[
                ("fifo", &fifo),
                ("zero", Path::new("/dev/zero")),
                ("good", &good),
            ],
            json!({"refresh_interval": 1}),
        ),
    )
    .expect("tfdrift starts");
    assert_eq!(next_answer(&mut capture), answer_for(3, "", "web"));
    assert!(metric(&mut capture, "refresh_failures") >= 2);
    // A refresh later, still answering.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(next_answer(&mut capture), answer_for(3, "", "web"));
    drop(capture);
    drop(dog);
}

#[test]
fn a_source_that_stalls_delays_no_other_state() {
    // An HTTP state whose server stops answering (connection accepted, no reply) while a local state
    // changes: the local change is swapped in at the next refresh, not after the stalled request's 30 s.
    let stall = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let served = serde_json::to_vec(&state_v4(1, vec![])).unwrap();
    let server = {
        let stall = std::sync::Arc::clone(&stall);
        TestServer::start(move |_| {
            while stall.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut reply = TestReply::new(200);
            reply.body = served.clone();
            reply
        })
    };
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("net.tfstate");
    replace(&local, &serde_json::to_vec(&state(1, "", "web")).unwrap());
    let mut config: Value =
        serde_json::from_str(&config(&[("net", &local)], json!({"refresh_interval": 1}))).unwrap();
    config["states"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "remote", "http": {"url": server.url("/state")}}));
    let mut capture = start(&[sg_record()], 1_000_000, 0, &config.to_string()).expect("starts");
    assert_eq!(next_answer(&mut capture), answer_for(1, "", "web"));
    stall.store(true, std::sync::atomic::Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    replace(&local, &serde_json::to_vec(&state(2, "", "web")).unwrap());
    watch_until(
        &mut capture,
        &answer_for(2, "", "web"),
        &[&answer_for(1, "", "web")],
        Duration::from_secs(12),
    );
    // Stopping does not wait for the stalled request either.
    let dog = Watchdog::new("destroy during a stalled request", Duration::from_secs(20));
    drop(capture);
    drop(dog);
    stall.store(false, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn a_lineage_switched_away_and_back_cannot_bring_an_old_version_in() {
    // A/10, then B/1 (a new lineage: accepted), then A/5: lineage A already served serial 10, so A/5 is a
    // rollback, refused; the index keeps B/1 and counts the refusal.
    let with_lineage = |serial: u64, lineage: &str| {
        let mut s = state(serial, "", "web");
        s["lineage"] = json!(lineage);
        serde_json::to_vec(&s).unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("net.tfstate");
    replace(&path, &with_lineage(10, "a"));
    let mut capture = start_on(&path, json!({}));
    assert_eq!(next_answer(&mut capture), answer_for(10, "", "web"));
    replace(&path, &with_lineage(1, "b"));
    watch_until(
        &mut capture,
        &answer_for(1, "", "web"),
        &[&answer_for(10, "", "web")],
        Duration::from_secs(5),
    );
    replace(&path, &with_lineage(5, "a"));
    let refused = Instant::now() + Duration::from_secs(5);
    while metric(&mut capture, "rollbacks_refused") == 0 {
        assert!(Instant::now() < refused, "A/5 not refused");
        assert_eq!(next_answer(&mut capture), answer_for(1, "", "web"));
        std::thread::sleep(Duration::from_millis(50));
    }
    hold(
        &mut capture,
        &answer_for(1, "", "web"),
        Duration::from_millis(1500),
    );
    replace(&path, &with_lineage(11, "a"));
    watch_until(
        &mut capture,
        &answer_for(11, "", "web"),
        &[&answer_for(1, "", "web")],
        Duration::from_secs(5),
    );
}
