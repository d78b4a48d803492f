//! The plugin end to end: the built `libtfdrift.so` through its C ABI, beside test source plugins that emit
//! CloudTrail records and GCP audit log entries (tests/support). One test binary for all of them, so that a cold
//! build links one.

mod abi;
mod catalog_runtime;
mod config_errors;
mod drift;
mod gcp;
mod gcp_attrs;
mod gcp_rules;
mod hostile_records;
mod hostile_states;
mod import_id;
mod panic_guard;
mod real_records;
mod rules;
mod scope;
mod stage;
