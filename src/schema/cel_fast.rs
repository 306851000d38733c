//! The fast path for data-contract conditions: a subset of CEL compiled from the `cel` crate's
//! AST into a small tree, evaluated over the record's captured top-level scalar fields
//! ([`Captured`]) without building a JSON tree, a CEL map or a context.
//!
//! It owns the subset and its semantics, which mirror the `cel` crate 0.15 exactly: its
//! cross-type numeric comparisons (`1 == 1.0`, `1 == 1u`, int against double through a lossy
//! `as f64`), `&&` / `||` absorbing an error on one side when the other decides, a missing
//! field being an error for a select and `false` for `has()`. It must never give an answer the
//! `cel` crate would not: whenever it is unsure (an error, a `Complex` value, an operation it does
//! not model) it says `None` and the caller runs the `cel` crate on the full record. It must not
//! parse CEL, read JSON or decide what a failed rule does.
//!
//! The subset: int, uint, double, string, bool and null literals; `message.<field>` and
//! `has(message.<field>)`; `&&`, `||`, `!`, `? :`; `==`, `!=`, `<`, `<=`, `>`, `>=`;
//! `x in [literals]`; `+ - * / %` and unary `-` on ints, uints and doubles; `size` (global or
//! member), `startsWith`, `endsWith`, `contains` and `matches` (member, or global `matches`,
//! with a literal pattern) on strings.

use std::cmp::Ordering;

use cel::common::ast::{CallExpr, Expr, LiteralValue, operators};

use super::capture::Captured;
use super::object_key::same;

/// A condition compiled for the fast path.
#[derive(Debug)]
pub struct FastCondition {
    root: Node,
    /// The symbols of each field that is an Avro enum, which are captured as an index
    /// ([`Captured::Symbol`]).
    symbols: Symbols,
}

/// Per field (by slot), its enum symbols when it has them.
pub type Symbols = Box<[Option<Box<[String]>>]>;

/// What a condition reads: the captured fields and the symbols of the enum ones.
struct Msg<'a> {
    values: &'a [Captured],
    symbols: &'a [Option<Box<[String]>>],
}

impl<'a> Msg<'a> {
    #[inline]
    fn get(&self, slot: usize) -> Option<&'a Captured> {
        self.values.get(slot)
    }

    /// The value of field `slot`; `None` where the `cel` crate errs or the evaluator cannot
    /// model it.
    #[inline]
    fn val(&self, slot: usize) -> Option<Val<'a>> {
        Some(match self.get(slot)? {
            // The `cel` crate: no such key.
            Captured::Absent => return None,
            Captured::Null => Val::Null,
            Captured::Bool(b) => Val::Bool(*b),
            Captured::Int(i) => Val::Int(*i),
            Captured::Uint(u) => Val::Uint(*u),
            Captured::Float(f) => Val::Double(*f),
            Captured::Str(s) => Val::Str(s),
            Captured::Symbol(i) => {
                let symbols = self.symbols.get(slot)?.as_deref()?;
                Val::Str(symbols.get(usize::try_from(*i).ok()?)?)
            }
            Captured::Complex => return None,
        })
    }
}

#[derive(Debug)]
enum Node {
    Lit(Lit),
    /// `message.<fields[slot]>`.
    Field(usize),
    /// `has(message.<fields[slot]>)`.
    Has(usize),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<[Node; 3]>),
    Cmp(Cmp, Box<Node>, Box<Node>),
    /// `message.<fields[slot]> <op> <literal>`, the usual shape of a comparison.
    FieldCmp(Cmp, usize, Lit),
    /// `message.<fields[slot]> in [literals]`, the usual shape of a membership test; for an
    /// enum field, whether each of its symbols is among the literals.
    FieldIn(usize, Box<[Lit]>, Option<Box<[bool]>>),
    Arith(Arith, Box<Node>, Box<Node>),
    In(Box<Node>, Box<[Lit]>),
    Size(Box<Node>),
    Text(Text, Box<Node>, Box<Node>),
    Matches(Box<Node>, Box<regex::Regex>),
}

#[derive(Debug)]
enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy)]
enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

#[derive(Debug, Clone, Copy)]
enum Text {
    StartsWith,
    EndsWith,
    Contains,
}

/// A value during evaluation; strings borrow the compiled literal or the captured field, so
/// evaluating allocates nothing. Strings are borrowed as `&String`, a thin pointer, so that a
/// `Val` and an `Option<Val>` are two words and travel in registers: with `&str` they went
/// through the stack, and the narrow stores then wide loads stalled store forwarding.
#[derive(Debug, Clone, Copy)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(&'a String),
}

const _: () = assert!(std::mem::size_of::<Option<Val<'static>>>() == 16);

impl FastCondition {
    /// `None` when the expression uses anything outside the subset. `fields` is the sorted,
    /// distinct list of top-level message fields the caller will capture (the union over all of
    /// a schema's rules); an expression reading a field not in `fields` → None.
    #[must_use]
    pub fn compile(expr: &Expr, fields: &[String]) -> Option<FastCondition> {
        compile(expr, fields).map(|root| FastCondition {
            root,
            symbols: Box::default(),
        })
    }

    /// The same condition over records whose enum fields are captured as symbol indexes:
    /// `symbols[slot]` are the symbols of field `slot` when it is an enum. Membership tests on
    /// such a field become a lookup by index.
    #[must_use]
    pub fn with_symbols(mut self, symbols: Symbols) -> FastCondition {
        mark_symbols(&mut self.root, &symbols);
        FastCondition { symbols, ..self }
    }

    /// `Some(b)` only when the `cel` crate, evaluating the same expression with `message` bound
    /// to a map of the non-Absent captured fields, would return `Ok(Value::Bool(b))`; `None` for
    /// anything else (an error, a non-boolean, a `Complex` value needed, anything unsure), which
    /// the caller settles with the `cel` crate. `message[i]` is what was captured for
    /// `fields[i]` of [`FastCondition::compile`].
    #[must_use]
    pub fn eval(&self, message: &[Captured]) -> Option<bool> {
        let message = Msg {
            values: message,
            symbols: &self.symbols,
        };
        truth(&self.root, &message)
    }
}

fn compile(expr: &Expr, fields: &[String]) -> Option<Node> {
    compile_any(expr, fields).map(specialize)
}

/// The common shapes in nodes of their own, evaluated without building [`Val`]s.
fn specialize(node: Node) -> Node {
    match node {
        Node::Cmp(op, left, right) => match (*left, *right) {
            (Node::Field(slot), Node::Lit(lit)) => Node::FieldCmp(op, slot, lit),
            (left, right) => Node::Cmp(op, Box::new(left), Box::new(right)),
        },
        Node::In(needle, items) => match *needle {
            Node::Field(slot) => Node::FieldIn(slot, items, None),
            needle => Node::In(Box::new(needle), items),
        },
        node => node,
    }
}

/// Gives the membership tests on enum fields the answer for each symbol.
fn mark_symbols(node: &mut Node, symbols: &[Option<Box<[String]>>]) {
    match node {
        Node::FieldIn(slot, items, mask) => {
            *mask = (symbols.get(*slot).and_then(Option::as_deref))
                .map(|symbols| symbols.iter().map(|s| contains_str(items, s)).collect());
        }
        Node::Not(inner) | Node::Neg(inner) | Node::Size(inner) | Node::Matches(inner, _) => {
            mark_symbols(inner, symbols);
        }
        Node::And(left, right)
        | Node::Or(left, right)
        | Node::Cmp(_, left, right)
        | Node::Arith(_, left, right)
        | Node::Text(_, left, right) => {
            mark_symbols(left, symbols);
            mark_symbols(right, symbols);
        }
        Node::Cond(parts) => parts.iter_mut().for_each(|p| mark_symbols(p, symbols)),
        Node::In(needle, _) => mark_symbols(needle, symbols),
        Node::Lit(_) | Node::Field(_) | Node::Has(_) | Node::FieldCmp(..) => {}
    }
}

fn compile_any(expr: &Expr, fields: &[String]) -> Option<Node> {
    match expr {
        Expr::Literal(literal) => literal_of(literal).map(Node::Lit),
        Expr::Select(select) => {
            // Only `message.x` itself: `message.x.y` would need the nested value, which the
            // streaming pass does not capture.
            if !matches!(&select.operand.expr, Expr::Ident(name) if name == "message") {
                return None;
            }
            let slot = fields.iter().position(|f| *f == select.field)?;
            Some(if select.test {
                Node::Has(slot)
            } else {
                Node::Field(slot)
            })
        }
        Expr::Call(call) => compile_call(call, fields),
        _ => None,
    }
}

fn compile_call(call: &CallExpr, fields: &[String]) -> Option<Node> {
    let arg = |i: usize| call.args.get(i).and_then(|a| compile(&a.expr, fields));
    let boxed = |i: usize| arg(i).map(Box::new);
    let name = call.func_name.as_str();
    let Some(target) = &call.target else {
        let arity = call.args.len();
        let binary = |make: fn(Box<Node>, Box<Node>) -> Node| {
            if arity == 2 {
                Some(make(boxed(0)?, boxed(1)?))
            } else {
                None
            }
        };
        return match name {
            operators::LOGICAL_AND => binary(Node::And),
            operators::LOGICAL_OR => binary(Node::Or),
            operators::EQUALS => binary(|l, r| Node::Cmp(Cmp::Eq, l, r)),
            operators::NOT_EQUALS => binary(|l, r| Node::Cmp(Cmp::Ne, l, r)),
            operators::LESS => binary(|l, r| Node::Cmp(Cmp::Lt, l, r)),
            operators::LESS_EQUALS => binary(|l, r| Node::Cmp(Cmp::Le, l, r)),
            operators::GREATER => binary(|l, r| Node::Cmp(Cmp::Gt, l, r)),
            operators::GREATER_EQUALS => binary(|l, r| Node::Cmp(Cmp::Ge, l, r)),
            operators::ADD => binary(|l, r| Node::Arith(Arith::Add, l, r)),
            operators::SUBSTRACT => binary(|l, r| Node::Arith(Arith::Sub, l, r)),
            operators::MULTIPLY => binary(|l, r| Node::Arith(Arith::Mul, l, r)),
            operators::DIVIDE => binary(|l, r| Node::Arith(Arith::Div, l, r)),
            operators::MODULO => binary(|l, r| Node::Arith(Arith::Rem, l, r)),
            operators::CONDITIONAL if arity == 3 => {
                Some(Node::Cond(Box::new([arg(0)?, arg(1)?, arg(2)?])))
            }
            operators::LOGICAL_NOT if arity == 1 => Some(Node::Not(boxed(0)?)),
            operators::NEGATE if arity == 1 => Some(Node::Neg(boxed(0)?)),
            operators::IN if arity == 2 => {
                let Expr::List(list) = &call.args.get(1)?.expr else {
                    return None;
                };
                if !list.optional_indices.is_empty() {
                    return None;
                }
                let items = list
                    .elements
                    .iter()
                    .map(|e| match &e.expr {
                        Expr::Literal(literal) => literal_of(literal),
                        _ => None,
                    })
                    .collect::<Option<Box<[Lit]>>>()?;
                Some(Node::In(boxed(0)?, items))
            }
            "size" if arity == 1 => Some(Node::Size(boxed(0)?)),
            "matches" if arity == 2 => Some(Node::Matches(boxed(0)?, pattern(call.args.get(1)?)?)),
            _ => None,
        };
    };
    let this = || compile(&target.expr, fields).map(Box::new);
    match (name, call.args.len()) {
        ("size", 0) => Some(Node::Size(this()?)),
        ("startsWith", 1) => Some(Node::Text(Text::StartsWith, this()?, boxed(0)?)),
        ("endsWith", 1) => Some(Node::Text(Text::EndsWith, this()?, boxed(0)?)),
        ("contains", 1) => Some(Node::Text(Text::Contains, this()?, boxed(0)?)),
        ("matches", 1) => Some(Node::Matches(this()?, pattern(call.args.first()?)?)),
        _ => None,
    }
}

/// A literal pattern, compiled once here where the `cel` crate compiles it on every call (with
/// the same `regex` crate and defaults, so it matches the same strings, anywhere in them). A
/// pattern that does not compile is an error on every record: left to the `cel` crate.
fn pattern(expr: &cel::common::ast::IdedExpr) -> Option<Box<regex::Regex>> {
    match &expr.expr {
        Expr::Literal(LiteralValue::String(s)) => regex::Regex::new(s.inner()).ok().map(Box::new),
        _ => None,
    }
}

fn literal_of(literal: &LiteralValue) -> Option<Lit> {
    Some(match literal {
        LiteralValue::Null => Lit::Null,
        LiteralValue::Boolean(b) => Lit::Bool(*b.inner()),
        LiteralValue::Int(i) => Lit::Int(*i.inner()),
        LiteralValue::UInt(u) => Lit::Uint(*u.inner()),
        LiteralValue::Double(d) => Lit::Double(*d.inner()),
        LiteralValue::String(s) => Lit::Str(s.inner().to_string()),
        LiteralValue::Bytes(_) => return None,
    })
}

impl Lit {
    fn val(&self) -> Val<'_> {
        match self {
            Lit::Null => Val::Null,
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Int(i) => Val::Int(*i),
            Lit::Uint(u) => Val::Uint(*u),
            Lit::Double(d) => Val::Double(*d),
            Lit::Str(s) => Val::Str(s),
        }
    }
}

// Both evaluators say `None` where the `cel` crate errs, or gives something this one does not
// model. The two are not told apart: only `&&` / `||` turn an error into a value, and they do
// so only when their other side decides, whatever this side was.

/// `&&` (`decider` false) or `||` (`decider` true): a side equal to `decider` decides, even when
/// the other erred or was not a boolean; otherwise both sides must be known.
fn junction(decider: bool, left: &Node, right: &Node, message: &Msg<'_>) -> Option<bool> {
    let left = truth(left, message);
    if left == Some(decider) {
        return Some(decider);
    }
    match truth(right, message)? {
        right if right == decider => Some(decider),
        _ if left == Some(!decider) => Some(!decider),
        _ => None,
    }
}

/// A node in a boolean position. Conditions are mostly booleans over comparisons of fields with
/// literals: this path returns them in a register and reads the leaves in place. Going through
/// [`value`] for every node, whose result is returned through memory, was markedly slower.
fn truth(node: &Node, message: &Msg<'_>) -> Option<bool> {
    match node {
        Node::Has(slot) => Some(!matches!(message.get(*slot)?, Captured::Absent)),
        Node::Not(operand) => truth(operand, message).map(|b| !b),
        // The `cel` crate evaluates the left side first and stops at a `false` (`true` for
        // `||`); otherwise the right side decides when it is `false` (`true`), even when the
        // left one erred or was not a boolean. So a deciding side decides whatever the other
        // was, which is what lets an unsure side be `None` here.
        Node::And(left, right) => junction(false, left, right, message),
        Node::Or(left, right) => junction(true, left, right, message),
        Node::FieldCmp(op, slot, lit) => field_compared(*op, message, *slot, lit),
        // A string field is looked up without making a `Val` of it first: building one in
        // memory and reading it back stalled on store forwarding.
        Node::FieldIn(slot, items, symbols) => match (message.get(*slot)?, symbols) {
            (Captured::Str(s), _) => Some(contains_str(items, s)),
            (Captured::Symbol(i), Some(symbols)) => symbols.get(usize::try_from(*i).ok()?).copied(),
            _ => Some(contains(items, message.val(*slot)?)),
        },
        _ => truth_other(node, message),
    }
}

/// [`truth`] of the less common nodes, kept out of it: a function with every arm needs a
/// large frame, set up again on each of the calls a condition makes.
#[inline(never)]
fn truth_other(node: &Node, message: &Msg<'_>) -> Option<bool> {
    match node {
        Node::Cond(parts) => {
            let [cond, then, otherwise] = &**parts;
            let branch = if truth(cond, message)? {
                then
            } else {
                otherwise
            };
            truth(branch, message)
        }
        Node::Cmp(op, left, right) => {
            compared(*op, operand(left, message)?, operand(right, message)?)
        }
        Node::In(needle, items) => Some(contains(items, operand(needle, message)?)),
        Node::Text(op, this, arg) => match (operand(this, message)?, operand(arg, message)?) {
            (Val::Str(s), Val::Str(needle)) => Some(match op {
                Text::StartsWith => s.starts_with(needle),
                Text::EndsWith => s.ends_with(needle),
                Text::Contains => s.contains(needle),
            }),
            _ => None,
        },
        Node::Matches(this, re) => match operand(this, message)? {
            Val::Str(s) => Some(re.is_match(s)),
            _ => None,
        },
        Node::Has(_)
        | Node::Not(_)
        | Node::And(..)
        | Node::Or(..)
        | Node::FieldCmp(..)
        | Node::FieldIn(..) => truth(node, message),
        Node::Lit(_) | Node::Field(_) | Node::Neg(_) | Node::Arith(..) | Node::Size(_) => {
            match operand(node, message)? {
                Val::Bool(b) => Some(b),
                _ => None,
            }
        }
    }
}

/// `needle in items`, as the `cel` crate's `==` finds it.
#[inline]
fn contains(items: &[Lit], needle: Val<'_>) -> bool {
    match needle {
        Val::Str(s) => contains_str(items, s),
        needle => items.iter().any(|item| equals(item.val(), needle)),
    }
}

/// Only a string literal equals a string: no other item need be looked at.
#[inline]
fn contains_str(items: &[Lit], s: &str) -> bool {
    items
        .iter()
        .any(|item| matches!(item, Lit::Str(x) if same(x, s)))
}

/// An operand: a leaf read in place, anything else evaluated.
#[inline]
fn operand<'a>(node: &'a Node, message: &Msg<'a>) -> Option<Val<'a>> {
    match node {
        Node::Lit(lit) => Some(lit.val()),
        Node::Field(slot) => message.val(*slot),
        _ => value(node, message),
    }
}

/// A node in any position.
fn value<'a>(node: &'a Node, message: &Msg<'a>) -> Option<Val<'a>> {
    Some(match node {
        Node::Lit(lit) => lit.val(),
        Node::Field(slot) => message.val(*slot)?,
        Node::Neg(operand_node) => match operand(operand_node, message)? {
            Val::Int(i) => Val::Int(i.checked_neg()?),
            Val::Double(d) => Val::Double(-d),
            _ => return None,
        },
        Node::Arith(op, left, right) => {
            arith(*op, operand(left, message)?, operand(right, message)?)?
        }
        Node::Size(operand_node) => match operand(operand_node, message)? {
            // Code points, as the `cel` crate counts them.
            Val::Str(s) => Val::Int(i64::try_from(s.chars().count()).ok()?),
            _ => return None,
        },
        Node::Cond(parts) => {
            let [cond, then, otherwise] = &**parts;
            let branch = if truth(cond, message)? {
                then
            } else {
                otherwise
            };
            operand(branch, message)?
        }
        Node::Has(_)
        | Node::Not(_)
        | Node::And(..)
        | Node::Or(..)
        | Node::Cmp(..)
        | Node::FieldCmp(..)
        | Node::FieldIn(..)
        | Node::In(..)
        | Node::Text(..)
        | Node::Matches(..) => Val::Bool(truth(node, message)?),
    })
}

/// `left <op> right`.
#[inline]
fn compared(op: Cmp, left: Val<'_>, right: Val<'_>) -> Option<bool> {
    Some(match op {
        Cmp::Eq => equals(left, right),
        Cmp::Ne => !equals(left, right),
        Cmp::Lt => compare(left, right)? == Ordering::Less,
        Cmp::Le => compare(left, right)? != Ordering::Greater,
        Cmp::Gt => compare(left, right)? == Ordering::Greater,
        Cmp::Ge => compare(left, right)? != Ordering::Less,
    })
}

/// [`compared`] of a captured field and a literal. Number against number, the usual case, is
/// spelled out pair by pair so that each arm folds to one comparison: going through two
/// `Val`s, built in memory a byte at a time and read back whole, stalled on store forwarding.
fn field_compared(op: Cmp, message: &Msg<'_>, slot: usize, lit: &Lit) -> Option<bool> {
    use Captured as C;
    let order = match (message.get(slot)?, lit) {
        (C::Int(a), Lit::Int(b)) => compare(Val::Int(*a), Val::Int(*b)),
        (C::Int(a), Lit::Uint(b)) => compare(Val::Int(*a), Val::Uint(*b)),
        (C::Int(a), Lit::Double(b)) => compare(Val::Int(*a), Val::Double(*b)),
        (C::Uint(a), Lit::Int(b)) => compare(Val::Uint(*a), Val::Int(*b)),
        (C::Uint(a), Lit::Uint(b)) => compare(Val::Uint(*a), Val::Uint(*b)),
        (C::Uint(a), Lit::Double(b)) => compare(Val::Uint(*a), Val::Double(*b)),
        (C::Float(a), Lit::Int(b)) => compare(Val::Double(*a), Val::Int(*b)),
        (C::Float(a), Lit::Uint(b)) => compare(Val::Double(*a), Val::Uint(*b)),
        (C::Float(a), Lit::Double(b)) => compare(Val::Double(*a), Val::Double(*b)),
        _ => return compared(op, message.val(slot)?, lit.val()),
    };
    // Numbers are equal exactly when they compare equal (`equals`).
    Some(match op {
        Cmp::Eq => order == Some(Ordering::Equal),
        Cmp::Ne => order != Some(Ordering::Equal),
        Cmp::Lt => order? == Ordering::Less,
        Cmp::Le => order? != Ordering::Greater,
        Cmp::Gt => order? == Ordering::Greater,
        Cmp::Ge => order? != Ordering::Less,
    })
}

/// The `cel` crate's `==`, which never errs: numbers of any kind compare by value (as
/// [`compare`] does, so NaN equals nothing), other kinds only equal their own, and mixed kinds
/// are unequal.
#[inline]
fn equals(left: Val<'_>, right: Val<'_>) -> bool {
    match (left, right) {
        (Val::Null, Val::Null) => true,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => same(a, b),
        (Val::Int(_) | Val::Uint(_) | Val::Double(_), _) => {
            compare(left, right) == Some(Ordering::Equal)
        }
        _ => false,
    }
}

/// The `cel` crate's ordering; `None` where it errs (NaN, mixed kinds, null). Int against uint
/// is exact, but int or uint against double converts the integer `as f64` (rounding), as the
/// `cel` crate does: `9223372036854775807 == 9223372036854775808.0` holds there.
#[allow(
    clippy::cast_precision_loss,
    reason = "the cel crate compares through the same lossy conversion"
)]
#[inline]
fn compare(left: Val<'_>, right: Val<'_>) -> Option<Ordering> {
    match (left, right) {
        (Val::Int(a), Val::Int(b)) => Some(a.cmp(&b)),
        (Val::Uint(a), Val::Uint(b)) => Some(a.cmp(&b)),
        (Val::Int(a), Val::Uint(b)) => Some(u64::try_from(a).map_or(Ordering::Less, |a| a.cmp(&b))),
        (Val::Uint(a), Val::Int(b)) => {
            Some(i64::try_from(a).map_or(Ordering::Greater, |a| a.cmp(&b)))
        }
        (Val::Double(a), Val::Double(b)) => a.partial_cmp(&b),
        (Val::Int(a), Val::Double(b)) => (a as f64).partial_cmp(&b),
        (Val::Uint(a), Val::Double(b)) => (a as f64).partial_cmp(&b),
        (Val::Double(a), Val::Int(b)) => a.partial_cmp(&(b as f64)),
        (Val::Double(a), Val::Uint(b)) => a.partial_cmp(&(b as f64)),
        (Val::Str(a), Val::Str(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// Arithmetic within one numeric kind, as the `cel` crate allows it: integer overflow and
/// division or remainder by zero are errors, doubles follow IEEE and have no `%`. Joining
/// strings would allocate: left to the `cel` crate.
fn arith<'a>(op: Arith, left: Val<'a>, right: Val<'a>) -> Option<Val<'a>> {
    Some(match (left, right) {
        (Val::Int(a), Val::Int(b)) => Val::Int(match op {
            Arith::Add => a.checked_add(b)?,
            Arith::Sub => a.checked_sub(b)?,
            Arith::Mul => a.checked_mul(b)?,
            Arith::Div => a.checked_div(b)?,
            Arith::Rem => a.checked_rem(b)?,
        }),
        (Val::Uint(a), Val::Uint(b)) => Val::Uint(match op {
            Arith::Add => a.checked_add(b)?,
            Arith::Sub => a.checked_sub(b)?,
            Arith::Mul => a.checked_mul(b)?,
            Arith::Div => a.checked_div(b)?,
            Arith::Rem => a.checked_rem(b)?,
        }),
        (Val::Double(a), Val::Double(b)) => Val::Double(match op {
            Arith::Add => a + b,
            Arith::Sub => a - b,
            Arith::Mul => a * b,
            Arith::Div => a / b,
            Arith::Rem => return None,
        }),
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
