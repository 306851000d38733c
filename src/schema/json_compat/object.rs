//! Objects: Confluent's `ObjectSchemaDiff`. The interesting part is the content model. A writer
//! whose model is open (`additionalProperties` absent or `true`, no `patternProperties`,
//! `unevaluatedProperties` absent or `true`) may already have written any property under any
//! shape, so a reader that starts describing one can reject old data; a closed writer
//! (`false`) cannot have, so adding is safe there. A partially open model (a schema for
//! extra properties) is as safe as that schema is compatible with the new property.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::engine::{Ctx, Diffs, extend_at, join, push, segment};
use super::kind::Kind::{self, *};
use super::model::{Node, Shape};
use super::scalar::compare_bound;

type Obj<'a> = (Node<'a>, &'a Map<String, Value>);

pub(super) fn compare<'a>(ctx: &mut Ctx<'a>, o: Obj<'a>, u: Obj<'a>, out: &mut Diffs) {
    compare_required(o.1, u, out);
    compare_properties(ctx, o, u, out);
    compare_dependencies(ctx, o, u, out);
    compare_additional(ctx, o, u, out);
    compare_unevaluated(ctx, "unevaluatedProperties", o, u, out);
    let max = [
        MAX_PROPERTIES_ADDED,
        MAX_PROPERTIES_REMOVED,
        MAX_PROPERTIES_INCREASED,
        MAX_PROPERTIES_DECREASED,
    ];
    let min = [
        MIN_PROPERTIES_ADDED,
        MIN_PROPERTIES_REMOVED,
        MIN_PROPERTIES_INCREASED,
        MIN_PROPERTIES_DECREASED,
    ];
    compare_bound("maxProperties", o.1, u.1, max, out);
    compare_bound("minProperties", o.1, u.1, min, out);
}

fn properties(map: &Map<String, Value>) -> Option<&Map<String, Value>> {
    map.get("properties").and_then(Value::as_object)
}

fn required(map: &Map<String, Value>, name: &str) -> bool {
    map.get("required")
        .and_then(Value::as_array)
        .is_some_and(|names| names.iter().any(|n| n.as_str() == Some(name)))
}

/// Whether a property schema carries a `default` (on the `$ref` itself or on its target).
fn has_default(node: Node<'_>) -> bool {
    node.value.get("default").is_some() || node.resolve().value.get("default").is_some()
}

fn compare_required(om: &Map<String, Value>, (u, um): Obj<'_>, out: &mut Diffs) {
    let (Some(op), Some(up)) = (properties(om), properties(um)) else {
        return;
    };
    for name in op.keys() {
        let Some(u_prop) = up.get(name) else { continue };
        let path = join("required", &segment(name));
        match (required(om, name), required(um, name)) {
            (true, false) => push(out, &path, REQUIRED_ATTRIBUTE_REMOVED),
            (false, true) if has_default(u.child(u_prop)) => {
                push(out, &path, REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED);
            }
            (false, true) => push(out, &path, REQUIRED_ATTRIBUTE_ADDED),
            _ => {}
        }
    }
}

/// `additionalProperties` / `additionalItems` (or 2020-12 `items` after `prefixItems`).
#[derive(Clone, Copy)]
pub(super) enum Extra<'a> {
    Absent,
    Allow,
    Deny,
    Schema(&'a Value),
}

impl<'a> Extra<'a> {
    pub(super) fn of(value: Option<&'a Value>) -> Extra<'a> {
        match value {
            None => Extra::Absent,
            Some(Value::Bool(true)) => Extra::Allow,
            Some(Value::Bool(false)) => Extra::Deny,
            Some(schema) => Extra::Schema(schema),
        }
    }

    fn permits(self) -> bool {
        !matches!(self, Extra::Deny)
    }

    fn schema(self) -> Option<&'a Value> {
        match self {
            Extra::Schema(s) => Some(s),
            _ => None,
        }
    }
}

fn is_empty(node: Node<'_>) -> bool {
    matches!(node.resolve().shape(), Shape::Empty)
}

fn is_false(node: Node<'_>) -> bool {
    matches!(node.resolve().shape(), Shape::False)
}

/// Whether the model is fully open, given its "extra" keyword and its `unevaluated*` keyword.
pub(super) fn is_open(node: Node<'_>, extra: Extra<'_>, unevaluated: Option<&Value>) -> bool {
    matches!(extra, Extra::Absent | Extra::Allow)
        && unevaluated.is_none_or(|v| is_empty(node.child(v)))
}

/// The schema a partially open model applies to a property or item it does not list.
pub(super) fn partial_schema<'a>(
    node: Node<'a>,
    extra: Extra<'a>,
    unevaluated: Option<&'a Value>,
) -> Option<Node<'a>> {
    if let Some(schema) = extra.schema() {
        return Some(node.child(schema));
    }
    if matches!(extra, Extra::Absent | Extra::Allow) {
        let uneval = node.child(unevaluated?);
        if !is_false(uneval) && !is_empty(uneval) {
            return Some(uneval);
        }
    }
    None
}

fn object_open((node, map): Obj<'_>) -> bool {
    let patterns = map.get("patternProperties").and_then(Value::as_object);
    is_open(
        node,
        Extra::of(map.get("additionalProperties")),
        map.get("unevaluatedProperties"),
    ) && patterns.is_none_or(Map::is_empty)
}

fn object_partial<'a>(ctx: &mut Ctx<'a>, (node, map): Obj<'a>, name: &str) -> Option<Node<'a>> {
    let patterns = map.get("patternProperties").and_then(Value::as_object);
    for (pattern, schema) in patterns.into_iter().flatten() {
        if ctx.pattern_matches(pattern, name) {
            return Some(node.child(schema));
        }
    }
    partial_schema(
        node,
        Extra::of(map.get("additionalProperties")),
        map.get("unevaluatedProperties"),
    )
}

/// Compares a listed schema against the partially open model's schema for it, records the
/// inner differences, and says whether the model covers it.
pub(super) fn covered<'a>(
    ctx: &mut Ctx<'a>,
    original: Node<'a>,
    update: Node<'a>,
    path: &str,
    out: &mut Diffs,
) -> bool {
    let inner = ctx.compare(Some(original), Some(update));
    let ok = ctx.compatible(&inner);
    extend_at(out, path, inner);
    ok
}

fn compare_properties<'a>(ctx: &mut Ctx<'a>, o: Obj<'a>, u: Obj<'a>, out: &mut Diffs) {
    let (op, up) = (properties(o.1), properties(u.1));
    let names: BTreeSet<&String> = op.into_iter().chain(up).flat_map(Map::keys).collect();
    for name in names {
        let path = join("properties", &segment(name));
        let o_prop = op.and_then(|p| p.get(name)).map(|v| o.0.child(v));
        let u_prop = up.and_then(|p| p.get(name)).map(|v| u.0.child(v));
        match (o_prop, u_prop) {
            (Some(o_prop), Some(u_prop)) => {
                let inner = ctx.compare(Some(o_prop), Some(u_prop));
                extend_at(out, &path, inner);
            }
            // Removed: only the reader's model decides whether old data with it still passes.
            (Some(o_prop), None) => {
                let kind = if object_open(u) {
                    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
                } else if let Some(extra) = object_partial(ctx, u, name) {
                    if covered(ctx, o_prop, extra, &path, out) {
                        PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    } else {
                        PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                    }
                } else if is_false(o_prop) {
                    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
                } else {
                    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
                };
                push(out, &path, kind);
            }
            // Added: only the writer's model decides what old data may hold under that name.
            (None, Some(u_prop)) => {
                let needed = required(u.1, name);
                let kind = if object_open(o) {
                    // Confluent checks "empty schema" first, so a newly required `b: {}` passes
                    // although old data without `b` fails the reader; we check that first (our
                    // one deliberate departure).
                    if needed && !has_default(u_prop) {
                        REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                    } else if is_empty(u_prop) {
                        PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                    } else if needed {
                        REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
                    } else {
                        OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                    }
                } else {
                    if let Some(extra) = object_partial(ctx, o, name) {
                        let kind = if covered(ctx, extra, u_prop, &path, out) {
                            PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                        } else {
                            PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                        };
                        push(out, &path, kind);
                    }
                    if needed && has_default(u_prop) {
                        REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
                    } else if needed {
                        REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
                    } else {
                        OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
                    }
                };
                push(out, &path, kind);
            }
            (None, None) => {}
        }
    }
}

/// `dependencies` (draft 4–7) merged with `dependentRequired`/`dependentSchemas` (2019-09+),
/// all reported under `dependencies` as Confluent does.
fn compare_dependencies<'a>(ctx: &mut Ctx<'a>, o: Obj<'a>, u: Obj<'a>, out: &mut Diffs) {
    type Deps<'a> = (
        BTreeMap<&'a str, BTreeSet<&'a str>>,
        BTreeMap<&'a str, &'a Value>,
    );
    fn split(map: &Map<String, Value>) -> Deps<'_> {
        let (mut arrays, mut schemas) = (BTreeMap::new(), BTreeMap::new());
        for keyword in ["dependencies", "dependentRequired", "dependentSchemas"] {
            for (name, dep) in map
                .get(keyword)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                match dep {
                    Value::Array(names) => {
                        arrays.insert(
                            name.as_str(),
                            names.iter().filter_map(Value::as_str).collect(),
                        );
                    }
                    schema => {
                        schemas.insert(name.as_str(), schema);
                    }
                }
            }
        }
        (arrays, schemas)
    }
    let ((o_arrays, o_schemas), (u_arrays, u_schemas)) = (split(o.1), split(u.1));

    let names: BTreeSet<&str> = o_arrays.keys().chain(u_arrays.keys()).copied().collect();
    for name in names {
        let path = join("dependencies", &segment(name));
        let kind = match (o_arrays.get(name), u_arrays.get(name)) {
            (_, None) => DEPENDENCY_ARRAY_REMOVED,
            (None, Some(_)) => DEPENDENCY_ARRAY_ADDED,
            (Some(a), Some(b)) if a == b => continue,
            (Some(a), Some(b)) if b.is_superset(a) => DEPENDENCY_ARRAY_EXTENDED,
            (Some(a), Some(b)) if a.is_superset(b) => DEPENDENCY_ARRAY_NARROWED,
            _ => DEPENDENCY_ARRAY_CHANGED,
        };
        push(out, &path, kind);
    }

    let names: BTreeSet<&str> = o_schemas.keys().chain(u_schemas.keys()).copied().collect();
    for name in names {
        let path = join("dependencies", &segment(name));
        match (o_schemas.get(name), u_schemas.get(name)) {
            (_, None) => push(out, &path, DEPENDENCY_SCHEMA_REMOVED),
            (None, Some(_)) => push(out, &path, DEPENDENCY_SCHEMA_ADDED),
            (Some(a), Some(b)) => {
                let inner = ctx.compare(Some(o.0.child(a)), Some(u.0.child(b)));
                extend_at(out, &path, inner);
            }
        }
    }
}

/// `additionalProperties`: allowing more is compatible, forbidding or constraining what was free
/// is not.
fn compare_additional<'a>(
    ctx: &mut Ctx<'a>,
    (o_node, om): Obj<'a>,
    (u_node, um): Obj<'a>,
    out: &mut Diffs,
) {
    let keyword = "additionalProperties";
    compare_extra(
        ctx,
        keyword,
        (o_node, Extra::of(om.get(keyword))),
        (u_node, Extra::of(um.get(keyword))),
        [
            ADDITIONAL_PROPERTIES_ADDED,
            ADDITIONAL_PROPERTIES_REMOVED,
            ADDITIONAL_PROPERTIES_NARROWED,
            ADDITIONAL_PROPERTIES_EXTENDED,
        ],
        out,
    );
}

/// An "extra" keyword (`additionalProperties`, `additionalItems`), reported at `path` with the
/// kinds for added (now allowed), removed (now forbidden), narrowed (now a schema) and
/// extended (no longer a schema).
pub(super) fn compare_extra<'a>(
    ctx: &mut Ctx<'a>,
    path: &str,
    (o_node, o): (Node<'a>, Extra<'a>),
    (u_node, u): (Node<'a>, Extra<'a>),
    [added, removed, narrowed, extended]: [Kind; 4],
    out: &mut Diffs,
) {
    if o.permits() != u.permits() {
        push(out, path, if u.permits() { added } else { removed });
        return;
    }
    match (o.schema(), u.schema()) {
        (None, Some(_)) => push(out, path, narrowed),
        (Some(_), None) => push(out, path, extended),
        (Some(a), Some(b)) => {
            let inner = ctx.compare(Some(o_node.child(a)), Some(u_node.child(b)));
            extend_at(out, path, inner);
        }
        (None, None) => {}
    }
}

/// `unevaluatedProperties` / `unevaluatedItems` (2019-09+), as Confluent compares them.
pub(super) fn compare_unevaluated<'a>(
    ctx: &mut Ctx<'a>,
    keyword: &str,
    (o_node, om): Obj<'a>,
    (u_node, um): Obj<'a>,
    out: &mut Diffs,
) {
    let [added, removed, narrowed, extended] = if keyword == "unevaluatedProperties" {
        [
            UNEVALUATED_PROPERTIES_ADDED,
            UNEVALUATED_PROPERTIES_REMOVED,
            UNEVALUATED_PROPERTIES_NARROWED,
            UNEVALUATED_PROPERTIES_EXTENDED,
        ]
    } else {
        [
            UNEVALUATED_ITEMS_ADDED,
            UNEVALUATED_ITEMS_REMOVED,
            UNEVALUATED_ITEMS_NARROWED,
            UNEVALUATED_ITEMS_EXTENDED,
        ]
    };
    let o = om.get(keyword).map(|v| o_node.child(v));
    let u = um.get(keyword).map(|v| u_node.child(v));
    let kind = match (o, u) {
        (None, None) => return,
        (None, Some(u)) if is_false(u) => removed,
        (None, Some(_)) => narrowed,
        (Some(o), None) if is_false(o) => added,
        (Some(_), None) => extended,
        (Some(o), Some(u)) => match (is_false(o), is_false(u), is_empty(o), is_empty(u)) {
            (true, false, ..) => added,
            (false, true, ..) => removed,
            (.., true, false) => narrowed,
            (.., false, true) => extended,
            _ => {
                let inner = ctx.compare(Some(o), Some(u));
                extend_at(out, keyword, inner);
                return;
            }
        },
    };
    push(out, keyword, kind);
}
