//! The state parser and the index: `state::parse` with small limits, then the scope inference, the index
//! build over the embedded catalog's keys, and attribute reads of every instance. Any bytes: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, LazyLock};
use tfdrift::catalog::Catalog;
use tfdrift::state::{Index, Limits, Scope, parse};

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::with_extensions(&[]).expect("the embedded catalog"));

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_instances: 10_000,
        ..Limits::default()
    };
    let Ok(mut state) = parse("fuzz", data, &limits) else {
        return;
    };
    state.scope = Scope::infer(&state);
    for instance in state.instances.iter().take(100) {
        let _ = instance.attribute("id");
        let _ = instance.attribute("tags.Name");
        let _ = instance.string_attribute("arn");
        let _ = instance.raw_attribute("ingress");
        let _ = instance.is_sensitive("password");
    }
    let index = Index::build(vec![Arc::new(state)], &*CATALOG);
    let _ = index.instance_count();
    let _ = index.lookup_arn("arn:aws:iam::123456789012:role/x").count();
});
