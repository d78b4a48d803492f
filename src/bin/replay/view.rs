//! The two record views behind one type: which cloud a record is from, and the verdict on it.

use tfdrift::cloudtrail::Record;
use tfdrift::drift::{Engine, Verdict};
use tfdrift::gcpaudit::Entry;
use tfdrift::state::Snapshot;

/// Which cloud's log a record is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    /// AWS CloudTrail (Falco's `aws_cloudtrail` source).
    Aws,
    /// Google Cloud Audit Logs (Falco's `gcp_auditlog` source).
    Gcp,
}

impl Cloud {
    pub fn other(self) -> Cloud {
        match self {
            Cloud::Aws => Cloud::Gcp,
            Cloud::Gcp => Cloud::Aws,
        }
    }

    /// The cloud as the findings' lines name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Aws => "aws",
            Cloud::Gcp => "gcp",
        }
    }
}

/// One record, read by its cloud's view: the one parse of the record, which the verdict and the output share.
pub enum View<'a> {
    Aws(Record<'a>),
    Gcp(Entry<'a>),
}

impl<'a> View<'a> {
    /// Reads the record with the view of `cloud`. Either view reads any JSON object; only bytes that are no
    /// JSON object fail.
    pub fn read(cloud: Cloud, text: &'a str) -> anyhow::Result<View<'a>> {
        Ok(match cloud {
            Cloud::Aws => View::Aws(Record::parse(text.as_bytes())?),
            Cloud::Gcp => View::Gcp(Entry::parse(text.as_bytes())?),
        })
    }

    pub fn cloud(&self) -> Cloud {
        match self {
            View::Aws(_) => Cloud::Aws,
            View::Gcp(_) => Cloud::Gcp,
        }
    }

    /// Whether the record has what only its cloud writes: a CloudTrail record's `eventSource` or `eventName`;
    /// a LogEntry's `logName`, or its `protoPayload`'s `serviceName` or `methodName`.
    pub fn recognised(&self) -> bool {
        match self {
            View::Aws(r) => r.event_source.get().is_some() || r.event_name.get().is_some(),
            View::Gcp(e) => {
                e.log_name.get().is_some()
                    || e.payload.service_name.get().is_some()
                    || e.payload.method_name.get().is_some()
            }
        }
    }

    pub fn verdict(&self, engine: &Engine, snapshot: &Snapshot) -> Verdict {
        match self {
            View::Aws(record) => engine.evaluate_call(record, snapshot),
            View::Gcp(entry) => engine.evaluate_call(entry, snapshot),
        }
    }

    /// The call's name: CloudTrail's `eventName`, the audit log's `methodName`.
    pub fn operation_name(&self) -> &str {
        match self {
            View::Aws(r) => r.event_name(),
            View::Gcp(e) => e.method_name(),
        }
    }
}
