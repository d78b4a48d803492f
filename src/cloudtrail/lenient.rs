//! Reading a record the way Falco's cloudtrail plugin reads it, leniently.
//!
//! Scalar fields: a CloudTrail field of the wrong type (a number where a string belongs, an object where a flag
//! belongs) reads as absent instead of failing the whole record, so one odd field never hides the others. The
//! record's scanner (`Record::parse`) decides what reads as what.
//!
//! Free-form sections ([`value`]): read as the cloudtrail plugin's JSON parser reads them (first of duplicated
//! members kept, escaped names decoded, what cannot be read marked [`UNREADABLE`]); the reading lives in
//! [`crate::scan::lenient`], shared with the other record views, and is named from here.

// The one lenient string type and decoding of escapes live in the scanner, shared with the state; the
// record view names them from here, with the section reader shared by every record view.
pub use crate::scan::lenient::{MAX_DEPTH, UNREADABLE, value};
pub use crate::scan::{Str, decode_lossy, decode_name};

/// A flag written as a JSON boolean or as the strings `"true"`/`"false"` (CloudTrail does both); anything
/// else is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);
