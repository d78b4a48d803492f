//! A free-form JSON section read as the log sources' plugins read it, leniently: shared by every record view
//! (CloudTrail's `requestParameters`, a GCP audit entry's `request`), so both read the same bytes the same way.
//!
//! Falco's cloudtrail and gcpaudit plugins parse with parsers that keep the first of duplicated members and
//! decode escaped member names, so the same bytes must mean the same to tfdrift: a caller who repeats a
//! parameter cannot show Falco one value and tfdrift another. And what cannot be read must not hide the rest:
//! a lone surrogate escape, a number out of range or nesting deeper than [`MAX_DEPTH`] reads as
//! [`UNREADABLE`], a value no state holds, so a comparison with it is a change (fail closed), while every other
//! member of the section is read as usual.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

use super::{Scanner, decode_lossy, decode_name};

/// What stands where a section holds something that cannot be read: a string no state holds (it starts with
/// U+FFFD, the replacement character), so comparing it with the state is a change.
pub const UNREADABLE: &str = "\u{FFFD}unreadable";

/// How deep a section's values are read; deeper containers read as [`UNREADABLE`]. serde_json's own limit:
/// every section within it takes the fast path.
pub const MAX_DEPTH: usize = 128;

/// A free-form section's JSON text as a value: first of duplicated members kept, escaped names decoded,
/// unreadable spots as [`UNREADABLE`], and text that is not well-formed JSON as [`UNREADABLE`] whole.
pub fn value(text: &str) -> Option<Value> {
    // Nearly every section is well-formed JSON that serde_json reads: one pass, duplicates resolved as the
    // plugin does. Only what it refuses takes the scanner's slower, lenient path.
    let mut deserializer = serde_json::Deserializer::from_str(text);
    if let Ok(FirstWins(value)) = FirstWins::deserialize(&mut deserializer)
        && deserializer.end().is_ok()
    {
        return Some(value);
    }
    // Text that is not well-formed JSON (neither CloudTrail nor Cloud Logging writes any; the plugins read no
    // field of such a record) reads as unreadable as a whole: one pass, whatever it holds.
    let mut scanner = Scanner::new(text);
    match read(&mut scanner, 0).and_then(|value| scanner.finish().map(|()| value)) {
        Ok(value) => Some(value),
        Err(_) => Some(unreadable()),
    }
}

fn unreadable() -> Value {
    Value::String(UNREADABLE.to_owned())
}

/// The value at the scanner's position, read leniently; fails only where the text cannot be delimited.
fn read(scanner: &mut Scanner<'_>, depth: usize) -> Result<Value, super::ScanError> {
    match scanner.peek() {
        Some(b'{' | b'[') if depth >= MAX_DEPTH => {
            scanner.skip()?;
            Ok(unreadable())
        }
        // A fault inside fails the whole text: going back to pass over each enclosing container by its
        // brackets would read nested faults again at every level, a cost that grows with depth times size.
        Some(b'{' | b'[') => container(scanner, depth),
        _ => {
            let value = scanner.value()?;
            if value.is_string() {
                return Ok(Value::String(match value.plain_string() {
                    Some(plain) => plain.to_owned(),
                    None => decode_lossy(value.text()),
                }));
            }
            Ok(match value.text() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                number => serde_json::from_str::<Number>(number)
                    .map_or_else(|_| unreadable(), Value::Number),
            })
        }
    }
}

fn container(scanner: &mut Scanner<'_>, depth: usize) -> Result<Value, super::ScanError> {
    if scanner.peek() == Some(b'[') {
        let mut items = Vec::new();
        scanner.read_elements(|scanner| {
            items.push(read(scanner, depth + 1)?);
            Ok(())
        })?;
        return Ok(Value::Array(items));
    }
    let mut map = Map::new();
    let mut key = scanner.first_key()?;
    while let Some(found) = key {
        let text = std::str::from_utf8(found.raw).unwrap_or_default();
        let name = if found.escaped {
            decode_name(text)
        } else {
            text.to_owned()
        };
        let value = read(scanner, depth + 1)?;
        map.entry(name).or_insert(value);
        key = scanner.next_key()?;
    }
    Ok(Value::Object(map))
}

/// A JSON value as serde_json reads it, but keeping the first of duplicated members (serde_json's own
/// `Value` keeps the last).
struct FirstWins(Value);

impl<'de> Deserialize<'de> for FirstWins {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(FirstWinsVisitor)
            .map(FirstWins)
    }
}

struct FirstWinsVisitor;

impl<'de> Visitor<'de> for FirstWinsVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        FirstWins::deserialize(deserializer).map(|v| v.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(FirstWins(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let FirstWins(value) = access.next_value()?;
            map.entry(key).or_insert(value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn well_formed_sections_read_as_serde_json_reads_them() {
        for text in [
            r#"{"groupId":"sg-1","ipPermissions":{"items":[{"ipProtocol":"tcp","fromPort":22,"toPort":22}]}}"#,
            r#"[1,-2,3.5,1e3,true,false,null,"a\"b\u00e9\ud83d\ude00",{},[]]"#,
            r#"  {"a" : { "b" : [ 1 , 2 ] } }  "#,
        ] {
            assert_eq!(
                value(text),
                Some(serde_json::from_str::<Value>(text).unwrap()),
                "{text}"
            );
            // The lenient path agrees with the fast one where both read.
            let mut scanner = Scanner::new(text);
            assert_eq!(read(&mut scanner, 0).ok(), value(text), "{text}");
        }
    }

    #[test]
    fn the_first_of_duplicated_members_wins_and_escaped_names_are_decoded() {
        assert_eq!(
            value(r#"{"a":1,"b":{"c":2,"c":3},"a":4,"\u0064":5,"d":6}"#),
            Some(json!({"a": 1, "b": {"c": 2}, "d": 5}))
        );
    }

    #[test]
    fn what_cannot_be_read_is_marked_and_hides_nothing_else() {
        // A lone surrogate: decoded to U+FFFD, the rest of the section read.
        assert_eq!(
            value(r#"{"description":"x\ud800y","groupId":"sg-1"}"#),
            Some(json!({"description": "x\u{FFFD}y", "groupId": "sg-1"}))
        );
        // A number out of range.
        assert_eq!(
            value(r#"{"size":1e400,"groupId":"sg-1"}"#),
            Some(json!({"size": UNREADABLE, "groupId": "sg-1"}))
        );
        // Nesting deeper than serde_json's limit (and this one): the deep part only.
        let deep = format!(
            r#"{{"tags":{}1{},"groupId":"sg-1"}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let read = value(&deep).unwrap();
        assert_eq!(read["groupId"], "sg-1");
        let mut at = &read["tags"];
        let mut levels = 0;
        while let Value::Array(items) = at {
            at = &items[0];
            levels += 1;
        }
        assert_eq!(levels, MAX_DEPTH - 1);
        assert_eq!(at, UNREADABLE);
        // Escapes no character is named by.
        assert_eq!(decode_lossy(r#""a\qb\u12""#), "a\u{FFFD}b\u{FFFD}");
        // Not JSON at all: unreadable as a whole.
        assert_eq!(
            value("{\"a\":1"),
            Some(Value::String(UNREADABLE.to_owned()))
        );
        // Malformed at every level of a deep nesting: one pass, not one per level.
        let nested = format!("{}{}", "{\"a\":[1 2],\"b\":".repeat(100_000), "1");
        assert_eq!(value(&nested), Some(Value::String(UNREADABLE.to_owned())));
    }
}
