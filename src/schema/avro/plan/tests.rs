#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use apache_avro::Schema;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::Plan;
use crate::json_text::Reader;
use crate::schema::avro::encode::encode;
use crate::schema::avro::fixtures::PAYMENT;
use crate::schema::avro::names::Names;
use crate::schema::capture::{Capture, Captured, Slots};

fn plan_of(schema: &Schema) -> Plan {
    Plan::compile(schema, &Names::new([schema])).expect("every parsed schema gets a plan")
}

/// The fast result, or `None` when it left the record to the tree.
fn fast(schema: &Schema, text: &str) -> Option<Vec<u8>> {
    let mut out = vec![9];
    let ok = plan_of(schema).encode_json(
        text.as_bytes(),
        &mut out,
        &mut Capture::new(&[], &mut Slots::default()),
    );
    if ok {
        Some(out.split_off(1))
    } else {
        assert_eq!(out, vec![9], "a refusal leaves the buffer as it was");
        None
    }
}

fn tree(schema: &Schema, text: &str) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_str(text).ok()?;
    let mut out = Vec::new();
    encode(schema, &Names::new([schema]), &value, &mut out).ok()?;
    Some(out)
}

/// Encodes `text` and insists the fast path took it and wrote what the tree writes.
fn same(schema: &Schema, text: &str) {
    let expected = tree(schema, text).expect("the tree encodes it");
    assert_eq!(fast(schema, text), Some(expected), "{text}");
}

const FLAT: &str = r#"{"type":"record","name":"Payment","fields":[
    {"name":"id","type":"string"},{"name":"amount","type":"double"},
    {"name":"currency","type":{"type":"enum","name":"Currency","symbols":["EUR","USD"]}},
    {"name":"note","type":["null","string"],"default":null},
    {"name":"qty","type":"int","default":1}]}"#;

#[test]
fn flat_records_encode_with_the_same_bytes() {
    let schema = Schema::parse_str(FLAT).unwrap();
    same(
        &schema,
        r#"{"id":"p-1","amount":12.5,"currency":"EUR","note":null,"qty":3}"#,
    );
    same(
        &schema,
        r#"{"id":"p\"2\u00e9","amount":7,"currency":"USD","note":"x"}"#,
    );
    // Missing fields take their defaults, in the middle and at the end.
    same(
        &schema,
        r#" {"id":"p","amount":-0.0,"currency":"USD","qty":2} "#,
    );
    same(&schema, r#"{"id":"p","amount":1e300,"currency":"USD"}"#);
    // Escaped keys are still keys.
    let escaped = r#"{"\u0069d":"p","amount":1,"currency":"EUR"}"#;
    assert_eq!(fast(&schema, escaped), tree(&schema, escaped));
    assert!(fast(&schema, escaped).is_some());
}

#[test]
fn uncommon_shapes_are_left_to_the_tree() {
    let schema = Schema::parse_str(FLAT).unwrap();
    let cases = [
        // Out of order, duplicated, unknown, missing without default.
        r#"{"amount":1,"id":"p","currency":"EUR"}"#,
        r#"{"id":"p","id":"q","amount":1,"currency":"EUR"}"#,
        r#"{"id":"p","amount":1,"currency":"EUR","extra":1}"#,
        r#"{"id":"p","currency":"EUR"}"#,
        // Wrong types, a bad symbol, an int out of range, a tagged union.
        r#"{"id":1,"amount":1,"currency":"EUR"}"#,
        r#"{"id":"p","amount":1,"currency":"JPY"}"#,
        r#"{"id":"p","amount":1,"currency":"EUR","note":null,"qty":2147483648}"#,
        r#"{"id":"p","amount":1,"currency":"EUR","note":{"string":"x"}}"#,
        // Not one JSON value.
        r#"{"id":"p","amount":1,"currency":"EUR"} x"#,
        r#"{"id":"p","amount":1,"#,
        "",
    ];
    for case in cases {
        assert_eq!(fast(&schema, case), None, "{case}");
    }
    // The tree still takes those that are valid, in its own way.
    assert!(tree(&schema, cases[0]).is_some());
    assert!(tree(&schema, cases[7]).is_some());
}

#[test]
fn the_full_fixture_is_taken_or_left_consistently() {
    let schema = Schema::parse_str(PAYMENT).unwrap();
    let value = json!({"b": true, "i": -7, "l": 1_234_567_890_123i64, "f": 1.5, "d": -0.25,
        "s": "héllo", "by": "AB", "n": null, "addr": {"city": "Oslo", "zip": 150},
        "currency": "USD", "hash": "abcd", "items": [{"sku": "a", "amount": 1}],
        "tags": {"a": "1", "b": "2"}, "note": "x", "day": 19_000, "at": 1_700_000_000_000i64,
        "id": "1481531d-ccc9-46d9-a56f-5b67459c0537", "price": "\u{4}\u{d2}"});
    // Bytes, fixed and decimals are the tree's: the whole record defers.
    let text = value.to_string();
    assert_eq!(fast(&schema, &text), None);
    assert!(tree(&schema, &text).is_some());
}

#[test]
fn arrays_maps_and_nested_records() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"Order","fields":[
        {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
            {"name":"sku","type":"string"},{"name":"qty","type":["null","long"],"default":null}]}}},
        {"name":"tags","type":{"type":"map","values":["int","string"]}},
        {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"scores","type":{"type":"array","items":["null","float","double"]}}]}"#,
    )
    .unwrap();
    let many: Vec<String> = (0..200)
        .map(|i| format!(r#"{{"sku":"s{i}","qty":{i}}}"#))
        .collect();
    let text = format!(
        r#"{{"items":[{}],"tags":{{"a":1,"b":"two","c":-3}},"at":1700000000000,
            "scores":[null,1.5,2,"NaN","-Infinity",1e30]}}"#,
        many.join(",")
    );
    same(&schema, &text);
    same(
        &schema,
        r#"{"items":[{"sku":"x"}],"tags":{},"at":0,"scores":[]}"#,
    );
    // Unsorted map keys would come out in another order than the tree's sorted map.
    let unsorted = r#"{"items":[],"tags":{"b":1,"a":2},"at":0,"scores":[]}"#;
    assert_eq!(fast(&schema, unsorted), None);
    assert!(tree(&schema, unsorted).is_some());
}

#[test]
fn top_level_fields_are_captured() {
    let schema = Schema::parse_str(FLAT).unwrap();
    let fields = vec![
        "amount".to_owned(),
        "currency".to_owned(),
        "missing".to_owned(),
        "note".to_owned(),
    ];
    let mut slots = Slots::default();
    let mut capture = Capture::new(&fields, &mut slots);
    let mut out = Vec::new();
    let text = br#"{"id":"p","amount":12,"currency":"USD","note":"n"}"#;
    let plan = plan_of(&schema);
    assert!(plan.encode_json(text, &mut out, &mut capture));
    // An enum field is picked as its symbol's index, which rules resolve with its symbols.
    assert_eq!(
        capture.values(),
        vec![
            Captured::Int(12),
            Captured::Symbol(1),
            Captured::Absent,
            Captured::Str("n".into())
        ]
    );
    assert_eq!(
        plan.enum_symbols("currency"),
        Some(&["EUR".to_owned(), "USD".to_owned()][..])
    );
    assert_eq!(plan.enum_symbols("id"), None);
    assert_eq!(plan.enum_symbols("missing"), None);
}

/// A random schema: records nest the other kinds; every named type gets a unique name.
fn schema_strategy() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!("null")),
        Just(json!("boolean")),
        Just(json!("int")),
        Just(json!("long")),
        Just(json!("float")),
        Just(json!("double")),
        Just(json!("string")),
        Just(json!("bytes")),
        Just(json!({"type": "enum", "name": "E", "symbols": ["A", "B", "NaN"]})),
        Just(json!({"type": "int", "logicalType": "date"})),
        Just(json!({"type": "string", "logicalType": "uuid"})),
        Just(json!({"type": "long", "logicalType": "timestamp-micros"})),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            inner
                .clone()
                .prop_map(|t| json!({"type": "array", "items": t})),
            inner
                .clone()
                .prop_map(|t| json!({"type": "map", "values": t})),
            inner.clone().prop_filter_map("no nested unions", |t| {
                (!t.is_array() && t != json!("null")).then(|| json!(["null", t]))
            }),
            Just(json!(["int", "string", "double"])),
            Just(json!(["long", "float", {"type": "enum", "name": "E", "symbols": ["A"]}])),
            // Loose branches first: an integer must still go to the exact one after them.
            Just(json!(["double", "string", "long"])),
            Just(json!(["float", {"type": "enum", "name": "E", "symbols": ["NaN"]}, "int"])),
            proptest::collection::vec((inner, any::<bool>()), 1..5).prop_map(|fields| {
                let fields: Vec<Value> = fields
                    .into_iter()
                    .enumerate()
                    .map(|(i, (t, with_default))| {
                        let default = match &t {
                            Value::String(s) if s == "int" => Some(json!(7)),
                            Value::String(s) if s == "string" => Some(json!("d")),
                            Value::Array(b) if b.first() == Some(&json!("null")) => {
                                Some(Value::Null)
                            }
                            _ => None,
                        };
                        match default.filter(|_| with_default) {
                            Some(d) => json!({"name": format!("f{i}"), "type": t, "default": d}),
                            None => json!({"name": format!("f{i}"), "type": t}),
                        }
                    })
                    .collect();
                json!({"type": "record", "name": "R", "fields": fields})
            }),
        ]
    })
}

fn rename(value: &mut Value, counter: &mut usize) {
    match value {
        Value::Object(map) => {
            if map.contains_key("name")
                && map.contains_key("type")
                && map
                    .get("type")
                    .is_some_and(|t| t == "record" || t == "enum")
            {
                *counter += 1;
                map.insert("name".into(), json!(format!("N{counter}")));
            }
            for v in map.values_mut() {
                rename(v, counter);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rename(v, counter)),
        _ => {}
    }
}

/// A small deterministic generator: values shaped like the schema, with mistakes.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn wrong(&mut self) -> Value {
        [
            json!(null),
            json!(true),
            json!(3),
            json!(-2.5),
            json!("x"),
            json!([]),
            json!({}),
            json!(1u64 << 40),
            json!(u64::MAX),
            json!("NaN"),
            json!({"string": "t"}),
        ][(self.next() % 11) as usize]
            .clone()
    }
    fn value(&mut self, schema: &Value, depth: usize) -> Value {
        if self.chance(4) || depth > 6 {
            return self.wrong();
        }
        match schema {
            Value::String(t) => match t.as_str() {
                "null" => Value::Null,
                "boolean" => json!(self.chance(50)),
                "int" => json!((self.next() as i64) >> (self.next() % 64)),
                "long" => json!((self.next() as i64) >> (self.next() % 64)),
                "float" | "double" => match self.next() % 4 {
                    0 => json!((self.next() % 1000) as i64 - 500),
                    1 => json!(f64::from_bits(self.next())),
                    2 => json!(["NaN", "Infinity", "-Infinity"][(self.next() % 3) as usize]),
                    _ => json!(((self.next() % 10_000) as f64) / 7.0),
                },
                "string" | "bytes" => {
                    json!(["", "a", "é\"\\", "NaN", "A"][(self.next() % 5) as usize])
                }
                _ => self.wrong(),
            },
            Value::Array(branches) => {
                let pick = &branches[(self.next() as usize) % branches.len()];
                self.value(pick, depth + 1)
            }
            Value::Object(map) => match map.get("type").and_then(Value::as_str) {
                Some("enum") => json!(["A", "B", "NaN", "C"][(self.next() % 4) as usize]),
                Some("int") => json!((self.next() % 40_000) as i64),
                Some("long") => json!(self.next() as i64),
                Some("string") => json!("1481531d-ccc9-46d9-a56f-5b67459c0537"),
                Some("array") => {
                    let n = self.next() % 4;
                    Value::Array(
                        (0..n)
                            .map(|_| self.value(&map["items"], depth + 1))
                            .collect(),
                    )
                }
                Some("map") => {
                    let n = self.next() % 4;
                    let mut text = String::from("{");
                    for i in 0..n {
                        if i > 0 {
                            text.push(',');
                        }
                        let key = ["a", "b", "c", "a"][(self.next() % 4) as usize];
                        let v = self.value(&map["values"], depth + 1);
                        text.push_str(&format!("{}:{}", json!(key), text_of(&v)));
                    }
                    text.push('}');
                    Value::String(format!("\u{0}RAW{text}"))
                }
                Some("record") => {
                    let mut parts = Vec::new();
                    for field in map["fields"].as_array().unwrap() {
                        if field.get("default").is_some() && self.chance(30) {
                            continue;
                        }
                        let v = self.value(&field["type"], depth + 1);
                        parts.push(format!("{}:{}", json!(field["name"]), text_of(&v)));
                    }
                    if self.chance(10) && parts.len() > 1 {
                        parts.swap(0, 1);
                    }
                    if self.chance(5) {
                        parts.push(r#""zz":1"#.to_owned());
                    }
                    Value::String(format!("\u{0}RAW{{{}}}", parts.join(",")))
                }
                _ => self.wrong(),
            },
            _ => self.wrong(),
        }
    }
}

/// JSON text of a generated value: raw fragments (maps and records whose key order and
/// duplicates matter) are spliced in as written.
fn text_of(value: &Value) -> String {
    fn render(v: &Value, out: &mut String) {
        match v {
            Value::String(s) if s.starts_with("\u{0}RAW") => out.push_str(&s[4..]),
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    render(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    render(value, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Whatever the plan accepts, it encodes exactly as the tree does; whatever the tree
    /// refuses, the plan refuses too.
    #[test]
    fn the_plan_agrees_with_the_tree(schema in schema_strategy(), seed in 1u64..u64::MAX) {
        let mut schema = schema;
        rename(&mut schema, &mut 0);
        let Ok(parsed) = Schema::parse_str(&schema.to_string()) else {
            return Ok(());
        };
        let mut generator = Gen(seed);
        for _ in 0..8 {
            let value = generator.value(&schema, 0);
            let text = text_of(&value);
            let taken = fast(&parsed, &text);
            let slow = tree(&parsed, &text);
            if let Some(fast) = taken {
                prop_assert_eq!(Some(fast), slow, "{} for {}", text, schema);
            }
            let (by_name, by_field) = captures(&parsed, &text);
            prop_assert_eq!(by_name, by_field, "{} for {}", text, schema);
        }
    }
}

/// What a capture of the top-level fields `f0`, `f2`, `f4` and `missing` picks from `text`,
/// with the fields looked up by name and with the slots the plan found per field.
fn captures(schema: &Schema, text: &str) -> (Option<Vec<Captured>>, Option<Vec<Captured>>) {
    let plan = plan_of(schema);
    let fields: Vec<String> = ["f0", "f2", "f4", "missing"].map(str::to_owned).to_vec();
    let by_field = plan.field_slots(&fields);
    let run = |capture: Capture<'_>| {
        let mut capture = capture;
        let ok = plan.encode_json(text.as_bytes(), &mut Vec::new(), &mut capture);
        ok.then(|| capture.values().to_vec())
    };
    let (mut one, mut two) = (Slots::default(), Slots::default());
    (
        run(Capture::new(&fields, &mut one)),
        run(Capture::new(&fields, &mut two).by_field(&by_field)),
    )
}

/// The differential test above only means something if the fast path takes much of what the
/// tree encodes: count it over the same generators.
#[test]
fn the_fast_path_takes_most_well_formed_records() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut fast_ok, mut tree_ok) = (0, 0);
    for round in 0..300u64 {
        let mut schema = schema_strategy().new_tree(&mut runner).unwrap().current();
        rename(&mut schema, &mut 0);
        let Ok(parsed) = Schema::parse_str(&schema.to_string()) else {
            continue;
        };
        let mut generator = Gen(round * 7919 + 1);
        for _ in 0..20 {
            let text = text_of(&generator.value(&schema, 0));
            let (taken, slow) = (fast(&parsed, &text), tree(&parsed, &text));
            if let Some(fast) = &taken {
                assert_eq!(Some(fast), slow.as_ref(), "{text} for {schema}");
                fast_ok += 1;
            }
            tree_ok += usize::from(slow.is_some());
        }
    }
    eprintln!("fast path took {fast_ok} of {tree_ok} encodable records");
    assert!(
        tree_ok > 500,
        "the generator makes encodable records ({tree_ok})"
    );
    assert!(fast_ok * 2 > tree_ok, "fast {fast_ok} of {tree_ok}");
}

#[test]
fn wide_records_find_fields_by_name_not_alias() {
    let fields: Vec<String> = (0..12)
        .map(|i| format!(r#"{{"name":"f{i}","type":"int","aliases":["old{i}"]}}"#))
        .collect();
    let schema = Schema::parse_str(&format!(
        r#"{{"type":"record","name":"Wide","fields":[{}]}}"#,
        fields.join(",")
    ))
    .unwrap();
    let values: Vec<String> = (0..12).map(|i| format!(r#""f{i}":{i}"#)).collect();
    same(&schema, &format!("{{{}}}", values.join(",")));
    let aliased = format!("{{{},\"old11\":11}}", values[..11].join(","));
    assert_eq!(fast(&schema, &aliased), None);
    assert_eq!(tree(&schema, &aliased), None);
}

#[test]
fn recursive_types_and_types_used_many_times_are_planned_once() {
    let list = Schema::parse_str(
        r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},
            {"name":"next","type":["null","Node"],"default":null}]}"#,
    )
    .unwrap();
    same(&list, r#"{"v":1}"#);
    same(&list, r#"{"v":1,"next":null}"#);
    // A record in a union is an object there: left to the tree, which takes it.
    assert_eq!(fast(&list, r#"{"v":1,"next":{"v":2}}"#), None);
    assert!(tree(&list, r#"{"v":1,"next":{"v":2}}"#).is_some());
    let chain = Schema::parse_str(
        r#"{"type":"record","name":"Chain","fields":[{"name":"v","type":"int"},
            {"name":"next","type":{"type":"array","items":"Chain"}}]}"#,
    )
    .unwrap();
    let mut deep = String::from(r#"{"v":0,"next":[]}"#);
    for i in 1..40 {
        deep = format!(r#"{{"v":{i},"next":[{deep}]}}"#);
    }
    same(&chain, &deep);
    // Nesting past what the plan walks is left to the tree.
    for i in 40..120 {
        deep = format!(r#"{{"v":{i},"next":[{deep}]}}"#);
    }
    assert_eq!(fast(&chain, &deep), None);
    // Each level names the one below twice: 2^20 steps if types were expanded where used.
    let mut levels =
        vec![r#"{"type":"record","name":"L0","fields":[{"name":"x","type":"int"}]}"#.to_owned()];
    for i in 1..=20 {
        levels.push(format!(
            r#"{{"type":"record","name":"L{i}","fields":[{{"name":"a","type":{}}},{{"name":"b","type":"L{}"}}]}}"#,
            levels[i - 1],
            i - 1
        ));
    }
    let exploding = Schema::parse_str(levels.last().unwrap()).unwrap();
    assert_eq!(plan_of(&exploding).records.len(), 21);
}

#[test]
fn defaults_are_encoded_once_and_written_for_missing_fields() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":"x"},
            {"name":"b","type":{"type":"array","items":"long"},"default":[1,2]},
            {"name":"c","type":["null","int"],"default":null}]}"#,
    )
    .unwrap();
    for text in [r"{}", r#"{"b":[]}"#, r#"{"a":"y","c":3}"#, r#"{"c":null}"#] {
        same(&schema, text);
    }
}

#[test]
fn a_value_inside_a_larger_text_is_read_in_place() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[{"name":"f0","type":"long"},
            {"name":"f2","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}"#,
    )
    .unwrap();
    let plan = plan_of(&schema);
    let fields = vec!["f0".to_owned(), "f2".to_owned()];
    let mut slots = Slots::default();
    let text = r#"[{"f0":5,"f2":"B"}, {"f0":"no"}]"#;
    let mut reader = Reader::new(text);
    let mut taken = Vec::new();
    let refused = reader.array(|reader| {
        let mut capture = Capture::new(&fields, &mut slots);
        let mut out = Vec::new();
        if !plan.encode_in(reader, &mut out, &mut capture) {
            return Err(serde::de::Error::custom("declined"));
        }
        assert_eq!(capture.values(), [Captured::Int(5), Captured::Symbol(1)]);
        taken.push(out);
        Ok(())
    });
    assert!(refused.is_err());
    assert_eq!(taken, vec![vec![10, 2]]);
}

#[test]
fn a_deep_default_deep_in_a_record_is_left_to_the_tree() {
    // `pad` defaults to an array nested 60 levels deep; each `next` level is two more.
    let mut pad_type = json!("int");
    let mut pad_default = json!(1);
    for _ in 0..60 {
        pad_type = json!({"type": "array", "items": pad_type});
        pad_default = json!([pad_default]);
    }
    let schema = Schema::parse_str(
        &json!({"type": "record", "name": "Deep", "fields": [
            {"name": "v", "type": "int"},
            {"name": "pad", "type": pad_type, "default": pad_default},
            {"name": "next", "type": {"type": "array", "items": "Deep"}}]})
        .to_string(),
    )
    .unwrap();
    let chain = |levels: usize| {
        let mut text = String::from(r#"{"v":0,"next":[]}"#);
        for i in 1..levels {
            text = format!(r#"{{"v":{i},"next":[{text}]}}"#);
        }
        text
    };
    same(&schema, &chain(10));
    // Near the bottom the tree would write the default past its depth limit and refuse.
    let deep = chain(45);
    assert_eq!(tree(&schema, &deep), None);
    assert_eq!(fast(&schema, &deep), None);
}

#[test]
fn a_default_whose_records_nest_past_the_tree_limit_is_left_to_the_tree() {
    // R1 … R127 each default their one field to the next record, all defined flat as union
    // branches: the default `{}` of `Mid.r` nests 127 records deep once the tree fills it in,
    // although its own text nests one level.
    let mut branches = vec![serde_json::json!("null")];
    branches.push(json!({"type": "record", "name": "R127",
        "fields": [{"name": "x", "type": "int", "default": 0}]}));
    for i in (1..127).rev() {
        branches.push(json!({"type": "record", "name": format!("R{i}"),
            "fields": [{"name": "n", "type": format!("R{}", i + 1), "default": {}}]}));
    }
    let schema = Schema::parse_str(
        &json!({"type": "record", "name": "Root", "fields": [
            {"name": "defs", "type": branches, "default": null},
            {"name": "m", "type": {"type": "record", "name": "Mid",
                "fields": [{"name": "r", "type": "R1", "default": {}}]}}]})
        .to_string(),
    )
    .unwrap();
    let text = r#"{"m":{}}"#;
    assert_eq!(tree(&schema, text), None, "the tree refuses the depth");
    assert_eq!(fast(&schema, text), None, "so the plan must not take it");
}
