//! Differential: the GCP audit entry view (`Entry::parse`, the SIMD scanner) against a reference reading of the
//! same bytes that follows the gcpaudit plugin's parser (fastjson): of duplicated members the first counts,
//! escaped member names are decoded, a member of the wrong type reads as absent. The reference is serde_json's
//! parser with a visitor that keeps the first member of each name. On every input that is one JSON object,
//! every field the verdict reads must agree, and every answer of the `Call` must come without a panic: a caller
//! must not be able to show Falco one entry and tfdrift another.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;
use tfdrift::call::Call;
use tfdrift::catalog::Section;
use tfdrift::gcpaudit::{Entry, MAX_DELEGATES};

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

/// The string at a path of object members, or nothing.
fn text<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |at, key| at.as_object()?.get(*key))?
        .as_str()
}

/// The value at a path of object members.
fn at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |at, key| at.as_object()?.get(*key))
}

fuzz_target!(|data: &[u8]| {
    // Whatever the bytes: no panic anywhere in the view.
    if let Ok(entry) = Entry::parse(data) {
        let _ = (
            entry.read_only(),
            entry.failed(),
            entry.time(),
            entry.account_id(),
        );
        let _ = (entry.region(), entry.operation(), entry.terraform_client());
        let _ = (
            entry.actor_kind(),
            entry.actor(),
            entry.principals().count(),
        );
        for section in [
            Section::Request,
            Section::Response,
            Section::Details,
            Section::Name,
            Section::Resources,
            Section::Region,
            Section::Account,
        ] {
            let _ = entry.section_value(section);
        }
    }
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
    let entry = Entry::parse(data).expect("one JSON object is an entry");
    let payload = &entry.payload;
    let auth = &payload.authentication;
    let metadata = &payload.request_metadata;
    for (path, got) in [
        (&["logName"][..], entry.log_name.get()),
        (&["timestamp"], entry.timestamp.get()),
        (&["insertId"], entry.insert_id.get()),
        (&["resource", "type"], entry.resource.resource_type.get()),
        (
            &["resource", "labels", "project_id"],
            entry.resource.project_id.get(),
        ),
        (
            &["resource", "labels", "location"],
            entry.resource.location.get(),
        ),
        (
            &["resource", "labels", "region"],
            entry.resource.region.get(),
        ),
        (&["resource", "labels", "zone"], entry.resource.zone.get()),
        (&["operation", "id"], entry.operation.id.get()),
        (&["protoPayload", "serviceName"], payload.service_name.get()),
        (&["protoPayload", "methodName"], payload.method_name.get()),
        (
            &["protoPayload", "resourceName"],
            payload.resource_name.get(),
        ),
        (
            &["protoPayload", "authenticationInfo", "principalEmail"],
            auth.principal_email.get(),
        ),
        (
            &["protoPayload", "authenticationInfo", "principalSubject"],
            auth.principal_subject.get(),
        ),
        (
            &["protoPayload", "requestMetadata", "callerIp"],
            metadata.caller_ip.get(),
        ),
        (
            &["protoPayload", "requestMetadata", "callerSuppliedUserAgent"],
            metadata.caller_supplied_user_agent.get(),
        ),
    ] {
        assert_eq!(got, text(&reference, path), "{path:?}");
    }
    for (name, got) in [
        ("first", entry.operation.first),
        ("last", entry.operation.last),
    ] {
        assert_eq!(
            got,
            at(&reference, &["operation", name]).and_then(Value::as_bool),
            "{name}"
        );
    }
    let code = at(&reference, &["protoPayload", "status", "code"])
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite());
    assert_eq!(
        entry.failed(),
        code.is_some_and(|c| c != 0.0),
        "status.code"
    );
    let chain: Vec<&Value> = at(
        &reference,
        &[
            "protoPayload",
            "authenticationInfo",
            "serviceAccountDelegationInfo",
        ],
    )
    .and_then(Value::as_array)
    .map(|items| items.iter().filter(|i| i.is_object()).collect())
    .unwrap_or_default();
    assert_eq!(
        auth.delegation.len(),
        chain.len().min(MAX_DELEGATES),
        "delegation"
    );
    for (ours, theirs) in auth.delegation.iter().zip(&chain) {
        assert_eq!(
            ours.first_party_email.get(),
            text(theirs, &["firstPartyPrincipal", "principalEmail"])
        );
        assert_eq!(
            ours.principal_subject.get(),
            text(theirs, &["principalSubject"])
        );
    }
    for (key, section) in [
        ("request", Section::Request),
        ("response", Section::Response),
    ] {
        let expected = at(&reference, &["protoPayload", key])
            .filter(|v| v.is_object() || v.is_array())
            .cloned();
        assert_eq!(entry.section_value(section), expected, "{key}");
    }
});
