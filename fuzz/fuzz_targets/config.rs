//! The plugin's configuration: `Config::parse` (the checks Falco's init runs, naming the key) and, for a
//! configuration that passes, the policy built from it. Any text: an error or a configuration, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tfdrift::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text) {
        let _ = config.policy();
    }
});
