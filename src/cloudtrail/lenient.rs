//! Lenient scalar fields: a CloudTrail field of the wrong type (a number where a string belongs, an object
//! where a flag belongs) reads as absent instead of failing the whole record, so one odd field never hides
//! the others. The record's scanner (`Record::parse`) decides what reads as what.

use std::borrow::Cow;

/// A string that borrows from the record when it can (no escapes) and is `None` for any non-string value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// A flag written as a JSON boolean or as the strings `"true"`/`"false"` (CloudTrail does both); anything
/// else is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);
