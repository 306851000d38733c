#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use cel::objects::{Key, Map};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::*;

/// The symbols every field has in the tests that capture enum fields as indexes.
const SYMBOLS: [&str; 5] = ["", "a", "EUR", "USD", "héllo"];

fn symbols(n: usize) -> Symbols {
    (0..n)
        .map(|_| Some(SYMBOLS.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

/// `message` as the `cel` crate is given it: the non-Absent fields, converted as
/// cel_message.rs converts JSON (a `Complex` field stands for some array, a symbol for its
/// text, an unknown one for an array too).
fn message_value(fields: &[String], message: &[Captured], symbols: &Symbols) -> cel::Value {
    let map: HashMap<Key, cel::Value> = fields
        .iter()
        .zip(message)
        .enumerate()
        .filter_map(|(slot, (name, value))| {
            let value = match value {
                Captured::Symbol(i) => {
                    match (symbols.get(slot).and_then(Option::as_deref))
                        .and_then(|s| s.get(*i as usize))
                    {
                        Some(text) => cel::Value::String(Arc::new(text.clone())),
                        None => cel::Value::List(Arc::new(vec![cel::Value::Int(1)])),
                    }
                }
                Captured::Absent => return None,
                Captured::Null => cel::Value::Null,
                Captured::Bool(b) => cel::Value::Bool(*b),
                Captured::Int(i) => cel::Value::Int(*i),
                Captured::Uint(u) => cel::Value::UInt(*u),
                Captured::Float(f) => cel::Value::Float(*f),
                Captured::Str(s) => cel::Value::String(Arc::new(s.clone())),
                Captured::Complex => cel::Value::List(Arc::new(vec![cel::Value::Int(1)])),
            };
            Some((Key::String(Arc::new(name.clone())), value))
        })
        .collect();
    cel::Value::Map(Map { map: Arc::new(map) })
}

/// What the `cel` crate says, run as rules.rs runs it.
fn cel_says(
    program: &cel::Program,
    fields: &[String],
    message: &[Captured],
    symbols: &Symbols,
) -> Result<cel::Value, cel::ExecutionError> {
    let root = cel::Context::default();
    let mut context = root.new_inner_scope();
    context.add_variable_from_value("message", message_value(fields, message, symbols));
    program.execute(&context)
}

/// The fast answer for `expr` over `message` (its fields, sorted here), checked against the
/// `cel` crate whenever it is `Some`. The expression must be in the subset.
fn fast(expr: &str, message: &[(&str, Captured)]) -> Option<bool> {
    let mut message = message.to_vec();
    message.sort_by(|a, b| a.0.cmp(b.0));
    let fields: Vec<String> = message.iter().map(|(f, _)| (*f).to_owned()).collect();
    let values: Vec<Captured> = message.into_iter().map(|(_, v)| v).collect();
    let program = cel::Program::compile(expr).unwrap();
    let condition = FastCondition::compile(&program.expression().expr, &fields)
        .unwrap_or_else(|| panic!("{expr} is in the subset"));
    let answer = condition.eval(&values);
    if let Some(answer) = answer {
        let cel = cel_says(&program, &fields, &values, &Symbols::default());
        assert_eq!(cel, Ok(cel::Value::Bool(answer)), "{expr} over {values:?}");
    }
    answer
}

fn compiles(expr: &str, fields: &[&str]) -> bool {
    let fields: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    let program = cel::Program::compile(expr).unwrap();
    FastCondition::compile(&program.expression().expr, &fields).is_some()
}

fn s(text: &str) -> Captured {
    Captured::Str(text.to_owned())
}

#[test]
fn the_typical_rule_passes_refuses_and_leaves_errors_to_cel() {
    let rule = "message.amount > 0 && message.currency in ['EUR', 'USD']";
    let check = |amount, currency| fast(rule, &[("amount", amount), ("currency", currency)]);
    assert_eq!(check(Captured::Int(5), s("EUR")), Some(true));
    assert_eq!(check(Captured::Float(0.5), s("USD")), Some(true));
    assert_eq!(check(Captured::Uint(u64::MAX), s("USD")), Some(true));
    assert_eq!(check(Captured::Int(-1), s("EUR")), Some(false));
    assert_eq!(check(Captured::Int(5), s("JPY")), Some(false));
    // A missing or non-numeric amount is an error in the cel crate, absorbed only by a false.
    assert_eq!(check(Captured::Absent, s("EUR")), None);
    assert_eq!(check(Captured::Absent, s("JPY")), Some(false));
    assert_eq!(check(s("5"), s("EUR")), None);
    assert_eq!(check(Captured::Complex, s("EUR")), None);
    assert_eq!(check(Captured::Int(5), Captured::Absent), None);
    assert_eq!(check(Captured::Int(0), Captured::Absent), Some(false));
}

#[test]
fn numbers_compare_across_kinds_as_the_cel_crate_does() {
    for (expr, want) in [
        ("1 == 1.0", Some(true)),
        ("1 == 1u", Some(true)),
        ("-1 == 18446744073709551615u", Some(false)),
        ("-1 < 0u", Some(true)),
        ("18446744073709551615u > 9223372036854775807", Some(true)),
        ("1 < 1.5", Some(true)),
        // Through the cel crate's lossy `as f64`.
        ("9223372036854775807 == 9223372036854775808.0", Some(true)),
        ("9223372036854775807 < 9223372036854775808.0", Some(false)),
        ("9007199254740993 == 9007199254740992.0", Some(true)),
        ("9007199254740993u > 9007199254740992.0", Some(false)),
        ("'a' == 1", Some(false)),
        ("1 != 'a'", Some(true)),
        ("null == null", Some(true)),
        ("null != 0", Some(true)),
        ("true > false", Some(true)),
        ("'B' < 'a'", Some(true)),
        ("'a' < 1", None),
        ("null < null", None),
        ("1 < true", None),
    ] {
        assert_eq!(fast(expr, &[]), want, "{expr}");
    }
    let nan = [("n", Captured::Float(f64::NAN))];
    assert_eq!(fast("message.n == message.n", &nan), Some(false));
    assert_eq!(fast("message.n != message.n", &nan), Some(true));
    assert_eq!(fast("message.n < 1", &nan), None);
    assert_eq!(fast("message.n in [1, 2.0]", &nan), Some(false));
    assert_eq!(
        fast("message.a > 0", &[("a", Captured::Float(0.5))]),
        Some(true)
    );
}

#[test]
fn and_or_absorb_an_error_when_the_other_side_decides() {
    let absent = [("x", Captured::Absent)];
    for (expr, want) in [
        ("false && message.x > 0", Some(false)),
        ("message.x > 0 && false", Some(false)),
        ("true || message.x > 0", Some(true)),
        ("message.x > 0 || true", Some(true)),
        ("message.x > 0 && true", None),
        ("true && message.x > 0", None),
        ("message.x > 0 || false", None),
        ("message.x > 0 || message.x < 0", None),
        // A non-boolean side is an error too, and absorbed alike.
        ("1 && false", Some(false)),
        ("false && 1", Some(false)),
        ("true && 1", None),
        ("1 || true", Some(true)),
        ("!1", None),
        ("!(message.x > 0)", None),
        ("has(message.x) ? message.x > 0 : true", Some(true)),
        ("true ? 1 : message.x", None),
        ("1 ? true : false", None),
        ("message.x ? true : false", None),
    ] {
        assert_eq!(fast(expr, &absent), want, "{expr}");
    }
}

#[test]
fn presence_and_nulls() {
    let message = [
        ("a", Captured::Absent),
        ("n", Captured::Null),
        ("c", Captured::Complex),
        ("b", Captured::Bool(true)),
    ];
    assert_eq!(fast("has(message.a)", &message), Some(false));
    assert_eq!(fast("has(message.n)", &message), Some(true));
    assert_eq!(fast("has(message.c)", &message), Some(true));
    assert_eq!(fast("message.n == null", &message), Some(true));
    assert_eq!(fast("message.b", &message), Some(true));
    assert_eq!(fast("!message.b", &message), Some(false));
    // The cel crate would say false (an array is not 1); unsure here, so it decides.
    assert_eq!(fast("message.c == 1", &message), None);
    assert_eq!(fast("message.a == null", &message), None);
}

#[test]
fn arithmetic_errs_on_overflow_zero_divisors_and_mixed_kinds() {
    for (expr, want) in [
        ("1 + 2 == 3", Some(true)),
        (
            "7 / 2 == 3 && 7 % 2 == 1 && -7 / 2 == -3 && -7 % 2 == -1",
            Some(true),
        ),
        ("5u - 2u == 3u && 5u * 2u == 10u", Some(true)),
        ("1.0 / 0.0 > 1e308", Some(true)),
        ("0.1 + 0.2 == 0.30000000000000004", Some(true)),
        ("-(1) == -1 && -(1.5) < 0", Some(true)),
        ("9223372036854775807 + 1 > 0", None),
        ("-9223372036854775808 / -1 > 0", None),
        ("-9223372036854775808 % -1 == 0", None),
        ("-(-9223372036854775808) > 0", None),
        ("1u - 2u > 0u", None),
        ("5 / 0 == 0", None),
        ("5 % 0 == 0", None),
        ("5u % 0u == 0u", None),
        ("1 + 1u == 2", None),
        ("1.0 + 1 == 2", None),
        ("1.0 % 1.0 == 0.0", None),
        ("-(1u) == 1u", None),
        ("'a' + 'b' == 'ab'", None),
    ] {
        assert_eq!(fast(expr, &[]), want, "{expr}");
    }
}

#[test]
fn string_functions() {
    let message = [("s", s("héllo")), ("e", s("")), ("i", Captured::Int(1))];
    for (expr, want) in [
        ("size(message.s) == 5 && message.s.size() == 5", Some(true)),
        ("size(message.e) == 0", Some(true)),
        (
            "message.s.startsWith('hé') && message.s.endsWith('lo')",
            Some(true),
        ),
        (
            "message.s.contains('él') && message.s.contains('')",
            Some(true),
        ),
        ("message.s.startsWith(message.e)", Some(true)),
        // `matches` finds the pattern anywhere unless it is anchored.
        ("message.s.matches('l+')", Some(true)),
        ("message.s.matches('^l+$')", Some(false)),
        ("matches(message.s, 'é')", Some(true)),
        ("message.i.size() == 1", None),
        ("size(message.i) == 1", None),
        ("message.i.startsWith('a')", None),
        ("message.s.startsWith(1)", None),
        ("message.i.matches('1')", None),
        ("message.s in ['a', 'héllo']", Some(true)),
        ("message.s in []", Some(false)),
    ] {
        assert_eq!(fast(expr, &message), want, "{expr}");
    }
}

#[test]
fn anything_outside_the_subset_does_not_compile() {
    let fields = ["a", "b"];
    assert!(compiles("message.a > 0 && message.b in ['x']", &fields));
    for expr in [
        "message.z > 0",
        "message.a.b > 0",
        "has(message.a.b)",
        "message['a'] > 0",
        "message == null",
        "other.a > 0",
        "x > 0",
        "message.a in [message.b]",
        "message.a in [[1]]",
        "message.a in {'x': 1}",
        "message.a.matches(message.b)",
        "message.a.matches('(')",
        "int(message.a) > 0",
        "message.a == b'x'",
        "size([1]) == 1",
        "[1].exists(x, x > 0)",
        "message.a.all(x, x > 0)",
        "{'a': 1}.a == 1",
        "message.a.lowerAscii() == 'x'",
        "'x'._+_('y')",
    ] {
        assert!(!compiles(expr, &fields), "{expr}");
    }
}

#[test]
fn enum_fields_captured_as_symbols_answer_as_their_text() {
    let fields = ["amount".to_owned(), "currency".to_owned()];
    let symbols: Symbols = vec![None, Some(["EUR", "USD", "JPY"].map(str::to_owned).into())].into();
    for expr in [
        "message.amount > 0 && message.currency in ['EUR', 'USD']",
        "message.currency == 'USD' || message.currency.startsWith('J')",
        "size(message.currency) == 3 && has(message.currency)",
    ] {
        let program = cel::Program::compile(expr).unwrap();
        let condition = FastCondition::compile(&program.expression().expr, &fields)
            .unwrap()
            .with_symbols(symbols.clone());
        for (currency, known) in [(0, true), (1, true), (2, true), (3, false)] {
            let values = [Captured::Int(5), Captured::Symbol(currency)];
            let fast = condition.eval(&values);
            assert_eq!(fast.is_some(), known, "{expr} with symbol {currency}");
            if let Some(answer) = fast {
                let cel = cel_says(&program, &fields, &values, &symbols);
                assert_eq!(cel, Ok(cel::Value::Bool(answer)), "{expr} with {currency}");
            }
        }
        // Without the symbols the evaluator cannot read the field: unsure, never wrong.
        let plain = FastCondition::compile(&program.expression().expr, &fields).unwrap();
        assert_eq!(plain.eval(&[Captured::Int(5), Captured::Symbol(0)]), None);
    }
}

#[test]
fn slots_follow_the_fields_and_a_short_message_is_unsure() {
    let fields = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let program = cel::Program::compile("message.c - message.a == 1").unwrap();
    let condition = FastCondition::compile(&program.expression().expr, &fields).unwrap();
    let message = [Captured::Int(1), s("unused"), Captured::Int(2)];
    assert_eq!(condition.eval(&message), Some(true));
    assert_eq!(condition.eval(&message[..2]), None);
}

// The differential test: random expressions of the subset over 2–4 fields, random captures,
// and the `cel` crate as the judge of every `Some`. Field `a` and `c` mostly hold numbers, `b`
// strings, `d` booleans, and the expressions mostly use them so, to exercise the answers;
// the rest is anything, to exercise the errors.

const NAMES: [&str; 4] = ["a", "b", "c", "d"];

const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "7",
    "9223372036854775807",
    "-9223372036854775808",
];

const NUMBERS: &[&str] = &[
    "0u",
    "5u",
    "9223372036854775808u",
    "18446744073709551615u",
    "0.0",
    "-0.0",
    "0.5",
    "-1.5",
    "9007199254740992.0",
    "1e300",
    "9223372036854775808.0",
    "18446744073709551616.0",
];

const STRINGS: &[&str] = &["''", "'a'", "'EUR'", "'USD'", "'héllo'", "'日本'", "'l'"];

const OTHERS: &[&str] = &["true", "false", "null"];

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(items).prop_map(str::to_owned)
}

fn fields_where(n: usize, names: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    let mut names: Vec<&str> = names
        .iter()
        .copied()
        .filter(|f| NAMES[..n].contains(f))
        .collect();
    // Without `d`, what stands for a boolean is any field.
    if names.is_empty() {
        names = NAMES[..n].to_vec();
    }
    prop::sample::select(names).prop_map(|f| format!("message.{f}"))
}

/// Mostly ints: arithmetic does not mix kinds.
fn numeral() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => pick(INTS), 1 => pick(NUMBERS)]
}

fn literal() -> impl Strategy<Value = String> + Clone {
    prop_oneof![3 => numeral(), 2 => pick(STRINGS), 1 => pick(OTHERS)]
}

fn text(n: usize) -> impl Strategy<Value = String> + Clone {
    prop_oneof![fields_where(n, &["b"]), pick(STRINGS)]
}

fn number(n: usize) -> impl Strategy<Value = String> + Clone {
    let leaf = prop_oneof![
        3 => fields_where(n, &["a", "c"]),
        2 => numeral(),
        1 => text(n).prop_map(|t| format!("size({t})")),
        1 => text(n).prop_map(|t| format!("{t}.size()")),
    ];
    leaf.prop_recursive(2, 8, 2, move |inner| {
        let op = prop::sample::select(&["+", "-", "*", "/", "%"][..]);
        prop_oneof![
            2 => (inner.clone(), op, inner.clone()).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
            1 => inner.clone().prop_map(|t| format!("-({t})")),
            1 => (fields_where(n, NAMES.as_slice()), inner.clone(), inner)
                .prop_map(|(f, a, b)| format!("(has({f}) ? {a} : {b})")),
        ]
    })
}

/// A value of any kind.
fn term(n: usize) -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        2 => fields_where(n, NAMES.as_slice()),
        2 => literal(),
        1 => number(n),
        1 => (fields_where(n, &["d"]), number(n), text(n))
            .prop_map(|(d, a, b)| format!("({d} ? {a} : {b})")),
    ]
}

fn condition(n: usize) -> impl Strategy<Value = String> {
    let cmp = || prop::sample::select(&["==", "!=", "<", "<=", ">", ">="][..]);
    let list = |items: BoxedStrategy<String>| {
        prop::collection::vec(items, 0..4).prop_map(|items| items.join(", "))
    };
    let function = prop::sample::select(&["startsWith", "endsWith", "contains"][..]);
    let pattern =
        || prop::sample::select(&["^a", "l+", "^$", "é", "[0-9]", "(?i)eur", "^.{2}$"][..]);
    let leaf = prop_oneof![
        2 => fields_where(n, NAMES.as_slice()).prop_map(|f| format!("has({f})")),
        1 => fields_where(n, &["d"]),
        1 => pick(&["true", "false"]),
        6 => (number(n), cmp(), number(n)).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
        2 => (text(n), cmp(), text(n)).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
        2 => (term(n), cmp(), term(n)).prop_map(|(l, o, r)| format!("({l} {o} {r})")),
        2 => (number(n), list(numeral().boxed()))
            .prop_map(|(t, items)| format!("({t} in [{items}])")),
        2 => (text(n), list(pick(STRINGS).boxed()))
            .prop_map(|(t, items)| format!("({t} in [{items}])")),
        1 => (term(n), list(literal().boxed()))
            .prop_map(|(t, items)| format!("({t} in [{items}])")),
        2 => (text(n), function, text(n)).prop_map(|(t, f, a)| format!("{t}.{f}({a})")),
        1 => (term(n), pattern()).prop_map(|(t, p)| format!("({t}).matches('{p}')")),
        1 => (text(n), pattern()).prop_map(|(t, p)| format!("matches({t}, '{p}')")),
    ];
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            3 => (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} && {r})")),
            3 => (inner.clone(), inner.clone()).prop_map(|(l, r)| format!("({l} || {r})")),
            1 => inner.clone().prop_map(|c| format!("!({c})")),
            1 => (inner.clone(), inner.clone(), inner)
                .prop_map(|(c, a, b)| format!("({c} ? {a} : {b})")),
        ]
    })
}

fn int() -> impl Strategy<Value = Captured> {
    prop_oneof![
        6 => -3_i64..8,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        1 => Just(9_007_199_254_740_993),
        1 => any::<i64>(),
    ]
    .prop_map(Captured::Int)
}

fn uint() -> impl Strategy<Value = Captured> {
    prop_oneof![
        Just(i64::MAX as u64 + 1),
        Just(u64::MAX),
        any::<u64>(),
        0_u64..8
    ]
    .prop_map(Captured::Uint)
}

fn float() -> impl Strategy<Value = Captured> {
    prop_oneof![
        2 => -2.0_f64..8.0,
        2 => prop::sample::select(&[
            0.5,
            -0.0,
            2.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9_007_199_254_740_992.0,
            9.223_372_036_854_776e18,
            1.844_674_407_370_955_2e19,
        ][..]),
        1 => any::<f64>(),
    ]
    .prop_map(Captured::Float)
}

fn string() -> impl Strategy<Value = Captured> {
    prop_oneof![
        3 => prop::sample::select(&["", "a", "ab", "EUR", "USD", "héllo", "日本", "l"][..])
            .prop_map(str::to_owned),
        1 => "\\PC{0,4}",
    ]
    .prop_map(Captured::Str)
    .boxed()
    .prop_union((0u32..6).prop_map(Captured::Symbol).boxed())
}

fn anything() -> impl Strategy<Value = Captured> {
    prop_oneof![
        1 => Just(Captured::Absent),
        1 => Just(Captured::Null),
        1 => any::<bool>().prop_map(Captured::Bool),
        2 => int(),
        1 => uint(),
        1 => float(),
        2 => string(),
        1 => Just(Captured::Complex),
    ]
}

/// What field `NAMES[i]` holds: mostly its kind.
fn captured(i: usize) -> BoxedStrategy<Captured> {
    let typical = match i {
        0 | 2 => prop_oneof![8 => int(), 2 => float(), 1 => uint()].boxed(),
        1 => string().boxed(),
        _ => any::<bool>().prop_map(Captured::Bool).boxed(),
    };
    prop_oneof![4 => typical, 1 => anything()].boxed()
}

fn record(n: usize) -> impl Strategy<Value = Vec<Captured>> {
    (0..n).map(captured).collect::<Vec<_>>()
}

#[derive(Default)]
struct Tally {
    evaluations: Cell<usize>,
    fast_some: Cell<usize>,
    cel_bool: Cell<usize>,
    cel_bool_plain: Cell<usize>,
    fast_some_plain: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

#[test]
fn agrees_with_the_cel_crate_whenever_it_answers() {
    let case =
        (2_usize..=4).prop_flat_map(|n| (condition(n), prop::collection::vec(record(n), 1..8)));
    let tally = Tally::default();
    // Honours PROPTEST_CASES: the default 256 here, many more when run on purpose.
    let mut runner = TestRunner::new(Config::default());
    let result = runner.run(&case, |(expr, rows)| {
        let n = rows[0].len();
        let fields: Vec<String> = NAMES[..n].iter().map(|f| (*f).to_owned()).collect();
        let program = cel::Program::compile(&expr)
            .map_err(|e| TestCaseError::fail(format!("{expr} does not parse: {e}")))?;
        let symbols = symbols(n);
        let condition = FastCondition::compile(&program.expression().expr, &fields)
            .ok_or_else(|| TestCaseError::fail(format!("{expr} did not compile")))?
            .with_symbols(symbols.clone());
        for values in rows {
            let fast = condition.eval(&values);
            let cel = cel_says(&program, &fields, &values, &symbols);
            bump(&tally.evaluations);
            let plain = !values.contains(&Captured::Complex);
            if let Ok(cel::Value::Bool(_)) = cel {
                bump(&tally.cel_bool);
                if plain {
                    bump(&tally.cel_bool_plain);
                    if fast.is_some() {
                        bump(&tally.fast_some_plain);
                    }
                }
            }
            if let Some(answer) = fast {
                bump(&tally.fast_some);
                prop_assert_eq!(
                    &cel,
                    &Ok(cel::Value::Bool(answer)),
                    "{} over {:?}",
                    expr,
                    values
                );
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let share = |a: &Cell<usize>, b: &Cell<usize>| a.get() as f64 / b.get().max(1) as f64;
    println!(
        "{} evaluations: fast Some {:.1}%; cel gave a bool {:.1}%, of which fast answered \
         {:.1}% without a Complex field",
        tally.evaluations.get(),
        100.0 * share(&tally.fast_some, &tally.evaluations),
        100.0 * share(&tally.cel_bool, &tally.evaluations),
        100.0 * share(&tally.fast_some_plain, &tally.cel_bool_plain),
    );
    // Joining strings is the one thing the subset leaves to cel without a Complex field.
    assert!(share(&tally.fast_some_plain, &tally.cel_bool_plain) > 0.9);
}
