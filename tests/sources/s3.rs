//! States in S3, against a real S3-compatible server (moto, started here on 127.0.0.1 with fake keys): the
//! first load, conditional GETs (an unchanged object is checked, not parsed again), a changed object swapped
//! in, what must be refused (a rollback, an object that is not a state, too large, cut short) keeping the last
//! good index, the server going away, and workspace discovery. Needs moto (`scripts/test.sh` installs it):
//! without it these tests fail, they do not skip.

use tfdrift_test_support as common;

use common::*;
use falco_plugin_runner::CapturingPluginRunner;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BUCKET: &str = "tfstate";
const KEY: &str = "network/terraform.tfstate";

fn s3_config(moto: &MotoServer, s3_extra: Value, extra: Value) -> Value {
    let mut s3 = json!({
        "bucket": BUCKET,
        "key": KEY,
        "region": "us-east-1",
        "endpoint": moto.endpoint(),
    });
    merge(&mut s3, &s3_extra);
    let mut config = json!({
        "states": [{"name": "net", "s3": s3}],
        "refresh_interval": 1,
    });
    merge(&mut config, &extra);
    config
}

fn merge(into: &mut Value, from: &Value) {
    if let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
}

fn bytes(state: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(state).expect("a state serialises")
}

/// Reads answers for `duration`; every one must be from `serial`.
fn hold_serial(capture: &mut CapturingPluginRunner, serial: u64, duration: Duration) {
    let end = Instant::now() + duration;
    while Instant::now() < end {
        let answer = next_sg_answer(capture);
        assert_eq!(answer.2, Some(serial), "{answer:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_metric(capture: &mut CapturingPluginRunner, name: &str, check: impl Fn(u64) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let value = metric(capture, name);
        if check(value) {
            return;
        }
        assert!(Instant::now() < deadline, "tfdrift.{name} stays at {value}");
        // Events keep flowing while the reload thread works.
        next_sg_answer(capture);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn s3_state_is_loaded_checked_swapped_refused_and_kept() {
    test_environment();
    let mut moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    moto.put(BUCKET, KEY, &bytes(&security_group_state(1, "web")));

    let config = s3_config(&moto, json!({}), json!({"max_state_bytes": 200_000}));
    let mut capture = start_sg_capture(&config);
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("net".into()),
            Some("aws_security_group.web".into()),
            Some(1)
        )
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 1);
    assert_eq!(metric(&mut capture, "resources_indexed"), 1);
    assert_eq!(metric(&mut capture, "state_loads"), 1);

    // Unchanged: checked every second (a conditional GET answered 304), never parsed again.
    let checks = metric(&mut capture, "state_checks");
    wait_metric(&mut capture, "state_checks", |n| n >= checks + 2);
    assert_eq!(
        metric(&mut capture, "state_loads"),
        1,
        "an unchanged object was parsed again"
    );
    assert_eq!(metric(&mut capture, "refresh_failures"), 0);
    assert!(metric(&mut capture, "seconds_since_refresh_max") <= 2);

    // Changed: swapped in.
    moto.put(BUCKET, KEY, &bytes(&security_group_state(2, "web")));
    until_answer(&mut capture, "serial 2", Duration::from_secs(10), |a| {
        a.2 == Some(2)
    });
    assert_eq!(metric(&mut capture, "state_loads"), 2);

    // Refused, each keeping serial 2: a rollback (same lineage, lower serial), an object that is not a
    // state, one cut short, one over max_state_bytes.
    let mut failures = metric(&mut capture, "refresh_failures");
    moto.put(BUCKET, KEY, &bytes(&security_group_state(1, "web")));
    wait_metric(&mut capture, "rollbacks_refused", |n| n == 1);
    let refused: [(&str, Vec<u8>); 3] = [
        ("not a state", b"<html>not a state</html>".to_vec()),
        (
            "cut short",
            bytes(&security_group_state(3, "web"))[..100].to_vec(),
        ),
        ("too large", {
            let mut big = security_group_state(3, "web");
            big["resources"][0]["instances"][0]["attributes"]["description"] =
                json!("x".repeat(300_000));
            bytes(&big)
        }),
    ];
    for (what, object) in refused {
        moto.put(BUCKET, KEY, &object);
        wait_metric(&mut capture, "refresh_failures", |n| n > failures);
        hold_serial(&mut capture, 2, Duration::from_millis(1500));
        failures = metric(&mut capture, "refresh_failures");
        assert_eq!(metric(&mut capture, "state_loads"), 2, "{what} was loaded");
    }
    // A refused version is not current: the state grows stale until a good one comes.
    wait_metric(&mut capture, "seconds_since_refresh_max", |n| n >= 2);

    moto.put(BUCKET, KEY, &bytes(&security_group_state(3, "db")));
    until_answer(&mut capture, "serial 3", Duration::from_secs(10), |a| {
        a.1.as_deref() == Some("aws_security_group.db") && a.2 == Some(3)
    });
    wait_metric(&mut capture, "seconds_since_refresh_max", |n| n <= 2);

    // The server goes away: the last good index stays, failures are counted, the state grows stale.
    moto.stop();
    let failures = metric(&mut capture, "refresh_failures");
    hold_serial(&mut capture, 3, Duration::from_secs(3));
    wait_metric(&mut capture, "refresh_failures", |n| n > failures + 1);
    wait_metric(&mut capture, "seconds_since_refresh_max", |n| n >= 3);
    assert_eq!(metric(&mut capture, "states_loaded"), 1);
}

#[test]
fn s3_workspaces_are_discovered_followed_and_kept_when_they_leave() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let put = |workspace: &str, state: &Value| {
        let key = if workspace == "default" {
            KEY.to_owned()
        } else {
            format!("env:/{workspace}/{KEY}")
        };
        moto.put(BUCKET, &key, &bytes(state));
    };
    let other = |serial| {
        state_v4(
            serial,
            vec![resource(
                "",
                "aws_vpc",
                "main",
                json!({"id": "vpc-0123456789abcdef0"}),
            )],
        )
    };
    put("default", &other(1));
    put("staging", &other(1));
    put("prod", &security_group_state(7, "web"));
    // Not a workspace state: another key under the prefix.
    moto.put(BUCKET, "env:/prod/other.tfstate", b"{}");

    let mut capture = start_sg_capture(&s3_config(&moto, json!({"workspaces": "*"}), json!({})));
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("net/prod".into()),
            Some("aws_security_group.web".into()),
            Some(7)
        )
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 3);
    assert_eq!(metric(&mut capture, "refresh_failures"), 0);
    assert_eq!(metric(&mut capture, "states_discovered"), 3);
    assert_eq!(metric(&mut capture, "states_stale"), 0);
    assert_eq!(metric(&mut capture, "states_failed"), 0);

    // Unchanged workspaces cost the listing only: nothing parsed again.
    let checks = metric(&mut capture, "state_checks");
    wait_metric(&mut capture, "state_checks", |n| n >= checks + 6);
    assert_eq!(metric(&mut capture, "state_loads"), 3);

    // A new workspace is picked up. One whose object leaves the listing is kept: whoever can delete
    // `env:/prod/...` must not turn that workspace's drift into "unmanaged". It is reported (a refresh failure,
    // so the state counts as stale) and dropped only after docs/SOURCES.md's grace period.
    put("dev", &other(1));
    wait_metric(&mut capture, "states_loaded", |n| n == 4);
    let failures = metric(&mut capture, "refresh_failures");
    moto.delete(BUCKET, &format!("env:/prod/{KEY}"));
    wait_metric(&mut capture, "refresh_failures", |n| n >= failures + 2);
    assert_eq!(metric(&mut capture, "states_loaded"), 4);
    // Kept, but stale: its source no longer has it.
    assert_eq!(metric(&mut capture, "states_stale"), 1);
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("net/prod".into()),
            Some("aws_security_group.web".into()),
            Some(7)
        ),
        "the deleted workspace's last good version still answers"
    );
    put("prod", &security_group_state(8, "web"));
    until_answer(&mut capture, "prod back", Duration::from_secs(10), |a| {
        a.0.as_deref() == Some("net/prod") && a.2 == Some(8)
    });
    drop(capture);

    // Patterns: only the workspaces asked for.
    let mut capture = start_sg_capture(&s3_config(
        &moto,
        json!({"workspaces": ["pro?", "dev*"]}),
        json!({}),
    ));
    assert_eq!(next_sg_answer(&mut capture).0.as_deref(), Some("net/prod"));
    assert_eq!(metric(&mut capture, "states_loaded"), 2);
}

#[test]
fn s3_without_a_state_refuses_to_start_or_starts_empty_and_keeps_trying() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);

    let config = s3_config(&moto, json!({}), json!({}));
    let error = init_error(&config.to_string());
    assert!(
        error.contains("no Terraform state could be loaded")
            && error.contains(&format!("s3://{BUCKET}/{KEY}")),
        "{error}"
    );
    assert!(!error.contains(TEST_AWS_SECRET), "{error}");

    let config = s3_config(&moto, json!({}), json!({"require_state_on_start": false}));
    let mut capture = start_sg_capture(&config);
    assert_eq!(next_sg_answer(&mut capture), (None, None, None));
    assert_eq!(metric(&mut capture, "states_loaded"), 0);
    wait_metric(&mut capture, "refresh_failures", |n| n >= 2);
    moto.put(BUCKET, KEY, &bytes(&security_group_state(1, "late")));
    until_answer(
        &mut capture,
        "the late state",
        Duration::from_secs(10),
        |a| a.1.as_deref() == Some("aws_security_group.late"),
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 1);
}

#[test]
fn stopping_during_a_slow_download_is_prompt() {
    test_environment();
    // A server that answers the headers of a large object, then trickles.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("an address").port();
    let first = bytes(&security_group_state(1, "web"));
    let trickling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let started = std::sync::Arc::clone(&trickling);
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        for (n, stream) in listener.incoming().take(2).enumerate() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            if n == 0 {
                let head = format!(
                    "HTTP/1.1 200 OK\r\netag: \"v1\"\r\ncontent-length: {}\r\n\r\n",
                    first.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&first);
            } else {
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\netag: \"v2\"\r\ncontent-length: 100000000\r\n\r\n{",
                );
                started.store(true, std::sync::atomic::Ordering::SeqCst);
                for _ in 0..600 {
                    if stream.write_all(b" ").is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
    });
    let config = json!({
        "states": [{"name": "net", "s3": {
            "bucket": BUCKET, "key": KEY, "region": "us-east-1",
            "endpoint": format!("http://127.0.0.1:{port}"),
        }}],
        "refresh_interval": 1,
    });
    let mut capture = start_sg_capture(&config);
    assert_eq!(next_sg_answer(&mut capture).2, Some(1));
    // Let the second (endless) download start, then stop the plugin in the middle of it.
    wait_for("the slow download", Duration::from_secs(10), || {
        trickling.load(std::sync::atomic::Ordering::SeqCst)
    });
    std::thread::sleep(Duration::from_millis(500));
    let stopping = Instant::now();
    drop(capture);
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "stopping took {:?}",
        stopping.elapsed()
    );
    let _ = server.join();
}
