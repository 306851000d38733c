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

/// Most passes (see [`diff`]) before giving up; with `MAX_DEPTH` this bounds the nesting
/// followed to `MAX_DEPTH * MAX_PASSES` pairs.
pub(super) const MAX_PASSES: usize = 32;

pub(super) struct Ctx<'a> {
    pub(super) policy: Policy,
    max_steps: usize,
    /// Every pair compared in this pass, with its differences.
    memo: HashMap<PairKey, Rc<[Diff]>>,
    /// Pairs on the comparison stack.
    in_progress: HashSet<PairKey>,
    /// Pairs a previous pass found incompatible: a cut re-entering one of them gets these
    /// differences instead of the optimistic "compatible".
    seed: HashMap<PairKey, Rc<[Diff]>>,
    /// Whether this pass assumed some cut pair compatible.
    optimistic: bool,
    /// Pairs this pass did not descend into because the stack was `MAX_DEPTH` deep.
    cut: Vec<(Node<'a>, Node<'a>)>,
    /// `compare` calls so far, over all passes.
    steps: usize,
    patterns: HashMap<String, Option<jsonschema::Validator>>,
}

pub(super) fn diff(original: &Value, update: &Value, policy: Policy) -> Diffs {
    diff_within(original, update, policy, MAX_STEPS)
}

/// The diff, in passes, as Confluent runs it. A pass compares depth first and memoises every
/// pair. A pair met again while it is still on the stack (a recursive schema) is assumed
/// compatible, the greatest fixed point; so is a pair met with the stack already
/// `MAX_DEPTH` deep, which keeps our own stack bounded. A cached result can rest on such an
/// assumption that later proved false and mask a real change where it is reused, so each pass
/// hands the pairs it found incompatible to the next (used instead of the assumption) until
/// that set stops changing. Pairs cut off by depth and compared nowhere else in the pass are
/// compared first in the next one, from an empty stack. Without cycles or deep nesting one
/// pass is exact.
pub(super) fn diff_within<'a>(
    original: &'a Value,
    update: &'a Value,
    policy: Policy,
    max_steps: usize,
) -> Diffs {
    let mut ctx = Ctx {
        policy,
        max_steps,
        memo: HashMap::new(),
        in_progress: HashSet::new(),
        seed: HashMap::new(),
        optimistic: false,
        cut: Vec::new(),
        steps: 0,
        patterns: HashMap::new(),
    };
    let mut pending: Vec<(Node<'a>, Node<'a>)> = Vec::new();
    let mut pending_keys: HashSet<PairKey> = HashSet::new();
    let mut passes = 0;
    loop {
        passes += 1;
        // Deepest first, so each finds the ones below it already done.
        for (o, u) in pending.iter().rev() {
            ctx.compare(Some(*o), Some(*u));
        }
        let mut out = ctx.compare(Some(Node::root(original)), Some(Node::root(update)));

        let mut unresolved = std::mem::take(&mut ctx.cut);
        unresolved.retain(|(o, u)| !ctx.memo.contains_key(&(o.id(), u.id())));
        let incompatible: HashMap<PairKey, Rc<[Diff]>> = ctx
            .memo
            .iter()
            .filter(|(_, diffs)| !ctx.compatible(diffs))
            .map(|(key, diffs)| (*key, Rc::clone(diffs)))
            .collect();
        let settled = unresolved.is_empty()
            && (!ctx.optimistic
                || (incompatible.len() == ctx.seed.len()
                    && incompatible.keys().all(|k| ctx.seed.contains_key(k))));
        let exhausted = ctx.steps >= ctx.max_steps;
        if settled || exhausted || passes >= MAX_PASSES {
            // The verdict must not claim compatibility the comparison never established. A
            // limit hit inside a branch that was then dropped (an unmatched `oneOf` branch, a
            // `not`) leaves no trace in `out`, so say so at the root, with the reason.
            for (hit, kind) in [
                (!unresolved.is_empty(), Kind::MAX_DEPTH_EXCEEDED),
                (
                    exhausted || (!settled && unresolved.is_empty()),
                    Kind::COMPARISON_BUDGET_EXCEEDED,
                ),
            ] {
                if hit && !out.iter().any(|d| d.kind == kind) {
                    push(&mut out, "", kind);
                }
            }
            return out;
        }
        for (o, u) in unresolved {
            if pending_keys.insert((o.id(), u.id())) {
                pending.push((o, u));
            }
        }
        ctx.seed = incompatible;
        ctx.memo.clear();
        ctx.optimistic = false;
    }
}

impl<'a> Ctx<'a> {
    pub(super) fn compatible(&self, diffs: &[Diff]) -> bool {
        diffs.iter().all(|d| d.kind.is_compatible(self.policy))
    }

    /// Differences from `original` to `update`, relative to them; `None` is an absent schema.
    pub(super) fn compare(
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
        if self.steps > self.max_steps {
            push(&mut out, "", Kind::COMPARISON_BUDGET_EXCEEDED);
            return out;
        }
        let key = (o.id(), u.id());
        if let Some(known) = self.memo.get(&key) {
            return known.to_vec();
        }
        let cycle = self.in_progress.contains(&key);
        if cycle || self.in_progress.len() >= MAX_DEPTH {
            if !cycle {
                self.cut.push((o, u));
            }
            if let Some(known) = self.seed.get(&key) {
                return known.to_vec();
            }
            self.optimistic = true;
            return out;
        }
        self.in_progress.insert(key);
        self.compare_shapes(o, u, &mut out);
        self.in_progress.remove(&key);
        self.memo.insert(key, out.clone().into());
        out
    }

    /// Confluent's `compareTypes`.
    fn compare_shapes(&mut self, o: Node<'a>, u: Node<'a>, out: &mut Diffs) {
        let os = o.shape();
        let us = u.shape();
        match (&os, &us) {
            (Shape::Combined(..), Shape::Combined(..)) => {}
            // The writer's single schema may be one of the reader's branches.
            (_, Shape::Combined(crit, subs))
                if subs.len() == 1 || matches!(crit, Crit::Any | Crit::One) =>
            {
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
            // Data satisfying every writer branch satisfies the one the reader kept.
            (Shape::Combined(crit, subs), _) if subs.len() == 1 || *crit == Crit::All => {
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
            (Shape::Const(ov), Shape::Const(uv)) if ov != uv => {
                push(out, "const", Kind::ENUM_ARRAY_CHANGED);
            }
            // References we cannot follow: the same reference is the same schema.
            (Shape::Unresolved(or), Shape::Unresolved(ur)) if or != ur => {
                push(out, "", Kind::TYPE_CHANGED);
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
