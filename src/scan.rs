//! Delimiting a JSON object's members without parsing their values.
//!
//! A CloudTrail record is mostly free-form sections (`requestParameters`, `responseElements`, `tlsDetails`,
//! ...) that a read-only or failed call never needs. Full validation of those bytes is what a JSON parser
//! spends most of its time on, so the record view only *delimits* members here: it finds each key and the
//! text of its value, and skips strings, objects and arrays by their quotes and brackets. The values tfdrift
//! reads are then decoded (and so validated) one by one; the others are never looked at again, and a section
//! that is needed later is parsed in full by `serde_json` at that point.
//!
//! The state's attributes, kept as compact JSON text that was validated when the state was loaded, are looked
//! up the same way.
//!
//! The scanner works on `&str`, so every span it yields is valid UTF-8, and it only ever cuts at ASCII
//! structural bytes, so every span is on a character boundary. It never recurses (nesting depth costs
//! nothing) and never indexes out of bounds: input that is not well-formed ends in an error or, inside a
//! value it only skips, in a span that fails to decode later.

use std::fmt;

/// Why the bytes are not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset where the scan gave up.
    pub at: usize,
    pub expected: &'static str,
}

impl fmt::Display for ScanError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "expected {} at byte {}", self.expected, self.at)
    }
}

impl std::error::Error for ScanError {}

/// One member of an object: its key as written between the quotes (escapes not decoded) and its value's
/// JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub key: &'a str,
    /// The key contains a backslash, so `key` is not its decoded form.
    pub key_escaped: bool,
    pub value: &'a str,
    /// The value is a string without escapes: its text between the quotes is what it says.
    pub plain: bool,
}

impl<'a> Member<'a> {
    /// The value as a string, when it is one without escapes.
    pub fn plain_string(&self) -> Option<&'a str> {
        if self.plain {
            self.value.get(1..self.value.len().saturating_sub(1))
        } else {
            None
        }
    }
}

/// The members of the JSON object `text`, in order. `text` may have whitespace around the object and nothing
/// else; the iterator yields an error (once, then ends) where it is not an object.
pub fn members(text: &str) -> Members<'_> {
    Members {
        text,
        structure: Structure::new(text.as_bytes()),
        pos: 0,
        state: State::Start,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// After `{` or a member: a key or `}` (`first`), or `,` / `}`.
    Inside {
        first: bool,
    },
    Done,
}

#[derive(Debug, Clone)]
pub struct Members<'a> {
    text: &'a str,
    structure: Structure<'a>,
    pos: usize,
    state: State,
}

impl<'a> Members<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.bytes();
        while let Some(b) = bytes.get(self.pos) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    fn fail(&mut self, expected: &'static str) -> Option<Result<Member<'a>, ScanError>> {
        self.state = State::Done;
        Some(Err(ScanError {
            at: self.pos,
            expected,
        }))
    }

    fn expect(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        if self.bytes().get(self.pos) == Some(&byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// The end (just past the closing quote) of the string whose opening quote is at `start`.
    fn string_end(&mut self, start: usize) -> Option<usize> {
        let end = self.structure.next(start + 1, Structure::QUOTES)?;
        Some(end + 1)
    }

    /// The end of the value starting at `start`: strings end at their closing quote, objects and arrays at
    /// the bracket that balances their first, anything else (numbers, `true`, `false`, `null`) before the
    /// next delimiter. None if a string or bracket never closes or there is no value.
    fn value_end(&mut self, start: usize) -> Option<usize> {
        let bytes = self.bytes();
        match *bytes.get(start)? {
            b'"' => self.string_end(start),
            b'{' | b'[' => {
                let mut depth = 0usize;
                let mut pos = start;
                loop {
                    let at = self.structure.next(pos, Structure::BRACKETS)?;
                    if matches!(bytes.get(at)?, b'{' | b'[') {
                        depth += 1;
                    } else {
                        // A closing bracket first: the opening one was inside a string (malformed input).
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(at + 1);
                        }
                    }
                    pos = at + 1;
                }
            }
            b',' | b'}' | b']' | b':' => None,
            _ => {
                let len = bytes[start..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(bytes.len() - start);
                Some(start + len)
            }
        }
    }

    fn next_member(&mut self, first: bool) -> Option<Result<Member<'a>, ScanError>> {
        self.skip_whitespace();
        match self.bytes().get(self.pos) {
            Some(b'}') => {
                self.pos += 1;
                self.skip_whitespace();
                self.state = State::Done;
                if self.pos != self.text.len() {
                    return self.fail("the end of the text after the object");
                }
                return None;
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.skip_whitespace();
            }
            _ if first => {}
            _ => return self.fail("`,` or `}`"),
        }
        if self.bytes().get(self.pos) != Some(&b'"') {
            return self.fail("a member name");
        }
        let Some(end) = self.string_end(self.pos) else {
            return self.fail("the end of a member name");
        };
        let key = self.text.get(self.pos + 1..end - 1).unwrap_or_default();
        let key_escaped = self.structure.any_backslash && key.contains('\\');
        self.pos = end;
        if !self.expect(b':') {
            return self.fail("`:`");
        }
        self.skip_whitespace();
        let start = self.pos;
        let Some(end) = self.value_end(start) else {
            return self.fail("a complete value");
        };
        self.pos = end;
        self.state = State::Inside { first: false };
        let value = self.text.get(start..end).unwrap_or_default();
        Some(Ok(Member {
            key,
            key_escaped,
            value,
            plain: value.starts_with('"')
                && !(self.structure.any_backslash && value.contains('\\')),
        }))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<Member<'a>, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.state {
            State::Done => None,
            State::Start => {
                if !self.expect(b'{') {
                    return self.fail("`{`");
                }
                self.state = State::Inside { first: true };
                self.next_member(true)
            }
            State::Inside { first } => self.next_member(first),
        }
    }
}

/// Where the quotes and brackets of a JSON text are, 64 bytes at a time, the way simdjson's first stage
/// finds them: one SIMD comparison per byte class gives a bit per byte, escaped quotes are removed, a
/// prefix XOR of the quote bits marks what is inside strings, and brackets inside strings are dropped. The
/// scanner then jumps from one interesting byte to the next with `trailing_zeros` instead of looking at
/// every byte. Blocks are classified in order and on demand (what is inside a string depends on every
/// block before), so a scan that stops early never classifies the rest.
#[derive(Debug, Clone)]
struct Structure<'a> {
    bytes: &'a [u8],
    /// Offset of the classified block; `usize::MAX` before the first.
    block: usize,
    /// Bits of the classified block: unescaped quotes, and brackets outside strings.
    quotes: u64,
    brackets: u64,
    /// Carried from the classified block into the next: it ends inside a string; its last byte is a
    /// backslash that escapes the next block's first byte.
    in_string: bool,
    escape: bool,
    /// Some block classified so far holds a backslash (most records have none: no string needs a look
    /// for escapes).
    any_backslash: bool,
}

impl<'a> Structure<'a> {
    const QUOTES: u8 = 1;
    const BRACKETS: u8 = 2;

    fn new(bytes: &'a [u8]) -> Self {
        Structure {
            bytes,
            block: usize::MAX,
            quotes: 0,
            brackets: 0,
            in_string: false,
            escape: false,
            any_backslash: false,
        }
    }

    /// The first position at or after `from` of a byte of the `wanted` kinds, classifying blocks up to it.
    #[inline]
    fn next(&mut self, from: usize, wanted: u8) -> Option<usize> {
        let mut from = from;
        loop {
            let block = from - from % 64;
            if block >= self.bytes.len() {
                return None;
            }
            // Blocks are classified in order; a position behind the classified block was passed already
            // (only malformed input asks for one), and gets the classified block's answer.
            while self.block == usize::MAX || self.block < block {
                self.classify_next();
            }
            let mut bits = 0;
            if wanted & Self::QUOTES != 0 {
                bits |= self.quotes;
            }
            if wanted & Self::BRACKETS != 0 {
                bits |= self.brackets;
            }
            if self.block == block {
                bits &= u64::MAX << (from % 64);
            }
            if bits != 0 {
                return Some(self.block + bits.trailing_zeros() as usize);
            }
            from = self.block + 64;
        }
    }

    #[inline(never)]
    fn classify_next(&mut self) {
        let start = if self.block == usize::MAX {
            0
        } else {
            self.block + 64
        };
        let padded;
        let chunk: &[u8; 64] = match self.bytes.get(start..).and_then(|rest| rest.first_chunk()) {
            Some(full) => full,
            None => {
                // The last, partial block: padded with spaces, which are nothing to the scanner.
                let mut buffer = [b' '; 64];
                let rest = self.bytes.get(start..).unwrap_or_default();
                buffer[..rest.len()].copy_from_slice(rest);
                padded = buffer;
                &padded
            }
        };
        let (quote, backslash, open, close) = classify(chunk);
        self.any_backslash |= backslash != 0;
        let escaped = self.escaped(backslash);
        let quotes = quote & !escaped;
        let mut inside = prefix_xor(quotes);
        if self.in_string {
            inside = !inside;
        }
        self.in_string = inside >> 63 == 1;
        self.quotes = quotes;
        self.brackets = (open | close) & !inside;
        self.block = start;
    }

    /// The bytes a backslash escapes. Backslashes are rare in CloudTrail records (policy documents in a
    /// request), so they are walked one by one rather than with simdjson's branch-free arithmetic.
    fn escaped(&mut self, backslash: u64) -> u64 {
        let mut escaped = 0;
        let mut pending = backslash;
        if self.escape {
            escaped |= 1;
            pending &= !1;
        }
        self.escape = false;
        while pending != 0 {
            let at = pending.trailing_zeros();
            if at == 63 {
                self.escape = true;
            } else {
                escaped |= 1 << (at + 1);
                pending &= !(1 << (at + 1));
            }
            pending &= pending - 1;
        }
        escaped
    }
}

/// Bits (byte `i` → bit `i`) of the quotes, backslashes, opening and closing brackets of 64 bytes.
#[inline]
fn classify(chunk: &[u8; 64]) -> (u64, u64, u64, u64) {
    use wide::u8x16;
    const QUOTE: u8x16 = u8x16::new([b'"'; 16]);
    const BACKSLASH: u8x16 = u8x16::new([b'\\'; 16]);
    // `[` and `{`, `]` and `}` differ by 0x20 alone: one OR folds each pair.
    const FOLD: u8x16 = u8x16::new([0x20; 16]);
    const OPEN: u8x16 = u8x16::new([b'{'; 16]);
    const CLOSE: u8x16 = u8x16::new([b'}'; 16]);
    let (mut quote, mut backslash, mut open, mut close) = (0, 0, 0, 0);
    for (lane, part) in chunk.as_chunks::<16>().0.iter().enumerate() {
        let v = u8x16::new(*part);
        let folded = v | FOLD;
        let bits = |hits: u8x16| u64::from(hits.move_mask() as u16) << (lane * 16);
        quote |= bits(v.cmp_eq(QUOTE));
        backslash |= bits(v.cmp_eq(BACKSLASH));
        open |= bits(folded.cmp_eq(OPEN));
        close |= bits(folded.cmp_eq(CLOSE));
    }
    (quote, backslash, open, close)
}

/// Bit `i` of the result is the XOR of bits `0..=i`: set from an opening quote up to (not including) its
/// closing quote.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Result<Vec<(&str, &str)>, ScanError> {
        members(text).map(|m| m.map(|m| (m.key, m.value))).collect()
    }

    #[test]
    fn delimits_every_kind_of_value() {
        let text =
            r#" { "a" : "x\"}" , "b":{"c":[1,{"d":"]}"}]},"e":[],"f":-1.5e3 ,"g":true,"h":null} "#;
        assert_eq!(
            collect(text).unwrap(),
            vec![
                ("a", r#""x\"}""#),
                ("b", r#"{"c":[1,{"d":"]}"}]}"#),
                ("e", "[]"),
                ("f", "-1.5e3"),
                ("g", "true"),
                ("h", "null"),
            ]
        );
        assert_eq!(collect("{}").unwrap(), vec![]);
    }

    /// Every object inside `value`, checked member by member against serde_json's reading of it.
    fn check_objects(text: &str, value: &serde_json::Value, checked: &mut usize) {
        match value {
            serde_json::Value::Object(expected) => {
                let scanned = collect(text).unwrap_or_else(|e| panic!("{e} in {text}"));
                assert_eq!(scanned.len(), expected.len(), "{text}");
                for (key, member) in scanned {
                    let parsed: serde_json::Value = serde_json::from_str(member).unwrap();
                    assert_eq!(Some(&parsed), expected.get(key), "{key} in {text}");
                    check_objects(member, &parsed, checked);
                }
                *checked += 1;
            }
            serde_json::Value::Array(items) => {
                let inner: Vec<&serde_json::value::RawValue> = serde_json::from_str(text).unwrap();
                for (raw, item) in inner.iter().zip(items) {
                    check_objects(raw.get(), item, checked);
                }
            }
            _ => {}
        }
    }

    /// The real records of the shared data (and this repository's examples), every nested object, at every
    /// alignment to the 64-byte blocks (leading whitespace shifts them).
    #[test]
    fn agrees_with_serde_json_on_real_records() {
        let mut texts: Vec<String> = Vec::new();
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/cloudtrail");
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cloudtrail");
        for dir in [examples, shared, &format!("{shared}/stratus-red-team")] {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            for entry in entries {
                let path = entry.unwrap().path();
                let Ok(content) = std::fs::read_to_string(&path) else {
                    continue;
                };
                if let Ok(records) =
                    serde_json::from_str::<Vec<Box<serde_json::value::RawValue>>>(&content)
                {
                    texts.extend(records.iter().map(|r| r.get().to_owned()));
                } else if serde_json::from_str::<serde_json::Value>(&content).is_ok() {
                    texts.push(content);
                } else {
                    texts.extend(
                        content
                            .lines()
                            .filter(|l| l.starts_with('{'))
                            .map(str::to_owned),
                    );
                }
            }
        }
        assert!(texts.len() > 10, "records found: {}", texts.len());
        let mut checked = 0;
        for (i, text) in texts.iter().enumerate() {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            let padded = format!("{}{text}", " ".repeat(i % 64));
            check_objects(&padded, &value, &mut checked);
        }
        assert!(checked > texts.len());
    }

    #[test]
    fn escapes_across_block_boundaries() {
        for pad in 0..70 {
            for slashes in 1..5 {
                let value = format!(
                    "{}{}\"x",
                    "a".repeat(pad),
                    "\\\\".repeat(slashes - 1) + "\\"
                );
                let text = format!(r#"{{"k":"{value}","n":[{{"b":"]"}}],"z":1}}"#);
                let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
                let mut checked = 0;
                check_objects(&text, &expected, &mut checked);
            }
        }
    }

    #[test]
    fn refuses_what_is_not_an_object() {
        for bad in [
            "",
            "[]",
            "x",
            "{",
            r#"{"a""#,
            r#"{"a":"#,
            r#"{"a":"b"#,
            r#"{"a":{"b":1}"#,
            r#"{"a":1,}"#,
            r#"{"a":1 "b":2}"#,
            r#"{"a":1}x"#,
            r#"{a:1}"#,
            r#"{"a":[1,2}"#,
            r#"{"a\"#,
        ] {
            let result = collect(bad);
            assert!(result.is_err(), "{bad:?} gave {result:?}");
        }
    }

    #[test]
    fn deep_nesting_costs_no_stack() {
        let deep = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(1_000_000),
            "]".repeat(1_000_000)
        );
        assert_eq!(collect(&deep).unwrap().len(), 1);
        let unbalanced = format!(r#"{{"a":{}}}"#, "[".repeat(1_000_000));
        assert!(collect(&unbalanced).is_err());
    }

    #[test]
    fn plain_strings_borrow() {
        let text = r#"{"a":"abc","b":"a\nb","c":12,"d":"","e":"\\"}"#;
        let found: Vec<Option<&str>> = members(text).map(|m| m.unwrap().plain_string()).collect();
        assert_eq!(found, vec![Some("abc"), None, None, Some(""), None]);
        // Without any backslash in the text, strings are plain without a look at their bytes.
        let found: Vec<Option<&str>> = members(r#"{"a":"x","b":"y"}"#)
            .map(|m| m.unwrap().plain_string())
            .collect();
        assert_eq!(found, vec![Some("x"), Some("y")]);
    }
}
