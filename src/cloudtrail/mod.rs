//! A borrowed, zero-copy view of one CloudTrail record: the [`Call`] the verdict reads, and who made it.
//!
//! The record is read once into [`Record`]: its members are delimited by [`scan`] without parsing what they
//! hold, the scalar fields and `userIdentity` are decoded (borrowing from the event bytes), and the
//! free-form parts (`requestParameters`, `responseElements`, `resources`, `additionalEventData`) stay JSON
//! text until something asks for them, which is what makes a read-only or failed call cheap. A field of the
//! wrong type reads as absent; only bytes that are not a JSON object fail the parse. Nothing here allocates
//! unless a string carries escapes. The catalog's [`Section`]s are the record's free-form parts, its region
//! and its recipient account.

pub mod actor;
pub mod lenient;

/// The Falco event source whose events carry CloudTrail records (Falco's cloudtrail plugin).
pub const EVENT_SOURCE: &str = "aws_cloudtrail";

use crate::call::Call;
use crate::catalog::Section;
use crate::scan::{self, Scanner};
use lenient::{Flag, Str};
use serde_json::Value;
use std::borrow::Cow;

pub use crate::call::{ActorKind, Principals, TerraformIdentity};
pub use crate::scan::ScanError;

/// Why bytes are not a CloudTrail record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The bytes are not UTF-8.
    #[error("a CloudTrail record is UTF-8 text: {0}")]
    NotText(#[from] simdutf8::compat::Utf8Error),
    /// The text is not a JSON object.
    #[error("a CloudTrail record is a JSON object: {0}")]
    NotAnObject(#[from] ScanError),
}

/// The CloudTrail record, as tfdrift reads it.
#[derive(Debug, Default)]
pub struct Record<'a> {
    /// `eventName`: the operation.
    pub event_name: Str<'a>,
    /// `eventSource`: the service's endpoint (`ec2.amazonaws.com`).
    pub event_source: Str<'a>,
    /// `eventID`.
    pub event_id: Str<'a>,
    /// `eventTime`, RFC 3339.
    pub event_time: Str<'a>,
    /// `awsRegion`.
    pub aws_region: Str<'a>,
    /// `recipientAccountId`: the account the call was made in.
    pub recipient_account_id: Str<'a>,
    /// `userAgent`.
    pub user_agent: Str<'a>,
    /// `sourceIPAddress`: the caller's address, or the AWS service's name for a call a service made.
    pub source_ip_address: Str<'a>,
    /// `errorCode`: set when the call failed.
    pub error_code: Str<'a>,
    /// `readOnly`.
    pub read_only: Flag,
    /// `sessionCredentialFromConsole`.
    pub session_credential_from_console: Flag,
    /// `userIdentity`.
    pub user_identity: UserIdentity<'a>,
    /// The free-form sections, as JSON text.
    pub request_parameters: Option<&'a str>,
    /// `responseElements`.
    pub response_elements: Option<&'a str>,
    /// `resources`.
    pub resources: Option<&'a str>,
    /// `additionalEventData`.
    pub additional_event_data: Option<&'a str>,
}

/// `userIdentity`: who made the call.
#[derive(Debug, Default)]
pub struct UserIdentity<'a> {
    /// `type`: `IAMUser`, `AssumedRole`, `AWSService`, ...
    pub identity_type: Str<'a>,
    /// `principalId`.
    pub principal_id: Str<'a>,
    /// `arn`.
    pub arn: Str<'a>,
    /// `accountId`.
    pub account_id: Str<'a>,
    /// `userName`.
    pub user_name: Str<'a>,
    /// `invokedBy`: the AWS service that made the call for the principal.
    pub invoked_by: Str<'a>,
    /// `sessionContext`.
    pub session_context: Option<SessionContext<'a>>,
}

/// `userIdentity.sessionContext`: for temporary credentials, the role (or user) that issued them.
#[derive(Debug, Default)]
pub struct SessionContext<'a> {
    /// `sessionIssuer`.
    pub session_issuer: Option<SessionIssuer<'a>>,
    /// `sourceIdentity`: set by whoever assumed the role, and kept along a chain of roles.
    pub source_identity: Str<'a>,
}

/// `userIdentity.sessionContext.sessionIssuer`: the role (or user) behind temporary credentials.
#[derive(Debug, Default)]
pub struct SessionIssuer<'a> {
    /// `arn`.
    pub arn: Str<'a>,
    /// `userName`.
    pub user_name: Str<'a>,
}

/// `match` on a member name's bytes, one arm per name: each name is compared whole (a word or two at a time,
/// after its length), which a `match` on byte-string patterns does byte by byte.
macro_rules! match_key {
    ($key:expr, { $($name:literal => $arm:expr,)+ _ => $default:expr $(,)? }) => {{
        let key: &[u8] = $key;
        $(if key == $name { $arm } else)+ { $default }
    }};
}

/// The arm of a member that counts only the first time it appears in its object, as in the cloudtrail plugin's
/// parser: bit `$bit` of `$seen` records that it was read; a repeat is passed over.
macro_rules! first {
    ($seen:ident, $bit:literal, $scanner:expr, $read:expr) => {{
        if $seen & (1u32 << $bit) == 0 {
            $seen |= 1u32 << $bit;
            $read
        } else {
            $scanner.skip()?
        }
    }};
}

/// A member's name as the cloudtrail plugin's parser reads it: escapes decoded. CloudTrail writes none, so
/// this is off the hot path; `buffer` holds a decoded name.
#[inline(always)]
fn name<'k>(key: scan::Key<'k>, buffer: &'k mut String) -> &'k [u8] {
    if key.escaped {
        *buffer = decoded_name(key.raw);
        buffer.as_bytes()
    } else {
        key.raw
    }
}

#[inline(never)]
fn decoded_name(raw: &[u8]) -> String {
    lenient::decode_name(std::str::from_utf8(raw).unwrap_or_default())
}

/// A string value: borrowed when it has no escapes, decoded otherwise; any other JSON reads as absent.
#[inline(always)]
fn text(value: scan::Value<'_>) -> Str<'_> {
    match value.plain_string() {
        Some(plain) => Str(Some(Cow::Borrowed(plain))),
        None => decoded(value),
    }
}

/// A string with escapes, decoded as a lenient parser does (an escape that names no character reads as
/// U+FFFD); or absent.
#[inline(never)]
fn decoded(value: scan::Value<'_>) -> Str<'_> {
    if !value.is_string() {
        return Str(None);
    }
    Str(Some(Cow::Owned(lenient::decode_lossy(value.text()))))
}

/// A flag: a JSON boolean, or the strings `"true"`/`"false"` in any case (CloudTrail writes both); any
/// other value reads as absent.
fn flag(value: scan::Value<'_>) -> Flag {
    Flag(match value.text() {
        "true" => Some(true),
        "false" => Some(false),
        _ => text(value).get().and_then(|s| {
            if s.eq_ignore_ascii_case("true") {
                Some(true)
            } else if s.eq_ignore_ascii_case("false") {
                Some(false)
            } else {
                None
            }
        }),
    })
}

/// Reads the object at the scanner's position with `read` when it is one (a malformed object hides only
/// itself); passes over any other value. `read` gets each member's decoded name.
#[inline(always)]
fn nested<'a>(
    scanner: &mut Scanner<'a>,
    mut read: impl FnMut(&mut Scanner<'a>, &[u8]) -> Result<(), ScanError>,
) -> Result<bool, ScanError> {
    if scanner.peek() == Some(b'{') {
        let mut buffer = String::new();
        scanner.read_object(
            #[inline(always)]
            |scanner, key| read(scanner, name(key, &mut buffer)),
        )?;
        Ok(true)
    } else {
        scanner.value()?;
        Ok(false)
    }
}

impl<'a> UserIdentity<'a> {
    /// Reads `userIdentity` in place, from the scanner's position (fields it does not hold stay as they
    /// are).
    #[inline(always)]
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<(), ScanError> {
        let mut seen = 0u32;
        nested(
            scanner,
            #[inline(always)]
            |scanner, key| {
                match_key!(key, {
                    b"type" => first!(seen, 0, scanner, self.identity_type = text(scanner.value()?)),
                    b"arn" => first!(seen, 1, scanner, self.arn = text(scanner.value()?)),
                    b"principalId" => first!(seen, 2, scanner, self.principal_id = text(scanner.value()?)),
                    b"accountId" => first!(seen, 3, scanner, self.account_id = text(scanner.value()?)),
                    b"userName" => first!(seen, 4, scanner, self.user_name = text(scanner.value()?)),
                    b"invokedBy" => first!(seen, 5, scanner, self.invoked_by = text(scanner.value()?)),
                    b"sessionContext" => first!(seen, 6, scanner, {
                        let context = self.session_context.insert(SessionContext::default());
                        if !context.read(scanner)? {
                            self.session_context = None;
                        }
                    }),
                    _ => scanner.skip()?,
                });
                Ok(())
            },
        )?;
        Ok(())
    }
}

impl<'a> SessionContext<'a> {
    /// Reads `sessionContext` in place; false if it is not an object.
    #[inline(always)]
    fn read(&mut self, scanner: &mut Scanner<'a>) -> Result<bool, ScanError> {
        let mut seen = 0u32;
        nested(
            scanner,
            #[inline(always)]
            |scanner, key| {
                match_key!(key, {
                    b"sessionIssuer" => first!(seen, 0, scanner, {
                        let issuer = self.session_issuer.insert(SessionIssuer::default());
                        let mut issuer_seen = 0u32;
                        let object = nested(scanner, #[inline(always)] |scanner, key| {
                            match_key!(key, {
                                b"arn" => first!(issuer_seen, 0, scanner, issuer.arn = text(scanner.value()?)),
                                b"userName" => first!(issuer_seen, 1, scanner, issuer.user_name = text(scanner.value()?)),
                                _ => scanner.skip()?,
                            });
                            Ok(())
                        })?;
                        if !object {
                            self.session_issuer = None;
                        }
                    }),
                    b"sourceIdentity" => first!(seen, 1, scanner, self.source_identity = text(scanner.value()?)),
                    _ => scanner.skip()?,
                });
                Ok(())
            },
        )
    }
}

/// A free-form section: kept as text when it is an object or an array (`null` and the like mean absent).
fn section(value: &str) -> Option<&str> {
    value.starts_with(['{', '[']).then_some(value)
}

impl<'a> Record<'a> {
    /// Reads one record. The cloudtrail plugin may leave NUL bytes after the JSON text; they are ignored.
    /// As Falco's cloudtrail plugin reads it: member names with escapes are decoded, and when a member repeats,
    /// the first wins.
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        let mut record = Record::default();
        record.read(bytes)?;
        Ok(record)
    }

    /// [`Record::parse`] into a record the caller holds (a default one: what the bytes do not set stays),
    /// which spares moving a few hundred bytes per event.
    pub fn read(&mut self, bytes: &'a [u8]) -> Result<(), RecordError> {
        let end = bytes
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |last| last + 1);
        // One UTF-8 check of the whole record; every span borrowed from it is then a `&str` for free.
        let json = simdutf8::compat::from_utf8(&bytes[..end])?;
        let record = self;
        let mut scanner = Scanner::new(json);
        // The cloudtrail plugin's parser keeps the first of duplicated members: so does this, or a caller
        // could show Falco one readOnly or userAgent and tfdrift another.
        let mut seen = 0u32;
        let mut buffer = String::new();
        let mut key = scanner.first_key()?;
        while let Some(found) = key {
            match_key!(name(found, &mut buffer), {
                b"eventName" => first!(seen, 0, scanner, record.event_name = text(scanner.value()?)),
                b"eventSource" => first!(seen, 1, scanner, record.event_source = text(scanner.value()?)),
                b"eventTime" => first!(seen, 2, scanner, record.event_time = text(scanner.value()?)),
                b"eventID" => first!(seen, 3, scanner, record.event_id = text(scanner.value()?)),
                b"awsRegion" => first!(seen, 4, scanner, record.aws_region = text(scanner.value()?)),
                b"userAgent" => first!(seen, 5, scanner, record.user_agent = text(scanner.value()?)),
                b"recipientAccountId" => first!(seen, 6, scanner, record.recipient_account_id = text(scanner.value()?)),
                b"errorCode" => first!(seen, 7, scanner, record.error_code = text(scanner.value()?)),
                b"readOnly" => first!(seen, 8, scanner, record.read_only = flag(scanner.value()?)),
                // A malformed identity hides who called, not the rest of the record.
                b"userIdentity" => first!(seen, 9, scanner, {
                    record.user_identity = UserIdentity::default();
                    record.user_identity.read(&mut scanner)?;
                }),
                b"requestParameters" => first!(seen, 10, scanner, {
                    record.request_parameters = section(scanner.value()?.text());
                }),
                b"responseElements" => first!(seen, 11, scanner, {
                    record.response_elements = section(scanner.value()?.text());
                }),
                b"resources" => first!(seen, 12, scanner, record.resources = section(scanner.value()?.text())),
                b"additionalEventData" => first!(seen, 13, scanner, {
                    record.additional_event_data = section(scanner.value()?.text());
                }),
                b"sessionCredentialFromConsole" => first!(seen, 14, scanner, {
                    record.session_credential_from_console = flag(scanner.value()?);
                }),
                b"sourceIPAddress" => first!(seen, 15, scanner, {
                    record.source_ip_address = text(scanner.value()?);
                }),
                _ => scanner.skip()?,
            });
            key = scanner.next_key()?;
        }
        scanner.finish()?;
        Ok(())
    }

    /// `eventName`, or `""` when missing.
    pub fn event_name(&self) -> &str {
        self.event_name.get().unwrap_or("")
    }

    /// `eventSource`, or `""` when missing.
    pub fn event_source(&self) -> &str {
        self.event_source.get().unwrap_or("")
    }
}

impl Call for Record<'_> {
    fn service(&self) -> &str {
        self.event_source()
    }

    fn operation(&self) -> &str {
        self.event_name()
    }

    /// Records without `readOnly` (some services omit it) are judged by the operation's verb.
    fn read_only(&self) -> bool {
        self.read_only.0.unwrap_or_else(|| {
            let name = self.event_name();
            [
                "Get", "List", "Describe", "Head", "Lookup", "Search", "BatchGet",
            ]
            .iter()
            .any(|verb| name.starts_with(verb))
        })
    }

    fn failed(&self) -> bool {
        self.error_code.get().is_some_and(|c| !c.is_empty())
    }

    fn time(&self) -> Option<&str> {
        self.event_time.get()
    }

    /// The recipient account, else the caller's.
    fn account_id(&self) -> Option<&str> {
        self.recipient_account_id
            .get()
            .or_else(|| self.user_identity.account_id.get())
    }

    fn region(&self) -> Option<&str> {
        self.aws_region.get()
    }

    /// One section of the record as a JSON value (free-form sections are parsed here; callers cache), read as
    /// the cloudtrail plugin reads it: the first of duplicated members, escaped names decoded, and what
    /// cannot be read marked [`lenient::UNREADABLE`] (see [`lenient::value`]).
    fn section_value(&self, section: Section) -> Option<Value> {
        let raw = match section {
            Section::Request => self.request_parameters,
            Section::Response => self.response_elements,
            Section::Resources => self.resources,
            Section::Details => self.additional_event_data,
            // CloudTrail names resources in its parameters and `resources`, never by one path.
            Section::Name => return None,
            Section::Region => return self.aws_region.get().map(|s| s.to_owned().into()),
            Section::Account => {
                return self.recipient_account_id.get().map(|s| s.to_owned().into());
            }
        };
        raw.and_then(lenient::value)
    }

    /// The caller's ARN and, for temporary credentials, the ARN of the role (or user) that issued them.
    fn principals(&self) -> impl Iterator<Item = &str> {
        let identity = &self.user_identity;
        let issuer = identity
            .session_context
            .as_ref()
            .and_then(|c| c.session_issuer.as_ref())
            .and_then(|i| i.arn.get());
        [identity.arn.get(), issuer].into_iter().flatten()
    }

    fn terraform_client(&self) -> bool {
        self.user_agent
            .get()
            .is_some_and(actor::is_terraform_user_agent)
    }

    fn actor_kind(&self) -> ActorKind {
        actor::actor_kind(self, false)
    }

    fn actor(&self) -> Option<Cow<'_, str>> {
        actor::actor(self)
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
            record.section_value(Section::Request),
            Some(serde_json::json!({"groupId": "sg-1"}))
        );
        assert_eq!(
            record.section_value(Section::Region),
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
    fn a_malformed_identity_hides_only_itself() {
        // The identity is delimited (its brackets balance) but not well-formed inside: what was read of it
        // before the fault stays, the members after it are read. A fault inside a nested object of the
        // identity hides only that object.
        for (identity, user_name) in [
            (r#"{"type":"IAMUser","arn":1 2,"userName":"bob"}"#, None),
            (r#"{"type":"IAMUser",,"userName":"bob"}"#, None),
            (
                r#"{"type":"IAMUser","sessionContext":{"sessionIssuer":{"arn" "x"}},"userName":"bob"}"#,
                Some("bob"),
            ),
        ] {
            let text = format!(
                r#"{{"eventVersion":"1.08","userIdentity":{identity},"eventName":"DeleteVpc","readOnly":false}}"#
            );
            let record = Record::parse(text.as_bytes()).unwrap();
            assert_eq!(
                record.user_identity.identity_type.get(),
                Some("IAMUser"),
                "{text}"
            );
            assert_eq!(record.user_identity.user_name.get(), user_name, "{text}");
            assert_eq!(record.event_name(), "DeleteVpc", "{text}");
            assert!(!record.read_only());
        }
        // Brackets that do not balance are not a record.
        assert!(Record::parse(br#"{"userIdentity":{"type":"IAMUser","eventName":"X"}"#).is_err());
    }

    #[test]
    fn wrong_types_read_as_absent() {
        for (s, f, expected_s, expected_f) in [
            (r#""x""#, "true", Some("x"), Some(true)),
            (r#""a\"b""#, r#""false""#, Some("a\"b"), Some(false)),
            ("5", r#""maybe""#, None, None),
            (r#"{"deep":[1,{"x":2}]}"#, "[true]", None, None),
            ("null", "null", None, None),
        ] {
            let text = format!(r#"{{"userAgent":{s},"sessionCredentialFromConsole":{f}}}"#);
            let record = Record::parse(text.as_bytes()).unwrap();
            assert_eq!(record.user_agent.get(), expected_s, "{text}");
            assert_eq!(
                record.session_credential_from_console.0, expected_f,
                "{text}"
            );
        }
        let record = Record::parse(b"{}").unwrap();
        assert_eq!(record.user_agent.get(), None);
        assert_eq!(record.session_credential_from_console.0, None);
    }

    #[test]
    fn the_first_of_duplicated_members_wins_and_escaped_names_are_decoded() {
        // As Falco's cloudtrail plugin reads the same bytes (its parser keeps the first duplicate and decodes
        // escaped names): a caller cannot show Falco one value and tfdrift another.
        let text = r#"{"readOnly":false,"userAgent":"aws-cli/2","eventName":"DeleteVpc",
            "userIdentity":{"type":"IAMUser","userName":"bob","type":"AWSService","invokedBy":"a","invokedBy":"b"},
            "userIdentity":{"type":"Root"},
            "readOnly":true,"userAgent":"Terraform/1.5.7","\u0065ventName":"CreateVpc",
            "\u0065rrorCode":"AccessDenied","errorCode":null,"request\u0050arameters":{"vpcId":"vpc-1"}}"#;
        let record = Record::parse(text.as_bytes()).unwrap();
        assert!(!record.read_only());
        assert_eq!(record.user_agent.get(), Some("aws-cli/2"));
        assert_eq!(record.event_name(), "DeleteVpc");
        assert_eq!(record.user_identity.identity_type.get(), Some("IAMUser"));
        assert_eq!(record.user_identity.user_name.get(), Some("bob"));
        assert_eq!(record.user_identity.invoked_by.get(), Some("a"));
        assert!(record.failed());
        assert_eq!(
            record.section_value(Section::Request),
            Some(serde_json::json!({"vpcId": "vpc-1"}))
        );
        // A first member of the wrong type still wins: the field reads as absent, as in the plugin.
        let record = Record::parse(br#"{"userAgent":5,"userAgent":"Terraform/1.5.7"}"#).unwrap();
        assert_eq!(record.user_agent.get(), None);
        // A value with an escape that names no character is read leniently, not dropped.
        let record = Record::parse(br#"{"userAgent":"Terraform/1.5.7 \ud800"}"#).unwrap();
        assert_eq!(record.user_agent.get(), Some("Terraform/1.5.7 \u{FFFD}"));
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

    #[test]
    fn the_first_source_ip_address_is_read_and_a_nested_one_never() {
        let read = |text: &str| {
            Record::parse(text.as_bytes())
                .unwrap()
                .source_ip_address
                .get()
                .map(str::to_owned)
        };
        assert_eq!(
            read(r#"{"a":{"sourceIPAddress":"x"},"sourceIPAddress":"1.2.3.4","sourceIPAddress":"5.6.7.8"}"#)
                .as_deref(),
            Some("1.2.3.4")
        );
        // As the cloudtrail plugin reads ct.srcip: a member that is no string gives no value.
        assert_eq!(read(r#"{"sourceIPAddress":7}"#), None);
        assert_eq!(read(r#"{"sourceIPAddress":null}"#), None);
    }
}
