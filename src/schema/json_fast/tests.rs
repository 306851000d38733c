#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::Cell;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use super::FastSchema;
use crate::schema::capture::{Capture, Captured, Slots};

/// `jsonschema`'s verdict on `bytes`, built as `super::super::json` builds it; `None` when it
/// does not build the schema (then there is nothing to agree with).
fn slow(schema: &Value, bytes: &[u8]) -> Option<bool> {
    let mut options = jsonschema::options();
    if schema.get("$schema").is_none() {
        options = options.with_draft(jsonschema::Draft::Draft7);
    }
    let validator = options.build(schema).ok()?;
    Some(serde_json::from_slice::<Value>(bytes).is_ok_and(|v| validator.is_valid(&v)))
}

fn fast(schema: &Value, bytes: &[u8]) -> bool {
    let compiled = FastSchema::compile(schema).expect("in the subset");
    compiled.check(bytes, &mut Capture::new(&[], &mut Slots::default()))
}

/// Both validators find the `valid` texts valid and the `invalid` ones invalid.
fn judge(schema: Value, valid: &[&str], invalid: &[&str]) {
    let cases = valid.iter().map(|t| (t, true));
    for (text, expected) in cases.chain(invalid.iter().map(|t| (t, false))) {
        let bytes = text.as_bytes();
        assert_eq!(
            slow(&schema, bytes),
            Some(expected),
            "jsonschema: {schema} on {text}"
        );
        assert_eq!(fast(&schema, bytes), expected, "fast: {schema} on {text}");
    }
}

#[test]
fn boolean_and_empty_schemas() {
    judge(json!(true), &["null", r#"{"a":[1,{}]}"#, " 1 "], &[]);
    judge(
        json!({"title": "t", "x-unknown": {"type": "string"}}),
        &["1"],
        &[],
    );
    judge(json!(false), &[], &["null", "{}"]);
}

#[test]
fn type_keyword() {
    let integer = json!({"type": "integer"});
    judge(
        integer,
        &["1", "1.0", "-0.0", "1e2", "18446744073709551615"],
        &["1.5", "\"1\""],
    );
    judge(json!({"type": "number"}), &["1", "1.5"], &["null"]);
    judge(
        json!({"type": ["null", "string"]}),
        &["null", "\"x\""],
        &["false", "{}", "[]"],
    );
    judge(
        json!({"type": ["object", "array", "boolean"]}),
        &["{}", "[]", "true"],
        &["0"],
    );
}

#[test]
fn enum_and_const_compare_numbers_by_value() {
    let mixed = json!({"enum": [1, "a", null, false]});
    judge(
        mixed,
        &["1", "1.0", "\"a\"", "null", "false"],
        &["true", "2", "[1]"],
    );
    judge(json!({"const": 2.0}), &["2"], &["2.5"]);
    let big = json!({"const": 9_007_199_254_740_993_u64});
    judge(
        big,
        &["9007199254740993"],
        &["9007199254740992.0", "9007199254740992"],
    );
    let trees = json!({"enum": [[1, {"a": 1.0}], {"b": [null]}]});
    judge(
        trees,
        &[r#"[1.0, {"a": 1}]"#, r#"{"b":[null]}"#],
        &[r#"{"b":[null],"c":1}"#],
    );
    // The parsed subtree keeps the last of duplicated keys, as the tree path does.
    judge(
        json!({"const": {"a": 1}}),
        &[r#"{"a":2,"a":1}"#],
        &[r#"{"a":1,"a":2}"#],
    );
    judge(json!({"enum": []}), &[], &["null"]);
    judge(
        json!({"enum": ["x"], "const": "y"}),
        &[],
        &["\"x\"", "\"y\""],
    );
}

#[test]
fn numeric_bounds_are_exact() {
    let minimum = json!({"minimum": 9_007_199_254_740_992.0_f64});
    judge(
        minimum,
        &["9007199254740992", "9007199254740993"],
        &["9007199254740991"],
    );
    let below = json!({"exclusiveMaximum": 9_007_199_254_740_992.0_f64});
    judge(
        below,
        &["9007199254740991"],
        &["9007199254740992", "9007199254740993"],
    );
    let maximum = json!({"maximum": 18_446_744_073_709_551_615_u64});
    judge(
        maximum,
        &["18446744073709551615", "-1e300"],
        &["18446744073709551615.0"],
    );
    let range = json!({"exclusiveMinimum": 0, "maximum": 2.5});
    judge(range, &["1e-300", "2.5"], &["0", "-0.0", "3"]);
    let lowest = json!({"minimum": -9_223_372_036_854_775_808_i64});
    // -9223372036854775809 reads as the float -2^63, the limit itself.
    judge(
        lowest,
        &["-9223372036854775808", "-9223372036854775809"],
        &["-1e19"],
    );
    judge(json!({"minimum": 1}), &["\"0\"", "null"], &[]);
}

#[test]
fn string_lengths_count_code_points() {
    let both = json!({"minLength": 2, "maxLength": 3});
    judge(both, &["\"ab\"", "\"é😀\""], &["\"a\"", "\"😀😀😀😀\""]);
    judge(
        json!({"maxLength": 1}),
        &[r#""\u00e9""#, r#""\ud83d\ude00""#],
        &["\"ab\""],
    );
    judge(json!({"minLength": 1}), &["5"], &["\"\""]);
}

#[test]
fn arrays() {
    let bounded = json!({"items": {"type": "integer"}, "minItems": 1, "maxItems": 2});
    judge(bounded, &["[1]", "[1, 2.0]"], &["[]", "[1,2,3]", "[\"a\"]"]);
    judge(json!({"items": false}), &["[]", "{}"], &["[null]"]);
    let nested = json!({"type": "array", "items": {"items": {"enum": [1]}}});
    judge(nested, &["[[1],[]]"], &["[[2]]", "{}"]);
}

#[test]
fn objects() {
    let payment = json!({
        "type": "object",
        "required": ["id", "amount", "currency"],
        "additionalProperties": false,
        "properties": {
            "id": {"type": "string"},
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "currency": {"enum": ["EUR", "USD"]},
            "note": {"type": ["null", "string"]}
        }
    });
    let valid = [
        r#"{"id":"p-00000001","amount":12.5,"currency":"EUR","note":null}"#,
        r#"{"id":"p-1","amount":12.5,"currency":"EUR"}"#,
        r#"{"i\u0064":"p-1","amount":1,"currency":"USD"}"#,
    ];
    let invalid = [
        r#"{"id":"p-1","amount":0,"currency":"EUR"}"#,
        r#"{"id":"p-1","currency":"EUR"}"#,
        r#"{"id":"p-1","amount":1,"currency":"GBP"}"#,
        r#"{"id":"p-1","amount":1,"currency":"EUR","x":1}"#,
        "[]",
    ];
    judge(payment, &valid, &invalid);
    let open = json!({"required": ["a"], "additionalProperties": {"type": "integer"},
        "properties": {"b": {}}});
    judge(
        open,
        &[r#"{"a":1,"b":"x"}"#, "1"],
        &[r#"{"a":"x"}"#, r#"{"b":1}"#],
    );
    judge(json!({"minProperties": 1}), &[r#"{"a":1}"#, "[]"], &["{}"]);
    let two = json!({"minProperties": 2, "maxProperties": 2});
    judge(
        two,
        &[r#"{"a":1,"b":2}"#, r#"{"a":1,"b":2,"a":3}"#],
        &[r#"{"a":1,"a":2}"#],
    );
    // Every occurrence of a duplicated key is checked, where the tree keeps only the last:
    // stricter, so only a trip to the tree path.
    let schema = json!({"properties": {"a": {"type": "string"}}});
    judge(schema.clone(), &[r#"{"a":"x","a":"y"}"#], &[]);
    assert_eq!(slow(&schema, br#"{"a":1,"a":"x"}"#), Some(true));
    assert!(!fast(&schema, br#"{"a":1,"a":"x"}"#));
}

#[test]
fn many_properties_and_required_names() {
    let names: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let properties: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.clone(), json!({"type": "integer"})))
        .collect();
    let schema =
        json!({"properties": properties, "required": names, "additionalProperties": false});
    let full: String = names
        .iter()
        .map(|n| format!("\"{n}\":1"))
        .collect::<Vec<_>>()
        .join(",");
    let valid = format!("{{{full}}}");
    let missing = format!("{{{}}}", full.replacen("\"k7\":1,", "", 1));
    let wrong = format!("{{{}}}", full.replacen("\"k33\":1", "\"k33\":1.5", 1));
    judge(schema, &[&valid], &[&missing, &wrong]);
    let too_many: Vec<String> = (0..65).map(|i| format!("r{i}")).collect();
    assert!(FastSchema::compile(&json!({"required": too_many})).is_none());
}

#[test]
fn drafts() {
    for uri in [
        "http://json-schema.org/draft-07/schema#",
        "http://json-schema.org/draft-06/schema#",
        "https://json-schema.org/draft/2019-09/schema",
        "https://json-schema.org/draft/2020-12/schema",
    ] {
        let schema = json!({"$schema": uri, "$id": "https://example.com/s", "type": "integer"});
        judge(schema, &["2.0"], &["2.5"]);
    }
    for uri in [
        "http://json-schema.org/draft-04/schema#",
        "https://example.com/meta",
    ] {
        assert!(
            FastSchema::compile(&json!({"$schema": uri})).is_none(),
            "{uri}"
        );
    }
    assert!(FastSchema::compile(&json!({"properties": {"a": {"$id": "x"}}})).is_none());
    assert!(FastSchema::compile(&json!({"items": {"$schema": "x"}})).is_none());
}

#[test]
fn refuses_what_it_does_not_implement() {
    for schema in [
        json!({"$ref": "#/definitions/a"}),
        json!({"definitions": {}}),
        json!({"$defs": {}}),
        json!({"allOf": [{}]}),
        json!({"anyOf": [{}]}),
        json!({"oneOf": [{}]}),
        json!({"not": {}}),
        json!({"if": {}, "then": {}}),
        json!({"pattern": "a"}),
        json!({"patternProperties": {}}),
        json!({"format": "email"}),
        json!({"multipleOf": 2}),
        json!({"uniqueItems": true}),
        json!({"contains": {}}),
        json!({"dependencies": {}}),
        json!({"dependentRequired": {}}),
        json!({"propertyNames": {}}),
        json!({"unevaluatedProperties": false}),
        json!({"items": [{}]}),
        json!({"additionalItems": false}),
        json!({"prefixItems": [{}]}),
        json!({"contentMediaType": "application/json"}),
        json!({"properties": {"a": {"minLength": -1}}}),
        json!({"minItems": 1.0}),
        json!({"minimum": "1"}),
        json!({"exclusiveMinimum": true}),
        json!({"type": "float"}),
        json!({"required": [1]}),
        json!(1),
    ] {
        assert!(FastSchema::compile(&schema).is_none(), "{schema}");
    }
}

#[test]
fn only_one_well_formed_value_passes() {
    for text in [
        &b""[..],
        b"{",
        b"{} {}",
        b"1 x",
        b"[1,]",
        b"\"\xff\"",
        b"[\"\\ud800\"]",
        b"{\"a\\ud800\":1}",
        b"\"\x01\"",
        b"nul",
        b"1e400",
    ] {
        assert!(
            !fast(&json!(true), text),
            "{}",
            String::from_utf8_lossy(text)
        );
        assert_eq!(slow(&json!(true), text), Some(false));
    }
    assert!(fast(&json!(true), b" \n[1, {\"a\": \"\\u00e9\"}]\t"));
}

#[test]
fn captures_top_level_scalars() {
    let fields: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "h", "z"]
        .map(String::from)
        .to_vec();
    let mut slots = Slots::default();
    let mut capture = Capture::new(&fields, &mut slots);
    let schema = FastSchema::compile(&json!({"type": "object"})).unwrap();
    let text = r#"{"a":1,"b":18446744073709551615,"c":-2.5,"d":"x\n","e":true,"f":null,
        "g":{"a":2},"h":[1],"a":-3,"y":4}"#;
    assert!(schema.check(text.as_bytes(), &mut capture));
    assert_eq!(
        capture.values(),
        vec![
            Captured::Int(-3),
            Captured::Uint(u64::MAX),
            Captured::Float(-2.5),
            Captured::Str("x\n".into()),
            Captured::Bool(true),
            Captured::Null,
            Captured::Complex,
            Captured::Complex,
            Captured::Absent,
        ]
    );
    // Through the parsed-subtree path an `enum` of objects takes.
    let mut slots = Slots::default();
    let mut capture = Capture::new(&fields, &mut slots);
    let schema = FastSchema::compile(&json!({"enum": [{"a": 1, "d": "é"}]})).unwrap();
    assert!(schema.check(br#"{"d":"\u00e9","a":1.0}"#, &mut capture));
    assert_eq!(capture.values()[0], Captured::Float(1.0));
    assert_eq!(capture.values()[3], Captured::Str("é".into()));
}

// Differential testing against `jsonschema`: random schemas of the subset, instances shaped
// by them (so that many are valid), written with random escapes, spacing and duplicate keys.

/// Property names the generators draw from (also the captured fields, sorted).
const NAMES: [&str; 5] = ["a", "b", "c", "d e", "é"];

/// A JSON instance, numbers kept as their text (`1.0`, `-0`, `1e2` each mean something).
#[derive(Debug, Clone)]
enum Inst {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Inst>),
    Obj(Vec<(String, Inst)>),
}

fn number_texts() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..=3).prop_map(|i| i.to_string()),
        (-6i64..=6).prop_map(|i| format!("{}", f64::from(i as i32) / 2.0)),
        prop::sample::select(
            "-0 -0.0 1.0 1e0 10E-1 2.0 1e2 0.1 1e-300 1e300 -1e300 9007199254740992 \
             9007199254740993 9007199254740992.0 9223372036854775807 9223372036854775808 \
             -9223372036854775808 -9223372036854775809 18446744073709551615 \
             18446744073709551616 18446744073709551615.0"
                .split_ascii_whitespace()
                .collect::<Vec<_>>(),
        )
        .prop_map(String::from),
    ]
}

fn schema_number() -> impl Strategy<Value = Value> {
    number_texts().prop_map(|t| serde_json::from_str(&t).unwrap())
}

fn strings() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "é", "😀", "\"", "\n"]),
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

fn any_inst() -> impl Strategy<Value = Inst> {
    let leaf = prop_oneof![
        Just(Inst::Null),
        any::<bool>().prop_map(Inst::Bool),
        number_texts().prop_map(Inst::Num),
        strings().prop_map(Inst::Str),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Inst::Arr),
            prop::collection::vec((name(), inner), 0..3).prop_map(Inst::Obj),
        ]
    })
}

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES.to_vec()).prop_map(String::from)
}

/// `value` as an instance; with `other`, integral numbers written the other way (`1` ↔ `1.0`).
fn to_inst(value: &Value, other: bool) -> Inst {
    match value {
        Value::Null => Inst::Null,
        Value::Bool(b) => Inst::Bool(*b),
        Value::Number(n) if other && (n.is_i64() || n.is_u64()) => Inst::Num(format!("{n}.0")),
        Value::Number(n) => match n.as_f64() {
            Some(f) if other && n.is_f64() && f.fract() == 0.0 && f.abs() < 1e19 => {
                Inst::Num(format!("{}", f as i128))
            }
            _ => Inst::Num(n.to_string()),
        },
        Value::String(s) => Inst::Str(s.clone()),
        Value::Array(a) => Inst::Arr(a.iter().map(|v| to_inst(v, other)).collect()),
        Value::Object(o) => Inst::Obj(
            o.iter()
                .map(|(k, v)| (k.clone(), to_inst(v, other)))
                .collect(),
        ),
    }
}

/// An `enum`/`const` value: scalars, and small arrays and objects of them.
fn choice() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        schema_number(),
        strings().prop_map(Value::String),
    ];
    prop_oneof![
        4 => leaf.clone(),
        1 => prop::collection::vec(leaf.clone(), 0..3).prop_map(Value::Array),
        1 => prop::collection::btree_map(name(), leaf, 0..3)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

fn type_names() -> impl Strategy<Value = Value> {
    let one = prop::sample::select(vec![
        "null", "boolean", "object", "array", "number", "integer", "string",
    ]);
    prop_oneof![
        one.clone().prop_map(Value::from),
        prop::collection::btree_set(one, 1..4).prop_map(|s| s.into_iter().collect()),
    ]
}

fn maybe<T: std::fmt::Debug>(
    p: f64,
    s: impl Strategy<Value = T>,
) -> impl Strategy<Value = Option<T>> {
    prop::option::weighted(p, s)
}

/// A schema object: some scalar keywords, and with `inner` the applicators.
fn keywords(inner: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let scalar = (
        maybe(0.4, type_names()),
        maybe(0.12, prop::collection::vec(choice(), 0..4)),
        maybe(0.06, choice()),
        [maybe(0.15, schema_number()), maybe(0.15, schema_number())],
        [maybe(0.1, schema_number()), maybe(0.1, schema_number())],
        [maybe(0.12, 0u64..4), maybe(0.12, 0u64..4)],
    )
        .boxed();
    // Boxed parts keep the value trees off the stack (debug frames overflowed it otherwise).
    let array = maybe(
        0.3,
        (inner.clone(), maybe(0.3, 0u64..3), maybe(0.3, 0u64..4)),
    )
    .boxed();
    let object = maybe(
        0.5,
        (
            prop::collection::btree_map(name(), inner.clone(), 0..4),
            prop::collection::btree_set(prop_oneof![name(), Just("z".to_owned())], 0..3),
            maybe(0.5, prop_oneof![any::<bool>().prop_map(Value::Bool), inner]),
            [maybe(0.1, 0u64..4), maybe(0.1, 0u64..4)],
        ),
    )
    .boxed();
    let annotation = maybe(
        0.1,
        Just(json!({"title": "t", "x-extra": {"type": "string"}})),
    );
    (scalar, array, object, annotation)
        .prop_map(
            |((ty, en, cst, [min, max], [xmin, xmax], [minl, maxl]), array, object, note)| {
                let mut s = serde_json::Map::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        s.insert(k.to_owned(), v);
                    }
                };
                put("type", ty);
                put("enum", en.map(Value::Array));
                put("const", cst);
                put("minimum", min);
                put("maximum", max);
                put("exclusiveMinimum", xmin);
                put("exclusiveMaximum", xmax);
                put("minLength", minl.map(Value::from));
                put("maxLength", maxl.map(Value::from));
                if let Some((items, min, max)) = array {
                    put("items", Some(items));
                    put("minItems", min.map(Value::from));
                    put("maxItems", max.map(Value::from));
                }
                if let Some((props, required, additional, [min, max])) = object {
                    put(
                        "properties",
                        Some(Value::Object(props.into_iter().collect())),
                    );
                    put(
                        "required",
                        (!required.is_empty()).then(|| required.into_iter().collect()),
                    );
                    put("additionalProperties", additional);
                    put("minProperties", min.map(Value::from));
                    put("maxProperties", max.map(Value::from));
                }
                if let Some(Value::Object(note)) = note {
                    s.extend(note);
                }
                Value::Object(s)
            },
        )
        .boxed()
}

fn schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(json!(true)),
        1 => Just(json!(false)),
        6 => keywords(Just(json!({})).boxed()),
    ];
    let tree = leaf.prop_recursive(3, 24, 4, |inner| keywords(inner.boxed()));
    let draft = prop::sample::select(vec![
        None,
        None,
        Some("http://json-schema.org/draft-06/schema#"),
        Some("https://json-schema.org/draft/2019-09/schema"),
        Some("https://json-schema.org/draft/2020-12/schema"),
    ]);
    (tree, draft).prop_map(|(mut schema, draft)| {
        if let (Value::Object(o), Some(uri)) = (&mut schema, draft) {
            o.insert("$schema".into(), uri.into());
        }
        schema
    })
}

/// Numbers on and around `limit`.
fn near(limit: &Value) -> Vec<String> {
    let mut out = vec![limit.to_string()];
    if let Some(i) = limit.as_i64() {
        out.extend([
            (i128::from(i) - 1).to_string(),
            (i128::from(i) + 1).to_string(),
        ]);
        out.push(format!("{i}.0"));
    } else if let Some(u) = limit.as_u64() {
        out.extend([(u - 1).to_string(), (u128::from(u) + 1).to_string()]);
    } else if let Some(f) = limit.as_f64() {
        let up = f64::from_bits(f.to_bits() + 1);
        out.extend([f + 0.5, f - 0.5, up].map(|x| Value::from(x).to_string()));
        if f.fract() == 0.0 && f.abs() < 1e19 {
            out.push(format!("{}", f as i128));
        }
    }
    out
}

/// Instances shaped by `schema`, so that many are valid and the rest fail near the edges.
fn instance(schema: &Value, depth: u32) -> BoxedStrategy<Inst> {
    let Value::Object(s) = schema else {
        return any_inst().boxed();
    };
    if depth > 4 {
        return any_inst().boxed();
    }
    let sub = |k: &str| s.get(k).cloned().unwrap_or(json!({}));
    let mut options: Vec<(u32, BoxedStrategy<Inst>)> = vec![(1, any_inst().boxed())];
    let mut values: Vec<Value> = s
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    values.extend(s.get("const").cloned());
    if !values.is_empty() {
        let chosen = (prop::sample::select(values), any::<bool>());
        options.push((6, chosen.prop_map(|(v, other)| to_inst(&v, other)).boxed()));
    }
    let mut numbers: Vec<String> = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]
        .iter()
        .filter_map(|k| s.get(*k))
        .flat_map(near)
        .collect();
    numbers.extend(["0", "1", "2.5", "-1"].map(String::from));
    options.push((2, prop::sample::select(numbers).prop_map(Inst::Num).boxed()));
    options.push((1, number_texts().prop_map(Inst::Num).boxed()));
    let text = prop::collection::vec(
        prop::sample::select(vec!['a', 'é', '😀']),
        around(s, "minLength", "maxLength"),
    );
    options.push((
        2,
        text.prop_map(|c| Inst::Str(c.into_iter().collect()))
            .boxed(),
    ));
    options.push((
        1,
        prop_oneof![Just(Inst::Null), any::<bool>().prop_map(Inst::Bool)].boxed(),
    ));
    let items = instance(&sub("items"), depth + 1);
    let items = prop::collection::vec(items, around(s, "minItems", "maxItems"));
    options.push((2, items.prop_map(Inst::Arr).boxed()));
    options.push((4, object(s, depth)));
    prop::strategy::Union::new_weighted(options).boxed()
}

/// Sizes from just below the `min` keyword to just above the `max` one.
fn around(s: &serde_json::Map<String, Value>, min: &str, max: &str) -> std::ops::Range<usize> {
    let bound = |k: &str| {
        s.get(k)
            .and_then(Value::as_u64)
            .map(|b| usize::try_from(b).unwrap())
    };
    let low = bound(min).unwrap_or(0).saturating_sub(1);
    low..bound(max).map_or(4, |m| m + 2).max(low + 2)
}

fn object(s: &serde_json::Map<String, Value>, depth: u32) -> BoxedStrategy<Inst> {
    let properties = s
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let additional = s.get("additionalProperties").cloned().unwrap_or(json!({}));
    let required: Vec<String> = s
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let mut fields: Vec<BoxedStrategy<Option<(String, Inst)>>> = Vec::new();
    for (name, sub) in &properties {
        let p = if required.contains(name) { 0.95 } else { 0.7 };
        let name = name.clone();
        fields.push(
            maybe(
                p,
                instance(sub, depth + 1).prop_map(move |i| (name.clone(), i)),
            )
            .boxed(),
        );
    }
    for name in required.iter().filter(|n| !properties.contains_key(*n)) {
        let name = name.clone();
        let value = instance(&additional, depth + 1);
        fields.push(maybe(0.9, value.prop_map(move |i| (name.clone(), i))).boxed());
    }
    fields.push(maybe(0.3, (name(), instance(&additional, depth + 1))).boxed());
    fields.push(maybe(0.1, (name(), any_inst())).boxed());
    (fields, any::<prop::sample::Index>())
        .prop_map(|(fields, at)| {
            let mut fields: Vec<(String, Inst)> = fields.into_iter().flatten().collect();
            if !fields.is_empty() {
                let i = at.index(fields.len());
                fields.swap(0, i);
            }
            Inst::Obj(fields)
        })
        .boxed()
}

/// How an instance is written: `\u` escapes in strings and keys, spaces between tokens.
#[derive(Debug, Clone, Copy)]
struct Style {
    escape: bool,
    spaces: bool,
}

fn write(inst: &Inst, style: Style, out: &mut String) {
    let gap = if style.spaces { " \n" } else { "" };
    match inst {
        Inst::Null => out.push_str("null"),
        Inst::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Inst::Num(n) => out.push_str(n),
        Inst::Str(s) => write_str(s, style, out),
        Inst::Arr(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { "," } else { "" });
                out.push_str(gap);
                write(item, style, out);
            }
            out.push_str(gap);
            out.push(']');
        }
        Inst::Obj(fields) => {
            out.push('{');
            for (i, (k, v)) in fields.iter().enumerate() {
                out.push_str(if i > 0 { "," } else { "" });
                write_str(k, style, out);
                out.push_str(gap);
                out.push(':');
                write(v, style, out);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, style: Style, out: &mut String) {
    if style.escape {
        out.push('"');
        for unit in s.encode_utf16() {
            write!(out, "\\u{unit:04x}").unwrap();
        }
        out.push('"');
    } else {
        out.push_str(&Value::from(s).to_string());
    }
}

/// Whether some object in `inst` has a key twice.
fn duplicated(inst: &Inst) -> bool {
    match inst {
        Inst::Arr(items) => items.iter().any(duplicated),
        Inst::Obj(fields) => fields.iter().enumerate().any(|(i, (k, v))| {
            duplicated(v) || fields.iter().skip(i + 1).any(|(other, _)| other == k)
        }),
        _ => false,
    }
}

/// What a capture of every name in [`NAMES`] should hold after reading `value`.
fn expected_capture(value: &Value, fields: &[String]) -> Vec<Captured> {
    fields
        .iter()
        .map(|f| match value.get(f) {
            None => Captured::Absent,
            Some(Value::Null) => Captured::Null,
            Some(Value::Bool(b)) => Captured::Bool(*b),
            Some(Value::Number(n)) => n.as_i64().map_or_else(
                || {
                    n.as_u64()
                        .map_or(Captured::Float(n.as_f64().unwrap()), Captured::Uint)
                },
                Captured::Int,
            ),
            Some(Value::String(s)) => Captured::Str(s.clone()),
            Some(_) => Captured::Complex,
        })
        .collect()
}

fn case() -> impl Strategy<Value = (Value, Vec<(Inst, Style, u8)>)> {
    schema().prop_flat_map(|schema| {
        let style =
            (any::<bool>(), any::<bool>()).prop_map(|(escape, spaces)| Style { escape, spaces });
        let instances = prop::collection::vec((instance(&schema, 0), style, 0u8..8), 1..6);
        (Just(schema), instances)
    })
}

/// `check` agrees with `jsonschema` on every instance, in both directions, and captures what
/// the parsed tree holds; with a bad tail or a cut the text is judged the same way too.
/// `PROPTEST_CASES` raises the number of schemas (20,000 were run when this was written).
#[test]
fn agrees_with_jsonschema() {
    let mut fields: Vec<String> = NAMES.map(String::from).to_vec();
    fields.sort();
    let (valid, invalid, unbuilt) = (Cell::new(0u32), Cell::new(0u32), Cell::new(0u32));
    let strict = Cell::new(0u32);
    // No regression file: a failure prints the shrunk schema and instance to copy into a test.
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |(schema, instances)| {
        let Ok(validator) = (if schema.get("$schema").is_none() {
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .build(&schema)
        } else {
            jsonschema::options().build(&schema)
        }) else {
            unbuilt.set(unbuilt.get() + 1);
            return Ok(());
        };
        let compiled = FastSchema::compile(&schema);
        prop_assert!(compiled.is_some(), "refused {}", schema);
        let compiled = compiled.unwrap();
        for (inst, style, damage) in instances {
            let mut text = String::new();
            write(&inst, style, &mut text);
            match damage {
                0 => text.push_str(" x"),
                1 => text.push('}'),
                2 => {
                    text.pop();
                }
                _ => {}
            }
            let tree = serde_json::from_str::<Value>(&text).ok();
            let expected = tree.as_ref().is_some_and(|v| validator.is_valid(v));
            let mut slots = Slots::default();
            let mut capture = Capture::new(&fields, &mut slots);
            let got = compiled.check(text.as_bytes(), &mut capture);
            if duplicated(&inst) {
                // Each occurrence is checked where the tree keeps the last: only stricter.
                prop_assert!(expected || !got, "schema {} instance {}", schema, text);
                strict.set(strict.get() + u32::from(expected && !got));
            } else {
                prop_assert_eq!(got, expected, "schema {} instance {}", schema, text);
            }
            if let (true, Some(tree)) = (got, tree.filter(Value::is_object)) {
                prop_assert_eq!(
                    capture.values(),
                    expected_capture(&tree, &fields),
                    "{}",
                    text
                );
            }
            let count = if expected { &valid } else { &invalid };
            count.set(count.get() + 1);
        }
        Ok(())
    });
    let (valid, invalid, unbuilt) = (valid.get(), invalid.get(), unbuilt.get());
    let strict = strict.get();
    eprintln!(
        "valid {valid} (refused for a duplicated key {strict}), invalid {invalid}, \
         schemas jsonschema refused {unbuilt}"
    );
    result.unwrap();
    // The generator must exercise both answers, or agreement proves little.
    assert!(valid * 5 > valid + invalid && invalid * 5 > valid + invalid);
}
