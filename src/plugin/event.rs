//! The event payload tfdrift extracts from: the JSON text of one CloudTrail record, as the cloudtrail plugin
//! (source `aws_cloudtrail`) emits it. Declaring the source here is what attaches tfdrift to CloudTrail events
//! only, and not to every source Falco has.

use falco_plugin::event::EventSource;
use falco_plugin::event::fields::{FromBytes, FromBytesError, ToBytes};
use std::io::Write;

/// The event source tfdrift extracts fields for.
pub const SOURCE: &str = "aws_cloudtrail";

/// The bytes of one CloudTrail record, borrowed from the event.
#[derive(Debug, Clone, Copy)]
pub struct CloudTrailRecord<'a>(pub &'a [u8]);

impl EventSource for CloudTrailRecord<'_> {
    const SOURCE: Option<&'static str> = Some(SOURCE);
}

impl<'a> FromBytes<'a> for CloudTrailRecord<'a> {
    fn from_bytes(buf: &mut &'a [u8]) -> Result<Self, FromBytesError> {
        Ok(CloudTrailRecord(std::mem::take(buf)))
    }
}

impl ToBytes for CloudTrailRecord<'_> {
    fn binary_size(&self) -> usize {
        self.0.len()
    }

    fn write<W: Write>(&self, mut writer: W) -> std::io::Result<()> {
        writer.write_all(self.0)
    }

    fn default_repr() -> impl ToBytes {
        &[] as &[u8]
    }
}
