//! Data-contract rules: a schema's `ruleSet.domainRules` of `type: CEL`, `kind: CONDITION`
//! (Confluent's shape), compiled once per schema and evaluated on produce against the
//! record's JSON form as `message`. Other rule types and kinds are stored but not run here.

use std::sync::Arc;

use serde::Deserialize;

use super::capture::Capture;
use super::cel_fast::{FastCondition, Symbols};
use super::cel_message::{fields_of_message, message_value};
use serde_json::Value;

/// What happens to a record a rule refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnFailure {
    /// Refuse the record (the default).
    Error,
    /// Let it through.
    None,
    /// Send it to a dead-letter topic (`params["dlq.topic"]`).
    DeadLetter(String),
}

/// One compiled write-time condition.
pub struct Rule {
    /// Its name, reported on failure.
    pub name: String,
    /// The CEL source.
    pub expr: String,
    program: cel::Program,
    /// What a failure does.
    pub on_failure: OnFailure,
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("expr", &self.expr)
            .finish_non_exhaustive()
    }
}

/// A schema's compiled rules (empty for most schemas).
#[derive(Debug, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    /// The fields of `message` the rules select, sorted; `None`: all of them.
    fields: Option<Vec<String>>,
    /// The conditions of the rules that can refuse, compiled for the fast evaluator over
    /// `fields`; `None` when any of them is outside its subset.
    fast: Option<Vec<FastCondition>>,
}

/// A rule that refused a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule's name.
    pub rule: String,
    /// Why: the condition was false, or its evaluation failed.
    pub message: String,
    /// What the rule says to do.
    pub on_failure: OnFailure,
}

#[derive(Deserialize)]
struct RuleSetBody {
    #[serde(rename = "domainRules", default)]
    domain_rules: Vec<RuleBody>,
}

#[derive(Deserialize)]
struct RuleBody {
    name: String,
    #[serde(default)]
    kind: Option<String>,
    #[serde(rename = "type", default)]
    rule_type: Option<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    expr: Option<String>,
    #[serde(rename = "onFailure", default)]
    on_failure: Option<String>,
    #[serde(default)]
    params: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    disabled: bool,
}

/// Compiles the write-time CEL conditions of `rule_set`.
///
/// # Errors
/// A human-readable reason (42210): malformed rule set, or a condition that does not compile.
pub fn compile(rule_set: Option<&Value>) -> Result<Rules, String> {
    let Some(rule_set) = rule_set else {
        return Ok(Rules::default());
    };
    let body: RuleSetBody =
        serde_json::from_value(rule_set.clone()).map_err(|e| format!("ruleSet: {e}"))?;
    let mut rules = Vec::new();
    for rule in body.domain_rules {
        let is_cel = rule.rule_type.as_deref() == Some("CEL");
        let is_condition = rule.kind.as_deref().unwrap_or("CONDITION") == "CONDITION";
        // WRITE and the write half of WRITEREAD / UPDOWN run on produce.
        let on_write = matches!(
            rule.mode.as_deref().unwrap_or("WRITEREAD"),
            "WRITE" | "WRITEREAD" | "UPDOWN"
        );
        if !is_cel || !is_condition {
            continue;
        }
        let expr = rule
            .expr
            .ok_or_else(|| format!("rule '{}' has no expr", rule.name))?;
        let program = cel::Program::compile(&expr)
            .map_err(|e| format!("rule '{}' does not compile: {e}", rule.name))?;
        if rule.disabled || !on_write {
            continue;
        }
        // `onFailure` may be one action, or "write,read" for two-way modes.
        let action = rule
            .on_failure
            .as_deref()
            .unwrap_or("ERROR")
            .split(',')
            .next()
            .unwrap_or("ERROR")
            .trim()
            .to_ascii_uppercase();
        let on_failure = match action.as_str() {
            "ERROR" => OnFailure::Error,
            "NONE" => OnFailure::None,
            "DLQ" => {
                OnFailure::DeadLetter(rule.params.get("dlq.topic").cloned().ok_or_else(|| {
                    format!(
                        "rule '{}' sends failures to a DLQ but has no params.dlq.topic",
                        rule.name
                    )
                })?)
            }
            other => return Err(format!("rule '{}': unknown onFailure {other}", rule.name)),
        };
        rules.push(Rule {
            name: rule.name,
            expr,
            program,
            on_failure,
        });
    }
    // One conversion serves every rule: the union of what they read.
    let mut fields = Some(std::collections::BTreeSet::new());
    for rule in &rules {
        fields = match (fields, fields_of_message(&rule.program.expression().expr)) {
            (Some(mut all), Some(more)) => {
                all.extend(more);
                Some(all)
            }
            _ => None,
        };
    }
    let fields: Option<Vec<String>> = fields.map(|set| set.into_iter().collect());
    let fast = fields.as_ref().and_then(|fields| {
        (rules.iter())
            .filter(|rule| rule.on_failure != OnFailure::None)
            .map(|rule| FastCondition::compile(&rule.program.expression().expr, fields))
            .collect::<Option<Vec<_>>>()
    });
    Ok(Rules {
        rules,
        fields,
        fast,
    })
}

impl Rules {
    /// Whether there is anything to evaluate.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The same rules over records whose top-level enum fields a pass captures as symbol
    /// indexes; `enums` gives the symbols of such a field by name.
    #[must_use]
    pub fn with_enums<'s>(self, enums: impl Fn(&str) -> Option<&'s [String]>) -> Rules {
        let Rules {
            rules,
            fields,
            fast,
        } = self;
        let fast = match (&fields, fast) {
            (Some(fields), Some(fast)) => {
                let symbols: Symbols = (fields.iter()).map(|f| enums(f).map(Box::from)).collect();
                let with = |c: FastCondition| c.with_symbols(symbols.clone());
                Some(fast.into_iter().map(with).collect())
            }
            (_, fast) => fast,
        };
        Rules {
            rules,
            fields,
            fast,
        }
    }

    /// The top-level fields a streaming pass must pick for [`Rules::pass_fast`]; `None` when
    /// some rule needs the whole record (the tree path must run).
    #[must_use]
    pub fn fast_fields(&self) -> Option<&[String]> {
        if self.rules.is_empty() {
            return Some(&[]);
        }
        self.fast.as_ref().and(self.fields.as_deref())
    }

    /// Whether every rule that could refuse passes on the picked fields. `false` also when the
    /// fast evaluator cannot tell: [`Rules::check`] on the tree then decides and explains.
    #[must_use]
    pub fn pass_fast(&self, capture: &Capture<'_>) -> bool {
        match &self.fast {
            _ if self.rules.is_empty() => true,
            Some(_) if !capture.is_complete() => false,
            Some(conditions) => conditions
                .iter()
                .all(|c| c.eval(capture.values()) == Some(true)),
            None => false,
        }
    }

    /// Evaluates every rule against `message`; the first refusal that is not `NONE` is
    /// returned. A condition that errors (a missing field) or is not a boolean fails, as in
    /// Confluent's executor.
    #[must_use]
    pub fn check(&self, message: &Value) -> Option<Refusal> {
        if self.rules.is_empty() {
            return None;
        }
        // Only the fields the conditions name are given to CEL (all of them when a condition
        // uses `message` whole): converting a record costs more than evaluating a rule.
        let value = message_value(message, self.fields.as_deref());
        let root = root_context();
        for rule in &self.rules {
            let mut context = root.new_inner_scope();
            context.add_variable_from_value("message", value.clone());
            let failure = match rule.program.execute(&context) {
                Ok(cel::Value::Bool(true)) => continue,
                Ok(cel::Value::Bool(false)) => format!("condition '{}' is false", rule.expr),
                Ok(other) => format!("condition '{}' gave {other:?}, not a boolean", rule.expr),
                Err(e) => format!("condition '{}' failed: {e}", rule.expr),
            };
            if rule.on_failure == OnFailure::None {
                continue;
            }
            return Some(Refusal {
                rule: rule.name.clone(),
                message: failure,
                on_failure: rule.on_failure.clone(),
            });
        }
        None
    }
}

/// The standard-library context, built once: building it costs more than evaluating a rule.
fn root_context() -> Arc<cel::Context<'static, 'static>> {
    static ROOT: std::sync::OnceLock<Arc<cel::Context<'static, 'static>>> =
        std::sync::OnceLock::new();
    Arc::clone(ROOT.get_or_init(|| Arc::new(cel::Context::default())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use serde_json::json;

    use super::*;

    fn rule_set(expr: &str, on_failure: &str) -> Value {
        json!({"domainRules": [{"name": "valid-amount", "kind": "CONDITION", "type": "CEL",
            "mode": "WRITE", "expr": expr, "onFailure": on_failure, "params": {"dlq.topic": "bad"}}]})
    }

    #[test]
    fn conditions_pass_refuse_and_name_the_rule() {
        let rules = compile(Some(&rule_set(
            "message.amount > 0 && message.currency in ['EUR', 'USD']",
            "ERROR",
        )))
        .unwrap();
        assert!(
            rules
                .check(&json!({"amount": 5, "currency": "EUR"}))
                .is_none()
        );
        assert!(
            rules
                .check(&json!({"amount": 0.5, "currency": "USD"}))
                .is_none()
        );
        let refusal = rules
            .check(&json!({"amount": -1, "currency": "EUR"}))
            .unwrap();
        assert_eq!(refusal.rule, "valid-amount");
        assert_eq!(refusal.on_failure, OnFailure::Error);
        assert!(
            rules
                .check(&json!({"amount": 5, "currency": "JPY"}))
                .is_some()
        );
        // A missing field fails the condition rather than passing it.
        let missing = rules.check(&json!({"currency": "EUR"})).unwrap();
        assert!(missing.message.contains("failed"), "{missing:?}");
    }

    #[test]
    fn failure_actions_and_modes() {
        let dlq = compile(Some(&rule_set("message.amount > 0", "DLQ"))).unwrap();
        let refusal = dlq.check(&json!({"amount": -1})).unwrap();
        assert_eq!(refusal.on_failure, OnFailure::DeadLetter("bad".into()));
        let none = compile(Some(&rule_set("message.amount > 0", "NONE"))).unwrap();
        assert!(none.check(&json!({"amount": -1})).is_none());
        let read_only =
            json!({"domainRules": [{"name": "r", "type": "CEL", "mode": "READ", "expr": "false"}]});
        assert!(compile(Some(&read_only)).unwrap().is_empty());
        let disabled = json!({"domainRules": [{"name": "r", "type": "CEL", "expr": "false", "disabled": true}]});
        assert!(compile(Some(&disabled)).unwrap().is_empty());
    }

    #[test]
    fn rules_that_do_not_compile_are_refused() {
        let e = compile(Some(&rule_set("message.amount > && 1", "ERROR"))).unwrap_err();
        assert!(e.contains("valid-amount") && e.contains("compile"), "{e}");
        let no_topic = json!({"domainRules": [{"name": "r", "type": "CEL", "expr": "true", "onFailure": "DLQ"}]});
        assert!(compile(Some(&no_topic)).unwrap_err().contains("dlq.topic"));
        assert!(compile(Some(&json!({"domainRules": "nope"}))).is_err());
    }
}

#[cfg(test)]
mod fast_tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use serde_json::json;

    use super::*;
    use crate::schema::capture::{Captured, Slots};

    #[test]
    fn the_fast_path_passes_what_cel_passes_and_defers_the_rest() {
        let rules = compile(Some(&json!({"domainRules": [
            {"name": "a", "type": "CEL", "expr": "message.amount > 0 && message.currency in ['EUR', 'USD']"},
            {"name": "b", "type": "CEL", "expr": "message.amount > 1000", "onFailure": "NONE"}]})))
        .unwrap();
        let fields = rules.fast_fields().unwrap().to_vec();
        assert_eq!(fields, ["amount", "currency"]);
        let mut slots = Slots::default();
        let mut capture = Capture::new(&fields, &mut slots);
        capture.set(0, Captured::Float(2.5));
        capture.set(1, Captured::Str("EUR".into()));
        assert!(
            !rules.pass_fast(&capture),
            "fields picked from a non-object prove nothing"
        );
        capture.mark_object();
        assert!(
            rules.pass_fast(&capture),
            "rule b never refuses, so it is not evaluated"
        );
        capture.set(1, Captured::Str("JPY".into()));
        assert!(!rules.pass_fast(&capture));
        // Outside the subset: the tree path runs.
        let whole = compile(Some(&json!({"domainRules": [
            {"name": "c", "type": "CEL", "expr": "size(message) > 1"}]})))
        .unwrap();
        assert!(whole.fast_fields().is_none());
        assert!(compile(None).unwrap().fast_fields() == Some(&[][..]));
    }
}
