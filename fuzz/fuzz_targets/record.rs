//! The CloudTrail record view and the verdict: `Record::parse`, then `Engine::evaluate` against a small index
//! (the example state, whose resources the example records touch), then every section's JSON value and a
//! state attribute of the primary match, as the fields would read them. Any bytes: never a panic, never an
//! unbounded recursion.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use std::time::SystemTime;
use tfdrift::call::Call;
use tfdrift::catalog::{Catalog, Section};
use tfdrift::cloudtrail::Record;
use tfdrift::config::Config;
use tfdrift::drift::Engine;
use tfdrift::state::{Index, Limits, Snapshot, parse};

struct World {
    engine: Engine,
    snapshot: Snapshot,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let catalog = Arc::new(Catalog::with_extensions(&[]).expect("the embedded catalog"));
    let state = parse(
        "example",
        include_bytes!("../../examples/terraform.tfstate"),
        &Limits::default(),
    )
    .expect("the example state");
    let config = Config::parse(
        r#"{"states":[{"name":"example","path":"/x"}],"terraform":{"principals":["arn:aws:iam::*:role/terraform-*"]},
            "maintenance_windows":[{"name":"w","days":["sat"],"start":"22:00","end":"02:00","time_zone":"Europe/Paris"}]}"#,
    )
    .expect("the config");
    let snapshot = Snapshot {
        index: Index::build(vec![Arc::new(state)], &*catalog),
        loaded_at: vec![SystemTime::now()],
    };
    World {
        engine: Engine::new(catalog, config.policy().expect("the policy")),
        snapshot,
    }
});

fuzz_target!(|data: &[u8]| {
    let world = &*WORLD;
    let verdict = world.engine.evaluate(data, &world.snapshot);
    for name in ["id", "arn", "tags", "ingress", "policy", "name"] {
        let _ = verdict.primary_attribute(&world.snapshot, name);
    }
    if let Ok(record) = Record::parse(data) {
        for section in [
            Section::Request,
            Section::Response,
            Section::Resources,
            Section::Details,
            Section::Region,
            Section::Account,
        ] {
            let _ = record.section_value(section);
        }
    }
});
