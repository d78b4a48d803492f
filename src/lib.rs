//! tfdrift: a Falco plugin that turns Terraform drift into ordinary Falco rules.
//!
//! Falco's cloudtrail plugin hands Falco every AWS CloudTrail record; tfdrift adds `tfdrift.*` fields to each:
//! is the resource the call touched managed by Terraform, at which address, which attributes did the call
//! change, and was it Terraform itself that called. One event flows through:
//!
//! - [`plugin`]: the Falco adapter (the only code that speaks the SDK), with the per-event cache;
//! - [`fields`]: every `tfdrift.*` field, and how its value is read from a verdict;
//! - [`drift`]: the verdict, joining the three below;
//! - [`cloudtrail`]: a borrowed view of the record, the [`call`] the verdict reads, and who made it;
//! - [`gcpaudit`]: the same for a Google Cloud audit log entry (Falco's gcpaudit plugin, `gcp_auditlog`);
//! - [`catalog`]: which calls touch which resource types, as data;
//! - [`state`]: Terraform states and the index over them;
//!
//! [`sources`] keeps the index current on a background thread, and [`config`] turns the user's settings into
//! all of these, for the plugin and the `tfdrift-replay` command. [`scan`] delimits JSON members without
//! parsing them, for the record view and the state's attribute lookups. A module imports only from those
//! below it (tests/data_checks/metadata.rs checks the order).

// Forbidden, not only denied: the SDK's `plugin!` and `extract_plugin!` expand to FFI code whose `unsafe` comes
// from the SDK's own crate, which the lint does not reach, so nothing here needs an exception.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod call;
pub mod catalog;
pub mod cloudtrail;
pub mod config;
pub mod drift;
pub mod fields;
pub mod gcpaudit;
pub mod plugin;
pub mod scan;
pub mod sources;
pub mod state;

/// The plugin's C entry points, as the SDK's macros define them (public, and theirs to name).
#[allow(missing_docs)]
mod ffi {
    use falco_plugin::{extract_plugin, plugin};

    plugin!(crate::plugin::TfDrift);
    extract_plugin!(crate::plugin::TfDrift);
}
