//! A strict JSON reader for the hot paths: a `serde::Deserializer` over one `&str` that drives
//! seeds with exactly the visitor calls `serde_json::Deserializer::from_str` would make, for less
//! (no position tracking, no scratch buffer, an exact-float fast path), and a pull API over the
//! same syntax rules ([`Reader::object`], [`Reader::array`], [`Reader::next_kind`] and the
//! scalar pulls, [`Reader::spanned`]). Produce bodies are read with the pull API, so that a
//! record's value can be checked by its schema's fast path in the same pass that finds where it
//! lies in the body; the fast paths read records with it too.
//!
//! A utility every layer may use. It owns JSON syntax only. It must not know about schemas or
//! request shapes, and it must never accept a text that
//! serde_json rejects: anything it is unsure about (deep nesting, surrogate escapes, very long
//! numbers, hints serde_json reads its own way) it *declines*, an error like any other, so that
//! the caller falls back to serde_json. Floats follow serde_json built with `float_roundtrip`
//! (enabled in Tidegate through jsonschema): correctly rounded, and an error when they overflow.

use serde::de::{self, Visitor};
use std::fmt;

mod deserializer;
mod pull;
pub use pull::Kind;
#[cfg(test)]
mod tests;

/// serde_json allows 128; declining earlier keeps us clear of its limit and bounds our recursion.
const MAX_DEPTH: u32 = 100;
/// Longer number tokens go to serde_json rather than trusting two float parsers to agree on them.
const MAX_NUMBER_LEN: usize = 100;

/// Exact powers of ten: a significand below 2^32 times or divided by one of these rounds once, so
/// the result is the correctly rounded value serde_json computes too (Clinger's fast path).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Runs `read` over the one JSON value in `bytes` (UTF-8 text, whitespace around the value
/// allowed); `None` when the bytes are not UTF-8, `read` fails, or anything follows the value.
/// One check of the whole text is cheaper than checking each string.
pub fn read_whole<T>(bytes: &[u8], read: impl FnOnce(&mut Reader<'_>) -> Result<T>) -> Option<T> {
    let mut reader = Reader::new(std::str::from_utf8(bytes).ok()?);
    let value = read(&mut reader).ok()?;
    reader.finish().ok()?;
    Some(value)
}

/// Runs `seed` over the one JSON value in `text` (whitespace around it allowed), as the
/// differential tests drive it.
#[cfg(test)]
fn run<'de, S: de::DeserializeSeed<'de>>(text: &'de str, seed: S) -> Result<S::Value> {
    let mut reader = Reader::new(text);
    let value = seed.deserialize(&mut reader)?;
    reader.finish()?;
    Ok(value)
}

/// Why a read failed: whether the reader declined, and a message. Only tests look inside; boxed
/// so the hot path's results stay two words wide.
#[derive(Debug)]
pub struct Error(Box<(bool, String)>);

impl Error {
    #[cold]
    fn new(declined: bool, msg: &str) -> Self {
        Self(Box::new((declined, msg.to_owned())))
    }

    #[cfg(test)]
    fn declined_because(&self) -> Option<&str> {
        self.0.0.then_some(self.0.1.as_str())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.1)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self(Box::new((false, msg.to_string())))
    }
}

/// What reading gives.
pub type Result<T, E = Error> = std::result::Result<T, E>;

fn invalid<T>(msg: &str) -> Result<T> {
    Err(Error::new(false, msg))
}

fn decline<T>(msg: &str) -> Result<T> {
    Err(Error::new(true, msg))
}

/// A number as serde_json visits it: a non-negative integer, a negative one, or a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer in `0..=u64::MAX`.
    U64(u64),
    /// A negative integer in `i64`.
    I64(i64),
    /// Any other number (a fraction, an exponent, `-0`, or an integer beyond 64 bits).
    F64(f64),
}

/// A JSON text being read, front to back.
pub struct Reader<'de> {
    text: &'de str,
    bytes: &'de [u8],
    pos: usize,
    depth: u32,
    /// Whether insignificant whitespace was skipped since [`Reader::spanned`] started a value.
    spaced: bool,
}

/// Where a value read by [`Reader::spanned`] lies in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of its first character.
    pub start: usize,
    /// Byte offset just past its last character.
    pub end: usize,
    /// Whether it holds insignificant whitespace (it is not in compact form).
    pub spaced: bool,
}

impl<'de> Reader<'de> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    #[inline]
    fn ws_peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
            self.spaced = true;
        }
        self.peek()
    }

    #[inline]
    fn literal<const N: usize, T>(
        &mut self,
        ident: &[u8; N],
        visit: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        self.expect_ident(ident)?;
        visit()
    }

    /// A fixed-size comparison compiles to one load and compare rather than a `memcmp` call.
    #[inline]
    fn expect_ident<const N: usize>(&mut self, ident: &[u8; N]) -> Result<()> {
        let found = self.bytes.get(self.pos..self.pos + N);
        if found.and_then(|s| <&[u8; N]>::try_from(s).ok()) != Some(ident) {
            return invalid("expected ident");
        }
        self.pos += N;
        Ok(())
    }

    /// Consumes digits, folding them into `acc` (wrapping: callers count digits instead).
    #[inline]
    fn digits(&mut self, mut acc: u64) -> u64 {
        while let Some(&byte @ b'0'..=b'9') = self.bytes.get(self.pos) {
            acc = acc.wrapping_mul(10).wrapping_add(u64::from(byte - b'0'));
            self.pos += 1;
        }
        acc
    }

    /// Moves `pos` to the next quote, backslash or control character (or the end), eight bytes
    /// at a time: the lowest flagged byte of each test is exact, as borrows only run upwards.
    #[inline]
    fn skip_plain(&mut self) {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let below = |word: u64, byte: u8| word.wrapping_sub(ONES * u64::from(byte)) & !word & HIGH;
        while let Some(Ok(chunk)) = self
            .bytes
            .get(self.pos..self.pos + 8)
            .map(<[u8; 8]>::try_from)
        {
            let word = u64::from_le_bytes(chunk);
            let stops = below(word ^ (ONES * u64::from(b'"')), 1)
                | below(word ^ (ONES * u64::from(b'\\')), 1)
                | below(word, 0x20);
            if stops != 0 {
                self.pos += usize::try_from(stops.trailing_zeros() / 8).unwrap_or(0);
                return;
            }
            self.pos += 8;
        }
        while let Some(b' ' | b'!' | b'#'..=b'[' | b']'..) = self.peek() {
            self.pos += 1;
        }
    }

    /// The string whose opening quote is just behind `pos`, when it has no escapes: `pos` then
    /// moves past its closing quote. `None` (reading nothing) for a string that needs
    /// unescaping or does not end.
    #[inline]
    fn plain_string(&mut self) -> Option<&'de str> {
        let start = self.pos;
        self.skip_plain();
        // Both ends sit on ASCII bytes, so the slice is always on char boundaries.
        match (self.peek(), self.text.get(start..self.pos)) {
            (Some(b'"'), Some(run)) => {
                self.pos += 1;
                Some(run)
            }
            _ => {
                self.pos = start;
                None
            }
        }
    }

    /// Visits the string whose opening quote is just behind `pos` the way serde_json's `StrRead`
    /// does: borrowed when it has no escapes, else a temporary unescaped copy.
    #[inline]
    fn visit_string<V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value> {
        match self.plain_string() {
            Some(run) => visitor.visit_borrowed_str(run),
            None => visitor.visit_str(&self.unescape()?),
        }
    }

    /// Strings with escapes, control characters or no end: rare, so kept out of line.
    #[cold]
    #[inline(never)]
    fn unescape(&mut self) -> Result<String> {
        let mut out = String::new();
        loop {
            let start = self.pos;
            self.skip_plain();
            out.push_str(self.text.get(start..self.pos).unwrap_or_default());
            let byte = self.peek();
            self.pos += 1;
            match byte {
                Some(b'"') => return Ok(out),
                Some(b'\\') => out.push(self.parse_escape()?),
                _ => return invalid("control character or end in string"),
            }
        }
    }

    fn parse_escape(&mut self) -> Result<char> {
        let byte = self.peek();
        self.pos += 1;
        Ok(match byte {
            Some(byte @ (b'"' | b'\\' | b'/')) => char::from(byte),
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4()?;
                if (0xD800..0xDC00).contains(&unit) && self.expect_ident(b"\\u").is_ok() {
                    let low = self.hex4()?;
                    if (0xDC00..0xE000).contains(&low) {
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        return char::from_u32(code).map_or_else(|| decline("surrogate"), Ok);
                    }
                }
                // Lone or mismatched surrogates: serde_json's rules there are its own; let it rule.
                return char::from_u32(unit).map_or_else(|| decline("surrogate"), Ok);
            }
            _ => return invalid("invalid escape"),
        })
    }

    fn hex4(&mut self) -> Result<u32> {
        let mut unit = 0;
        for _ in 0..4 {
            match self.peek().and_then(|b| char::from(b).to_digit(16)) {
                Some(digit) => unit = unit * 16 + digit,
                None => return invalid("invalid \\u escape"),
            }
            self.pos += 1;
        }
        Ok(unit)
    }

    /// Strict JSON number grammar in one pass; `pos` is on `-` or a digit.
    #[inline(never)]
    fn parse_number(&mut self) -> Result<Number> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        self.pos += usize::from(negative);
        let int_start = self.pos;
        let mut sig = self.digits(0);
        let mut digits = self.pos - int_start;
        if digits == 0 || (digits > 1 && self.bytes.get(int_start) == Some(&b'0')) {
            return invalid("expected digit, or leading zero");
        }
        let (mut frac_digits, mut exp, mut is_float) = (0, Some(0i64), false);
        if self.peek() == Some(b'.') {
            self.pos += 1;
            sig = self.digits(sig);
            frac_digits = self.pos - int_start - digits - 1;
            if frac_digits == 0 {
                return invalid("expected fraction digit");
            }
            digits += frac_digits;
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            let exp_negative = self.peek() == Some(b'-');
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            let exp_start = self.pos;
            let value = i64::try_from(self.digits(0)).ok();
            exp = match self.pos - exp_start {
                0 => return invalid("expected exponent digit"),
                1..=4 => value.map(|v| if exp_negative { -v } else { v }),
                _ => None,
            };
            is_float = true;
        }
        // Up to 19 digits cannot have wrapped `sig`.
        if digits <= 19 {
            if !is_float && !negative {
                return Ok(Number::U64(sig));
            }
            // serde_json visits `-0` as f64 -0.0, not i64 0; the slow path does that.
            if let (false, Some(v)) = (is_float || sig == 0, 0i64.checked_sub_unsigned(sig)) {
                return Ok(Number::I64(v));
            }
            let exp10 = exp.and_then(|e| e.checked_sub(i64::try_from(frac_digits).ok()?));
            let pow = exp10.and_then(|e| POW10.get(usize::try_from(e.unsigned_abs()).ok()?));
            if let (true, Ok(small), Some(pow), Some(exp10)) =
                (is_float, u32::try_from(sig), pow, exp10)
            {
                let value = if exp10 >= 0 {
                    f64::from(small) * pow
                } else {
                    f64::from(small) / pow
                };
                return Ok(Number::F64(if negative { -value } else { value }));
            }
        }
        self.slow_number(start, is_float)
    }

    /// Long integers, `-0`, and floats off the exact path: std's parsers are correctly rounded,
    /// as is serde_json's with `float_roundtrip`; infinity is its "number out of range".
    #[cold]
    fn slow_number(&self, start: usize, is_float: bool) -> Result<Number> {
        let token = self.text.get(start..self.pos).unwrap_or_default();
        if token.len() > MAX_NUMBER_LEN {
            return decline("long number");
        }
        if let (false, Ok(v)) = (is_float, token.parse::<u64>()) {
            return Ok(Number::U64(v));
        }
        if let (false, Ok(v @ ..0)) = (is_float, token.parse::<i64>()) {
            return Ok(Number::I64(v));
        }
        match token.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Number::F64(v)),
            _ => invalid("number out of range"),
        }
    }
}
