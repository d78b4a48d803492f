//! A borrowed, zero-copy view of one CloudTrail record, and who made the call.
//!
//! The record is parsed once into [`Record`]: scalar fields borrow from the event bytes, and the free-form
//! parts (`requestParameters`, `responseElements`, `resources`, `additionalEventData`) stay raw JSON text until
//! something asks for them. A field of the wrong type reads as absent; only bytes that are not a JSON object
//! fail the parse. Nothing here allocates unless a string carries escapes.

pub mod actor;
pub mod lenient;

use lenient::{Flag, Str};
use serde::Deserialize;
use serde_json::value::RawValue;

pub use actor::{ActorKind, Principals, TerraformIdentity};

/// The CloudTrail record, as tfdrift reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record<'a> {
    #[serde(borrow, default)]
    pub event_name: Str<'a>,
    #[serde(borrow, default)]
    pub event_source: Str<'a>,
    #[serde(borrow, default)]
    pub event_id: Str<'a>,
    #[serde(borrow, default)]
    pub event_time: Str<'a>,
    #[serde(borrow, default)]
    pub aws_region: Str<'a>,
    #[serde(borrow, default)]
    pub recipient_account_id: Str<'a>,
    #[serde(borrow, default)]
    pub user_agent: Str<'a>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    pub source_ip_address: Str<'a>,
    #[serde(borrow, default)]
    pub error_code: Str<'a>,
    #[serde(default)]
    pub read_only: Flag,
    #[serde(default)]
    pub session_credential_from_console: Flag,
    #[serde(borrow, default, rename = "userIdentity")]
    user_identity_raw: Option<&'a RawValue>,
    #[serde(skip)]
    pub user_identity: UserIdentity<'a>,
    #[serde(borrow, default)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub resources: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub additional_event_data: Option<&'a RawValue>,
}

/// `userIdentity`: who made the call.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity<'a> {
    #[serde(borrow, default, rename = "type")]
    pub identity_type: Str<'a>,
    #[serde(borrow, default)]
    pub principal_id: Str<'a>,
    #[serde(borrow, default)]
    pub arn: Str<'a>,
    #[serde(borrow, default)]
    pub account_id: Str<'a>,
    #[serde(borrow, default)]
    pub user_name: Str<'a>,
    #[serde(borrow, default)]
    pub invoked_by: Str<'a>,
    #[serde(borrow, default)]
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`: for temporary credentials, the role (or user) that issued them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext<'a> {
    #[serde(borrow, default)]
    pub session_issuer: Option<SessionIssuer<'a>>,
    #[serde(borrow, default)]
    pub source_identity: Str<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer<'a> {
    #[serde(borrow, default, rename = "type")]
    pub issuer_type: Str<'a>,
    #[serde(borrow, default)]
    pub arn: Str<'a>,
    #[serde(borrow, default)]
    pub user_name: Str<'a>,
}

/// Where a path's first step points in the record: a free-form section, or a top-level field (per-region
/// settings such as EBS default encryption are identified by the record's region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    RequestParameters,
    ResponseElements,
    Resources,
    AdditionalEventData,
    AwsRegion,
    RecipientAccountId,
}

impl Section {
    pub fn from_root(root: &str) -> Option<Section> {
        match root {
            "requestParameters" => Some(Section::RequestParameters),
            "responseElements" => Some(Section::ResponseElements),
            "resources" => Some(Section::Resources),
            "additionalEventData" => Some(Section::AdditionalEventData),
            "awsRegion" => Some(Section::AwsRegion),
            "recipientAccountId" => Some(Section::RecipientAccountId),
            _ => None,
        }
    }
}

impl<'a> Record<'a> {
    /// Parses one record. The cloudtrail plugin may leave NUL bytes after the JSON text; they are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, serde_json::Error> {
        let end = bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        let text = &bytes[..end];
        // serde's derived structs also accept arrays (fields by position); a record is an object.
        if text.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(serde::de::Error::custom(
                "a CloudTrail record is a JSON object",
            ));
        }
        let mut record: Record<'a> = serde_json::from_slice(text)?;
        if let Some(raw) = record
            .user_identity_raw
            .filter(|raw| raw.get().starts_with('{'))
        {
            // A malformed identity hides who called, not the rest of the record.
            record.user_identity = serde_json::from_str(raw.get()).unwrap_or_default();
        }
        Ok(record)
    }

    pub fn event_name(&self) -> &str {
        self.event_name.get().unwrap_or("")
    }

    pub fn event_source(&self) -> &str {
        self.event_source.get().unwrap_or("")
    }

    /// The account the call was made in: the recipient account, else the caller's.
    pub fn account_id(&self) -> Option<&str> {
        self.recipient_account_id
            .get()
            .or_else(|| self.user_identity.account_id.get())
    }

    pub fn failed(&self) -> bool {
        self.error_code.get().is_some_and(|c| !c.is_empty())
    }

    /// Whether the call only reads. Records without `readOnly` (some services omit it) are judged by the
    /// operation's verb.
    pub fn read_only(&self) -> bool {
        match self.read_only.0 {
            Some(flag) => flag,
            None => {
                let name = self.event_name();
                [
                    "Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet",
                ]
                .iter()
                .any(|verb| name.starts_with(verb))
            }
        }
    }

    /// One section of the record as a JSON value (free-form sections are parsed here; callers cache).
    pub fn section_value(&self, section: Section) -> Option<serde_json::Value> {
        let raw = match section {
            Section::RequestParameters => self.request_parameters,
            Section::ResponseElements => self.response_elements,
            Section::Resources => self.resources,
            Section::AdditionalEventData => self.additional_event_data,
            Section::AwsRegion => return self.aws_region.get().map(|s| s.to_owned().into()),
            Section::RecipientAccountId => {
                return self.recipient_account_id.get().map(|s| s.to_owned().into());
            }
        };
        raw.and_then(|raw| serde_json::from_str(raw.get()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:alice","arn":"arn:aws:sts::111122223333:assumed-role/Admin/alice","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Admin","userName":"Admin"}}},"eventTime":"2024-01-01T00:00:00Z","eventSource":"ec2.amazonaws.com","eventName":"AuthorizeSecurityGroupIngress","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2.13.0","requestParameters":{"groupId":"sg-1"},"responseElements":{"_return":true},"readOnly":false,"recipientAccountId":"111122223333"}"#;

    #[test]
    fn reads_the_fields() {
        let mut bytes = RECORD.as_bytes().to_vec();
        bytes.extend_from_slice(&[0, 0]);
        let record = Record::parse(&bytes).unwrap();
        assert_eq!(record.event_name(), "AuthorizeSecurityGroupIngress");
        assert_eq!(record.event_source(), "ec2.amazonaws.com");
        assert_eq!(record.account_id(), Some("111122223333"));
        assert!(!record.read_only());
        assert!(!record.failed());
        assert_eq!(
            record
                .user_identity
                .session_context
                .as_ref()
                .unwrap()
                .session_issuer
                .as_ref()
                .unwrap()
                .arn
                .get(),
            Some("arn:aws:iam::111122223333:role/Admin")
        );
        assert_eq!(
            record.section_value(Section::RequestParameters),
            Some(serde_json::json!({"groupId": "sg-1"}))
        );
        assert_eq!(
            record.section_value(Section::AwsRegion),
            Some(serde_json::json!("us-east-1"))
        );
    }

    #[test]
    fn odd_fields_do_not_hide_the_rest() {
        let odd = r#"{"eventName":"DeleteVpc","eventSource":7,"userIdentity":"nobody","readOnly":"false","errorCode":"AccessDenied"}"#;
        let record = Record::parse(odd.as_bytes()).unwrap();
        assert_eq!(record.event_name(), "DeleteVpc");
        assert_eq!(record.event_source(), "");
        assert_eq!(record.user_identity.arn.get(), None);
        assert!(!record.read_only());
        assert!(record.failed());
    }

    #[test]
    fn read_only_falls_back_to_the_verb() {
        let record = Record::parse(br#"{"eventName":"DescribeInstances"}"#).unwrap();
        assert!(record.read_only());
        let record = Record::parse(br#"{"eventName":"RunInstances"}"#).unwrap();
        assert!(!record.read_only());
    }

    #[test]
    fn refuses_what_is_not_a_record() {
        for bad in [&b""[..], b"not json", b"[1,2]", b"{\"eventName\":", b"\0\0"] {
            assert!(Record::parse(bad).is_err(), "{bad:?}");
        }
    }
}
