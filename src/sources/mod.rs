//! Where Terraform states come from, and the reload thread that keeps the index current.
//!
//! A source ([`StateSource`]) is transport: it lists and downloads, and says for each state it holds whether
//! the version is unchanged, new (its bytes), refused (over the size limit, enforced while downloading, or
//! not a regular file), gone, or failed ([`Fetch`]). Validators that let it answer "unchanged" without a
//! download (ETags, version ids, body hashes) are its own. It parses nothing.
//!
//! The reloader ([`Reloader`], [`load_once`]) does the rest: it parses each new version (on the source's own
//! worker thread, as the source delivers it, so a huge state delays no other source), refuses rollbacks, scopes
//! each state to its account and region ([`ScopeConfig`]), keeps states that left their source for
//! [`MISSING_GRACE`], builds the index and swaps it in, and counts what happened ([`ReloadStats`]). The
//! published [`crate::state::Snapshot`] lives beside the index, so the verdict reads it without depending on
//! this module.
//!
//! Sources: [`local`] (a file), [`s3`] (an S3 object, with workspace discovery), [`gcs`] (a Cloud Storage
//! object, Terraform's `gcs` backend, with workspace discovery), [`http`] (Terraform's
//! `http` backend), [`hcp`] (HCP Terraform and Terraform Enterprise). A source may hold several states
//! (one per workspace), each with its own name.

mod discover;
pub mod gcs;
pub mod hcp;
pub mod http;
pub mod local;
mod members;
mod reload;
pub mod s3;
mod source;
mod web;

pub use discover::{Discovery, KeyPattern, KeyScope, PatternError, state_name};
pub use members::{MISSING_GRACE, ScopeConfig, ScopeSetting};
pub use reload::{
    INIT_WAIT, Registration, ReloadCounts, ReloadOptions, ReloadStats, Reloader, load_once,
};
pub use source::{Deliver, Fetch, PollContext, StateSource};
