//! The record as CEL sees it: which of `message`'s fields a compiled condition reads, and the
//! record's JSON turned into a CEL value with only those fields.
//!
//! Converting a whole record costs more than evaluating a typical rule, so conditions that
//! only select fields (`message.amount > 0`) get only those. A condition that uses `message`
//! any other way (passes it whole, indexes it) gets everything. It must not evaluate rules.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr};
use cel::objects::{Key, Map};
use serde_json::Value;

/// The top-level fields of `message` that `expr` selects; `None` when it needs all of them.
pub fn fields_of_message(expr: &Expr) -> Option<BTreeSet<String>> {
    let mut fields = BTreeSet::new();
    collect(expr, &mut fields).then_some(fields)
}

/// Adds the fields `expr` selects from `message`; false when it uses `message` whole.
fn collect(expr: &Expr, fields: &mut BTreeSet<String>) -> bool {
    match expr {
        Expr::Select(select) => match &select.operand.expr {
            Expr::Ident(name) if name == "message" => {
                fields.insert(select.field.clone());
                true
            }
            other => collect(other, fields),
        },
        Expr::Ident(name) => name != "message",
        Expr::Call(call) => {
            call.target
                .as_ref()
                .is_none_or(|t| collect(&t.expr, fields))
                && call.args.iter().all(|a| collect(&a.expr, fields))
        }
        Expr::Comprehension(c) => [
            &c.iter_range,
            &c.accu_init,
            &c.loop_cond,
            &c.loop_step,
            &c.result,
        ]
        .iter()
        .all(|e| collect(&e.expr, fields)),
        Expr::List(list) => list.elements.iter().all(|e| collect(&e.expr, fields)),
        Expr::Map(map) => map.entries.iter().all(|e| match &e.expr {
            EntryExpr::MapEntry(m) => {
                collect(&m.key.expr, fields) && collect(&m.value.expr, fields)
            }
            EntryExpr::StructField(f) => collect(&f.value.expr, fields),
        }),
        Expr::Struct(s) => s.entries.iter().all(|e| match &e.expr {
            EntryExpr::MapEntry(m) => {
                collect(&m.key.expr, fields) && collect(&m.value.expr, fields)
            }
            EntryExpr::StructField(f) => collect(&f.value.expr, fields),
        }),
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

/// `message` for CEL: the record's fields named in `only` (all when `None`).
pub fn message_value(message: &Value, only: Option<&[String]>) -> cel::Value {
    match (message, only) {
        (Value::Object(map), Some(only)) => {
            let picked: HashMap<Key, cel::Value> = only
                .iter()
                .filter_map(|f| {
                    map.get(f)
                        .map(|v| (Key::String(Arc::new(f.clone())), to_cel(v)))
                })
                .collect();
            cel::Value::Map(Map {
                map: Arc::new(picked),
            })
        }
        (other, _) => to_cel(other),
    }
}

/// JSON → CEL, directly (the serde route through `cel::to_value` is several times slower).
/// Integers are CEL ints (uints above `i64::MAX`), other numbers doubles.
fn to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(
            || {
                n.as_u64().map_or_else(
                    || cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    cel::Value::UInt,
                )
            },
            cel::Value::Int,
        ),
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => cel::Value::Map(Map {
            map: Arc::new(
                map.iter()
                    .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                    .collect(),
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(expr: &str) -> Option<Vec<String>> {
        let program = cel::Program::compile(expr).unwrap();
        fields_of_message(&program.expression().expr).map(|f| f.into_iter().collect())
    }

    #[test]
    fn selected_fields_are_found_and_whole_uses_are_not_narrowed() {
        assert_eq!(
            fields("message.amount > 0 && message.currency in ['EUR', 'USD']"),
            Some(vec!["amount".into(), "currency".into()])
        );
        assert_eq!(
            fields("message.items.all(i, i.qty > 0)"),
            Some(vec!["items".into()])
        );
        assert_eq!(fields("has(message.note)"), Some(vec!["note".into()]));
        assert_eq!(fields("size(message) > 2"), None);
        assert_eq!(fields("message['amount'] > 0"), None);
    }

    #[test]
    fn conversion_matches_the_serde_route() {
        let record = serde_json::json!({"a": 1, "b": -2, "c": 1.5, "d": "x", "e": [true, null],
                                        "f": {"g": 18446744073709551615_u64}});
        assert_eq!(
            message_value(&record, None),
            cel::to_value(&record).unwrap()
        );
        let only = ["a".to_owned(), "zz".to_owned()];
        let picked = message_value(&record, Some(&only));
        assert_eq!(picked, cel::to_value(serde_json::json!({"a": 1})).unwrap());
    }
}
