//! Strings, numbers, enums: Confluent's `StringSchemaDiff`, `NumberSchemaDiff`, `EnumSchemaDiff`.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::engine::{Diffs, push};
use super::kind::Kind;

/// The four kinds one numeric keyword can produce: added, removed, increased, decreased.
pub(super) type BoundKinds = [Kind; 4];

/// A numeric keyword (`maxLength`, `minItems`, …) compared as Confluent does: presence first,
/// then magnitude.
pub(super) fn compare_bound(
    keyword: &str,
    original: &Map<String, Value>,
    update: &Map<String, Value>,
    [added, removed, increased, decreased]: BoundKinds,
    out: &mut Diffs,
) {
    let number = |m: &Map<String, Value>| m.get(keyword).and_then(Value::as_f64);
    match (number(original), number(update)) {
        (None, Some(_)) => push(out, keyword, added),
        (Some(_), None) => push(out, keyword, removed),
        (Some(o), Some(u)) if o < u => push(out, keyword, increased),
        (Some(o), Some(u)) if o > u => push(out, keyword, decreased),
        _ => {}
    }
}

pub(super) fn compare_string(o: &Map<String, Value>, u: &Map<String, Value>, out: &mut Diffs) {
    use Kind::*;
    let max = [
        MAX_LENGTH_ADDED,
        MAX_LENGTH_REMOVED,
        MAX_LENGTH_INCREASED,
        MAX_LENGTH_DECREASED,
    ];
    let min = [
        MIN_LENGTH_ADDED,
        MIN_LENGTH_REMOVED,
        MIN_LENGTH_INCREASED,
        MIN_LENGTH_DECREASED,
    ];
    compare_bound("maxLength", o, u, max, out);
    compare_bound("minLength", o, u, min, out);
    // Patterns compare as text: deciding whether one regex's language contains another's is
    // out of reach, so any change but removal is breaking.
    fn pattern(m: &Map<String, Value>) -> Option<&str> {
        m.get("pattern").and_then(Value::as_str)
    }
    match (pattern(o), pattern(u)) {
        (None, Some(_)) => push(out, "pattern", PATTERN_ADDED),
        (Some(_), None) => push(out, "pattern", PATTERN_REMOVED),
        (Some(a), Some(b)) if a != b => push(out, "pattern", PATTERN_CHANGED),
        _ => {}
    }
}

pub(super) fn compare_number(
    o: &Map<String, Value>,
    o_integer: bool,
    u: &Map<String, Value>,
    u_integer: bool,
    out: &mut Diffs,
) {
    use Kind::*;
    let bounds: [(&str, BoundKinds); 4] = [
        (
            "maximum",
            [
                MAXIMUM_ADDED,
                MAXIMUM_REMOVED,
                MAXIMUM_INCREASED,
                MAXIMUM_DECREASED,
            ],
        ),
        (
            "minimum",
            [
                MINIMUM_ADDED,
                MINIMUM_REMOVED,
                MINIMUM_INCREASED,
                MINIMUM_DECREASED,
            ],
        ),
        (
            "exclusiveMaximum",
            [
                EXCLUSIVE_MAXIMUM_ADDED,
                EXCLUSIVE_MAXIMUM_REMOVED,
                EXCLUSIVE_MAXIMUM_INCREASED,
                EXCLUSIVE_MAXIMUM_DECREASED,
            ],
        ),
        (
            "exclusiveMinimum",
            [
                EXCLUSIVE_MINIMUM_ADDED,
                EXCLUSIVE_MINIMUM_REMOVED,
                EXCLUSIVE_MINIMUM_INCREASED,
                EXCLUSIVE_MINIMUM_DECREASED,
            ],
        ),
    ];
    for (keyword, kinds) in bounds {
        compare_bound(keyword, o, u, kinds, out);
    }
    compare_multiple_of(o, u, out);
    match (o_integer, u_integer) {
        (true, false) => push(out, "", TYPE_EXTENDED),
        (false, true) => push(out, "", TYPE_NARROWED),
        _ => {}
    }
}

fn compare_multiple_of(o: &Map<String, Value>, u: &Map<String, Value>, out: &mut Diffs) {
    use Kind::*;
    let multiple = |m: &Map<String, Value>| match m.get("multipleOf") {
        Some(Value::Number(n)) => Some(n.clone()),
        _ => None,
    };
    let kind = match (multiple(o), multiple(u)) {
        (None, None) => return,
        (None, Some(_)) => MULTIPLE_OF_ADDED,
        (Some(_), None) => MULTIPLE_OF_REMOVED,
        (Some(a), Some(b)) => match (Decimal::parse(&a), Decimal::parse(&b)) {
            (Some(a), Some(b)) if a == b => return,
            // Every multiple of the new step is a multiple of the old: fewer values allowed.
            (Some(a), Some(b)) if !a.is_zero() && b.is_multiple_of(&a) == Some(true) => {
                MULTIPLE_OF_EXPANDED
            }
            (Some(a), Some(b)) if !b.is_zero() && a.is_multiple_of(&b) == Some(true) => {
                MULTIPLE_OF_REDUCED
            }
            _ if a.as_f64() == b.as_f64() => return,
            _ => MULTIPLE_OF_CHANGED,
        },
    };
    push(out, "multipleOf", kind);
}

/// An exact decimal `mantissa × 10^-scale`, so `multipleOf: 0.1` against `0.3` is decided
/// without binary floating point (Confluent uses `BigDecimal`).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    mantissa: u128,
    scale: i32,
}

impl Decimal {
    /// Parses serde_json's rendering (`12`, `-0.5`, `1e-7`, `2.5E+3`); sign dropped, as a
    /// `multipleOf` must be positive. `None` when it does not fit.
    fn parse(n: &serde_json::Number) -> Option<Decimal> {
        let text = n.to_string();
        let text = text.trim_start_matches('-');
        let (digits, exponent) = match text.find(['e', 'E']) {
            Some(at) => (&text[..at], text[at + 1..].parse::<i32>().ok()?),
            None => (text, 0),
        };
        let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
        let all = format!("{int}{frac}");
        let all = all.trim_start_matches('0');
        if all.len() > 38 || !all.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mantissa = if all.is_empty() {
            0
        } else {
            all.parse::<u128>().ok()?
        };
        let frac_len = i32::try_from(frac.len()).ok()?;
        let mut d = Decimal {
            mantissa,
            scale: frac_len.checked_sub(exponent)?,
        };
        // Normalise so equal values compare equal (0.50 == 0.5).
        while d.mantissa != 0 && d.mantissa.is_multiple_of(10) {
            d.mantissa /= 10;
            d.scale -= 1;
        }
        if d.mantissa == 0 {
            d.scale = 0;
        }
        Some(d)
    }

    fn is_zero(&self) -> bool {
        self.mantissa == 0
    }

    /// `self % step == 0`; `None` when the common scale overflows.
    fn is_multiple_of(&self, step: &Decimal) -> Option<bool> {
        let scale = self.scale.max(step.scale);
        let lift = |d: &Decimal| -> Option<u128> {
            let shift = u32::try_from(scale.checked_sub(d.scale)?).ok()?;
            d.mantissa.checked_mul(10u128.checked_pow(shift)?)
        };
        let (value, step) = (lift(self)?, lift(step)?);
        if step == 0 {
            return None;
        }
        Some(value % step == 0)
    }
}

pub(super) fn compare_enum(o: &[Value], u: &[Value], out: &mut Diffs) {
    // Hash the rendered values so large enums stay linear; the scan behind it only runs for
    // values that render differently yet are equal (objects with another key order).
    let covers = |big: &[Value], small: &[Value]| {
        let rendered: HashSet<String> = big.iter().map(Value::to_string).collect();
        small
            .iter()
            .all(|v| rendered.contains(&v.to_string()) || big.contains(v))
    };
    let (grew, shrank) = (covers(u, o), covers(o, u));
    let kind = match (grew, shrank) {
        (true, true) => return,
        (true, false) => Kind::ENUM_ARRAY_EXTENDED,
        (false, true) => Kind::ENUM_ARRAY_NARROWED,
        (false, false) => Kind::ENUM_ARRAY_CHANGED,
    };
    push(out, "enum", kind);
}
