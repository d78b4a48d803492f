//! States in Google Cloud Storage (Terraform's `gcs` backend), against fake-gcs-server started here on
//! 127.0.0.1, with anonymous credentials and the loopback endpoint in every test (nothing may look for
//! Application Default Credentials or a metadata server). Object names are the backend's: `<prefix>` with
//! its leading `/` dropped and a trailing `/` added, `<prefix><workspace>.tfstate`, `default.tfstate` for
//! the default workspace; workspaces are the `*.tfstate` objects directly under the prefix. Needs
//! fake-gcs-server (`scripts/test.sh` installs it): without it these tests fail, they do not skip.

use tfdrift_test_support as common;

use common::*;
use falco_plugin_runner::CapturingPluginRunner;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const BUCKET: &str = "tfstate";

fn gcs_config(server: &FakeGcsServer, gcs_extra: Value, extra: Value) -> Value {
    let mut gcs = json!({
        "bucket": BUCKET,
        "endpoint": server.endpoint(),
        "credentials": "anonymous",
    });
    merge(&mut gcs, &gcs_extra);
    let mut config = json!({
        "states": [{"name": "net", "gcs": gcs}],
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

fn vpc_state(serial: u64) -> Value {
    state_v4(
        serial,
        vec![resource(
            "",
            "aws_vpc",
            "main",
            json!({"id": "vpc-0123456789abcdef0"}),
        )],
    )
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
        next_sg_answer(capture);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn gcs_state_is_loaded_checked_swapped_and_refused() {
    test_environment();
    let mut server = FakeGcsServer::start();
    server.create_bucket(BUCKET);
    // The backend's object for `prefix = "env/prod"` (no slash) and the default workspace.
    let object = "env/prod/default.tfstate";
    server.put(BUCKET, object, &bytes(&security_group_state(1, "web")));

    let config = gcs_config(
        &server,
        json!({"prefix": "env/prod"}),
        json!({"max_state_bytes": 200_000}),
    );
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
    assert_eq!(metric(&mut capture, "state_loads"), 1);

    // Unchanged: checked every second, never parsed again (the emulator answers the conditional read with
    // the same generation, which is compared again; GCS itself answers 304).
    let checks = metric(&mut capture, "state_checks");
    wait_metric(&mut capture, "state_checks", |n| n >= checks + 2);
    assert_eq!(
        metric(&mut capture, "state_loads"),
        1,
        "an unchanged object was parsed again"
    );
    assert_eq!(metric(&mut capture, "refresh_failures"), 0);

    // Overwritten: a new generation, swapped in.
    server.put(BUCKET, object, &bytes(&security_group_state(2, "web")));
    until_answer(&mut capture, "serial 2", Duration::from_secs(10), |a| {
        a.2 == Some(2)
    });
    assert_eq!(metric(&mut capture, "state_loads"), 2);

    // A rollback (same lineage, lower serial) is refused; serial 2 stays.
    server.put(BUCKET, object, &bytes(&security_group_state(1, "web")));
    wait_metric(&mut capture, "rollbacks_refused", |n| n == 1);
    hold_serial(&mut capture, 2, Duration::from_millis(1500));

    // Over max_state_bytes: refused while reading, serial 2 stays, and it is not downloaded again while
    // its generation is the same.
    let failures = metric(&mut capture, "refresh_failures");
    let mut big = security_group_state(3, "web");
    big["resources"][0]["instances"][0]["attributes"]["description"] = json!("x".repeat(300_000));
    server.put(BUCKET, object, &bytes(&big));
    wait_metric(&mut capture, "refresh_failures", |n| n > failures);
    hold_serial(&mut capture, 2, Duration::from_millis(1500));
    assert_eq!(
        metric(&mut capture, "state_loads"),
        2,
        "a too large state was loaded"
    );

    // A good version after them.
    server.put(BUCKET, object, &bytes(&security_group_state(3, "db")));
    until_answer(&mut capture, "serial 3", Duration::from_secs(10), |a| {
        a.1.as_deref() == Some("aws_security_group.db") && a.2 == Some(3)
    });

    // The server goes away: the last good index stays, failures are counted.
    server.stop();
    let failures = metric(&mut capture, "refresh_failures");
    hold_serial(&mut capture, 3, Duration::from_secs(2));
    wait_metric(&mut capture, "refresh_failures", |n| n > failures + 1);
    assert_eq!(metric(&mut capture, "states_loaded"), 1);
}

#[test]
fn gcs_workspaces_are_discovered_as_the_backend_lists_them() {
    test_environment();
    let server = FakeGcsServer::start();
    server.create_bucket(BUCKET);
    server.put(BUCKET, "env/prod/default.tfstate", &bytes(&vpc_state(1)));
    server.put(BUCKET, "env/prod/staging.tfstate", &bytes(&vpc_state(1)));
    server.put(
        BUCKET,
        "env/prod/prod.tfstate",
        &bytes(&security_group_state(7, "web")),
    );
    // Not workspace states of this prefix: a lock, a deeper object, a sibling prefix.
    server.put(BUCKET, "env/prod/prod.tflock", b"{}");
    server.put(BUCKET, "env/prod/old/other.tfstate", b"{}");
    server.put(BUCKET, "env/production.tfstate", b"{}");

    // The prefix with a leading and a trailing slash: the backend trims the first, keeps the second.
    let config = gcs_config(
        &server,
        json!({"prefix": "/env/prod/", "workspaces": "*"}),
        json!({}),
    );
    let mut capture = start_sg_capture(&config);
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

    // Unchanged workspaces cost the listing only: nothing parsed again.
    let checks = metric(&mut capture, "state_checks");
    wait_metric(&mut capture, "state_checks", |n| n >= checks + 6);
    assert_eq!(metric(&mut capture, "state_loads"), 3);

    // A new workspace is picked up; an overwritten one is read again.
    server.put(BUCKET, "env/prod/dev.tfstate", &bytes(&vpc_state(1)));
    wait_metric(&mut capture, "states_loaded", |n| n == 4);
    server.put(
        BUCKET,
        "env/prod/prod.tfstate",
        &bytes(&security_group_state(8, "web")),
    );
    until_answer(
        &mut capture,
        "prod at serial 8",
        Duration::from_secs(10),
        |a| a.0.as_deref() == Some("net/prod") && a.2 == Some(8),
    );
    assert_eq!(metric(&mut capture, "state_loads"), 5);

    // A workspace whose object leaves the listing is kept for the grace period and reported.
    let failures = metric(&mut capture, "refresh_failures");
    server.delete(BUCKET, "env/prod/prod.tfstate");
    wait_metric(&mut capture, "refresh_failures", |n| n >= failures + 2);
    assert_eq!(
        next_sg_answer(&mut capture).2,
        Some(8),
        "the deleted workspace's last good version still answers"
    );
    drop(capture);

    // A listed subset: only the workspaces asked for.
    server.put(
        BUCKET,
        "env/prod/prod.tfstate",
        &bytes(&security_group_state(9, "web")),
    );
    let mut capture = start_sg_capture(&gcs_config(
        &server,
        json!({"prefix": "env/prod", "workspaces": ["pro?", "default"]}),
        json!({}),
    ));
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("net/prod".into()),
            Some("aws_security_group.web".into()),
            Some(9)
        )
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 2);
}

#[test]
fn gcs_at_the_bucket_root_without_a_prefix() {
    test_environment();
    let server = FakeGcsServer::start();
    server.create_bucket(BUCKET);
    server.put(
        BUCKET,
        "default.tfstate",
        &bytes(&security_group_state(4, "root")),
    );
    server.put(BUCKET, "env/prod/default.tfstate", &bytes(&vpc_state(1)));

    let mut capture = start_sg_capture(&gcs_config(&server, json!({}), json!({})));
    assert_eq!(
        next_sg_answer(&mut capture),
        (
            Some("net".into()),
            Some("aws_security_group.root".into()),
            Some(4)
        )
    );
    drop(capture);

    // Workspaces at the root: `default.tfstate` only; `env/` is a folder, not a workspace.
    let mut capture = start_sg_capture(&gcs_config(
        &server,
        json!({"prefix": "/", "workspaces": "*"}),
        json!({}),
    ));
    assert_eq!(
        next_sg_answer(&mut capture).0.as_deref(),
        Some("net/default")
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 1);
}

#[test]
fn gcs_without_a_state_refuses_to_start_or_starts_empty_and_keeps_trying() {
    test_environment();
    let server = FakeGcsServer::start();
    server.create_bucket(BUCKET);

    let config = gcs_config(&server, json!({"prefix": "network"}), json!({}));
    let error = init_error(&config.to_string());
    assert!(
        error.contains("no Terraform state could be loaded")
            && error.contains(&format!("gs://{BUCKET}/network/default.tfstate")),
        "{error}"
    );

    let config = gcs_config(
        &server,
        json!({"prefix": "network"}),
        json!({"require_state_on_start": false}),
    );
    let mut capture = start_sg_capture(&config);
    assert_eq!(next_sg_answer(&mut capture), (None, None, None));
    assert_eq!(metric(&mut capture, "states_loaded"), 0);
    wait_metric(&mut capture, "refresh_failures", |n| n >= 2);
    server.put(
        BUCKET,
        "network/default.tfstate",
        &bytes(&security_group_state(1, "late")),
    );
    until_answer(
        &mut capture,
        "the late state",
        Duration::from_secs(10),
        |a| a.1.as_deref() == Some("aws_security_group.late"),
    );
    assert_eq!(metric(&mut capture, "states_loaded"), 1);

    // A missing bucket: the source fails, it is not an empty family of workspaces.
    let config = gcs_config(
        &server,
        json!({"bucket": "no-such-bucket", "workspaces": "*"}),
        json!({}),
    );
    let error = init_error(&config.to_string());
    assert!(
        error.contains("no Terraform state could be loaded") && error.contains("no-such-bucket"),
        "{error}"
    );
}
