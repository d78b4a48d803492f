//! tfdrift: a Falco plugin that turns Terraform drift into ordinary Falco rules.
//!
//! Falco's cloudtrail plugin hands Falco every AWS CloudTrail record; tfdrift adds `tfdrift.*` fields to each:
//! is the resource the call touched managed by Terraform, at which address, which attributes did the call
//! change, and was it Terraform itself that called. One event flows through:
//!
//! - [`plugin`]: the Falco adapter (the only code that knows the SDK), with the per-event cache;
//! - [`cloudtrail`]: a borrowed view of the record, the [`call`] the verdict reads, and who made it;
//! - [`catalog`]: which calls touch which resource types, as data;
//! - [`state`]: Terraform states and the index over them;
//! - [`drift`]: the verdict, joining the three;
//!
//! and [`sources`] keeps the index current on a background thread. [`scan`] delimits JSON members without
//! parsing them, for the record view and the state's attribute lookups.

pub mod call;
pub mod catalog;
pub mod cloudtrail;
pub mod drift;
pub mod plugin;
pub mod scan;
pub mod sources;
pub mod state;

use falco_plugin::{extract_plugin, plugin};

plugin!(crate::plugin::TfDrift);
extract_plugin!(crate::plugin::TfDrift);
