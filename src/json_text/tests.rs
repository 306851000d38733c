//! Differential tests: every input runs through `run` and through serde_json, and the exact
//! sequence of visitor calls must match whenever serde_json accepts.

use super::{Error, run};
use proptest::prelude::*;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
enum Ev {
    Unit,
    Bool(bool),
    U64(u64),
    I64(i64),
    F64(u64),
    Borrowed(String),
    Copied(String),
    Owned(String),
    KeyBorrowed(String),
    KeyCopied(String),
    KeyOwned(String),
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
    None,
    Some,
}

/// Records visitor calls; `option` makes every value go through `deserialize_option` first;
/// `key` reads a map key the way Tidegate's `KeySeed` asks for it (`deserialize_str`).
struct Trace<'a> {
    out: &'a mut Vec<Ev>,
    option: bool,
    key: bool,
}

impl<'de> DeserializeSeed<'de> for Trace<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.key {
            d.deserialize_str(self)
        } else if self.option {
            d.deserialize_option(self)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl Trace<'_> {
    /// A string, told apart by how it came and whether it was a key.
    fn text(self, text: String, value: fn(String) -> Ev, key: fn(String) -> Ev) {
        self.out
            .push(if self.key { key(text) } else { value(text) });
    }
}

impl<'de> Visitor<'de> for Trace<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.out.push(Ev::Unit);
        Ok(())
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.out.push(Ev::Bool(v));
        Ok(())
    }
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.out.push(Ev::U64(v));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.out.push(Ev::I64(v));
        Ok(())
    }
    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        self.out.push(Ev::F64(v.to_bits()));
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.text(v.to_owned(), Ev::Borrowed, Ev::KeyBorrowed);
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.text(v.to_owned(), Ev::Copied, Ev::KeyCopied);
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.text(v, Ev::Owned, Ev::KeyOwned);
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        self.out.push(Ev::None);
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.out.push(Ev::Some);
        d.deserialize_any(Trace {
            out: self.out,
            option: self.option,
            key: false,
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        self.out.push(Ev::SeqStart);
        while a
            .next_element_seed(Trace {
                out: &mut *self.out,
                option: self.option,
                key: false,
            })?
            .is_some()
        {}
        self.out.push(Ev::SeqEnd);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<(), A::Error> {
        self.out.push(Ev::MapStart);
        while a
            .next_key_seed(Trace {
                out: &mut *self.out,
                option: false,
                key: true,
            })?
            .is_some()
        {
            a.next_value_seed(Trace {
                out: &mut *self.out,
                option: self.option,
                key: false,
            })?;
        }
        self.out.push(Ev::MapEnd);
        Ok(())
    }
}

fn serde_json_trace(text: &str, option: bool) -> Option<Vec<Ev>> {
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    Trace {
        out: &mut out,
        option,
        key: false,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

fn our_trace(text: &str, option: bool) -> Result<Vec<Ev>, Error> {
    let mut out = Vec::new();
    run(
        text,
        Trace {
            out: &mut out,
            option,
            key: false,
        },
    )?;
    Ok(out)
}

/// Compares both readers on `text` in both modes; returns why we declined, if we did.
fn check(text: &str) -> Option<String> {
    let mut declined = None;
    for option in [false, true] {
        match (serde_json_trace(text, option), our_trace(text, option)) {
            (Some(theirs), Ok(ours)) => assert_eq!(theirs, ours, "trace differs for {text:?}"),
            (None, Ok(ours)) => panic!("accepted what serde_json rejects: {text:?} -> {ours:?}"),
            (Some(_), Err(e)) => match e.declined_because() {
                Some(why) => declined = Some(why.to_owned()),
                None => panic!("rejected what serde_json accepts: {text:?}: {e}"),
            },
            (None, Err(_)) => {}
        }
    }
    // Skipping a value accepts exactly what visiting it does.
    let skipped = run(text, std::marker::PhantomData::<de::IgnoredAny>);
    let visited = run(text, std::marker::PhantomData::<Value>);
    assert_eq!(
        skipped.is_ok(),
        visited.is_ok(),
        "skip and visit disagree on {text:?}: {skipped:?} / {visited:?}"
    );
    if let (None, Ok(theirs)) = (&declined, serde_json::from_str::<Value>(text)) {
        let ours = run(text, std::marker::PhantomData::<Value>).expect("Value through run");
        assert_eq!(theirs, ours, "Value differs for {text:?}");
    }
    declined
}

/// Declines are only acceptable for surrogate escapes (and deep nesting, tested separately).
fn check_strict(text: &str) {
    if let Some(why) = check(text) {
        assert!(
            text.contains("\\u"),
            "declined {text:?} ({why}) without a \\u escape"
        );
    }
}

const TABLE: &[&str] = &[
    // numbers
    "0",
    "-0",
    "-0.0",
    "0.0",
    "1e2",
    "1E+2",
    "1e-2",
    "1.5e-3",
    "124.5",
    "-124.5",
    "0.1",
    "1.0",
    "18446744073709551615",
    "18446744073709551616",
    "-18446744073709551615",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "1e-400",
    "-1e-400",
    "123456789012345678901234567890",
    "-123456789012345678901234567890",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "4.9e-324",
    "2.4703282292062327e-324",
    "9007199254740993",
    "9007199254740993.0",
    "0.30000000000000004",
    "1e22",
    "1e23",
    "12345e-27",
    "0e99999999999",
    "1e99999999999",
    "1e-99999999999",
    "-0e-5",
    "0.00000000000000000000001",
    "1.00000000000000000000000000000000000001",
    "01",
    "-01",
    "00",
    "1.",
    ".5",
    "1e",
    "1e+",
    "+1",
    "-",
    "--1",
    "1.5.3",
    "1e5.3",
    "0x1",
    "1_000",
    "2e-",
    "- 1",
    "1 2",
    "[1.]",
    "[01]",
    "-a",
    // literals
    "null",
    "true",
    "false",
    "nul",
    "tru",
    "fals",
    "nulll",
    "True",
    "NaN",
    "Infinity",
    // strings and escapes
    r#""""#,
    r#""abc""#,
    r#""\"""#,
    r#""\\""#,
    r#""\/""#,
    r#""\b\f\n\r\t""#,
    r#""\u0000""#,
    r#""\u00e9""#,
    r#""\u00E9x""#,
    r#""\ud83d\ude00""#,
    r#""\ud83d""#,
    r#""\ude00""#,
    r#""\ud83dx""#,
    r#""\ud83d\u0041""#,
    r#""\u12""#,
    r#""\u12G4""#,
    r#""\x""#,
    r#""\""#,
    r#""abc"#,
    "\"a\u{1}b\"",
    "\"a\tb\"",
    "\"a\nb\"",
    "\"\u{7f}\"",
    "\"é😀\"",
    r#""a\u0041b""#,
    // containers
    "[]",
    "{}",
    "[ ]",
    "{ }",
    "[1,2]",
    "[1,]",
    "[,1]",
    "[1,,2]",
    "[1 2]",
    "{\"a\":1}",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{\"a\":}",
    "{1:2}",
    "{\"a\":1 \"b\":2}",
    "{,}",
    "[",
    "{",
    "]",
    "}",
    "[1",
    "{\"a\"",
    "{\"a\":1",
    "{\"a\":1,\"a\":2}",
    "[[[]]]",
    "[{\"\\u0041\":[null]}]",
    r#"{"id":"p-00000123","amount":124.5,"currency":"EUR","note":null}"#,
    r#"{"a\nb":true,"c":[1,-2,3.5,"x"]}"#,
    // whitespace and trailing garbage
    " 1 ",
    "\t\n\r 1\r\n",
    "\u{c}1",
    "\u{a0}1",
    "1 x",
    "[] []",
    "{}}",
    "\"a\" \"b\"",
    "",
    " ",
    "[1]\u{0}",
    // a control character where the closing quote should be
    "[\"a\n]",
    "{\"a\n:1}",
    "\"a\t",
    "[\"a\u{1}]",
    "[\"a\\\"]",
];

#[test]
fn table_matches_serde_json() {
    for text in TABLE {
        check_strict(text);
    }
}

#[test]
fn surprising_serde_json_choices() {
    // `-0` is not i64 zero: serde_json visits it as f64 -0.0.
    assert_eq!(
        serde_json_trace("-0", false),
        Some(vec![Ev::F64((-0.0f64).to_bits())])
    );
    // Overflowing integers become correctly rounded floats; overflowing floats are errors.
    assert_eq!(
        serde_json_trace("18446744073709551616", false),
        Some(vec![Ev::F64(1.8446744073709552e19f64.to_bits())])
    );
    assert_eq!(serde_json_trace("1e400", false), None);
    assert_eq!(serde_json_trace("1e-400", false), Some(vec![Ev::F64(0)]));
    // Lone surrogates are errors in serde_json; we decline rather than rule on them.
    assert_eq!(serde_json_trace(r#""\ud83d""#, false), None);
    let ours = our_trace(r#""\ud83d""#, false).expect_err("lone surrogate");
    assert_eq!(ours.declined_because(), Some("surrogate"));
}

#[test]
fn depth_limit_declines() {
    let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(check(&nested(100)).is_none());
    assert_eq!(check(&nested(101)).as_deref(), Some("nesting too deep"));
    assert!(check(&nested(5000)).is_some() || serde_json_trace(&nested(5000), false).is_none());
}

#[derive(Debug, PartialEq, Deserialize)]
struct Record {
    id: String,
    amount: f64,
    currency: String,
    note: Option<String>,
    #[serde(default)]
    tags: Vec<(u8, bool)>,
}

#[test]
fn derived_struct_matches_serde_json() {
    for text in [
        r#"{"id":"p-1","amount":124.5,"currency":"EUR","note":null}"#,
        r#"{"id":"p-1","amount":124,"currency":"EUR","note":"x","tags":[[1,true]]}"#,
        r#"{"id":"p-1","amount":"1","currency":"EUR","note":null}"#,
        r#"{"id":"p-1","amount":1,"currency":"EUR","note":null,"extra":[1e400]}"#,
        r#"{"id":"p-1","amount":1,"currency":"EUR","note":null,"extra":{"a":[1,{}]}}"#,
        r#"{"id":"p-1","amount":1,"currency":"EUR","note":null,"tags":[[300,true]]}"#,
        r#"{"id":"p-1","amount":1,"currency":"EUR","note":1}"#,
        r#"["p-1",1,"EUR",null,[]]"#,
        r#"{"id":"p\u00e9","amount":-0,"currency":"EUR"}"#,
        r#"{"id":1,"amount":1,"currency":"EUR","note":null}"#,
    ] {
        let theirs = serde_json::from_str::<Record>(text).ok();
        let ours = run(text, std::marker::PhantomData::<Record>);
        match (theirs, ours) {
            (Some(t), Ok(o)) => assert_eq!(t, o, "{text}"),
            (None, Ok(o)) => panic!("accepted {text}: {o:?}"),
            (_, Err(_)) => {}
        }
    }
}

fn arb_string() -> impl Strategy<Value = String> {
    let odd = prop::sample::select(vec![
        'a', '"', '\\', '/', '\0', '\u{1f}', '\n', 'é', '😀', '\u{7f}', '\u{2028}',
    ]);
    prop_oneof![
        "[a-z]{0,8}",
        "\\PC{0,6}",
        prop::collection::vec(odd, 0..6).prop_map(String::from_iter)
    ]
}

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..1000).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        (-100_000i32..100_000, 0i32..6)
            .prop_map(|(m, e)| Value::from(f64::from(m) / 10f64.powi(e))),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((arb_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Inserts whitespace after every structural token and string, outside strings.
fn spread_whitespace(json: &str, ws: &[&str]) -> String {
    let mut out = String::from(ws[0]);
    let (mut in_str, mut escaped, mut i) = (false, false, 0);
    for c in json.chars() {
        out.push(c);
        let boundary = if in_str {
            let end = !escaped && c == '"';
            escaped = !escaped && c == '\\';
            in_str = !end;
            end
        } else {
            in_str = c == '"';
            "[]{},:".contains(c)
        };
        if boundary {
            i += 1;
            out.push_str(ws[i % ws.len()]);
        }
    }
    out
}

const ALPHABET: &str = "{}[]:,\"\\/ 0123456789.-+eEtrufalsn";

fn alphabet() -> Vec<char> {
    ALPHABET
        .chars()
        .chain(['é', '😀', '\u{1}', '\t', '\n', '\0'])
        .collect()
}

/// Whole tokens, so that far more of the random texts are valid JSON than with single characters.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    " ",
    "\"a\"",
    "\"k\"",
    "\"\\u00e9\"",
    "\"\\n\"",
    "0",
    "-0",
    "17",
    "-3",
    "1.5",
    "2e3",
    "-0.0e-2",
    "1e400",
    "18446744073709551616",
    "null",
    "true",
    "false",
    "\"",
    "\\",
    "01",
    "1.",
    "\t\n",
];

proptest! {
    // Cheap enough (about a second in debug) to run far more than the 2,000 cases asked for.
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn random_tokens_match(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..16)) {
        check_strict(&tokens.concat());
    }

    #[test]
    fn valid_values_match(
        value in arb_value(),
        ws in prop::collection::vec(prop::sample::select(vec!["", " ", "\t", "\n", "\r", " \n\t "]), 1..8),
        pretty in any::<bool>(),
    ) {
        let json = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
        let text = spread_whitespace(&json.expect("serialize"), &ws);
        prop_assert!(serde_json_trace(&text, false).is_some());
        prop_assert_eq!(check(&text), None, "declined valid {:?}", text);
        let ours = run(&text, std::marker::PhantomData::<Value>).expect("valid");
        prop_assert_eq!(ours, value);
    }

    #[test]
    fn random_text_matches(chars in prop::collection::vec(prop::sample::select(alphabet()), 0..=40)) {
        check_strict(&String::from_iter(chars));
    }

    #[test]
    fn mutations_match(
        value in arb_value(),
        at in any::<prop::sample::Index>(),
        op in 0u8..3,
        c in prop::sample::select(alphabet()),
    ) {
        let json = serde_json::to_string(&value).expect("serialize");
        let mut chars: Vec<char> = json.chars().collect();
        let i = at.index(chars.len() + 1);
        match op {
            0 if i < chars.len() => { chars.remove(i); }
            1 if i < chars.len() => chars[i] = c,
            _ => chars.insert(i, c),
        }
        check_strict(&String::from_iter(chars));
    }
}

/// Reads only the first item of a container: serde_json then fails unless nothing else follows.
struct FirstOnly;

impl<'de> Deserialize<'de> for FirstOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FirstOnly)
    }
}

impl<'de> Visitor<'de> for FirstOnly {
    type Value = FirstOnly;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a container")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<FirstOnly, A::Error> {
        a.next_element::<de::IgnoredAny>()?;
        Ok(FirstOnly)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<FirstOnly, A::Error> {
        a.next_entry::<de::IgnoredAny, de::IgnoredAny>()?;
        Ok(FirstOnly)
    }
}

#[test]
fn visitor_stopping_early_matches_serde_json() {
    for text in [
        "[]",
        "[1]",
        "[1,2]",
        "[1,]",
        "{}",
        r#"{"a":1}"#,
        r#"{"a":1,"b":2}"#,
        r#"{"a":1,}"#,
    ] {
        let theirs = serde_json::from_str::<FirstOnly>(text).is_ok();
        let ours = run(text, std::marker::PhantomData::<FirstOnly>).is_ok();
        assert_eq!(theirs, ours, "{text}");
    }
}
