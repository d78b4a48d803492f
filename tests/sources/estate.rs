//! States at estate scale (issue 20): a Terragrunt-shaped estate in moto's S3 on loopback, discovered from
//! one source entry by key pattern, loaded, refreshed (an unchanged refresh is one listing, no GET, no
//! parse), scoped from the key (`live/{account}/{region}/**`), with workspaces, broken, oversized and
//! misnamed objects, keys that come and go, and `max_total_instances`. Through the library (configuration,
//! sources, reload thread), whose counters say what each refresh cost. Needs moto, like `s3.rs`.

use tfdrift_test_support as common;

use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use tfdrift::config::Config;
use tfdrift::sources::{ReloadCounts, Reloader, load_once};
use tfdrift::state::{Scope, Snapshot};

const BUCKET: &str = "estate";

/// The "done when": 2,000 states from one source entry.
const STATES: usize = 2_000;

fn bytes(state: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(state).expect("a state serialises")
}

fn estate_config(moto: &MotoServer, extra: Value) -> Config {
    let mut config = json!({
        "states": [{
            "name": "estate",
            "s3": {
                "bucket": BUCKET,
                "region": "us-east-1",
                "endpoint": moto.endpoint(),
                "discover": {
                    "pattern": "live/*/*/*/terraform.tfstate",
                    "scope": "live/{account}/{region}/**",
                },
                "workspaces": ["default", "staging"],
            },
        }],
        // Refreshes are asked for (`refresh_now`), never waited for.
        "refresh_interval": 3600,
        "max_state_bytes": 200_000,
    });
    if let (Some(into), Some(from)) = (config.as_object_mut(), extra.as_object()) {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
    Config::from_value(config).expect("a valid configuration")
}

fn start(config: &Config) -> Reloader {
    Reloader::start(
        config.sources(),
        config.catalog().expect("the catalog"),
        config.reload_options(),
    )
    .expect("the reloader starts")
}

/// One refresh round, asked for and waited for (its poll answered and applied).
fn refresh(reloader: &Reloader) -> ReloadCounts {
    let before = reloader.stats().read();
    reloader.refresh_now();
    wait_for("a refresh", Duration::from_secs(120), || {
        reloader.stats().read().polls > before.polls
    });
    reloader.stats().read()
}

fn by_name(snapshot: &Snapshot) -> HashMap<String, (u64, Scope)> {
    snapshot
        .index
        .states()
        .iter()
        .map(|s| (s.name.to_string(), (s.serial, s.scope.clone())))
        .collect()
}

fn scope(account: &str, region: &str) -> Scope {
    Scope {
        account: Some(account.into()),
        region: Some(region.into()),
        project: None,
    }
}

#[test]
fn an_estate_is_discovered_loaded_refreshed_and_scoped_from_one_entry() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    let estate = estate(STATES, 2);
    for state in &estate {
        moto.put(BUCKET, &state.key, &bytes(&state.state));
    }
    let (a, b) = (estate_account(0), estate_account(1));
    // A key the scope pattern cannot read (`shared` is no account, `global` no region): scoped from its
    // ARNs, as without a pattern.
    let shared = "live/shared/global/dns/terraform.tfstate";
    moto.put(
        BUCKET,
        shared,
        &bytes(&estate_state(1, &b, "eu-west-1", "dns", 2)),
    );
    // A key that says account A over resources of account B: the key's account.
    let misfiled = format!("live/{a}/us-east-1/misfiled/terraform.tfstate");
    moto.put(
        BUCKET,
        &misfiled,
        &bytes(&estate_state(1, &b, "us-east-1", "misfiled", 2)),
    );
    // A workspace of a discovered key, followed; one of a workspace not asked for, not.
    let base = &estate[0].key;
    let staging = format!("env:/staging/{base}");
    moto.put(
        BUCKET,
        &staging,
        &bytes(&estate_state(7, &a, "us-east-1", "staging", 1)),
    );
    moto.put(
        BUCKET,
        &format!("env:/dev/{base}"),
        &bytes(&estate_state(1, &a, "us-east-1", "dev", 1)),
    );
    // Not states: the pattern does not match them.
    moto.put(BUCKET, &format!("{base}.backup"), b"{}");
    moto.put(BUCKET, "live/README.md", b"# live");
    moto.put(
        BUCKET,
        &format!("live/{a}/us-east-1/deep/nested/terraform.tfstate"),
        b"{}",
    );
    moto.put(BUCKET, "other/terraform.tfstate", b"{}");
    // Matching, but not usable: broken (failed, no version) and over max_state_bytes (refused from the
    // listing's size, never downloaded).
    let broken = format!("live/{a}/eu-west-1/broken/terraform.tfstate");
    moto.put(BUCKET, &broken, b"{\"version\": 4, \"resources\": [");
    let huge = format!("live/{a}/eu-west-1/huge/terraform.tfstate");
    moto.put(
        BUCKET,
        &huge,
        &bytes(&estate_state(1, &a, "eu-west-1", "huge", 400)),
    );

    let config = estate_config(&moto, json!({}));
    let reloader = start(&config);
    let first = reloader.stats().read();
    let loaded = by_name(&reloader.snapshot());
    // Every estate state, named `estate/<key>`, scoped by its key.
    assert_eq!(loaded.len(), STATES + 3, "loaded: {}", loaded.len());
    for state in &estate {
        let name = format!("estate/{}", state.key);
        assert_eq!(
            loaded.get(&name),
            Some(&(1, scope(&state.account, &state.region))),
            "{name}"
        );
    }
    assert_eq!(
        loaded[&format!("estate/{shared}")].1,
        scope(&b, "eu-west-1"),
        "inferred from its ARNs"
    );
    assert_eq!(
        loaded[&format!("estate/{misfiled}")].1,
        scope(&a, "us-east-1")
    );
    // The workspace's state: named by its own key, scoped by the key it is a workspace of.
    assert_eq!(
        loaded.get(&format!("estate/{staging}")),
        Some(&(7, scope(&estate[0].account, &estate[0].region)))
    );
    assert!(!loaded.keys().any(|n| n.contains("env:/dev/")));
    assert_eq!(
        (
            first.states_discovered,
            first.states_loaded,
            first.states_failed,
            first.states_stale
        ),
        (STATES as u64 + 5, STATES as u64 + 3, 2, 0)
    );
    // Every discovered object downloaded once, but the oversized one: never.
    assert_eq!(first.downloads, STATES as u64 + 4);
    assert_eq!(first.parses, STATES as u64 + 4);
    assert_eq!(first.not_modified, 0);
    // The listing of `live/` (the states and 7 more keys, 1,000 a page) and of `env:/` (1 page).
    let pages = (STATES as u64 + 7).div_ceil(1000) + 1;
    assert_eq!(first.listings, pages);

    // Nothing changed: one listing, no GET, no parse, nothing loaded, still nothing stale.
    let unchanged = refresh(&reloader);
    assert_eq!(unchanged.listings - first.listings, pages);
    assert_eq!(unchanged.downloads, first.downloads);
    assert_eq!(unchanged.parses, first.parses);
    assert_eq!(unchanged.state_loads, first.state_loads);
    assert_eq!(
        (
            unchanged.states_loaded,
            unchanged.states_stale,
            unchanged.states_failed
        ),
        (STATES as u64 + 3, 0, 2)
    );

    // Keys come and go: one changed, one deleted, one new; only the changed and new ones are downloaded.
    let changed = &estate[1];
    moto.put(
        BUCKET,
        &changed.key,
        &bytes(&estate_state(
            2,
            &changed.account,
            &changed.region,
            "module-0000",
            2,
        )),
    );
    let deleted = &estate[2];
    moto.delete(BUCKET, &deleted.key);
    let new = format!("live/{b}/us-west-2/new-module/terraform.tfstate");
    moto.put(
        BUCKET,
        &new,
        &bytes(&estate_state(1, &b, "us-west-2", "new-module", 2)),
    );
    let after = refresh(&reloader);
    assert_eq!(after.downloads - unchanged.downloads, 2);
    assert_eq!(after.parses - unchanged.parses, 2);
    let loaded = by_name(&reloader.snapshot());
    assert_eq!(loaded[&format!("estate/{}", changed.key)].0, 2);
    assert_eq!(loaded[&format!("estate/{new}")].1, scope(&b, "us-west-2"));
    // The deleted key: kept (its drift is still drift), and stale, until MISSING_GRACE.
    assert!(loaded.contains_key(&format!("estate/{}", deleted.key)));
    assert_eq!(
        (after.states_loaded, after.states_stale, after.states_failed),
        (STATES as u64 + 4, 1, 2)
    );
}

#[test]
fn max_total_instances_refuses_the_state_that_crosses_it_and_keeps_the_others() {
    test_environment();
    let moto = MotoServer::start();
    moto.create_bucket(BUCKET);
    // 20 states of 3 instances each; room for 50: the 17th in key order crosses it.
    let estate = estate(20, 3);
    for state in &estate {
        moto.put(BUCKET, &state.key, &bytes(&state.state));
    }
    let mut keys: Vec<&str> = estate.iter().map(|s| s.key.as_str()).collect();
    keys.sort();
    let config = estate_config(&moto, json!({"max_total_instances": 50}));

    let (snapshot, failures) = load_once(
        config.sources(),
        config.catalog().expect("the catalog"),
        config.limits(),
    );
    let loaded: Vec<String> = {
        let mut names: Vec<String> = by_name(&snapshot).into_keys().collect();
        names.sort();
        names
    };
    let first16: Vec<String> = keys[..16].iter().map(|k| format!("estate/{k}")).collect();
    assert_eq!(loaded, first16);
    assert_eq!(failures.len(), 4, "{failures:?}");
    assert!(
        failures[0].starts_with(&format!("estate/{} ", keys[16]))
            && failures[0].contains("max_total_instances (50)")
            && failures[0].contains("to 51"),
        "{failures:?}"
    );

    // Loaded: a new version of a loaded state that would cross the total is refused, its last good version
    // kept, and the others are unaffected.
    let reloader = start(&config);
    assert_eq!(reloader.stats().read().states_loaded, 16);
    let first = estate
        .iter()
        .find(|s| s.key == keys[0])
        .expect("the first state");
    moto.put(
        BUCKET,
        &first.key,
        &bytes(&estate_state(2, &first.account, &first.region, "grown", 6)),
    );
    let after = refresh(&reloader);
    let loaded = by_name(&reloader.snapshot());
    assert_eq!(loaded[&format!("estate/{}", first.key)].0, 1);
    assert_eq!(loaded.len(), 16);
    assert_eq!((after.states_stale, after.states_failed), (1, 4));
}

#[test]
fn gcs_states_are_discovered_by_name_pattern_and_scoped_by_project() {
    test_environment();
    let server = FakeGcsServer::start();
    server.create_bucket(BUCKET);
    // The gcs backend's layout: `<prefix>/<workspace>.tfstate`, one prefix per module and project.
    let projects = ["acme-prod-1", "acme-dev-22"];
    let mut expected = HashMap::new();
    for (p, project) in projects.iter().enumerate() {
        for module in 0..10 {
            for workspace in ["default", "staging", "scratch"] {
                let object = format!("live/{project}/module-{module}/{workspace}.tfstate");
                let state = estate_state(1, &estate_account(p), "us-east-1", "m", 1);
                server.put(BUCKET, &object, &bytes(&state));
                if workspace != "scratch" {
                    expected.insert(format!("estate/{object}"), project.to_string());
                }
            }
        }
    }
    server.put(BUCKET, "live/acme-prod-1/notes.txt", b"not a state");
    let huge = "live/acme-prod-1/huge/default.tfstate";
    server.put(
        BUCKET,
        huge,
        &bytes(&estate_state(
            1,
            &estate_account(0),
            "us-east-1",
            "huge",
            400,
        )),
    );
    let config = Config::from_value(json!({
        "states": [{
            "name": "estate",
            "gcs": {
                "bucket": BUCKET,
                "endpoint": server.endpoint(),
                "credentials": "anonymous",
                "discover": {"pattern": "live/**/*.tfstate", "scope": "live/{project}/**"},
                "workspaces": ["default", "staging"],
            },
        }],
        "refresh_interval": 3600,
        "max_state_bytes": 200_000,
    }))
    .expect("a valid configuration");
    let reloader = start(&config);
    let first = reloader.stats().read();
    let loaded = by_name(&reloader.snapshot());
    assert_eq!(loaded.len(), expected.len());
    for (name, project) in &expected {
        let (serial, scope) = &loaded[name];
        assert_eq!(*serial, 1);
        assert_eq!(scope.project.as_deref(), Some(project.as_str()), "{name}");
    }
    // The oversized object: refused from its listed size, never downloaded.
    assert_eq!(first.downloads, expected.len() as u64);
    assert_eq!(
        (first.states_discovered, first.states_failed),
        (expected.len() as u64 + 1, 1)
    );

    let unchanged = refresh(&reloader);
    assert_eq!(unchanged.listings - first.listings, 1);
    assert_eq!(unchanged.downloads, first.downloads);
    assert_eq!(unchanged.parses, first.parses);
}
