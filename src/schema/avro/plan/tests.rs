#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use apache_avro::Schema;
use proptest::prelude::*;
use serde_json::Value;

use super::Plan;
use crate::json_text::Reader;
use crate::schema::avro::fixtures::PAYMENT;
use crate::schema::avro::names::Names;
use crate::schema::avro::stream::encode_json;
use crate::schema::avro::stream::tests::{Gen, rename, schema_strategy, text_of};
use crate::schema::capture::{Capture, Captured, Slots};

/// What an encoder made of a text: the bytes (or `None`: declined) and the captured fields.
type Outcome = (Option<Vec<u8>>, Vec<Captured>);

const FIELDS: [&str; 4] = ["f0", "f2", "f4", "missing"];

fn run(encode: impl FnOnce(&mut Vec<u8>, &mut Capture<'_>) -> bool) -> Outcome {
    let fields: Vec<String> = FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let mut slots = Slots::default();
    let mut capture = Capture::new(&fields, &mut slots);
    let mut out = vec![9];
    let ok = encode(&mut out, &mut capture);
    let captured = capture.values().to_vec();
    if ok {
        (Some(out.split_off(1)), captured)
    } else {
        assert_eq!(out, vec![9], "a refusal leaves the buffer as it was");
        (None, Vec::new())
    }
}

fn streamed(schema: &Schema, text: &str) -> Outcome {
    let names = Names::new([schema]);
    run(|out, capture| encode_json(schema, &names, text.as_bytes(), out, capture))
}

fn planned(plan: &Plan, text: &str) -> Outcome {
    run(|out, capture| plan.encode_json(text.as_bytes(), out, capture))
}

fn plan_of(schema: &Schema) -> Option<Plan> {
    Plan::compile(schema, &Names::new([schema]))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The plan is the streaming encoder done ahead of time: for every record it takes and
    /// declines the same, writes the same bytes and captures the same fields.
    #[test]
    fn the_plan_agrees_with_the_streaming_encoder(
        schema in schema_strategy(),
        seed in 1u64..u64::MAX,
    ) {
        let mut schema = schema;
        rename(&mut schema, &mut 0);
        let Ok(parsed) = Schema::parse_str(&schema.to_string()) else {
            return Ok(());
        };
        let plan = plan_of(&parsed);
        prop_assert!(plan.is_some(), "no plan for {}", schema);
        let plan = plan.unwrap();
        let mut generator = Gen(seed);
        for _ in 0..8 {
            let text = text_of(&generator.value(&schema, 0));
            prop_assert_eq!(planned(&plan, &text), streamed(&parsed, &text), "{} for {}", text, schema);
        }
    }
}

#[test]
fn the_plan_takes_what_the_stream_takes_over_the_generators() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut taken = 0;
    for round in 0..300u64 {
        let mut schema = schema_strategy().new_tree(&mut runner).unwrap().current();
        rename(&mut schema, &mut 0);
        let Ok(parsed) = Schema::parse_str(&schema.to_string()) else {
            continue;
        };
        let plan = plan_of(&parsed).unwrap();
        let mut generator = Gen(round * 7919 + 1);
        for _ in 0..20 {
            let text = text_of(&generator.value(&schema, 0));
            let outcome = planned(&plan, &text);
            assert_eq!(outcome, streamed(&parsed, &text), "{text} for {schema}");
            taken += usize::from(outcome.0.is_some());
        }
    }
    assert!(
        taken > 500,
        "the generators make records the plan takes ({taken})"
    );
}

#[test]
fn every_kind_of_type_is_planned_and_agrees() {
    let schema = Schema::parse_str(PAYMENT).unwrap();
    let plan = plan_of(&schema).expect("bytes, fixed and decimals plan as opaque steps");
    let value = serde_json::json!({"b": true, "i": -7, "l": 1_234_567_890_123i64, "f": 1.5,
        "d": -0.25, "s": "héllo", "by": "AB", "n": null, "addr": {"city": "Oslo", "zip": 150},
        "currency": "USD", "hash": "abcd", "items": [{"sku": "a", "amount": 1}],
        "tags": {"a": "1", "b": "2"}, "note": "x", "day": 19_000, "at": 1_700_000_000_000i64,
        "id": "1481531d-ccc9-46d9-a56f-5b67459c0537", "price": "\u{4}\u{d2}"});
    let text = value.to_string();
    assert_eq!(planned(&plan, &text), streamed(&schema, &text));
}

#[test]
fn recursive_and_exploding_schemas_get_no_plan() {
    let list = Schema::parse_str(
        r#"{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},
            {"name":"next","type":["null","Node"],"default":null}]}"#,
    )
    .unwrap();
    assert!(
        plan_of(&list).is_none(),
        "recursion is the streaming encoder's"
    );
    // Each level names the one below twice: 2^20 steps once expanded.
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
    assert!(plan_of(&exploding).is_none());
}

#[test]
fn defaults_are_encoded_once_and_written_for_missing_fields() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":"x"},
            {"name":"b","type":{"type":"array","items":"long"},"default":[1,2]},
            {"name":"c","type":["null","int"],"default":null}]}"#,
    )
    .unwrap();
    let plan = plan_of(&schema).unwrap();
    for text in [r"{}", r#"{"b":[]}"#, r#"{"a":"y","c":3}"#, r#"{"c":null}"#] {
        let outcome = planned(&plan, text);
        assert!(outcome.0.is_some(), "{text}");
        assert_eq!(outcome, streamed(&schema, text), "{text}");
    }
}

#[test]
fn a_value_inside_a_larger_text_is_read_in_place() {
    let schema = Schema::parse_str(
        r#"{"type":"record","name":"R","fields":[{"name":"f0","type":"long"},
            {"name":"f2","type":{"type":"enum","name":"E","symbols":["A","B"]}}]}"#,
    )
    .unwrap();
    let plan = plan_of(&schema).unwrap();
    let text = r#"[{"f0":5,"f2":"B"}, {"f0":"no"}]"#;
    let mut reader = Reader::new(text);
    let mut results = Vec::new();
    let mut taken: Vec<Value> = Vec::new();
    reader
        .array(|reader| {
            let outcome = run(|out, capture| plan.encode_in(reader, out, capture));
            results.push(outcome.0.is_some());
            if let Some(bytes) = outcome.0 {
                taken.push(serde_json::json!(bytes));
                assert_eq!(outcome.1[0], Captured::Int(5));
                assert_eq!(outcome.1[1], Captured::Str("B".into()));
                Ok(())
            } else {
                Err(serde::de::Error::custom("declined"))
            }
        })
        .unwrap_err();
    assert_eq!(results, vec![true, false]);
    assert_eq!(taken, vec![serde_json::json!([10, 2])]);
}
