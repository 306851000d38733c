//! Arrays: Confluent's `ArraySchemaDiff`. Tuple positions follow the same content-model rules
//! as object properties, with `additionalItems` (or 2020-12 `items` after `prefixItems`)
//! playing `additionalProperties`.

use serde_json::{Map, Value};

use super::engine::{Ctx, Diffs, extend_at, push};
use super::kind::Kind::*;
use super::model::{Node, Shape};
use super::object::{Extra, compare_extra, compare_unevaluated, covered, is_open, partial_schema};
use super::scalar::compare_bound;

type Arr<'a> = (Node<'a>, &'a Map<String, Value>);

/// The single schema every item must match (`items: {..}` without `prefixItems`).
fn all_items(map: &Map<String, Value>) -> Option<&Value> {
    if map.contains_key("prefixItems") {
        return None;
    }
    map.get("items").filter(|items| !items.is_array())
}

/// Positional schemas: `prefixItems` (2020-12) or an `items` array (earlier drafts).
fn tuple(map: &Map<String, Value>) -> &[Value] {
    map.get("prefixItems")
        .or_else(|| map.get("items"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// What applies past the tuple.
fn extra(map: &Map<String, Value>) -> Extra<'_> {
    if map.contains_key("prefixItems") {
        Extra::of(map.get("items"))
    } else {
        Extra::of(map.get("additionalItems"))
    }
}

fn open((node, map): Arr<'_>) -> bool {
    is_open(node, extra(map), map.get("unevaluatedItems"))
}

fn partial<'a>((node, map): Arr<'a>) -> Option<Node<'a>> {
    partial_schema(node, extra(map), map.get("unevaluatedItems"))
}

pub(super) fn compare<'a>(ctx: &mut Ctx<'a>, o: Arr<'a>, u: Arr<'a>, out: &mut Diffs) {
    let inner = ctx.compare(
        all_items(o.1).map(|v| o.0.child(v)),
        all_items(u.1).map(|v| u.0.child(v)),
    );
    extend_at(out, "items", inner);
    compare_tuple(ctx, o, u, out);
    compare_extra(
        ctx,
        "additionalItems",
        (o.0, extra(o.1)),
        (u.0, extra(u.1)),
        [
            ADDITIONAL_ITEMS_ADDED,
            ADDITIONAL_ITEMS_REMOVED,
            ADDITIONAL_ITEMS_NARROWED,
            ADDITIONAL_ITEMS_EXTENDED,
        ],
        out,
    );
    compare_unevaluated(ctx, "unevaluatedItems", o, u, out);

    let (om, um) = (o.1, u.1);
    compare_bound(
        "maxItems",
        om,
        um,
        [
            MAX_ITEMS_ADDED,
            MAX_ITEMS_REMOVED,
            MAX_ITEMS_INCREASED,
            MAX_ITEMS_DECREASED,
        ],
        out,
    );
    compare_bound(
        "minItems",
        om,
        um,
        [
            MIN_ITEMS_ADDED,
            MIN_ITEMS_REMOVED,
            MIN_ITEMS_INCREASED,
            MIN_ITEMS_DECREASED,
        ],
        out,
    );
    let unique = |m: &Map<String, Value>| m.get("uniqueItems") == Some(&Value::Bool(true));
    match (unique(om), unique(um)) {
        (true, false) => push(out, "uniqueItems", UNIQUE_ITEMS_REMOVED),
        (false, true) => push(out, "uniqueItems", UNIQUE_ITEMS_ADDED),
        _ => {}
    }
    compare_bound(
        "maxContains",
        om,
        um,
        [
            MAX_CONTAINS_ADDED,
            MAX_CONTAINS_REMOVED,
            MAX_CONTAINS_INCREASED,
            MAX_CONTAINS_DECREASED,
        ],
        out,
    );
    compare_bound(
        "minContains",
        om,
        um,
        [
            MIN_CONTAINS_ADDED,
            MIN_CONTAINS_REMOVED,
            MIN_CONTAINS_INCREASED,
            MIN_CONTAINS_DECREASED,
        ],
        out,
    );
}

fn compare_tuple<'a>(ctx: &mut Ctx<'a>, o: Arr<'a>, u: Arr<'a>, out: &mut Diffs) {
    let (o_items, u_items) = (tuple(o.1), tuple(u.1));
    for index in 0..o_items.len().max(u_items.len()) {
        let path = format!("items/{index}");
        let o_item = o_items.get(index).map(|v| o.0.child(v));
        let u_item = u_items.get(index).map(|v| u.0.child(v));
        match (o_item, u_item) {
            (Some(o_item), Some(u_item)) => {
                let inner = ctx.compare(Some(o_item), Some(u_item));
                extend_at(out, &path, inner);
            }
            // The writer fixed this position; the reader now judges it by its open, partial
            // or closed rest.
            (Some(o_item), None) => {
                let kind = if open(u) {
                    ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
                } else if let Some(rest) = partial(u) {
                    if covered(ctx, o_item, rest, &path, out) {
                        ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    } else {
                        ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    }
                } else if matches!(o_item.resolve().shape(), Shape::False) {
                    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
                } else {
                    ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL
                };
                push(out, &path, kind);
            }
            // The reader fixes a position the writer left to its rest.
            (None, Some(u_item)) => {
                let kind = if open(o) {
                    if matches!(u_item.resolve().shape(), Shape::Empty) {
                        ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                    } else {
                        ITEM_ADDED_TO_OPEN_CONTENT_MODEL
                    }
                } else if let Some(rest) = partial(o) {
                    if covered(ctx, rest, u_item, &path, out) {
                        ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    } else {
                        ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    }
                } else {
                    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL
                };
                push(out, &path, kind);
            }
            (None, None) => {}
        }
    }
}
