//! The catalog's identifier paths: the first line is a path (`requestParameters.items[].id`), the rest a JSON
//! document it is evaluated against, as the catalog does on a record's section. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfdrift::catalog::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (path, document) = text.split_once('\n').unwrap_or((text, "null"));
    let Ok(path) = Path::parse(path) else {
        return;
    };
    let _ = path.root();
    let _ = path.to_string();
    let Ok(document) = serde_json::from_str::<serde_json::Value>(document) else {
        return;
    };
    let mut out = Vec::new();
    path.values_from(&document, &mut out);
    path.values_from_top(&document, &mut out);
    let mut ids = 0usize;
    path.identifiers_from(&document, |_| ids += 1);
});
