//! The events tfdrift extracts from: plugin events of two sources, each carrying one log record's JSON text
//! as its source plugin emits it. Declaring the sources here is what attaches tfdrift to these events only,
//! and not to every source Falco has:
//! - `aws_cloudtrail` (Falco's cloudtrail plugin, id 2): one CloudTrail record;
//! - `gcp_auditlog` (Falco's gcpaudit plugin, id 12): one Cloud Logging `LogEntry`, the Pub/Sub message's
//!   data as the plugin received it.
//!
//! The SDK's plugin event names one source per payload type; [`LogEvent`] names both (the SDK reads an
//! extractor's sources as a list), and [`LogEvent::log`] tells them apart by the generating plugin's id.

use falco_plugin::event::EventSource;
use falco_plugin::event::PluginEvent;
use falco_plugin::event::events::{AnyEventPayload, Event, PayloadFromBytesError, RawEvent};
use falco_plugin::event::fields::{FromBytes, FromBytesError, ToBytes};
use std::io::Write;

/// The CloudTrail event source (named by the record view that reads its events).
pub const SOURCE: &str = crate::cloudtrail::EVENT_SOURCE;

/// The GCP audit log event source (named by the record view that reads its events).
pub const GCP_SOURCE: &str = crate::gcpaudit::EVENT_SOURCE;

/// The cloudtrail plugin's id (Falco's plugin registry).
pub const CLOUDTRAIL_PLUGIN_ID: u32 = 2;

/// The gcpaudit plugin's id (Falco's plugin registry).
pub const GCPAUDIT_PLUGIN_ID: u32 = 12;

/// The bytes of one log record, borrowed from the event.
#[derive(Debug, Clone, Copy)]
pub struct LogRecord<'a>(pub &'a [u8]);

impl EventSource for LogRecord<'_> {
    // The sources are named by [`LogEvent`]; the payload alone stands for any.
    const SOURCE: Option<&'static str> = None;
}

/// The bytes of one CloudTrail record, borrowed from the event: a payload of the `aws_cloudtrail` source
/// alone (the benchmarks' stand-in extractor reads it).
#[derive(Debug, Clone, Copy)]
pub struct CloudTrailRecord<'a>(pub &'a [u8]);

impl EventSource for CloudTrailRecord<'_> {
    const SOURCE: Option<&'static str> = Some(SOURCE);
}

/// Both payloads are the event's data, whole.
macro_rules! whole_data {
    ($payload:ident) => {
        impl<'a> FromBytes<'a> for $payload<'a> {
            fn from_bytes(buf: &mut &'a [u8]) -> Result<Self, FromBytesError> {
                Ok($payload(std::mem::take(buf)))
            }
        }

        impl ToBytes for $payload<'_> {
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
    };
}

whole_data!(LogRecord);
whole_data!(CloudTrailRecord);

/// Which log a record comes from, and so which record view reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// An AWS CloudTrail record.
    CloudTrail,
    /// A GCP Cloud Audit Logs entry.
    GcpAudit,
}

/// A plugin event of either source.
#[derive(Debug)]
pub struct LogEvent<'a>(pub Event<PluginEvent<LogRecord<'a>>>);

impl LogEvent<'_> {
    /// The record's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.0.params.event_data.0
    }

    /// Which log the record is from: the gcpaudit plugin's id (or, from another plugin, the `gcp_auditlog`
    /// source Falco names with the event) means GCP; anything else reads as CloudTrail, as every event did
    /// before tfdrift knew a second source.
    pub fn log(&self, source: Option<&std::ffi::CStr>) -> Log {
        match self.0.params.plugin_id {
            GCPAUDIT_PLUGIN_ID => Log::GcpAudit,
            CLOUDTRAIL_PLUGIN_ID => Log::CloudTrail,
            _ if source.is_some_and(|s| s.to_bytes() == GCP_SOURCE.as_bytes()) => Log::GcpAudit,
            _ => Log::CloudTrail,
        }
    }
}

impl AnyEventPayload for LogEvent<'_> {
    const SOURCES: &'static [Option<&'static str>] = &[Some(SOURCE), Some(GCP_SOURCE)];
    const EVENT_TYPES: &'static [u16] = <Event<PluginEvent<LogRecord<'static>>>>::EVENT_TYPES;
}

impl<'a, 'b> TryFrom<&'b RawEvent<'a>> for LogEvent<'a> {
    type Error = PayloadFromBytesError;

    fn try_from(raw: &'b RawEvent<'a>) -> Result<Self, Self::Error> {
        Event::<PluginEvent<LogRecord<'a>>>::try_from(raw).map(LogEvent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use falco_plugin::event::events::EventMetadata;

    fn event(plugin_id: u32) -> LogEvent<'static> {
        LogEvent(Event {
            metadata: EventMetadata { ts: 0, tid: -1 },
            params: PluginEvent {
                plugin_id,
                event_data: LogRecord(b"{}"),
            },
        })
    }

    #[test]
    fn the_generating_plugin_tells_the_log() {
        let gcp = Some(c"gcp_auditlog");
        let aws = Some(c"aws_cloudtrail");
        // The registry's ids decide, whatever the source says.
        assert_eq!(event(GCPAUDIT_PLUGIN_ID).log(None), Log::GcpAudit);
        assert_eq!(event(GCPAUDIT_PLUGIN_ID).log(aws), Log::GcpAudit);
        assert_eq!(event(CLOUDTRAIL_PLUGIN_ID).log(gcp), Log::CloudTrail);
        // Another plugin: its source, and CloudTrail as before when it says nothing else.
        assert_eq!(event(999).log(gcp), Log::GcpAudit);
        assert_eq!(event(999).log(aws), Log::CloudTrail);
        assert_eq!(event(999).log(None), Log::CloudTrail);
        assert_eq!(event(12).bytes(), b"{}");
    }

    #[test]
    fn both_sources_are_declared_for_plugin_events_only() {
        assert_eq!(
            <LogEvent as AnyEventPayload>::event_sources(),
            ["aws_cloudtrail", "gcp_auditlog"]
        );
        assert_eq!(<LogEvent as AnyEventPayload>::EVENT_TYPES, [322]);
    }
}
