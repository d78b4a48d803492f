//! Reading a JSON object's members without parsing their values.
//!
//! A CloudTrail record is mostly free-form sections (`requestParameters`, `responseElements`, `tlsDetails`,
//! ...) that a read-only or failed call never needs. Full validation of those bytes is what a JSON parser
//! spends most of its time on, so the record view only *delimits* members here: a [`Scanner`] walks the
//! text forward once, finds each key and the text of its value, enters the objects its caller wants to read
//! (`userIdentity`) and passes over the rest. The values tfdrift reads are then decoded (and so validated)
//! one by one; the others are never looked at again, and a section that is needed later is parsed in full by
//! `serde_json` at that point.
//!
//! Two ways of finding the end of a value, each where it is cheapest. A string (a key, a name, an ARN) ends
//! at the first quote or backslash found sixteen bytes at a time from its start: most end in the first
//! thirty-two. An object or an array that is passed over is classified 64 bytes at a time, the way simdjson's
//! first stage does it, and skipped by counting its brackets outside strings (`Structure`): per byte that
//! is cheaper than finding each of its strings.
//!
//! The state's attributes, kept as compact JSON text that was validated when the state was loaded, are looked
//! up the same way ([`members`]). This module also owns what both layers read strings with: [`Str`] (borrowed
//! where the text has no escapes), [`scalar_text`] and the decoding of escapes ([`decode_lossy`]), and
//! how every record view reads a free-form section ([`lenient::value`]).
//!
//! The scanner works on `&str`, so every span it yields is valid UTF-8, and it only ever cuts at ASCII
//! structural bytes, so every span is on a character boundary. It never recurses (nesting depth costs
//! nothing) and never indexes out of bounds. Input that is not well-formed ends in an error or, inside a
//! value it only skips, in a span that fails to decode later. Between tokens it takes any byte up to and
//! including the space (control characters too, which JSON forbids there) as whitespace: that is one
//! comparison per sixteen bytes of indentation.
//!
//! The hot loop (`Record::read`) inlines the whole scanner, nested objects included, and what it calls out
//! of line takes bytes and positions, not the scanner: a scanner whose address escapes keeps its position
//! in memory, and every token then waits on a store and a reload.

pub mod lenient;

use std::borrow::Cow;
use std::fmt;

/// Why the bytes are not a JSON object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanError {
    /// Byte offset where the scan gave up.
    pub at: usize,
    /// What the scan wanted there.
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
    /// The key, escapes not decoded.
    pub key: &'a str,
    /// The key contains a backslash, so `key` is not its decoded form.
    pub key_escaped: bool,
    /// The value's JSON text.
    pub value: &'a str,
    /// The value is a string without escapes: its text between the quotes is what it says.
    plain: bool,
}

impl<'a> Member<'a> {
    /// The member's name, escapes decoded ([`decode_name`]); borrowed when it has none.
    pub fn name(&self) -> Cow<'a, str> {
        if self.key_escaped {
            Cow::Owned(decode_name(self.key))
        } else {
            Cow::Borrowed(self.key)
        }
    }

    /// The value as a string, when it is one without escapes.
    pub fn plain_string(&self) -> Option<&'a str> {
        if self.plain {
            self.value.get(1..self.value.len().saturating_sub(1))
        } else {
            None
        }
    }
}

/// A key read by [`Scanner::next_key`]: the bytes between its quotes, escapes not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    /// The key's bytes.
    pub raw: &'a [u8],
    /// The key contains a backslash, so `raw` is not its decoded form.
    pub escaped: bool,
}

/// A value passed over by [`Scanner::value`]: where its JSON text is. Nothing of it is looked at until asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    source: &'a str,
    start: usize,
    end: usize,
    string: bool,
    /// The string holds a backslash: its text is not what it says.
    escapes: bool,
}

impl<'a> Value<'a> {
    /// The value's JSON text.
    #[inline]
    pub fn text(&self) -> &'a str {
        span(self.source, self.start, self.end)
    }

    /// Whether the value is a string.
    pub fn is_string(&self) -> bool {
        self.string
    }

    /// The value as a string, when it is one without escapes.
    #[inline(always)]
    pub fn plain_string(&self) -> Option<&'a str> {
        if !self.string {
            return None;
        }
        (!self.escapes).then(|| span(self.source, self.start + 1, self.end.saturating_sub(1)))
    }
}

/// `text[start..end]`, or empty where that is not a span of it. The scanner cuts at ASCII bytes only, so
/// its spans are always on character boundaries; `split_at_checked` checks that inline, where `str::get`
/// is a call per span.
#[inline(always)]
fn span(text: &str, start: usize, end: usize) -> &str {
    text.split_at_checked(end)
        .and_then(|(before, _)| before.split_at_checked(start))
        .map_or("", |(_, span)| span)
}

/// A forward-only reader of one JSON text. Objects are read key by key ([`Scanner::first_key`],
/// [`Scanner::next_key`]); after each key the caller either passes over the value ([`Scanner::value`]) or,
/// when it is an object, enters it. Every byte is classified once, however deep the caller reads.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// A scanner at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn error(&self, expected: &'static str) -> ScanError {
        ScanError {
            at: self.pos,
            expected,
        }
    }

    /// The first byte of the value at the position (after whitespace).
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.token()
    }

    /// Enters the object at the position: its first key, with the position left on its value; None if the
    /// object is empty (its `}` is passed).
    #[inline(always)]
    pub fn first_key(&mut self) -> Result<Option<Key<'a>>, ScanError> {
        if self.token() != Some(b'{') {
            return Err(self.error("`{`"));
        }
        self.pos += 1;
        match self.token() {
            Some(b'}') => {
                self.pos += 1;
                Ok(None)
            }
            Some(b'"') => self.key().map(Some),
            _ => Err(self.error("a member name")),
        }
    }

    /// The next key of the object being read, with the position left on its value; None once the object's
    /// `}` is passed.
    #[inline(always)]
    pub fn next_key(&mut self) -> Result<Option<Key<'a>>, ScanError> {
        match self.token() {
            Some(b',') => {
                self.pos += 1;
                if self.token() != Some(b'"') {
                    return Err(self.error("a member name"));
                }
                self.key().map(Some)
            }
            Some(b'}') => {
                self.pos += 1;
                Ok(None)
            }
            _ => Err(self.error("`,` or `}`")),
        }
    }

    /// The key whose opening quote is at the position, and its colon.
    #[inline(always)]
    fn key(&mut self) -> Result<Key<'a>, ScanError> {
        let Some((raw, escaped)) = string_at(self.bytes(), self.pos + 1) else {
            return Err(self.error("the end of a member name"));
        };
        self.pos += raw.len() + 2;
        if self.token() != Some(b':') {
            return Err(self.error("`:`"));
        }
        self.pos += 1;
        Ok(Key { raw, escaped })
    }

    /// Passes over the value at the position: strings end at their closing quote, objects and arrays at the
    /// bracket that balances their first, anything else (numbers, `true`, `false`, `null`) before the next
    /// delimiter.
    #[inline(always)]
    pub fn value(&mut self) -> Result<Value<'a>, ScanError> {
        let token = self.token();
        let start = self.pos;
        let (end, string, escapes) = match token {
            Some(b'"') => match string_at(self.bytes(), start + 1) {
                Some((text, escapes)) => (Some(start + text.len() + 2), true, escapes),
                None => (None, true, false),
            },
            Some(b'{' | b'[') => (container_end(self.bytes(), start), false, false),
            Some(b',' | b'}' | b']' | b':') | None => (None, false, false),
            Some(_) => (Some(scalar_end(self.bytes(), start)), false, false),
        };
        let Some(end) = end else {
            return Err(self.error("a complete value"));
        };
        self.pos = end;
        Ok(Value {
            source: self.text,
            start,
            end,
            string,
            escapes,
        })
    }

    /// Passes over the value at the position, for a caller that does not want it.
    #[inline(always)]
    pub fn skip(&mut self) -> Result<(), ScanError> {
        self.value().map(|_| ())
    }

    /// Reads the object at the position with `read`, which gets each key and must consume its value (with
    /// [`Scanner::value`] or by reading it). Should the object turn out malformed inside, it is passed over
    /// by its brackets instead, and what `read` took from it before stays: a malformed object hides only
    /// itself. Fails only where the text cannot be delimited at all.
    #[inline(always)]
    pub fn read_object(
        &mut self,
        mut read: impl FnMut(&mut Self, Key<'a>) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        self.token();
        let start = self.pos;
        let attempt = self.read_members(&mut read);
        if attempt.is_err() {
            // Pass over it by its brackets, from its start (outside any string).
            self.pos = start;
            self.value()?;
        }
        Ok(())
    }

    #[inline(always)]
    fn read_members(
        &mut self,
        read: &mut impl FnMut(&mut Self, Key<'a>) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        let mut key = self.first_key()?;
        while let Some(found) = key {
            read(self, found)?;
            key = self.next_key()?;
        }
        Ok(())
    }

    /// Enters the array at the position and calls `read` once per element, which must consume it (with
    /// [`Scanner::value`] or by reading it). Fails where the array is not well-formed, with the position
    /// wherever the fault was found.
    pub fn read_elements(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        if self.token() != Some(b'[') {
            return Err(self.error("`[`"));
        }
        self.pos += 1;
        if self.token() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            read(self)?;
            match self.token() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.error("`,` or `]`")),
            }
        }
    }

    /// After the outermost value: nothing but whitespace may follow.
    pub fn finish(&mut self) -> Result<(), ScanError> {
        match self.token() {
            None => Ok(()),
            Some(_) => Err(self.error("the end of the text after the object")),
        }
    }

    /// The byte at the position, after whitespace (which the position passes); None at the end. Compact
    /// records have no whitespace between tokens (one look at one byte); indented ones have a newline and a
    /// run of spaces before each member, passed sixteen bytes at a time.
    #[inline(always)]
    fn token(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        match bytes.get(self.pos) {
            Some(&b) if b > b' ' => return Some(b),
            None => return None,
            Some(_) => {}
        }
        // One space, as after the colons of indented JSON.
        if bytes.get(self.pos) == Some(&b' ')
            && let Some(&next) = bytes.get(self.pos + 1)
            && next > b' '
        {
            self.pos += 1;
            return Some(next);
        }
        // Most other runs (a newline and an indentation) end within sixteen bytes.
        if let Some(chunk) = bytes.get(self.pos..).and_then(|rest| rest.first_chunk()) {
            let above = bytes_above_space(chunk);
            if above != 0 {
                self.pos += above.trailing_zeros() as usize;
                return bytes.get(self.pos).copied();
            }
        }
        self.pos = whitespace_end(bytes, self.pos);
        bytes.get(self.pos).copied()
    }
}

/// Where a run of whitespace from `pos` ends. A free function, so that the scanner's position stays in a
/// register in the loops that inline `token`.
#[inline(never)]
fn whitespace_end(bytes: &[u8], pos: usize) -> usize {
    let mut pos = pos;
    while let Some(chunk) = bytes.get(pos..).and_then(|rest| rest.first_chunk()) {
        let above = bytes_above_space(chunk);
        if above != 0 {
            return pos + above.trailing_zeros() as usize;
        }
        pos += 16;
    }
    while bytes.get(pos).is_some_and(|&b| b <= b' ') {
        pos += 1;
    }
    pos
}

/// The end of a number, `true`, `false` or `null` starting at `start`: the next delimiter.
fn scalar_end(bytes: &[u8], start: usize) -> usize {
    // Scalars are short: most end within sixteen bytes.
    if let Some(chunk) = bytes.get(start..).and_then(|rest| rest.first_chunk()) {
        use wide::u8x16;
        let v = u8x16::new(*chunk);
        let delimiters = v.cmp_eq(u8x16::new([b','; 16]))
            | (v | u8x16::new([0x20; 16])).cmp_eq(u8x16::new([b'}'; 16]));
        let ends = !bytes_above_space(chunk) & 0xffff | delimiters.move_mask() as u32;
        if ends != 0 {
            return start + ends.trailing_zeros() as usize;
        }
    }
    let rest = bytes.get(start..).unwrap_or_default();
    start
        + rest
            .iter()
            .position(|&b| matches!(b, b',' | b'}' | b']') || b <= b' ')
            .unwrap_or(rest.len())
}

/// Bit `i` set where byte `i` of `chunk` is above the space (unsigned: bytes from 0x80 are).
#[inline(always)]
fn bytes_above_space(chunk: &[u8; 16]) -> u32 {
    use wide::u8x16;
    const ABOVE_SPACE: u8x16 = u8x16::new([b' ' + 1; 16]);
    let v = u8x16::new(*chunk);
    // max(b, 0x21) == b exactly when b >= 0x21.
    v.max(ABOVE_SPACE).cmp_eq(v).move_mask() as u32
}

/// The members of the JSON object `text`, in order. `text` may have whitespace around the object and nothing
/// else; the iterator yields an error (once, then ends) where it is not an object.
pub fn members(text: &str) -> Members<'_> {
    Members {
        scanner: Scanner::new(text),
        started: false,
        done: false,
    }
}

/// The members of one JSON object, in order; an error ends them.
#[derive(Debug, Clone)]
pub struct Members<'a> {
    scanner: Scanner<'a>,
    started: bool,
    done: bool,
}

impl<'a> Members<'a> {
    fn member(&mut self) -> Result<Option<Member<'a>>, ScanError> {
        let scanner = &mut self.scanner;
        let key = if self.started {
            scanner.next_key()?
        } else {
            self.started = true;
            scanner.first_key()?
        };
        let Some(key) = key else {
            scanner.finish()?;
            return Ok(None);
        };
        let value = scanner.value()?;
        Ok(Some(Member {
            // The key was cut at quotes, which are ASCII: it is a whole `str` of the text.
            key: std::str::from_utf8(key.raw).unwrap_or_default(),
            key_escaped: key.escaped,
            value: value.text(),
            plain: value.plain_string().is_some(),
        }))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<Member<'a>, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let member = self.member();
        if !matches!(member, Ok(Some(_))) {
            self.done = true;
        }
        member.transpose()
    }
}

/// The text of the string that starts at `from` (just after its opening quote), up to its closing quote,
/// and whether it holds a backslash. Sixteen bytes are looked at a time for a quote or a backslash: most
/// strings of a record (names, times, identifiers) end in the first sixteen, and a long one (an error
/// message) costs a few instructions per sixteen bytes. A backslash passes the byte it escapes.
#[inline(always)]
fn string_at(bytes: &[u8], from: usize) -> Option<(&[u8], bool)> {
    if let Some(chunk) = bytes.get(from..).and_then(|rest| rest.first_chunk::<32>()) {
        // Two sixteens: names, times and identifiers end in the first, ARNs and user agents often not.
        let hits = (chunk.as_chunks::<16>().0.iter())
            .enumerate()
            .fold(0, |hits, (i, half)| {
                hits | quote_or_backslash_of(half) << (16 * i)
            });
        if hits == 0 {
            let (end, escapes) = string_end_further(bytes, from + 32)?;
            return Some((bytes.get(from..end)?, escapes));
        }
        let at = hits.trailing_zeros() as usize;
        if chunk.get(at) == Some(&b'"') {
            return chunk.get(..at).map(|text| (text, false));
        }
    }
    let (end, escapes) = string_end_further(bytes, from)?;
    Some((bytes.get(from..end)?, escapes))
}

/// [`string_at`] past its first look: sixteen bytes at a time from `from` to the closing quote (its offset),
/// passing escaped bytes.
#[inline(never)]
fn string_end_further(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let (mut from, mut escapes) = (from, false);
    loop {
        let hits = quote_or_backslash(bytes, from)?;
        if hits == 0 {
            from += 16;
            continue;
        }
        let at = from + hits.trailing_zeros() as usize;
        if *bytes.get(at)? == b'"' {
            return Some((at, escapes));
        }
        escapes = true;
        from = at + 2;
    }
}

/// Bit `i` set where byte `i` of `chunk` is a quote or a backslash.
#[inline(always)]
fn quote_or_backslash_of(chunk: &[u8; 16]) -> u32 {
    use wide::u8x16;
    const QUOTE: u8x16 = u8x16::new([b'"'; 16]);
    const BACKSLASH: u8x16 = u8x16::new([b'\\'; 16]);
    let v = u8x16::new(*chunk);
    (v.cmp_eq(QUOTE) | v.cmp_eq(BACKSLASH)).move_mask() as u32
}

/// Bit `i` set where `bytes[from + i]` is a quote or a backslash, for the sixteen bytes from `from` (those
/// past the end count as neither); None from the end on.
#[inline(always)]
fn quote_or_backslash(bytes: &[u8], from: usize) -> Option<u32> {
    if let Some(chunk) = bytes.get(from..).and_then(|rest| rest.first_chunk()) {
        return Some(quote_or_backslash_of(chunk));
    }
    // Fewer than sixteen bytes left: the text's last sixteen, the ones before `from` shifted out.
    if from >= bytes.len() {
        return None;
    }
    match bytes.last_chunk::<16>() {
        Some(last) => Some(quote_or_backslash_of(last) >> (from + 16 - bytes.len())),
        None => Some(
            bytes[from..]
                .iter()
                .enumerate()
                .filter(|&(_, &b)| b == b'"' || b == b'\\')
                .fold(0, |bits, (i, _)| bits | 1 << i),
        ),
    }
}

/// Just past the bracket that balances the one at `start` (an opening bracket outside any string).
fn container_end(bytes: &[u8], start: usize) -> Option<usize> {
    Structure::new(bytes, start).container_end(start)
}

/// Where the brackets outside strings of a nested JSON value are, 64 bytes at a time, the way simdjson's
/// first stage finds them: one SIMD comparison per byte class gives a bit per byte, escaped quotes are
/// removed, a prefix XOR of the quote bits marks what is inside strings, and brackets inside strings are
/// dropped. A value the scanner passes over is then skipped by counting its brackets, whole blocks at a
/// time, instead of looking at every byte. Blocks are classified in order from the value's start, and only
/// as far as it goes.
#[derive(Debug, Clone)]
struct Structure<'a> {
    bytes: &'a [u8],
    /// Where the first block starts (a position outside any string).
    base: usize,
    /// Offset of the classified block (the first is classified at once).
    block: usize,
    /// Opening and closing brackets outside strings, in the classified block.
    open: u64,
    close: u64,
    /// Carried from the classified block into the next: it ends inside a string; its last byte is a
    /// backslash that escapes the next block's first byte.
    in_string: bool,
    escape: bool,
}

impl<'a> Structure<'a> {
    fn new(bytes: &'a [u8], base: usize) -> Self {
        let mut structure = Structure {
            bytes,
            base,
            block: base,
            open: 0,
            close: 0,
            in_string: false,
            escape: false,
        };
        structure.classify(base);
        structure
    }

    /// Classifies blocks up to the one holding `from`; the mask of the classified block's bits at or after
    /// `from`. None past the end. A position behind the classified block was passed already (only malformed
    /// input asks for one), and gets the classified block's answer.
    #[inline(always)]
    fn reach(&mut self, from: usize) -> Option<u64> {
        let block = from - from.checked_sub(self.base)? % 64;
        if block >= self.bytes.len() {
            return None;
        }
        while self.block < block {
            self.classify(self.block + 64);
        }
        Some(if self.block == block {
            u64::MAX << (from - block)
        } else {
            u64::MAX
        })
    }

    /// Just past the bracket that balances the one at `start` (an opening bracket outside a string): the
    /// brackets of each block are walked in order, a block without any passed at once.
    fn container_end(&mut self, start: usize) -> Option<usize> {
        let mut depth = 0usize;
        let mut from = start;
        loop {
            let mask = self.reach(from)?;
            let (open, close) = (self.open & mask, self.close & mask);
            let mut brackets = open | close;
            while brackets != 0 {
                let at = brackets.trailing_zeros();
                if open & (1 << at) != 0 {
                    depth += 1;
                } else {
                    // A closing bracket first: the opening one was inside a string (malformed input).
                    depth = depth.checked_sub(1)?;
                    if depth == 0 {
                        return Some(self.block + at as usize + 1);
                    }
                }
                brackets &= brackets - 1;
            }
            from = self.block + 64;
        }
    }

    /// The 64 bytes of the block at `start`, and how many of them lie before it: the last, partial block is
    /// read as the text's last 64 bytes, the ones already classified with the block before shifted out of
    /// every mask. None for a text shorter than a block.
    #[inline(always)]
    fn chunk(&self, start: usize) -> Option<(&'a [u8; 64], u32)> {
        match self.bytes.get(start..).and_then(|rest| rest.first_chunk()) {
            Some(full) => Some((full, 0)),
            None => match self.bytes.last_chunk::<64>() {
                Some(last) if start < self.bytes.len() => {
                    Some((last, (start + 64 - self.bytes.len()) as u32))
                }
                _ => None,
            },
        }
    }

    /// Classifies the block at `start` (the one after the classified block, or the first): its brackets
    /// outside strings.
    #[inline(always)]
    fn classify(&mut self, start: usize) {
        let Some((chunk, before)) = self.chunk(start) else {
            return self.classify_short(start);
        };
        let classes = Classes::of(chunk);
        let escaped = if classes.backslash || self.escape {
            self.escaped(backslashes(chunk) >> before)
        } else {
            0
        };
        let quotes = (classes.quote >> before) & !escaped;
        let mut inside = prefix_xor(quotes);
        if self.in_string {
            inside = !inside;
        }
        self.in_string = inside >> 63 == 1;
        self.open = (classes.open >> before) & !inside;
        self.close = (classes.close >> before) & !inside;
        self.block = start;
    }

    /// A text shorter than a block, or a block at or past its end: padded with spaces, which are nothing to
    /// the scanner.
    #[cold]
    fn classify_short(&mut self, start: usize) {
        let mut padded = [b' '; 64];
        let rest = self.bytes.get(start..).unwrap_or_default();
        padded[..rest.len()].copy_from_slice(rest);
        let mut classified = Structure {
            bytes: &padded,
            base: 0,
            block: 0,
            ..self.clone()
        };
        classified.classify(0);
        self.block = start;
        self.open = classified.open;
        self.close = classified.close;
        self.in_string = classified.in_string;
        self.escape = classified.escape;
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

/// The bytes of one block that matter for skipping, a bit per byte, from one load of each sixteen bytes.
struct Classes {
    quote: u64,
    open: u64,
    close: u64,
    /// Whether any byte is a backslash (its bits are found only then).
    backslash: bool,
}

impl Classes {
    #[inline(always)]
    fn of(chunk: &[u8; 64]) -> Classes {
        use wide::u8x16;
        const QUOTE: u8x16 = u8x16::new([b'"'; 16]);
        const BACKSLASH: u8x16 = u8x16::new([b'\\'; 16]);
        // `[` and `{`, `]` and `}` differ by 0x20 alone: one OR folds each pair.
        const FOLD: u8x16 = u8x16::new([0x20; 16]);
        const OPEN: u8x16 = u8x16::new([b'{'; 16]);
        const CLOSE: u8x16 = u8x16::new([b'}'; 16]);
        let mut classes = Classes {
            quote: 0,
            open: 0,
            close: 0,
            backslash: false,
        };
        let mut backslash = u8x16::new([0; 16]);
        for (lane, part) in chunk.as_chunks::<16>().0.iter().enumerate() {
            let v = u8x16::new(*part);
            let folded = v | FOLD;
            let bits = |hits: u8x16| u64::from(hits.move_mask() as u16) << (lane * 16);
            classes.quote |= bits(v.cmp_eq(QUOTE));
            classes.open |= bits(folded.cmp_eq(OPEN));
            classes.close |= bits(folded.cmp_eq(CLOSE));
            backslash |= v.cmp_eq(BACKSLASH);
        }
        classes.backslash = backslash.move_mask() != 0;
        classes
    }
}

/// Where the backslashes of 64 bytes are.
fn backslashes(chunk: &[u8; 64]) -> u64 {
    use wide::u8x16;
    const BACKSLASH: u8x16 = u8x16::new([b'\\'; 16]);
    let mut bits = 0;
    for (lane, part) in chunk.as_chunks::<16>().0.iter().enumerate() {
        bits |= u64::from(u8x16::new(*part).cmp_eq(BACKSLASH).move_mask() as u16) << (lane * 16);
    }
    bits
}

/// Bit `i` of the result is the XOR of bits `0..=i`: set from an opening quote up to (not including) its
/// closing quote.
#[inline(always)]
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

// ---------------------------------------------------------------------------------------------------
// Strings: the one lenient string type and the one decoding of escapes, for the record view and the state.

/// A JSON string borrowed from the text when it has no escapes, or `None`: the record view reads any value of
/// the wrong type as `None` (it builds these from [`Value::plain_string`]), and serde reads `null` as `None`
/// and refuses any other non-string with "expected a string". (`Cow<str>` itself always deserializes owned.)
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Str<'a>(pub Option<Cow<'a, str>>);

impl<'a> Str<'a> {
    /// The string, or `None`.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Deserializer, Error, Visitor};
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_none<E: Error>(self) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_unit<E: Error>(self) -> Result<Str<'a>, E> {
                Ok(Str(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Str<'a>, D::Error> {
                d.deserialize_str(self)
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
        }
        d.deserialize_option(V(std::marker::PhantomData))
    }
}

/// The text of a JSON string (decoded strictly: an escape that names no character reads as `None`) or
/// number (as written); `None` for anything else.
pub fn scalar_text(text: &str) -> Option<Cow<'_, str>> {
    match text.as_bytes().first()? {
        b'"' => serde_json::from_str::<Str<'_>>(text).ok()?.0,
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(text)),
        _ => None,
    }
}

/// A member name as written between its quotes, escapes decoded as [`decode_lossy`] decodes them: the one
/// reading of escaped names for the record, its sections and a state's attributes.
pub fn decode_name(raw: &str) -> String {
    decode_lossy(&format!("\"{raw}\""))
}

/// A JSON string's text (with its quotes) decoded; escapes that name no character (a lone surrogate, an
/// unknown escape) become U+FFFD, as a lenient parser reads them.
pub fn decode_lossy(quoted: &str) -> String {
    if let Ok(decoded) = serde_json::from_str::<String>(quoted) {
        return decoded;
    }
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('u') => {
                let Some(unit) = hex4(&mut chars) else {
                    out.push(char::REPLACEMENT_CHARACTER);
                    continue;
                };
                if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate: a character only with the low one that should follow.
                    let mut ahead = chars.clone();
                    if ahead.next() == Some('\\')
                        && ahead.next() == Some('u')
                        && let Some(low) = hex4(&mut ahead)
                        && (0xDC00..0xE000).contains(&low)
                    {
                        let code = 0x10000
                            + ((u32::from(unit) - 0xD800) << 10)
                            + (u32::from(low) - 0xDC00);
                        out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                        chars = ahead;
                    } else {
                        out.push(char::REPLACEMENT_CHARACTER);
                    }
                } else {
                    out.push(
                        char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER),
                    );
                }
            }
            _ => out.push(char::REPLACEMENT_CHARACTER),
        }
    }
    out
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u16> {
    let mut unit = 0u16;
    for _ in 0..4 {
        unit = unit << 4 | chars.next()?.to_digit(16)? as u16;
    }
    Some(unit)
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

    /// The real records of `tests/data/cloudtrail` and of the embedded example, every nested object, at every
    /// alignment to the 64-byte blocks (leading whitespace shifts them).
    #[test]
    fn agrees_with_serde_json_on_real_records() {
        let mut texts: Vec<String> = Vec::new();
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cloudtrail");
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cloudtrail");
        for dir in [examples, data, &format!("{data}/stratus-red-team")] {
            let entries =
                std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {dir}: {e}"));
            for entry in entries {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    continue;
                }
                let content = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
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
        // 763 records in tests/data alone (see its README).
        assert!(texts.len() > 763, "records found: {}", texts.len());
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

    /// Strings of every length up to past two sixteens, with an escape or none at every place, as the last
    /// member (their end near the text's) and followed by more: where each ends is what serde_json says.
    #[test]
    fn strings_of_every_length_end_where_serde_json_says() {
        let mut checked = 0;
        for len in 0..80 {
            for escape_at in std::iter::once(None).chain((0..len).map(Some)) {
                let value: String = (0..len)
                    .map(|i| match escape_at {
                        Some(at) if at == i => "\\\"".to_owned(),
                        _ => char::from(b'a' + (i % 26) as u8).to_string(),
                    })
                    .collect();
                for text in [
                    format!(r#"{{"k":"{value}"}}"#),
                    format!(r#"{{"k":"{value}","e":{{}},"f":[],"n":12}}"#),
                ] {
                    let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
                    check_objects(&text, &expected, &mut checked);
                }
            }
        }
        assert!(checked > 6000);
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
