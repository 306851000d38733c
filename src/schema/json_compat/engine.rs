//! The recursion hub (Confluent's `SchemaDiff.compare` and `Context`): resolves both sides,
//! cuts cycles, memoises pairs, enforces the depth and step limits, and dispatches on shape.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use super::kind::Kind;
use super::model::{Crit, Node, Part, Shape};
use super::{Difference, MAX_DEPTH, MAX_STEPS, Policy};
use super::{array, combined, object, scalar};

/// A difference with a path relative to the pair being compared ("" = the pair itself), so a
/// memoised result can be reused wherever the same pair turns up again.
#[derive(Debug, Clone)]
pub(super) struct Diff {
    pub(super) kind: Kind,
    path: String,
}

impl Diff {
    pub(super) fn into_difference(self) -> Difference {
        Difference {
            kind: self.kind.name(),
            location: format!("#/{}", self.path),
        }
    }
}

pub(super) type Diffs = Vec<Diff>;

/// Records `kind` at `path` (relative to the current pair).
pub(super) fn push(out: &mut Diffs, path: &str, kind: Kind) {
    out.push(Diff {
        kind,
        path: path.to_owned(),
    });
}

/// Moves `inner` (relative to a subschema at `prefix`) into `out`.
pub(super) fn extend_at(out: &mut Diffs, prefix: &str, inner: Diffs) {
    out.extend(inner.into_iter().map(|d| Diff {
        kind: d.kind,
        path: join(prefix, &d.path),
    }));
}

pub(super) fn join(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_owned(),
        (false, true) => prefix.to_owned(),
        (false, false) => format!("{prefix}/{rest}"),
    }
}

/// A property name as a JSON pointer segment (RFC 6901 escapes; plain names are unchanged).
pub(super) fn segment(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

type PairKey = ((usize, Part), (usize, Part));

/// Most fixpoint passes over a recursive schema before giving up (see [`diff`]).
const MAX_PASSES: usize = 16;

pub(super) struct Ctx {
    pub(super) policy: Policy,
    /// Every pair compared in this pass, with its differences.
    memo: HashMap<PairKey, Rc<[Diff]>>,
    /// Pairs on the comparison stack.
    in_progress: HashSet<PairKey>,
    /// Pairs a previous pass found incompatible: a cycle re-entering one of them gets these
    /// differences instead of the optimistic "compatible".
    seed: HashMap<PairKey, Rc<[Diff]>>,
    /// Whether this pass assumed some cycle compatible.
    optimistic: bool,
    /// `compare` calls so far, over all passes.
    steps: usize,
    too_deep: bool,
    patterns: HashMap<String, Option<jsonschema::Validator>>,
}

/// Runs the diff to a fixpoint, as Confluent does. A pass memoises every pair, including pairs
/// whose result rests on a cycle assumed compatible; such a cached "compatible" can be reused
/// in a sibling branch after the assumption turned out false, masking a real change. So each
/// pass hands the pairs it found incompatible to the next, which uses them instead of the
/// assumption, until the incompatible set stops growing. Without cycles one pass is exact.
pub(super) fn diff(original: &Value, update: &Value, policy: Policy) -> Diffs {
    let mut ctx = Ctx {
        policy,
        memo: HashMap::new(),
        in_progress: HashSet::new(),
        seed: HashMap::new(),
        optimistic: false,
        steps: 0,
        too_deep: false,
        patterns: HashMap::new(),
    };
    let mut passes = 0;
    loop {
        passes += 1;
        let mut out = ctx.compare(Some(Node::root(original)), Some(Node::root(update)));
        let incompatible: HashMap<PairKey, Rc<[Diff]>> = ctx
            .memo
            .iter()
            .filter(|(_, diffs)| !ctx.compatible(diffs))
            .map(|(key, diffs)| (*key, Rc::clone(diffs)))
            .collect();
        let settled = !ctx.optimistic
            || (incompatible.len() == ctx.seed.len()
                && incompatible.keys().all(|k| ctx.seed.contains_key(k)));
        let out_of_budget = ctx.steps >= MAX_STEPS || passes >= MAX_PASSES;
        if settled || out_of_budget {
            // A limit hit inside a branch that was then discarded (an unmatched `oneOf`
            // branch, a `not`) leaves no trace in the differences; the verdict must still be
            // "not shown compatible", with the reason.
            for (hit, kind) in [
                (ctx.too_deep, Kind::MAX_DEPTH_EXCEEDED),
                (
                    !settled || ctx.steps >= MAX_STEPS,
                    Kind::COMPARISON_BUDGET_EXCEEDED,
                ),
            ] {
                if hit && !out.iter().any(|d| d.kind == kind) {
                    push(&mut out, "", kind);
                }
            }
            return out;
        }
        ctx.seed = incompatible;
        ctx.memo.clear();
        ctx.optimistic = false;
        ctx.too_deep = false;
    }
}

impl Ctx {
    pub(super) fn compatible(&self, diffs: &[Diff]) -> bool {
        diffs.iter().all(|d| d.kind.is_compatible(self.policy))
    }

    /// Differences from `original` to `update`, relative to them; `None` is an absent schema.
    pub(super) fn compare<'a>(
        &mut self,
        original: Option<Node<'a>>,
        update: Option<Node<'a>>,
    ) -> Diffs {
        let mut out = Diffs::new();
        let (o, u) = match (original, update) {
            (None, None) => return out,
            (None, Some(_)) => {
                push(&mut out, "", Kind::SCHEMA_ADDED);
                return out;
            }
            (Some(_), None) => {
                push(&mut out, "", Kind::SCHEMA_REMOVED);
                return out;
            }
            (Some(o), Some(u)) => (o.resolve(), u.resolve()),
        };
        self.steps += 1;
        if self.steps > MAX_STEPS {
            push(&mut out, "", Kind::COMPARISON_BUDGET_EXCEEDED);
            return out;
        }
        let key = (o.id(), u.id());
        if let Some(known) = self.memo.get(&key) {
            return known.to_vec();
        }
        if self.in_progress.contains(&key) {
            // A recursive schema came back to a pair still being compared.
            if let Some(known) = self.seed.get(&key) {
                return known.to_vec();
            }
            // Assume it compatible (the greatest fixed point): whatever differs is reported
            // where the recursion first met the pair.
            self.optimistic = true;
            return out;
        }
        if self.in_progress.len() >= MAX_DEPTH {
            self.too_deep = true;
            push(&mut out, "", Kind::MAX_DEPTH_EXCEEDED);
            return out;
        }
        self.in_progress.insert(key);
        self.compare_shapes(o, u, &mut out);
        self.in_progress.remove(&key);
        self.memo.insert(key, out.clone().into());
        out
    }

    /// Confluent's `compareTypes`.
    fn compare_shapes<'a>(&mut self, o: Node<'a>, u: Node<'a>, out: &mut Diffs) {
        let os = o.shape();
        let us = u.shape();
        match (&os, &us) {
            (Shape::Combined(..), Shape::Combined(..)) => {}
            (_, Shape::Combined(crit, subs)) => {
                // The writer's single schema may be one of the reader's branches.
                if subs.len() == 1 || matches!(crit, Crit::AnyOf | Crit::OneOf) {
                    for sub in subs {
                        let inner = self.compare(Some(o), Some(*sub));
                        if self.compatible(&inner) {
                            out.extend(inner);
                            if subs.len() > 1 {
                                push(out, "", Kind::SUM_TYPE_EXTENDED);
                            }
                            return;
                        }
                    }
                }
            }
            (Shape::Combined(crit, subs), _) => {
                // Data satisfying every writer branch satisfies the one the reader kept.
                if subs.len() == 1 || *crit == Crit::AllOf {
                    for sub in subs {
                        let inner = self.compare(Some(*sub), Some(u));
                        if self.compatible(&inner) {
                            out.extend(inner);
                            if subs.len() > 1 {
                                push(out, "", Kind::PRODUCT_TYPE_NARROWED);
                            }
                            return;
                        }
                    }
                }
            }
            _ => {}
        }

        if !os.same_class(&us) {
            if matches!(os, Shape::False) || matches!(us, Shape::Empty) {
                return;
            }
            // Kafka Connect's decimal fix: two encodings of bytes are the same thing.
            let bytes = |n: Node<'_>| n.annotation("connect.type") == Some(&Value::from("bytes"));
            if bytes(o) && bytes(u) {
                return;
            }
            push(out, "", Kind::TYPE_CHANGED);
            return;
        }

        for (keyword, kind) in [
            ("$id", Kind::ID_CHANGED),
            ("title", Kind::TITLE_CHANGED),
            ("description", Kind::DESCRIPTION_CHANGED),
            ("default", Kind::DEFAULT_CHANGED),
        ] {
            if o.annotation(keyword) != u.annotation(keyword) {
                push(out, "", kind);
            }
        }

        match (os, us) {
            (Shape::String(om), Shape::String(um)) => scalar::compare_string(om, um, out),
            (Shape::Number(om, oi), Shape::Number(um, ui)) => {
                scalar::compare_number(om, oi, um, ui, out);
            }
            (Shape::Enum(ov), Shape::Enum(uv)) => scalar::compare_enum(ov, uv, out),
            (Shape::Const(ov), Shape::Const(uv)) => {
                if ov != uv {
                    push(out, "const", Kind::ENUM_ARRAY_CHANGED);
                }
            }
            (Shape::Unresolved(or), Shape::Unresolved(ur)) => {
                if or != ur {
                    push(out, "", Kind::TYPE_CHANGED);
                }
            }
            (Shape::Combined(oc, osubs), Shape::Combined(uc, usubs)) => {
                combined::compare(self, (oc, &osubs), (uc, &usubs), out);
            }
            (Shape::Not(on), Shape::Not(un)) => combined::compare_not(self, on, un, out),
            (Shape::Object(om), Shape::Object(um)) => object::compare(self, (o, om), (u, um), out),
            (Shape::Array(om), Shape::Array(um)) => array::compare(self, (o, om), (u, um), out),
            _ => {}
        }
    }

    /// Whether `key` matches the ECMA-262 regex `pattern` anywhere (a `patternProperties`
    /// key). Uses the validator's own regex engine so we agree with how data is validated;
    /// an invalid pattern matches nothing.
    pub(super) fn pattern_matches(&mut self, pattern: &str, key: &str) -> bool {
        let validator = self.patterns.entry(pattern.to_owned()).or_insert_with(|| {
            let mut props = serde_json::Map::new();
            props.insert(pattern.to_owned(), Value::Bool(false));
            let schema = serde_json::json!({ "patternProperties": props });
            jsonschema::validator_for(&schema).ok()
        });
        let mut instance = serde_json::Map::new();
        instance.insert(key.to_owned(), Value::Null);
        validator
            .as_ref()
            .is_some_and(|v| !v.is_valid(&Value::Object(instance)))
    }
}
