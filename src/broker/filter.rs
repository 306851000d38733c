//! Server-side subscription filters: a record leaves the server only if it matches.
//!
//! Owns the filter language and its evaluation, shared by every streaming front end:
//! an exact key, a header value, and a predicate over the JSON value. The predicate syntax:
//!
//! ```text
//! expr    = and ("or" and)*
//! and     = unary ("and" unary)*
//! unary   = "not" unary | "(" expr ")" | "exists" POINTER
//!         | POINTER ("==" | "!=" | "<" | "<=" | ">" | ">=") VALUE
//!         | POINTER "in" "[" VALUE ("," VALUE)* "]"
//! POINTER = a JSON pointer ("/total", "/items/0/sku", "" is not allowed; "~1" and "~0" escape)
//! VALUE   = a JSON number, string, true, false or null
//! ```
//!
//! For example `/total >= 100 and /country in ["NL", "BE"] and not exists /test`. A value
//! that is not JSON, or a pointer that leads nowhere, makes a comparison false. Numbers compare
//! as numbers, strings by bytes; `<`-style comparisons of other kinds are false. It must not
//! know any wire format beyond JSON values.

use bytes::Bytes;
use serde_json::Value;

use crate::event::Record;

/// A parse error, with the byte position in the filter text where it was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter: {message} at position {position}")]
pub struct FilterError {
    /// Byte offset into the filter text.
    pub position: usize,
    /// What was expected or found.
    pub message: String,
}

/// Everything a record must match (all that are set).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The key, byte for byte.
    pub key: Option<Bytes>,
    /// A header with this name and value.
    pub header: Option<(String, Bytes)>,
    /// A predicate over the JSON value.
    pub predicate: Option<Predicate>,
}

impl Filter {
    /// Whether `record` passes.
    pub fn matches(&self, record: &Record) -> bool {
        if let Some(key) = &self.key
            && !key_matches(record, key)
        {
            return false;
        }
        if let Some((name, value)) = &self.header
            && !record
                .headers
                .iter()
                .any(|h| &h.name == name && h.value == value)
        {
            return false;
        }
        match &self.predicate {
            None => true,
            Some(p) => {
                let value = record
                    .value
                    .as_ref()
                    .and_then(|v| serde_json::from_slice::<Value>(v).ok());
                value.is_some_and(|v| p.eval(&v))
            }
        }
    }

    /// Whether it filters anything at all.
    pub fn is_empty(&self) -> bool {
        self.key.is_none() && self.header.is_none() && self.predicate.is_none()
    }
}

/// A key matches byte for byte, or, when it was produced as a JSON string (`"key": "c-1"`),
/// by that string: the key the way the fetch answer shows it.
fn key_matches(record: &Record, wanted: &Bytes) -> bool {
    let Some(key) = &record.key else {
        return false;
    };
    if key == wanted {
        return true;
    }
    record.attributes & crate::event::ATTR_KEY_JSON != 0
        && serde_json::from_slice::<String>(key).is_ok_and(|s| s.as_bytes() == wanted.as_ref())
}

/// A parsed predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// Both hold.
    And(Box<Predicate>, Box<Predicate>),
    /// Either holds.
    Or(Box<Predicate>, Box<Predicate>),
    /// It does not hold.
    Not(Box<Predicate>),
    /// The pointer leads somewhere.
    Exists(String),
    /// The pointed-to value compares to the constant.
    Compare(String, Op, Value),
    /// The pointed-to value equals one of the constants.
    In(String, Vec<Value>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Predicate {
    /// Parses the predicate syntax of the module doc.
    ///
    /// # Errors
    /// The first problem, with its position.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let mut p = Parser { text, pos: 0 };
        let expr = p.or()?;
        p.skip_ws();
        if p.pos < text.len() {
            return Err(p.error("unexpected text after the end of the filter"));
        }
        Ok(expr)
    }

    /// Evaluates against a JSON value.
    pub fn eval(&self, v: &Value) -> bool {
        match self {
            Self::And(a, b) => a.eval(v) && b.eval(v),
            Self::Or(a, b) => a.eval(v) || b.eval(v),
            Self::Not(a) => !a.eval(v),
            Self::Exists(ptr) => v.pointer(ptr).is_some(),
            Self::Compare(ptr, op, c) => v.pointer(ptr).is_some_and(|x| compare(x, *op, c)),
            Self::In(ptr, set) => v
                .pointer(ptr)
                .is_some_and(|x| set.iter().any(|c| compare(x, Op::Eq, c))),
        }
    }
}

fn compare(x: &Value, op: Op, c: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering = match (x, c) {
        (Value::Number(a), Value::Number(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Eq, None) => x == c,
        (Op::Ne, None) => x != c,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (_, None) => false,
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> FilterError {
        FilterError {
            position: self.pos,
            message: message.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Consumes `word` if it comes next as a whole word (or symbol).
    fn eat(&mut self, word: &str) -> bool {
        self.skip_ws();
        let rest = self.rest();
        if !rest.starts_with(word) {
            return false;
        }
        let is_word = word.chars().all(|c| c.is_ascii_alphabetic());
        let next = rest[word.len()..].chars().next();
        if is_word && next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        self.pos += word.len();
        true
    }

    fn or(&mut self) -> Result<Predicate, FilterError> {
        let mut left = self.and()?;
        while self.eat("or") {
            left = Predicate::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Predicate, FilterError> {
        let mut left = self.unary()?;
        while self.eat("and") {
            left = Predicate::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Predicate, FilterError> {
        if self.eat("not") {
            return Ok(Predicate::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err(self.error("expected ')'"));
            }
            return Ok(inner);
        }
        if self.eat("exists") {
            return Ok(Predicate::Exists(self.pointer()?));
        }
        let ptr = self.pointer()?;
        if self.eat("in") {
            if !self.eat("[") {
                return Err(self.error("expected '[' after 'in'"));
            }
            let mut set = vec![self.value()?];
            while self.eat(",") {
                set.push(self.value()?);
            }
            if !self.eat("]") {
                return Err(self.error("expected ',' or ']'"));
            }
            return Ok(Predicate::In(ptr, set));
        }
        let op = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find(|(sym, _)| self.eat(sym))
        .map(|(_, op)| op)
        .ok_or_else(|| self.error("expected ==, !=, <, <=, >, >= or in"))?;
        Ok(Predicate::Compare(ptr, op, self.value()?))
    }

    fn pointer(&mut self) -> Result<String, FilterError> {
        self.skip_ws();
        if !self.rest().starts_with('/') {
            return Err(self.error("expected a JSON pointer such as /total"));
        }
        let end = self
            .rest()
            .find(|c: char| c.is_whitespace() || "()=!<>,[]".contains(c))
            .unwrap_or(self.rest().len());
        let ptr = self.rest()[..end].to_owned();
        self.pos += end;
        Ok(ptr)
    }

    fn value(&mut self) -> Result<Value, FilterError> {
        self.skip_ws();
        let rest = self.rest();
        // A string delimits itself; anything else runs to whitespace or punctuation.
        let len = if rest.starts_with('"') {
            let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
            match stream.next() {
                Some(Ok(Value::String(_))) => stream.byte_offset(),
                _ => 0,
            }
        } else {
            rest.find(|c: char| c.is_whitespace() || "()[],".contains(c))
                .unwrap_or(rest.len())
        };
        match serde_json::from_str::<Value>(&rest[..len]) {
            Ok(v) if len > 0 && !v.is_array() && !v.is_object() => {
                self.pos += len;
                Ok(v)
            }
            _ => Err(self.error("expected a JSON number, string, true, false or null")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(filter: &str, v: Value) -> bool {
        Predicate::parse(filter)
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .eval(&v)
    }

    #[test]
    fn every_operator() {
        let order = json!({"total": 120.5, "country": "NL", "items": [{"sku": "a-1"}], "n": null});
        assert!(holds("/total >= 100", order.clone()));
        assert!(!holds("/total < 100", order.clone()));
        assert!(holds("/total > 120 and /total <= 120.5", order.clone()));
        assert!(holds(
            "/country == \"NL\" and /country != \"BE\"",
            order.clone()
        ));
        assert!(holds("/country in [\"BE\", \"NL\"]", order.clone()));
        assert!(holds("/items/0/sku == \"a-1\"", order.clone()));
        assert!(holds("exists /n and not exists /missing", order.clone()));
        assert!(holds("/n == null", order.clone()));
        assert!(holds(
            "/missing == 1 or (/total > 1 and not /country == \"BE\")",
            order.clone()
        ));
        assert!(
            !holds("/country > 5", order.clone()),
            "mixed kinds do not order"
        );
        assert!(holds("/total==120.5", order.clone()), "no spaces needed");
        assert!(holds("(/total > 1)and(/country==\"NL\")", order));
    }

    #[test]
    fn parse_errors_name_the_position() {
        for (text, position) in [
            ("total > 1", 0),
            ("/total >", 8),
            ("/total ~ 1", 7),
            ("/a == 1 and", 11),
            ("(/a == 1", 8),
            ("/a in [1, 2", 11),
            ("/a == 1 extra", 8),
            ("/a == {}", 6),
        ] {
            let e = Predicate::parse(text).expect_err(text);
            assert_eq!(e.position, position, "{text}: {e}");
        }
    }

    #[test]
    fn key_header_and_non_json_values() {
        let record = Record {
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"not json")),
            headers: vec![crate::event::Header {
                name: "source".into(),
                value: Bytes::from_static(b"web"),
            }],
            timestamp: 1,
            attributes: 0,
        };
        let mut f = Filter {
            key: Some(Bytes::from_static(b"k1")),
            header: Some(("source".into(), Bytes::from_static(b"web"))),
            predicate: None,
        };
        assert!(f.matches(&record));
        let json_key = Record {
            key: Some(Bytes::from_static(b"\"k1\"")),
            attributes: crate::event::ATTR_KEY_JSON,
            ..record.clone()
        };
        assert!(
            f.matches(&json_key),
            "a JSON string key matches by its text"
        );
        f.predicate = Predicate::parse("exists /x").ok();
        assert!(
            !f.matches(&record),
            "a value that is not JSON fails a predicate"
        );
        f.predicate = None;
        f.key = Some(Bytes::from_static(b"k2"));
        assert!(!f.matches(&record));
    }
}
