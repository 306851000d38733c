#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use serde_json::{Value, json};

use super::kind::Kind;
use super::*;

/// BACKWARD, FORWARD, FULL and LENIENT-BACKWARD verdicts for `old` → `new`.
fn verdicts(old: &Value, new: &Value) -> [bool; 4] {
    let backward = incompatibilities(new, old, Policy::Strict).is_empty();
    let forward = incompatibilities(old, new, Policy::Strict).is_empty();
    let lenient = incompatibilities(new, old, Policy::Lenient).is_empty();
    [backward, forward, backward && forward, lenient]
}

/// Every difference from `original` (writer) to `update` (reader), as "KIND #/path", sorted,
/// and whether STRICT accepts the pair.
fn assert_diff(original: Value, update: Value, expected: &[&str], compatible: bool) {
    let mut got: Vec<String> = differences(&original, &update, Policy::Strict)
        .iter()
        .map(|d| format!("{} {}", d.kind, d.location))
        .collect();
    got.sort();
    let mut want: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "{original} -> {update}");
    let verdict = incompatibilities(&update, &original, Policy::Strict).is_empty();
    assert_eq!(verdict, compatible, "{original} -> {update}: {got:?}");
}

const OK: bool = true;
const NO: bool = false;

// ---- The plan's table (docs/plan-issue-9-schemas.md §3.1), old → new: B, F, U, LENIENT-B ----

#[test]
fn plan_table_j1_to_j12() {
    let open_a = json!({"type":"object","properties":{"a":{"type":"integer"}}});
    let closed_a =
        json!({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false});
    let rows: Vec<(&str, Value, Value, [bool; 4])> = vec![
        (
            "J1 property added to an open model",
            open_a.clone(),
            json!({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}}}),
            [NO, OK, NO, OK],
        ),
        (
            "J2 optional property added to a closed model",
            closed_a.clone(),
            json!({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
                   "additionalProperties":false}),
            [OK, NO, NO, OK],
        ),
        (
            "J3 required property without default added to a closed model",
            closed_a,
            json!({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}},
                   "required":["b"],"additionalProperties":false}),
            [NO, NO, NO, NO],
        ),
        (
            "J4 property removed from an open model",
            json!({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"}}}),
            open_a,
            [OK, NO, NO, OK],
        ),
        (
            "J5 integer to number",
            json!({"type":"integer"}),
            json!({"type":"number"}),
            [OK, NO, NO, OK],
        ),
        (
            "J6 enum value added",
            json!({"type":"string","enum":["r"]}),
            json!({"type":"string","enum":["r","g"]}),
            [OK, NO, NO, OK],
        ),
        (
            "J7 maxLength raised",
            json!({"type":"string","maxLength":10}),
            json!({"type":"string","maxLength":12}),
            [OK, NO, NO, OK],
        ),
        (
            "J8 required dropped",
            json!({"type":"object","properties":{"a":{"type":"string"}},"required":["a"]}),
            json!({"type":"object","properties":{"a":{"type":"string"}},"required":[]}),
            [OK, NO, NO, OK],
        ),
        (
            "J9 additionalProperties false to true",
            json!({"type":"object","properties":{"a":{"type":"string"}},
                   "additionalProperties":false}),
            json!({"type":"object","properties":{"a":{"type":"string"}},
                   "additionalProperties":true}),
            [OK, NO, NO, OK],
        ),
        (
            "J10 oneOf branch added",
            json!({"oneOf":[{"type":"string"}]}),
            json!({"oneOf":[{"type":"string"},{"type":"number"}]}),
            [OK, NO, NO, OK],
        ),
        (
            "J11 string to number",
            json!({"type":"string"}),
            json!({"type":"number"}),
            [NO, NO, NO, NO],
        ),
        (
            "J12 annotations changed",
            json!({"type":"object","title":"Order","description":"an order",
                   "properties":{"id":{"type":"string","description":"key"}}}),
            json!({"type":"object","title":"Purchase","description":"a purchase",
                   "properties":{"id":{"type":"string","description":"order key","title":"Id"}}}),
            [OK, OK, OK, OK],
        ),
    ];
    for (name, old, new, expected) in rows {
        assert_eq!(
            verdicts(&old, &new),
            expected,
            "{name}: [B, F, U, LENIENT-B]"
        );
    }
}

#[test]
fn plan_table_differences_are_the_expected_kinds() {
    // J1 BACKWARD: the reason it fails, and its location.
    let found = incompatibilities(
        &json!({"properties":{"a":{},"b":{"type":"string"}}}),
        &json!({"properties":{"a":{}}}),
        Policy::Strict,
    );
    assert_eq!(
        found,
        vec![Difference {
            kind: "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
            location: "#/properties/b".into()
        }]
    );
    // J10 FORWARD.
    let found = incompatibilities(
        &json!({"oneOf":[{"type":"string"}]}),
        &json!({"oneOf":[{"type":"string"},{"type":"number"}]}),
        Policy::Strict,
    );
    assert_eq!(
        found.iter().map(|d| d.kind).collect::<Vec<_>>(),
        ["SUM_TYPE_NARROWED"]
    );
}

// ---- Pairs checked against Confluent's diff-schema-examples.json (our own schemas) ----

#[test]
fn string_bounds_and_patterns() {
    let s = |extra: Value| {
        let mut v = json!({"type":"string"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    assert_diff(
        s(json!({"minLength":2})),
        s(json!({"minLength":3})),
        &["MIN_LENGTH_INCREASED #/minLength"],
        NO,
    );
    assert_diff(
        s(json!({"minLength":3})),
        s(json!({"minLength":1})),
        &["MIN_LENGTH_DECREASED #/minLength"],
        OK,
    );
    assert_diff(
        s(json!({"maxLength":40})),
        s(json!({"maxLength":8})),
        &["MAX_LENGTH_DECREASED #/maxLength"],
        NO,
    );
    assert_diff(
        s(json!({"maxLength":40})),
        s(json!({})),
        &["MAX_LENGTH_REMOVED #/maxLength"],
        OK,
    );
    assert_diff(
        s(json!({})),
        s(json!({"minLength":1})),
        &["MIN_LENGTH_ADDED #/minLength"],
        NO,
    );
    assert_diff(
        s(json!({"pattern":"^[A-Z]{3}$"})),
        s(json!({})),
        &["PATTERN_REMOVED #/pattern"],
        OK,
    );
    assert_diff(
        s(json!({})),
        s(json!({"pattern":"^[A-Z]{3}$"})),
        &["PATTERN_ADDED #/pattern"],
        NO,
    );
    assert_diff(
        s(json!({"pattern":"^[A-Z]{3}$"})),
        s(json!({"pattern":"^[A-Z]{2,3}$"})),
        &["PATTERN_CHANGED #/pattern"],
        NO,
    );
    assert_diff(
        s(json!({"pattern":"^x+$"})),
        s(json!({"pattern":"^x+$"})),
        &[],
        OK,
    );
}

#[test]
fn numeric_bounds_and_multiple_of() {
    let n = |extra: Value| {
        let mut v = json!({"type":"number"});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    assert_diff(
        n(json!({"maximum":100})),
        n(json!({"maximum":250})),
        &["MAXIMUM_INCREASED #/maximum"],
        OK,
    );
    assert_diff(
        n(json!({"maximum":100})),
        n(json!({"maximum":99.5})),
        &["MAXIMUM_DECREASED #/maximum"],
        NO,
    );
    assert_diff(
        n(json!({"minimum":0})),
        n(json!({"minimum":-5})),
        &["MINIMUM_DECREASED #/minimum"],
        OK,
    );
    assert_diff(
        n(json!({"minimum":0})),
        n(json!({"minimum":1})),
        &["MINIMUM_INCREASED #/minimum"],
        NO,
    );
    assert_diff(
        n(json!({"minimum":0})),
        n(json!({})),
        &["MINIMUM_REMOVED #/minimum"],
        OK,
    );
    assert_diff(
        n(json!({})),
        n(json!({"maximum":7})),
        &["MAXIMUM_ADDED #/maximum"],
        NO,
    );
    assert_diff(
        n(json!({"exclusiveMaximum":10})),
        n(json!({"exclusiveMaximum":5})),
        &["EXCLUSIVE_MAXIMUM_DECREASED #/exclusiveMaximum"],
        NO,
    );
    assert_diff(
        n(json!({"exclusiveMinimum":10})),
        n(json!({"exclusiveMinimum":5})),
        &["EXCLUSIVE_MINIMUM_DECREASED #/exclusiveMinimum"],
        OK,
    );
    assert_diff(
        n(json!({"multipleOf":6})),
        n(json!({"multipleOf":3})),
        &["MULTIPLE_OF_REDUCED #/multipleOf"],
        OK,
    );
    assert_diff(
        n(json!({"multipleOf":3})),
        n(json!({"multipleOf":6})),
        &["MULTIPLE_OF_EXPANDED #/multipleOf"],
        NO,
    );
    assert_diff(
        n(json!({"multipleOf":4})),
        n(json!({"multipleOf":6})),
        &["MULTIPLE_OF_CHANGED #/multipleOf"],
        NO,
    );
    assert_diff(
        n(json!({"multipleOf":6})),
        n(json!({})),
        &["MULTIPLE_OF_REMOVED #/multipleOf"],
        OK,
    );
    // Decimal steps are exact: 0.3 is a multiple of 0.1, and 0.50 is 0.5.
    assert_diff(
        n(json!({"multipleOf":0.3})),
        n(json!({"multipleOf":0.1})),
        &["MULTIPLE_OF_REDUCED #/multipleOf"],
        OK,
    );
    assert_diff(
        n(json!({"multipleOf":0.5})),
        n(json!({"multipleOf":0.50})),
        &[],
        OK,
    );
    assert_diff(
        json!({"type":"number"}),
        json!({"type":"integer"}),
        &["TYPE_NARROWED #/"],
        NO,
    );
    assert_diff(
        json!({"type":"integer"}),
        json!({"type":"number"}),
        &["TYPE_EXTENDED #/"],
        OK,
    );
}

#[test]
fn enums_consts_and_not() {
    assert_diff(
        json!({"properties":{"size":{"const":"S"}}}),
        json!({"properties":{"size":{"const":"M"}}}),
        &["ENUM_ARRAY_CHANGED #/properties/size/const"],
        NO,
    );
    assert_diff(
        json!({"enum":[1,2,3]}),
        json!({"enum":[1,2]}),
        &["ENUM_ARRAY_NARROWED #/enum"],
        NO,
    );
    assert_diff(
        json!({"enum":[1,2]}),
        json!({"enum":[2,3]}),
        &["ENUM_ARRAY_CHANGED #/enum"],
        NO,
    );
    // `type` plus `enum` is a synthetic allOf; dropping the enum keeps the type branch.
    assert_diff(
        json!({"type":"string","enum":["xs","xl"]}),
        json!({"type":"string"}),
        &["PRODUCT_TYPE_NARROWED #/"],
        OK,
    );
    assert_diff(
        json!({"not":{"type":"number"}}),
        json!({"not":{"type":"integer"}}),
        &["NOT_TYPE_NARROWED #/not"],
        OK,
    );
    assert_diff(
        json!({"not":{"type":"integer"}}),
        json!({"not":{"type":"number"}}),
        &["NOT_TYPE_EXTENDED #/not"],
        NO,
    );
}

#[test]
fn combined_schemas() {
    assert_diff(
        json!({"allOf":[{"type":"integer"},{"enum":[1,2]}]}),
        json!({"allOf":[{"enum":[1,2,3]},{"type":"integer"}]}),
        &["ENUM_ARRAY_EXTENDED #/allOf/1/enum"],
        OK,
    );
    assert_diff(
        json!({"allOf":[{"type":"integer"},{"enum":[1,2]}]}),
        json!({"allOf":[{"type":"integer"},{"enum":[5]}]}),
        &["COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"],
        NO,
    );
    assert_diff(
        json!({"allOf":[{"type":"string"},{"maxLength":9}]}),
        json!({"allOf":[{"type":"string"}]}),
        &["PRODUCT_TYPE_NARROWED #/"],
        OK,
    );
    assert_diff(
        json!({"anyOf":[{"type":"boolean"}]}),
        json!({"anyOf":[{"type":"null"}]}),
        &["COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"],
        NO,
    );
    assert_diff(
        json!({"anyOf":[{"type":"boolean"}]}),
        json!({"anyOf":[{"type":"null"},{"type":"boolean"}]}),
        &["SUM_TYPE_EXTENDED #/"],
        OK,
    );
    assert_diff(
        json!({"anyOf":[{"type":"boolean"}]}),
        json!({"allOf":[{"type":"boolean"}]}),
        &["COMBINED_TYPE_EXTENDED #/"],
        OK,
    );
    assert_diff(
        json!({"anyOf":[{"type":"boolean"},{"type":"null"}]}),
        json!({"allOf":[{"type":"boolean"}]}),
        &["COMBINED_TYPE_CHANGED #/"],
        NO,
    );
    // A branch whose own content changed cannot be matched.
    assert_diff(
        json!({"oneOf":[{"properties":{"n":{"type":"integer"}}}]}),
        json!({"oneOf":[{"properties":{"n":{"type":"string"}}}]}),
        &["COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"],
        NO,
    );
    // A single schema becoming one branch of a oneOf, or a type array growing.
    assert_diff(
        json!({"type":"boolean"}),
        json!({"oneOf":[{"type":"string"},{"type":"boolean"}]}),
        &["SUM_TYPE_EXTENDED #/"],
        OK,
    );
    assert_diff(
        json!({"type":"string","minLength":4}),
        json!({"oneOf":[{"type":"null"},{"type":"string"}]}),
        &["MIN_LENGTH_REMOVED #/minLength", "SUM_TYPE_EXTENDED #/"],
        OK,
    );
    assert_diff(
        json!({"type":["array"]}),
        json!({"type":["array","null"]}),
        &["SUM_TYPE_EXTENDED #/"],
        OK,
    );
    assert_diff(
        json!({"type":["string","null"]}),
        json!({"type":"string"}),
        &["TYPE_CHANGED #/"],
        NO,
    );
    // A single-branch combined schema compares as its branch.
    assert_diff(
        json!({"oneOf":[{"type":"string","maxLength":5}]}),
        json!({"type":"string","maxLength":8}),
        &["MAX_LENGTH_INCREASED #/maxLength"],
        OK,
    );
}

#[test]
fn open_and_closed_object_models() {
    assert_diff(
        json!({"properties":{"sku":{"type":"string"}}}),
        json!({"properties":{"code":{"type":"string"}}}),
        &[
            "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/code",
            "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/sku",
        ],
        NO,
    );
    assert_diff(
        json!({"properties":{"qty":{"type":"integer"}}}),
        json!({"properties":{"qty":{"type":"string"}}}),
        &["TYPE_CHANGED #/properties/qty"],
        NO,
    );
    assert_diff(
        json!({"additionalProperties":true}),
        json!({"additionalProperties":true,"properties":{"note":{}}}),
        &["PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/properties/note"],
        OK,
    );
    assert_diff(
        json!({"additionalProperties":false,"properties":{"legacy":false}}),
        json!({"additionalProperties":false}),
        &["PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/legacy"],
        OK,
    );
    assert_diff(
        json!({"additionalProperties":false,"properties":{"qty":{"type":"integer"}}}),
        json!({"additionalProperties":false}),
        &["PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/qty"],
        NO,
    );
    assert_diff(
        json!({"additionalProperties":false,"properties":{}}),
        json!({"additionalProperties":false,"properties":{"qty":{"type":"integer","default":1}},
               "required":["qty"]}),
        &["REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/qty"],
        OK,
    );
    assert_diff(
        json!({"additionalProperties":true}),
        json!({"additionalProperties":false}),
        &["ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"],
        NO,
    );
    assert_diff(
        json!({"properties":{}}),
        json!({"additionalProperties":{"type":"boolean"}}),
        &["ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties"],
        NO,
    );
    assert_diff(
        json!({"additionalProperties":{"type":"boolean"}}),
        json!({"additionalProperties":{"type":"null"}}),
        &["TYPE_CHANGED #/additionalProperties"],
        NO,
    );
    // Property names are escaped as JSON pointer segments.
    assert_diff(
        json!({"properties":{"a/b":{"type":"string"}}}),
        json!({"properties":{"a/b":{"type":"null"}}}),
        &["TYPE_CHANGED #/properties/a~1b"],
        NO,
    );
}

#[test]
fn required_property_with_empty_schema_added_to_open_model() {
    // Our departure from Confluent (which checks "empty schema" first and accepts this): old
    // data without `trace` fails a reader that requires it.
    assert_diff(
        json!({"type":"object"}),
        json!({"type":"object","properties":{"trace":{}},"required":["trace"]}),
        &["REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/trace"],
        NO,
    );
    assert_diff(
        json!({"type":"object"}),
        json!({"type":"object","properties":{"trace":{"default":""}},"required":["trace"]}),
        &["PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/properties/trace"],
        OK,
    );
}

#[test]
fn partially_open_object_models() {
    // patternProperties (an ECMA regex, matched anywhere in the name) covers the new property.
    assert_diff(
        json!({"additionalProperties":false,
               "patternProperties":{"^[a-z]+_id$":{"type":"integer"}}}),
        json!({"additionalProperties":false,"patternProperties":{"^[a-z]+_id$":{"type":"integer"}},
               "properties":{"user_id":{"type":"number"}}}),
        &[
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/user_id",
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/user_id",
            "TYPE_EXTENDED #/properties/user_id",
        ],
        OK,
    );
    assert_diff(
        json!({"additionalProperties":{"type":"integer"}}),
        json!({"additionalProperties":{"type":"integer"},"properties":{"tag":{"type":"string"}}}),
        &[
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/tag",
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/tag",
            "TYPE_CHANGED #/properties/tag",
        ],
        NO,
    );
    assert_diff(
        json!({"additionalProperties":{"type":"integer"}}),
        json!({"additionalProperties":{"type":"integer"},"properties":{"n":{"type":"integer"}},
               "required":["n"]}),
        &[
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/n",
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/n",
        ],
        NO,
    );
    assert_diff(
        json!({"additionalProperties":false,"properties":{"nick":{"type":"string"}}}),
        json!({"additionalProperties":{"anyOf":[{"type":"string"},{"type":"null"}]}}),
        &[
            "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties",
            "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/nick",
            "SUM_TYPE_EXTENDED #/properties/nick",
        ],
        OK,
    );
    assert_diff(
        json!({"additionalProperties":false,"properties":{"nick":{"type":"string"}}}),
        json!({"additionalProperties":{"type":"boolean"}}),
        &[
            "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties",
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/nick",
            "TYPE_CHANGED #/properties/nick",
        ],
        NO,
    );
    // 2019-09 unevaluatedProperties as the partial schema.
    assert_diff(
        json!({"unevaluatedProperties":{"type":"string"}}),
        json!({"unevaluatedProperties":{"type":"string"},"properties":{"city":{"type":"string"}}}),
        &[
            "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/city",
            "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/city",
        ],
        OK,
    );
}

#[test]
fn required_and_dependencies() {
    let props = json!({"zip":{"type":"string"},"city":{"type":"string"}});
    assert_diff(
        json!({"properties":props,"required":["zip"]}),
        json!({"properties":props,"required":["city"]}),
        &[
            "REQUIRED_ATTRIBUTE_ADDED #/required/city",
            "REQUIRED_ATTRIBUTE_REMOVED #/required/zip",
        ],
        NO,
    );
    assert_diff(
        json!({"properties":{"zip":{"type":"string"}}}),
        json!({"properties":{"zip":{"type":"string","default":"00000"}},"required":["zip"]}),
        &[
            "DEFAULT_CHANGED #/properties/zip",
            "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED #/required/zip",
        ],
        OK,
    );
    assert_diff(
        json!({"properties":props,"dependencies":{"zip":["city"]}}),
        json!({"properties":props,"dependencies":{"city":["zip"]}}),
        &[
            "DEPENDENCY_ARRAY_ADDED #/dependencies/city",
            "DEPENDENCY_ARRAY_REMOVED #/dependencies/zip",
        ],
        NO,
    );
    assert_diff(
        json!({"dependentRequired":{"zip":["city","street"]}}),
        json!({"dependentRequired":{"zip":["city"]}}),
        &["DEPENDENCY_ARRAY_NARROWED #/dependencies/zip"],
        OK,
    );
    assert_diff(
        json!({"dependencies":{"zip":{"required":["city"]},"city":{"maxProperties":3}}}),
        json!({"dependencies":{"zip":{"required":["city"]}}}),
        &["DEPENDENCY_SCHEMA_REMOVED #/dependencies/city"],
        OK,
    );
    assert_diff(
        json!({"dependentSchemas":{"zip":{"type":"object"}}}),
        json!({"dependentSchemas":{"zip":{"type":"array"}}}),
        &["TYPE_CHANGED #/dependencies/zip"],
        NO,
    );
    assert_diff(
        json!({"minProperties":1}),
        json!({"minProperties":3}),
        &["MIN_PROPERTIES_INCREASED #/minProperties"],
        NO,
    );
    assert_diff(
        json!({"maxProperties":2}),
        json!({"maxProperties":4}),
        &["MAX_PROPERTIES_INCREASED #/maxProperties"],
        OK,
    );
}

#[test]
fn arrays_items_and_tuples() {
    assert_diff(
        json!({"type":"array"}),
        json!({"type":"array","items":{"type":"integer"}}),
        &["SCHEMA_ADDED #/items"],
        NO,
    );
    assert_diff(
        json!({"type":"array","items":{"type":"integer"}}),
        json!({"type":"array"}),
        &["SCHEMA_REMOVED #/items"],
        OK,
    );
    assert_diff(
        json!({"type":"array","items":{"type":"integer"}}),
        json!({"type":"array","items":{"type":"boolean"}}),
        &["TYPE_CHANGED #/items"],
        NO,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"boolean"},{"type":"string"}]}),
        json!({"type":"array"}),
        &[
            "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/0",
            "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1",
        ],
        OK,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"boolean"}]}),
        json!({"type":"array","items":[{"type":"boolean"},{"type":"string"}]}),
        &["ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"],
        NO,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"boolean"}],"additionalItems":false}),
        json!({"type":"array","items":[{"type":"boolean"},{"type":"string"}],
               "additionalItems":false}),
        &["ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1"],
        OK,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"boolean"},{"type":"string"}],
               "additionalItems":false}),
        json!({"type":"array","items":[{"type":"boolean"}],"additionalItems":false}),
        &["ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1"],
        NO,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"null"}],
               "additionalItems":{"type":"integer","minimum":0}}),
        json!({"type":"array","items":[{"type":"null"},{"type":"number"}],
               "additionalItems":{"type":"integer","minimum":0}}),
        &[
            "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1",
            "MINIMUM_REMOVED #/items/1/minimum",
            "TYPE_EXTENDED #/items/1",
        ],
        OK,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"null"}],"additionalItems":{"type":"integer"}}),
        json!({"type":"array","items":[{"type":"null"},{"type":"integer","minimum":0}],
               "additionalItems":{"type":"integer"}}),
        &[
            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1",
            "MINIMUM_ADDED #/items/1/minimum",
        ],
        NO,
    );
    assert_diff(
        json!({"type":"array","items":[{"type":"null"},{"type":"integer"}],
               "additionalItems":{"type":"number"}}),
        json!({"type":"array","items":[{"type":"null"}],"additionalItems":{"type":"number"}}),
        &[
            "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1",
            "TYPE_EXTENDED #/items/1",
        ],
        OK,
    );
    // 2020-12: prefixItems are the tuple and `items` is what follows it.
    assert_diff(
        json!({"type":"array","prefixItems":[{"type":"string"}],"items":false}),
        json!({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":true}),
        &[
            "ADDITIONAL_ITEMS_ADDED #/additionalItems",
            "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1",
        ],
        OK,
    );
    assert_diff(
        json!({"additionalItems":true}),
        json!({"additionalItems":false}),
        &["ADDITIONAL_ITEMS_REMOVED #/additionalItems"],
        NO,
    );
    assert_diff(
        json!({"type":"array","maxItems":5}),
        json!({"type":"array","maxItems":3}),
        &["MAX_ITEMS_DECREASED #/maxItems"],
        NO,
    );
    assert_diff(
        json!({"type":"array","minItems":2}),
        json!({"type":"array"}),
        &["MIN_ITEMS_REMOVED #/minItems"],
        OK,
    );
    assert_diff(
        json!({"type":"array","uniqueItems":true}),
        json!({"type":"array"}),
        &["UNIQUE_ITEMS_REMOVED #/uniqueItems"],
        OK,
    );
    assert_diff(
        json!({"type":"array"}),
        json!({"type":"array","uniqueItems":true}),
        &["UNIQUE_ITEMS_ADDED #/uniqueItems"],
        NO,
    );
}

#[test]
fn boolean_schemas() {
    assert_diff(json!(true), json!(false), &["TYPE_CHANGED #/"], NO);
    assert_diff(json!(false), json!(true), &[], OK);
    assert_diff(json!(false), json!({"type":"string"}), &[], OK);
    assert_diff(
        json!(true),
        json!({"type":"string"}),
        &["TYPE_CHANGED #/"],
        NO,
    );
    assert_diff(json!({"type":"string"}), json!(true), &[], OK);
    assert_diff(json!({}), json!(true), &[], OK);
    assert_diff(json!({"properties":{"x":{}}}), json!({}), &[], OK);
    assert_diff(
        json!({"type":"array","additionalItems":true,"items":[{"type":"string"}]}),
        json!({"type":"array","additionalItems":true,"items":[{"type":"string"},true]}),
        &["ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"],
        OK,
    );
    assert_diff(
        json!({"type":"array","additionalItems":false,"items":[{"type":"string"},false]}),
        json!({"type":"array","additionalItems":false,"items":[{"type":"string"}]}),
        &["ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1"],
        OK,
    );
}

#[test]
fn refs_to_definitions() {
    assert_diff(
        json!({"type":"array","items":{"$ref":"#/definitions/line"},
               "definitions":{"line":{"type":"object"}}}),
        json!({"type":"array","items":{"$ref":"#/definitions/line"},
               "definitions":{"line":{"type":"array"}}}),
        &["TYPE_CHANGED #/items"],
        NO,
    );
    assert_diff(
        json!({"type":"integer"}),
        json!({"$ref":"#/$defs/n","$defs":{"n":{"type":"integer"}}}),
        &[],
        OK,
    );
    assert_diff(
        json!({"$ref":"#/$defs/n","$defs":{"n":{"type":"integer"}}}),
        json!({"type":"number"}),
        &["TYPE_EXTENDED #/"],
        OK,
    );
    // Percent- and tilde-escaped pointers.
    assert_diff(
        json!({"$ref":"#/$defs/a~1b%20c","$defs":{"a/b c":{"type":"string"}}}),
        json!({"type":"string","maxLength":3}),
        &["MAX_LENGTH_ADDED #/maxLength"],
        NO,
    );
}

#[test]
fn external_refs_compare_by_string() {
    let customer = json!({"properties":{"who":{"$ref":"customer.json"}}});
    assert_diff(customer.clone(), customer.clone(), &[], OK);
    assert_diff(
        customer,
        json!({"properties":{"who":{"$ref":"person.json"}}}),
        &["TYPE_CHANGED #/properties/who"],
        NO,
    );
    assert_diff(
        json!({"$ref":"customer.json"}),
        json!({"type":"object"}),
        &["TYPE_CHANGED #/"],
        NO,
    );
    assert_diff(json!({"$ref":"customer.json"}), json!({}), &[], OK);
    // A pointer into nothing is no better than an external reference.
    assert_diff(
        json!({"$ref":"#/nowhere"}),
        json!({"$ref":"#/nowhere"}),
        &[],
        OK,
    );
}

#[test]
fn recursive_refs_terminate() {
    let list = |value_type: &str| {
        json!({
            "$ref": "#/$defs/node",
            "$defs": {"node": {"type":"object","properties":{
                "value": {"type": value_type},
                "next": {"oneOf":[{"type":"null"},{"$ref":"#/$defs/node"}]}
            }}}
        })
    };
    assert_diff(list("integer"), list("integer"), &[], OK);
    assert_diff(
        list("integer"),
        list("number"),
        &["TYPE_EXTENDED #/properties/value"],
        OK,
    );
    // The narrowing is also seen where the recursion re-enters the pair (second pass), which
    // fails the `next` union: Confluent reports the same two.
    assert_diff(
        list("number"),
        list("integer"),
        &[
            "COMBINED_TYPE_SUBSCHEMAS_CHANGED #/properties/next",
            "TYPE_NARROWED #/properties/value",
        ],
        NO,
    );
    // The whole document referring to itself, and a pure ref loop.
    let tree = json!({"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#"}}}});
    assert!(incompatibilities(&tree, &tree, Policy::Strict).is_empty());
    let looped = json!({"$ref":"#/definitions/a", "definitions":{
        "a":{"$ref":"#/definitions/b"},
        "b":{"$ref":"#/definitions/a"}}});
    assert!(incompatibilities(&looped, &looped.clone(), Policy::Strict).is_empty());
    assert_eq!(
        incompatibilities(&json!({"type":"string"}), &looped, Policy::Strict).len(),
        1
    );
}

#[test]
fn a_change_behind_a_cycle_is_still_found() {
    // Writer and reader recurse through each other's shapes; the change two levels down must
    // not be hidden by the cycle assumption.
    let old = json!({"$defs":{"t":{"type":"object","properties":{
        "left":{"$ref":"#/$defs/t"},"leaf":{"type":"string","maxLength":5}}}},"$ref":"#/$defs/t"});
    let new = json!({"$defs":{"t":{"type":"object","properties":{
        "left":{"$ref":"#/$defs/t"},"leaf":{"type":"string","maxLength":4}}}},"$ref":"#/$defs/t"});
    let found = incompatibilities(&new, &old, Policy::Strict);
    let at = |location: &str| Difference {
        kind: "MAX_LENGTH_DECREASED",
        location: location.into(),
    };
    assert_eq!(
        found,
        vec![
            at("#/properties/leaf/maxLength"),
            at("#/properties/left/properties/leaf/maxLength")
        ]
    );
}

/// Ten mutually recursive product types, each property a `oneOf` over all ten.
fn portfolio(leaf_type: &str) -> Value {
    let kinds = [
        "Stock", "Bond", "Fund", "Swap", "Note", "Loan", "Cash", "Gold", "Oil", "Wheat",
    ];
    let refs: Vec<Value> = kinds
        .iter()
        .map(|k| json!({"$ref": format!("#/definitions/{k}")}))
        .collect();
    let union = json!({ "oneOf": refs });
    let mut definitions = serde_json::Map::new();
    for (i, kind) in kinds.iter().enumerate() {
        let code = if i == 3 {
            json!({"type": leaf_type})
        } else {
            json!({"type":"string"})
        };
        definitions.insert(
            (*kind).to_owned(),
            json!({"type":"object","properties":{"code":code,"holds":union,"hedge":union}}),
        );
    }
    json!({"type":"object","definitions":definitions,"properties":{"top":union}})
}

#[test]
fn recursive_unions_terminate_and_still_see_changes() {
    let started = std::time::Instant::now();
    let old = portfolio("string");
    assert!(incompatibilities(&old, &old.clone(), Policy::Strict).is_empty());
    let changed = incompatibilities(&portfolio("integer"), &old, Policy::Strict);
    assert!(!changed.is_empty());
    assert!(
        changed
            .iter()
            .all(|d| d.kind != "COMPARISON_BUDGET_EXCEEDED"),
        "{changed:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// A branch pair found compatible while an ancestor pair was only assumed compatible must not
/// be reused once that assumption fails (A -> C -> A through singleton oneOfs, root oneOf[A, B]).
#[test]
fn cycle_assumptions_do_not_leak_into_other_branches() {
    let schema = |a: &str, b: &str| {
        let node = |id: &str, next: &str| {
            json!({"type":"object","properties":{
                "id":{"type":id},
                "next":{"oneOf":[{"$ref": format!("#/definitions/{next}")}]}}})
        };
        json!({"type":"object",
               "definitions":{"A":node(a,"C"),"B":node(b,"C"),"C":node("integer","A")},
               "properties":{"root":{"oneOf":[
                   {"$ref":"#/definitions/A"},
                   {"$ref":"#/definitions/B"}]}}})
    };
    let found = incompatibilities(
        &schema("boolean", "number"),
        &schema("integer", "boolean"),
        Policy::Strict,
    );
    assert!(!found.is_empty());
}

#[test]
fn connect_bytes_types_are_equal() {
    assert_diff(
        json!({"type":"number","connect.type":"bytes"}),
        json!({"type":"string","connect.type":"bytes"}),
        &[],
        OK,
    );
}

#[test]
fn lenient_adds_exactly_its_nine_types() {
    let strict_and_lenient = |old: Value, new: Value| {
        (
            incompatibilities(&new, &old, Policy::Strict).is_empty(),
            incompatibilities(&new, &old, Policy::Lenient).is_empty(),
        )
    };
    let open = json!({"properties":{"a":{"type":"string"}}});
    // Required with a default added to an open model.
    assert_eq!(
        strict_and_lenient(
            open.clone(),
            json!({"properties":{"a":{"type":"string"},"b":{"type":"integer","default":0}},
                   "required":["b"]})
        ),
        (NO, OK)
    );
    // Required without a default stays breaking.
    assert_eq!(
        strict_and_lenient(
            open.clone(),
            json!({"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"]})
        ),
        (NO, NO)
    );
    // Removed from a closed model.
    assert_eq!(
        strict_and_lenient(
            json!({"properties":{"a":{"type":"string"},"b":{}},"additionalProperties":false}),
            json!({"properties":{"a":{"type":"string"}},"additionalProperties":false})
        ),
        (NO, OK)
    );
    // additionalProperties narrowed, and removed.
    assert_eq!(
        strict_and_lenient(
            open.clone(),
            json!({"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}})
        ),
        (NO, OK)
    );
    assert_eq!(
        strict_and_lenient(
            open.clone(),
            json!({"properties":{"a":{"type":"string"}},"additionalProperties":false})
        ),
        (NO, OK)
    );
    assert_eq!(
        strict_and_lenient(
            open,
            json!({"properties":{"a":{"type":"string"}},"unevaluatedProperties":false})
        ),
        (NO, OK)
    );
    // "Not covered" is accepted, but the type change that made it so still counts.
    assert_eq!(
        strict_and_lenient(
            json!({"additionalProperties":{"type":"integer"}}),
            json!({"additionalProperties":{"type":"integer"},
                   "properties":{"tag":{"type":"string"}}})
        ),
        (NO, NO)
    );
    // Nothing else moves: a type change is breaking under both.
    assert_eq!(
        strict_and_lenient(json!({"type":"string"}), json!({"type":"boolean"})),
        (NO, NO)
    );
}

#[test]
fn display_is_confluent_shaped() {
    let d = Difference {
        kind: "TYPE_CHANGED",
        location: "#/properties/qty".into(),
    };
    assert_eq!(
        d.to_string(),
        "{errorType:\"TYPE_CHANGED\", description:\"A type at path '#/properties/qty' is \
         different between the reader schema and the writer schema\"}"
    );
    let d = Difference {
        kind: "TITLE_CHANGED",
        location: "#/".into(),
    };
    assert_eq!(
        d.to_string(),
        "{errorType:\"TITLE_CHANGED\", description:\"title changed at path '#/'\"}"
    );
}

// ---- Hostile input ----

/// `depth` objects, each with one property `p`, around `leaf`. Built by moving values in (the
/// `json!` macro would serialise `inner` again, recursively, at every level).
fn nested(depth: usize, leaf: Value) -> Value {
    (0..depth).fold(leaf, |inner, _| {
        let mut properties = serde_json::Map::new();
        properties.insert("p".to_owned(), inner);
        let mut object = serde_json::Map::new();
        object.insert("type".to_owned(), json!("object"));
        object.insert("properties".to_owned(), Value::Object(properties));
        Value::Object(object)
    })
}

#[test]
fn deep_nesting_is_followed_in_passes_with_a_bounded_stack() {
    // Past MAX_DEPTH pairs on the stack the rest is compared in a later pass, so the real
    // difference 200 levels down is found (on a small stack).
    let found = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(|| {
            let found = incompatibilities(
                &nested(200, json!({"type":"integer"})),
                &nested(200, json!({"type":"string"})),
                Policy::Strict,
            );
            found
                .into_iter()
                .map(|d| (d.kind, d.location))
                .collect::<Vec<_>>()
        })
        .unwrap()
        .join()
        .unwrap();
    let path = vec!["properties/p"; 200].join("/");
    assert_eq!(found, [("TYPE_CHANGED", format!("#/{path}"))]);
}

#[test]
fn nesting_past_every_pass_is_reported() {
    let levels = MAX_DEPTH * engine::MAX_PASSES + 10;
    let (old, new) = (
        nested(levels, json!({"type":"string"})),
        nested(levels, json!({"type":"string"})),
    );
    let found = incompatibilities(&new, &old, Policy::Strict);
    assert_eq!(
        found.iter().map(|d| d.kind).collect::<Vec<_>>(),
        ["MAX_DEPTH_EXCEEDED"]
    );
    assert_eq!(found[0].location, "#/");
    // Dropping values this deep recurses in serde_json itself; not what is under test here.
    std::mem::forget((old, new));
}

#[test]
fn combinatorial_blowup_hits_the_budget() {
    // oneOf of 12 branches, four levels deep: 12^8 branch pairs at the bottom. A small budget
    // keeps the test quick; the default behaves the same, later.
    fn tree(level: usize) -> Value {
        if level == 0 {
            return json!({"type":"string"});
        }
        let branches: Vec<Value> = (0..12)
            .map(|i| json!({"title": format!("b{i}"), "oneOf": [tree(level - 1)]}))
            .collect();
        json!({ "oneOf": branches })
    }
    let schema = tree(4);
    let found = engine::diff_within(&schema, &schema.clone(), Policy::Strict, 20_000);
    let kinds: Vec<&str> = found.iter().map(|d| d.kind.name()).collect();
    assert!(kinds.contains(&"COMPARISON_BUDGET_EXCEEDED"), "{kinds:?}");
    assert!(!Kind::COMPARISON_BUDGET_EXCEEDED.is_compatible(Policy::Lenient));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Schema-shaped values, including refs (resolvable, dangling, cyclic) and booleans.
    fn schema() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            prop::sample::select(vec![
                "null", "boolean", "integer", "number", "string", "object", "array"
            ])
            .prop_map(|t| json!({"type": t})),
            prop::collection::vec(0..4i32, 0..3).prop_map(|v| json!({"enum": v})),
            (0..10i32).prop_map(|n| json!({"minimum": n, "multipleOf": 0.5})),
            (0..10u32).prop_map(|n| json!({"type":"string","maxLength": n, "pattern": "^a"})),
            prop::sample::select(vec!["#", "#/definitions/d", "#/nowhere", "other.json"])
                .prop_map(|r| json!({"$ref": r})),
        ];
        leaf.prop_recursive(4, 24, 3, |inner| {
            let names = prop::sample::select(vec!["a", "b", "c"]);
            prop_oneof![
                prop::collection::btree_map(names.clone(), inner.clone(), 0..3)
                    .prop_map(|p| json!({"properties": p})),
                (
                    prop::collection::btree_map(names, inner.clone(), 0..3),
                    inner.clone()
                )
                    .prop_map(|(p, extra)| {
                        json!({"properties": p, "additionalProperties": extra, "required": ["a"]})
                    }),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"oneOf": v})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"allOf": v})),
                prop::collection::vec(inner.clone(), 1..3)
                    .prop_map(|v| json!({"items": v, "additionalItems": false})),
                inner.clone().prop_map(|s| json!({"items": s})),
                inner.clone().prop_map(|s| json!({"not": s})),
                (inner.clone(), inner.clone())
                    .prop_map(|(s, d)| json!({"anyOf": [s], "definitions": {"d": d}})),
                inner.prop_map(
                    |s| json!({"patternProperties": {"^a": s}, "type": ["object","null"]})
                ),
            ]
        })
    }

    /// Schemas inside the part of JSON Schema where Confluent's STRICT rules are sound for
    /// validation: explicit types, no defaults (a default makes a newly required property
    /// "compatible" although a validator still rejects data without it), no `oneOf` (more
    /// branches can make data match two), no `patternProperties`, `required` only naming listed
    /// properties (Confluent does not look at the others).
    fn sound_schema() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            Just(json!({"type":"null"})),
            Just(json!({"type":"boolean"})),
            (prop::option::of(-2..3i32), prop::option::of(-2..3i32)).prop_map(|(lo, hi)| {
                let mut s = json!({"type":"integer"});
                if let Some(lo) = lo {
                    s["minimum"] = json!(lo);
                }
                if let Some(hi) = hi {
                    s["maximum"] = json!(hi);
                }
                s
            }),
            (
                prop::option::of(prop::sample::select(vec![0.5, 1.0, 2.0, 3.0])),
                any::<bool>()
            )
                .prop_map(|(m, ex)| {
                    let mut s = json!({"type":"number"});
                    if let Some(m) = m {
                        s["multipleOf"] = json!(m);
                    }
                    if ex {
                        s["exclusiveMaximum"] = json!(2);
                    }
                    s
                }),
            (prop::option::of(0..3u32), prop::option::of(0..4u32)).prop_map(|(lo, hi)| {
                let mut s = json!({"type":"string"});
                if let Some(lo) = lo {
                    s["minLength"] = json!(lo);
                }
                if let Some(hi) = hi {
                    s["maxLength"] = json!(hi);
                }
                s
            }),
            prop::sample::subsequence(vec!["x", "y", "z"], 1..=3)
                .prop_map(|e| json!({"type":"string","enum":e})),
            Just(json!({"type":["string","null"]})),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            let names = prop::sample::select(vec!["a", "b", "c"]);
            let extra = prop_oneof![
                Just(None),
                Just(Some(json!(true))),
                Just(Some(json!(false))),
                inner.clone().prop_map(Some)
            ];
            prop_oneof![
                (
                    prop::collection::btree_map(names, (inner.clone(), any::<bool>()), 0..3),
                    extra
                )
                    .prop_map(|(props, extra)| {
                        let required: Vec<&str> = props
                            .iter()
                            .filter(|(_, (_, r))| *r)
                            .map(|(k, _)| *k)
                            .collect();
                        let properties: serde_json::Map<String, Value> = props
                            .iter()
                            .map(|(k, (s, _))| ((*k).to_owned(), s.clone()))
                            .collect();
                        let mut s =
                            json!({"type":"object","properties":properties,"required":required});
                        if let Some(extra) = extra {
                            s["additionalProperties"] = extra;
                        }
                        s
                    }),
                (inner.clone(), prop::option::of(0..3u32), any::<bool>()).prop_map(
                    |(items, max, unique)| {
                        let mut s = json!({"type":"array","items":items});
                        if let Some(max) = max {
                            s["maxItems"] = json!(max);
                        }
                        if unique {
                            s["uniqueItems"] = json!(true);
                        }
                        s
                    }
                ),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"anyOf": v})),
                prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({"allOf": v})),
                inner.prop_map(|s| json!({"not": s})),
            ]
        })
    }

    fn instance() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3..4i32).prop_map(|n| json!(n)),
            prop::sample::select(vec![0.5, 1.5, 2.0, -0.5]).prop_map(|n| json!(n)),
            prop::sample::select(vec!["", "x", "y", "z", "xy", "xyzw"]).prop_map(|s| json!(s)),
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec!["a", "b", "c", "d"]),
                    inner,
                    0..3
                )
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    /// Pointers to every subschema of a `sound_schema`, the root included.
    fn subschemas(root: &Value) -> Vec<String> {
        let mut found = Vec::new();
        let mut todo = vec![String::new()];
        while let Some(at) = todo.pop() {
            let Some(node) = root.pointer(&at) else {
                continue;
            };
            found.push(at.clone());
            let Some(map) = node.as_object() else {
                continue;
            };
            for (keyword, sub) in map {
                match (keyword.as_str(), sub) {
                    ("properties", Value::Object(props)) => {
                        todo.extend(props.keys().map(|k| format!("{at}/properties/{k}")));
                    }
                    ("anyOf" | "allOf", Value::Array(subs)) => {
                        todo.extend((0..subs.len()).map(|i| format!("{at}/{keyword}/{i}")));
                    }
                    ("items" | "not" | "additionalProperties", _) => {
                        todo.push(format!("{at}/{keyword}"))
                    }
                    _ => {}
                }
            }
        }
        found
    }

    /// A reader close to the writer: one subschema replaced, or one keyword (never `type`)
    /// dropped from it, so that compatible pairs are common.
    fn writer_and_reader() -> impl Strategy<Value = (Value, Value)> {
        (
            sound_schema(),
            sound_schema(),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_map(|(writer, replacement, at, key, drop)| {
                let mut reader = writer.clone();
                let paths = subschemas(&writer);
                let path = at.get(&paths);
                if let Some(node) = reader.pointer_mut(path) {
                    let keys: Vec<String> = node
                        .as_object()
                        .map(|m| m.keys().filter(|k| *k != "type").cloned().collect())
                        .unwrap_or_default();
                    if drop && !keys.is_empty() {
                        node.as_object_mut().unwrap().remove(key.get(&keys));
                    } else {
                        *node = replacement;
                    }
                }
                (writer, reader)
            })
    }

    fn valid(schema: &Value, instance: &Value) -> bool {
        jsonschema::draft7::new(schema).unwrap().is_valid(instance)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Where Confluent's rules are sound, what STRICT calls compatible never makes a reader
        /// reject data its writer accepted.
        #[test]
        fn strict_compatible_means_readable(
            (writer, reader) in writer_and_reader(),
            data in prop::collection::vec(instance(), 1..12),
        ) {
            if incompatibilities(&reader, &writer, Policy::Strict).is_empty() {
                for d in &data {
                    prop_assert!(
                        !valid(&writer, d) || valid(&reader, d),
                        "W {} R {} data {}", writer, reader, d
                    );
                }
            }
        }

        #[test]
        fn every_schema_reads_itself(s in schema()) {
            prop_assert!(incompatibilities(&s, &s, Policy::Strict).is_empty(), "{s}");
            prop_assert!(incompatibilities(&s, &s.clone(), Policy::Strict).is_empty(), "{s}");
        }

        #[test]
        fn any_pair_terminates(a in schema(), b in schema()) {
            for policy in [Policy::Strict, Policy::Lenient] {
                let strict = incompatibilities(&a, &b, Policy::Strict);
                let found = incompatibilities(&a, &b, policy);
                // LENIENT only ever removes differences.
                prop_assert!(found.iter().all(|d| strict.contains(d)));
                for d in &found {
                    prop_assert!(d.location.starts_with("#/"));
                    prop_assert!(!d.to_string().is_empty());
                }
            }
        }
    }
}
