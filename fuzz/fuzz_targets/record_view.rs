//! Differential: the record view (`Record::parse`, the SIMD scanner) against a reference reading of the same
//! bytes that follows Falco's cloudtrail plugin's rules: of duplicated members the first counts, escaped member
//! names are decoded. The reference is serde_json's parser with a visitor that keeps the first member of each
//! name. On every input that is one JSON object, every field the verdict reads must agree: a caller must not be
//! able to show Falco one record and tfdrift another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;
use tfdrift::call::Call;
use tfdrift::catalog::Section;
use tfdrift::cloudtrail::Record;

/// A JSON value read with the first of duplicated members kept.
struct First(Value);

impl<'de> Deserialize<'de> for First {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
                Ok(v.into())
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::String(v.to_owned()))
            }
            fn visit_unit<E>(self) -> Result<Value, E> {
                Ok(Value::Null)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(First(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
                let mut out = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    let First(value) = map.next_value()?;
                    out.entry(key).or_insert(value);
                }
                Ok(Value::Object(out))
            }
        }
        d.deserialize_any(V).map(First)
    }
}

/// A string member as the plugin reads one: a string, or nothing.
fn text<'v>(object: &'v Value, key: &str) -> Option<&'v str> {
    object.get(key).and_then(Value::as_str)
}

/// A flag: a boolean, or "true"/"false" in any case.
fn flag(object: &Value, key: &str) -> Option<bool> {
    match object.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A nested object, or nothing.
fn object<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    value.get(key).filter(|v| v.is_object())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text_of) = std::str::from_utf8(data) else {
        return;
    };
    let mut deserializer = serde_json::Deserializer::from_str(text_of);
    let Ok(First(reference)) = First::deserialize(&mut deserializer) else {
        return;
    };
    if deserializer.end().is_err() || !reference.is_object() {
        return;
    }
    let record = Record::parse(data).expect("one JSON object is a record");
    for (key, got) in [
        ("eventName", record.event_name.get()),
        ("eventSource", record.event_source.get()),
        ("eventTime", record.event_time.get()),
        ("eventID", record.event_id.get()),
        ("awsRegion", record.aws_region.get()),
        ("userAgent", record.user_agent.get()),
        ("recipientAccountId", record.recipient_account_id.get()),
        ("errorCode", record.error_code.get()),
    ] {
        assert_eq!(got, text(&reference, key), "{key}");
    }
    assert_eq!(record.read_only.0, flag(&reference, "readOnly"), "readOnly");
    assert_eq!(
        record.session_credential_from_console.0,
        flag(&reference, "sessionCredentialFromConsole"),
        "sessionCredentialFromConsole"
    );
    let identity = object(&reference, "userIdentity")
        .cloned()
        .unwrap_or_default();
    let ui = &record.user_identity;
    for (key, got) in [
        ("type", ui.identity_type.get()),
        ("arn", ui.arn.get()),
        ("principalId", ui.principal_id.get()),
        ("accountId", ui.account_id.get()),
        ("userName", ui.user_name.get()),
        ("invokedBy", ui.invoked_by.get()),
    ] {
        assert_eq!(got, text(&identity, key), "userIdentity.{key}");
    }
    let context = object(&identity, "sessionContext");
    assert_eq!(
        ui.session_context.is_some(),
        context.is_some(),
        "sessionContext"
    );
    if let (Some(ours), Some(theirs)) = (&ui.session_context, context) {
        assert_eq!(ours.source_identity.get(), text(theirs, "sourceIdentity"));
        let issuer = object(theirs, "sessionIssuer");
        assert_eq!(
            ours.session_issuer.is_some(),
            issuer.is_some(),
            "sessionIssuer"
        );
        if let (Some(ours), Some(theirs)) = (&ours.session_issuer, issuer) {
            assert_eq!(ours.arn.get(), text(theirs, "arn"));
            assert_eq!(ours.user_name.get(), text(theirs, "userName"));
        }
    }
    for (key, section) in [
        ("requestParameters", Section::Request),
        ("responseElements", Section::Response),
        ("resources", Section::Resources),
        ("additionalEventData", Section::Details),
    ] {
        let expected = reference
            .get(key)
            .filter(|v| v.is_object() || v.is_array())
            .cloned();
        assert_eq!(record.section_value(section), expected, "{key}");
    }
});
