//! Avro schema compatibility: can a reader schema decode every datum written with a writer
//! schema? Follows Java's `org.apache.avro.SchemaCompatibility`, which Confluent's registry
//! calls, so verdicts, problem kinds and locations match what Confluent clients see.
//!
//! Owns the rules only. It must not parse schemas, choose directions or versions for a level
//! (`schema::compat` does), or panic on any AST, including hand-built ones with dangling `Ref`s.
//! apache-avro's own `SchemaCompatibility` is not used: it rejects identical decimals, ignores
//! enum defaults and aliases on named types, fails `Ref` against `Record` and stops at the
//! first error (plan §1.1, gotcha 5).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt;

use apache_avro::Schema;
use apache_avro::schema::{Aliases, EnumSchema, Name, RecordSchema, UnionSchema};

use super::names::Names;

/// Bound on the problems reported: one bad type shared along many paths (a DAG of records
/// reaches its leaves 2^depth ways) would otherwise make the list, not the check, explode.
const MAX_REPORTED: usize = 100;

/// Bound on nested comparisons, far beyond real schemas: JSON nesting limits an inline schema,
/// but a chain of named types referring to one another can be as long as the text allows, and
/// overflowing the stack aborts the process. Deeper pairs are reported, not compared.
const MAX_DEPTH: usize = 128;

/// One reason the reader cannot read the writer's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatibility {
    /// Java's `SchemaIncompatibilityType`.
    pub kind: Kind,
    /// JSON pointer into the reader schema, Java's style: `/`, `/fields/1/type`, `/symbols`.
    pub location: String,
    /// Java's detail text (Confluent's `additionalInfo`): a field name, `[C, D]`, `expected: 8,
    /// found: 4`, `reader type: STRING not compatible with writer type: INT`.
    pub message: String,
}

/// Java's `SchemaIncompatibilityType`, which Confluent prints as `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    NameMismatch,
    FixedSizeMismatch,
    MissingEnumSymbols,
    ReaderFieldMissingDefaultValue,
    TypeMismatch,
    MissingUnionBranch,
}

impl Kind {
    /// The Java constant's name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NameMismatch => "NAME_MISMATCH",
            Kind::FixedSizeMismatch => "FIXED_SIZE_MISMATCH",
            Kind::MissingEnumSymbols => "MISSING_ENUM_SYMBOLS",
            Kind::ReaderFieldMissingDefaultValue => "READER_FIELD_MISSING_DEFAULT_VALUE",
            Kind::TypeMismatch => "TYPE_MISMATCH",
            Kind::MissingUnionBranch => "MISSING_UNION_BRANCH",
        }
    }
}

impl Incompatibility {
    /// Confluent's `Difference` text, with `reader` and `writer` naming the two schemas the way
    /// Confluent does ("new"/"old" under BACKWARD, swapped under FORWARD).
    fn describe(&self, reader: &str, writer: &str) -> String {
        let (path, info) = (&self.location, &self.message);
        let description = match self.kind {
            Kind::FixedSizeMismatch => format!(
                "The size of FIXED type field at path '{path}' in the {reader} schema does not \
                 match with the {writer} schema"
            ),
            Kind::TypeMismatch => format!(
                "The type (path '{path}') of a field in the {reader} schema does not match with \
                 the {writer} schema"
            ),
            Kind::NameMismatch => format!("The name of the schema has changed (path '{path}')"),
            Kind::MissingEnumSymbols => format!(
                "The {reader} schema is missing enum symbols '{info}' at path '{path}' in the \
                 {writer} schema"
            ),
            Kind::MissingUnionBranch => format!(
                "The {reader} schema is missing a type inside a union field at path '{path}' in \
                 the {writer} schema"
            ),
            Kind::ReaderFieldMissingDefaultValue => format!(
                "The field '{info}' at path '{path}' in the {reader} schema has no default value \
                 and is missing in the {writer} schema"
            ),
        };
        format!(
            "{{errorType:'{}', description:'{description}', additionalInfo:'{info}'}}",
            self.kind.as_str()
        )
    }
}

/// Confluent's wording for the BACKWARD direction (reader = the new schema), the one its
/// registration errors show most.
impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("new", "old"))
    }
}

/// Every reason `reader` cannot read data written with `writer`; empty means compatible.
/// Each side's `Ref`s are followed through its own `Names`.
#[must_use]
pub fn incompatibilities(
    reader: &Schema,
    reader_names: &Names,
    writer: &Schema,
    writer_names: &Names,
) -> Vec<Incompatibility> {
    let mut checker = Checker {
        reader_names,
        writer_names,
        records: HashMap::new(),
        depth: 0,
    };
    let mut found = checker.check(reader, writer);
    for problem in &mut found {
        if problem.location.is_empty() {
            problem.location.push('/');
        }
    }
    found
}

/// Java's `Schema.Type`: what a schema is once `Ref`s are followed and logical types dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Array,
    Map,
    Union,
    Record,
    Enum,
    Fixed,
}

impl Type {
    fn as_str(self) -> &'static str {
        match self {
            Type::Null => "NULL",
            Type::Boolean => "BOOLEAN",
            Type::Int => "INT",
            Type::Long => "LONG",
            Type::Float => "FLOAT",
            Type::Double => "DOUBLE",
            Type::Bytes => "BYTES",
            Type::String => "STRING",
            Type::Array => "ARRAY",
            Type::Map => "MAP",
            Type::Union => "UNION",
            Type::Record => "RECORD",
            Type::Enum => "ENUM",
            Type::Fixed => "FIXED",
        }
    }
}

/// A schema as the check sees it.
#[derive(Clone, Copy)]
enum View<'a> {
    Primitive(Type),
    Array(&'a Schema),
    Map(&'a Schema),
    Union(&'a UnionSchema),
    Record(&'a RecordSchema),
    Enum(&'a EnumSchema),
    /// Name (with aliases) and size; no name for `duration`, whose name apache-avro drops.
    Fixed(Option<(&'a Name, &'a Aliases)>, usize),
}

impl View<'_> {
    fn ty(self) -> Type {
        match self {
            View::Primitive(t) => t,
            View::Array(_) => Type::Array,
            View::Map(_) => Type::Map,
            View::Union(_) => Type::Union,
            View::Record(_) => Type::Record,
            View::Enum(_) => Type::Enum,
            View::Fixed(..) => Type::Fixed,
        }
    }
}

/// `None` for a dangling `Ref`. Logical types read as their underlying type because Java's
/// check ignores them (a decimal's precision and scale included); apache-avro keeps only the
/// logical type for `uuid` and `duration`, so those map to the usual `string` and `fixed(12)`.
fn view<'a>(schema: &'a Schema, names: &'a Names) -> Option<View<'a>> {
    let primitive = |t| Some(View::Primitive(t));
    match names.resolve(schema)? {
        Schema::Null => primitive(Type::Null),
        Schema::Boolean => primitive(Type::Boolean),
        Schema::Int | Schema::Date | Schema::TimeMillis => primitive(Type::Int),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => primitive(Type::Long),
        Schema::Float => primitive(Type::Float),
        Schema::Double => primitive(Type::Double),
        Schema::Bytes | Schema::BigDecimal => primitive(Type::Bytes),
        Schema::String | Schema::Uuid => primitive(Type::String),
        Schema::Decimal(decimal) => view(&decimal.inner, names),
        Schema::Duration => Some(View::Fixed(None, 12)),
        Schema::Array(array) => Some(View::Array(&array.items)),
        Schema::Map(map) => Some(View::Map(&map.types)),
        Schema::Union(union) => Some(View::Union(union)),
        Schema::Record(record) => Some(View::Record(record)),
        Schema::Enum(e) => Some(View::Enum(e)),
        Schema::Fixed(fixed) => Some(View::Fixed(Some((&fixed.name, &fixed.aliases)), fixed.size)),
        // `Names` holds no `Ref`s; a hand-built one that did is as good as dangling.
        Schema::Ref { .. } => None,
    }
}

/// Java's `schemaNameEquals`: unqualified names, or a reader alias naming the writer in full.
fn same_name(reader: &Name, reader_aliases: &Aliases, writer: &Name) -> bool {
    if reader.name == writer.name {
        return true;
    }
    let writer = writer.fullname(None);
    reader_aliases
        .iter()
        .flatten()
        .any(|alias| alias.fullname(reader.namespace.clone()) == writer)
}

fn problem(kind: Kind, location: &str, message: String) -> Incompatibility {
    Incompatibility {
        kind,
        location: location.to_owned(),
        message,
    }
}

fn type_mismatch(reader: Type, writer: Type) -> Incompatibility {
    let message = format!(
        "reader type: {} not compatible with writer type: {}",
        reader.as_str(),
        writer.as_str()
    );
    problem(Kind::TypeMismatch, "", message)
}

/// Appends `found` (relative to a child) under `prefix`, up to the report bound.
fn extend(out: &mut Vec<Incompatibility>, prefix: &str, found: Vec<Incompatibility>) {
    for mut problem in found {
        if out.len() >= MAX_REPORTED {
            return;
        }
        problem.location.insert_str(0, prefix);
        out.push(problem);
    }
}

/// Whether a datum of type `writer` can be read as `reader` (Avro's promotions).
fn promotes(reader: Type, writer: Type) -> bool {
    matches!(
        (writer, reader),
        (Type::Int, Type::Long | Type::Float | Type::Double)
            | (Type::Long, Type::Float | Type::Double)
            | (Type::Float, Type::Double)
            | (Type::String, Type::Bytes)
            | (Type::Bytes, Type::String)
    )
}

/// Per-record-pair results, keyed by full names, so recursive types terminate and a type
/// shared along many paths is compared once.
enum Memo {
    /// Reached again inside itself: assumed compatible, as in Java; the outer visit reports.
    InProgress,
    Done(Vec<Incompatibility>),
}

struct Checker<'a> {
    reader_names: &'a Names,
    writer_names: &'a Names,
    records: HashMap<(&'a Name, &'a Name), Memo>,
    depth: usize,
}

impl<'a> Checker<'a> {
    /// Problems with locations relative to this pair (`""` is the pair itself).
    fn check(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Incompatibility> {
        if self.depth >= MAX_DEPTH {
            let message = format!("types nested over {MAX_DEPTH} levels deep are not compared");
            return vec![problem(Kind::TypeMismatch, "", message)];
        }
        self.depth += 1;
        let found = self.compare(reader, writer);
        self.depth -= 1;
        found
    }

    fn compare(&mut self, reader: &'a Schema, writer: &'a Schema) -> Vec<Incompatibility> {
        let Some(r) = view(reader, self.reader_names) else {
            return vec![dangling("reader", reader)];
        };
        let Some(w) = view(writer, self.writer_names) else {
            return vec![dangling("writer", writer)];
        };
        let mut out = Vec::new();
        match (r, w) {
            (View::Array(r_items), View::Array(w_items)) => {
                let found = self.check(r_items, w_items);
                extend(&mut out, "/items", found);
            }
            (View::Map(r_values), View::Map(w_values)) => {
                let found = self.check(r_values, w_values);
                extend(&mut out, "/values", found);
            }
            // Only a verdict per writer branch, reported at the branch's index: Java drops the
            // reasons the reader branches failed.
            (View::Union(r_union), View::Union(w_union)) => {
                for (i, branch) in w_union.variants().iter().enumerate() {
                    if !self.union_reads(r_union, branch) {
                        let found = vec![self.missing_branch(branch)];
                        extend(&mut out, &format!("/{i}"), found);
                    }
                }
            }
            (_, View::Union(w_union)) => {
                for (i, branch) in w_union.variants().iter().enumerate() {
                    let found = self.check(reader, branch);
                    extend(&mut out, &format!("/{i}"), found);
                }
            }
            (View::Union(r_union), _) => {
                if !self.union_reads(r_union, writer) {
                    out.push(self.missing_branch(writer));
                }
            }
            (View::Record(r_record), View::Record(w_record)) => {
                return self.record(r_record, w_record);
            }
            (View::Enum(r_enum), View::Enum(w_enum)) => {
                if !same_name(&r_enum.name, &r_enum.aliases, &w_enum.name) {
                    out.push(name_mismatch(&w_enum.name));
                }
                out.extend(missing_symbols(r_enum, w_enum));
            }
            (View::Fixed(r_name, r_size), View::Fixed(w_name, w_size)) => {
                match (r_name, w_name) {
                    (Some((r_name, r_aliases)), Some((w_name, _)))
                        if !same_name(r_name, r_aliases, w_name) =>
                    {
                        out.push(name_mismatch(w_name));
                    }
                    _ => {}
                }
                if r_size != w_size {
                    let message = format!("expected: {w_size}, found: {r_size}");
                    out.push(problem(Kind::FixedSizeMismatch, "/size", message));
                }
            }
            // Every same-type pair left is a primitive.
            (r, w) if r.ty() == w.ty() || promotes(r.ty(), w.ty()) => {}
            (r, w) => out.push(type_mismatch(r.ty(), w.ty())),
        }
        out
    }

    /// Whether some branch of the reader union reads every datum of `writer`.
    fn union_reads(&mut self, reader: &'a UnionSchema, writer: &'a Schema) -> bool {
        reader
            .variants()
            .iter()
            .any(|branch| self.check(branch, writer).is_empty())
    }

    fn missing_branch(&self, writer: &Schema) -> Incompatibility {
        let ty = view(writer, self.writer_names).map_or("UNKNOWN", |w| w.ty().as_str());
        let message = format!("reader union lacking writer type: {ty}");
        problem(Kind::MissingUnionBranch, "", message)
    }

    fn record(
        &mut self,
        reader: &'a RecordSchema,
        writer: &'a RecordSchema,
    ) -> Vec<Incompatibility> {
        let key = (&reader.name, &writer.name);
        match self.records.get(&key) {
            Some(Memo::InProgress) => return Vec::new(),
            Some(Memo::Done(found)) => return found.clone(),
            None => {}
        }
        self.records.insert(key, Memo::InProgress);
        let mut out = Vec::new();
        if !same_name(&reader.name, &reader.aliases, &writer.name) {
            out.push(name_mismatch(&writer.name));
        }
        for (i, field) in reader.fields.iter().enumerate() {
            let aliases = field.aliases.as_deref().unwrap_or_default();
            let mut matches = writer
                .fields
                .iter()
                .filter(|w| w.name == field.name || aliases.contains(&w.name));
            let location = format!("/fields/{i}");
            let found = match (matches.next(), matches.next()) {
                (Some(w), None) => {
                    let found = self.check(&field.schema, &w.schema);
                    extend(&mut out, &format!("{location}/type"), found);
                    continue;
                }
                // Java throws here and Confluent reports the exception; a mismatch is as close
                // as the kinds get.
                (Some(first), Some(second)) => {
                    let message = format!(
                        "reader field '{}' matches several writer fields: '{}', '{}'",
                        field.name, first.name, second.name
                    );
                    problem(Kind::TypeMismatch, "", message)
                }
                (None, _) if field.default.is_some() => continue,
                // Java's quirk, kept for identical output: an enum type's own default does not
                // stand in for the field's; Java compares the enum with the writer record.
                (None, _) if self.has_enum_default(&field.schema) => {
                    let found = vec![type_mismatch(Type::Enum, Type::Record)];
                    extend(&mut out, &format!("{location}/type"), found);
                    continue;
                }
                (None, _) => problem(Kind::ReaderFieldMissingDefaultValue, "", field.name.clone()),
            };
            extend(&mut out, &location, vec![found]);
        }
        self.records.insert(key, Memo::Done(out.clone()));
        out
    }

    fn has_enum_default(&self, schema: &'a Schema) -> bool {
        matches!(view(schema, self.reader_names), Some(View::Enum(e)) if e.default.is_some())
    }
}

fn name_mismatch(writer: &Name) -> Incompatibility {
    let message = format!("expected: {}", writer.fullname(None));
    problem(Kind::NameMismatch, "/name", message)
}

/// Writer symbols the reader lacks, unless the reader's enum default catches them.
fn missing_symbols(reader: &EnumSchema, writer: &EnumSchema) -> Option<Incompatibility> {
    let known: HashSet<&str> = reader.symbols.iter().map(String::as_str).collect();
    if reader.default.as_deref().is_some_and(|d| known.contains(d)) {
        return None;
    }
    // Sorted and bracketed like the Java `TreeSet` it prints.
    let missing: BTreeSet<&str> = writer
        .symbols
        .iter()
        .map(String::as_str)
        .filter(|s| !known.contains(s))
        .collect();
    if missing.is_empty() {
        return None;
    }
    let list = missing.into_iter().collect::<Vec<_>>().join(", ");
    Some(problem(
        Kind::MissingEnumSymbols,
        "/symbols",
        format!("[{list}]"),
    ))
}

/// A `Ref` its side's `Names` cannot resolve: only hand-built schemas get here.
fn dangling(side: &str, schema: &Schema) -> Incompatibility {
    let name = match schema {
        Schema::Ref { name } => name.fullname(None),
        _ => String::new(),
    };
    let message = format!("the {side} refers to an undefined type '{name}'");
    problem(Kind::TypeMismatch, "", message)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    use crate::schema::avro::fixtures::parse;

    fn problems(reader: &str, writer: &str) -> Vec<Incompatibility> {
        let (r, r_names) = parse(reader);
        let (w, w_names) = parse(writer);
        incompatibilities(&r, &r_names, &w, &w_names)
    }

    /// (BACKWARD, FORWARD, FULL) for a change from `old` to `new`.
    fn verdicts(old: &str, new: &str) -> (bool, bool, bool) {
        let backward = problems(new, old).is_empty();
        let forward = problems(old, new).is_empty();
        (backward, forward, backward && forward)
    }

    fn record(fields: &str) -> String {
        format!(r#"{{"type":"record","name":"R","fields":[{fields}]}}"#)
    }

    /// (kind, location, message) triples, for compact assertions.
    fn triples(found: &[Incompatibility]) -> Vec<(Kind, &str, &str)> {
        found
            .iter()
            .map(|p| (p.kind, p.location.as_str(), p.message.as_str()))
            .collect()
    }

    const A: &str = r#"{"name":"a","type":"int"}"#;
    const A_LONG: &str = r#"{"name":"a","type":"long"}"#;

    #[test]
    fn plan_table_rows_a1_to_a15() {
        let b_string = r#"{"name":"b","type":"string"}"#;
        let b_default = r#"{"name":"b","type":"string","default":"x"}"#;
        let enum_abc = r#"{"type":"enum","name":"E","symbols":["A","B","C"]}"#;
        let enum_ab = r#"{"type":"enum","name":"E","symbols":["A","B"]}"#;
        let decimal = r#"{"name":"d","type":{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}}"#;
        type Row = (&'static str, String, String, (bool, bool, bool));
        let rows: [Row; 15] = [
            (
                "A1",
                record(A),
                record(&format!(r#"{A},{{"name":"b","type":"string","default":""}}"#)),
                (true, true, true),
            ),
            ("A2", record(A), record(&format!("{A},{b_string}")), (false, true, false)),
            ("A3", record(&format!("{A},{b_string}")), record(A), (true, false, false)),
            ("A4", record(&format!("{A},{b_default}")), record(A), (true, true, true)),
            ("A5", record(A), record(A_LONG), (true, false, false)),
            ("A6", record(A_LONG), record(A), (false, true, false)),
            (
                "A7",
                record(r#"{"name":"a","type":"string"}"#),
                record(r#"{"name":"a","type":"bytes"}"#),
                (true, true, true),
            ),
            ("A8", enum_ab.into(), enum_abc.into(), (true, false, false)),
            ("A9", enum_abc.into(), enum_ab.into(), (false, true, false)),
            (
                "A10",
                enum_abc.into(),
                r#"{"type":"enum","name":"E","symbols":["A","B"],"default":"A"}"#.into(),
                (true, true, true),
            ),
            (
                "A11",
                r#"["null","string"]"#.into(),
                r#"["null","string","int"]"#.into(),
                (true, false, false),
            ),
            ("A12", r#""string""#.into(), r#"["null","string"]"#.into(), (true, false, false)),
            (
                "A13",
                r#"{"type":"record","name":"Old","fields":[{"name":"a","type":"int"}]}"#.into(),
                r#"{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"a","type":"int"}]}"#.into(),
                (true, false, false),
            ),
            (
                "A14",
                record(r#"{"name":"b","type":"int"}"#),
                record(r#"{"name":"c","type":"int","aliases":["b"]}"#),
                (true, false, false),
            ),
            ("A15", record(decimal), record(decimal), (true, true, true)),
        ];
        for (row, old, new, expected) in rows {
            assert_eq!(verdicts(&old, &new), expected, "{row}: {old} -> {new}");
        }
    }

    #[test]
    fn plan_rows_report_java_kinds_and_locations() {
        let b = r#"{"name":"b","type":"string"}"#;
        let added = problems(&record(&format!("{A},{b}")), &record(A));
        assert_eq!(
            triples(&added),
            [(Kind::ReaderFieldMissingDefaultValue, "/fields/1", "b")]
        );
        let narrowed = problems(&record(A), &record(A_LONG));
        assert_eq!(
            triples(&narrowed),
            [(
                Kind::TypeMismatch,
                "/fields/0/type",
                "reader type: INT not compatible with writer type: LONG"
            )]
        );
        let symbols = problems(
            r#"{"type":"enum","name":"E","symbols":["A"]}"#,
            r#"{"type":"enum","name":"E","symbols":["D","A","C"]}"#,
        );
        assert_eq!(
            triples(&symbols),
            [(Kind::MissingEnumSymbols, "/symbols", "[C, D]")]
        );
        let widened = problems(r#"["null","string"]"#, r#"["null","string","int"]"#);
        assert_eq!(
            triples(&widened),
            [(
                Kind::MissingUnionBranch,
                "/2",
                "reader union lacking writer type: INT"
            )]
        );
        let renamed = problems(
            r#"{"type":"record","name":"ns.Old","fields":[]}"#,
            r#"{"type":"record","name":"ns.New","aliases":["Old"],"fields":[]}"#,
        );
        assert_eq!(
            triples(&renamed),
            [(Kind::NameMismatch, "/name", "expected: ns.New")]
        );
    }

    #[test]
    fn display_uses_confluents_wording() {
        let found = problems(
            &record(&format!(r#"{A},{{"name":"b","type":"string"}}"#)),
            &record(A),
        );
        assert_eq!(
            found[0].to_string(),
            "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'b' at \
             path '/fields/1' in the new schema has no default value and is missing in the old \
             schema', additionalInfo:'b'}"
        );
        let found = problems(&record(r#"{"name":"a","type":"boolean"}"#), &record(A));
        assert_eq!(
            found[0].to_string(),
            "{errorType:'TYPE_MISMATCH', description:'The type (path '/fields/0/type') of a \
             field in the new schema does not match with the old schema', \
             additionalInfo:'reader type: BOOLEAN not compatible with writer type: INT'}"
        );
        let found = problems(
            r#"{"type":"enum","name":"E","symbols":["A"]}"#,
            r#"{"type":"enum","name":"E","symbols":["A","C"]}"#,
        );
        assert_eq!(
            found[0].describe("old", "new"),
            "{errorType:'MISSING_ENUM_SYMBOLS', description:'The old schema is missing enum \
             symbols '[C]' at path '/symbols' in the new schema', additionalInfo:'[C]'}"
        );
        let names = [
            Kind::NameMismatch,
            Kind::FixedSizeMismatch,
            Kind::MissingEnumSymbols,
            Kind::ReaderFieldMissingDefaultValue,
            Kind::TypeMismatch,
            Kind::MissingUnionBranch,
        ]
        .map(Kind::as_str);
        assert_eq!(
            names,
            [
                "NAME_MISMATCH",
                "FIXED_SIZE_MISMATCH",
                "MISSING_ENUM_SYMBOLS",
                "READER_FIELD_MISSING_DEFAULT_VALUE",
                "TYPE_MISMATCH",
                "MISSING_UNION_BRANCH"
            ]
        );
    }

    const LIST: &str = r#"{"type":"record","name":"LinkedList","fields":[
        {"name":"value","type":"int"},
        {"name":"next","type":["null","LinkedList"]}]}"#;

    #[test]
    fn recursive_records_terminate() {
        assert_eq!(verdicts(LIST, LIST), (true, true, true));
        let labelled = r#"{"type":"record","name":"LinkedList","fields":[
            {"name":"value","type":"int"},
            {"name":"label","type":"string","default":""},
            {"name":"next","type":["null","LinkedList"]}]}"#;
        assert_eq!(verdicts(LIST, labelled), (true, true, true));
        let long_values = LIST.replace(r#""type":"int""#, r#""type":"long""#);
        assert_eq!(verdicts(LIST, &long_values), (true, false, false));
        assert_eq!(
            triples(&problems(LIST, &long_values)),
            [(
                Kind::TypeMismatch,
                "/fields/0/type",
                "reader type: INT not compatible with writer type: LONG"
            )]
        );
    }

    #[test]
    fn mutually_recursive_records_terminate() {
        let tree = |leaf: &str| {
            format!(
                r#"{{"type":"record","name":"Node","fields":[
                {{"name":"leaf","type":"{leaf}"}},
                {{"name":"children","type":{{"type":"array","items":{{"type":"record","name":"Edge",
                  "fields":[{{"name":"to","type":"Node"}}]}}}}}}]}}"#
            )
        };
        assert_eq!(verdicts(&tree("int"), &tree("int")), (true, true, true));
        assert_eq!(verdicts(&tree("int"), &tree("long")), (true, false, false));
    }

    #[test]
    fn references_resolve_through_each_sides_names() {
        let address_v1 = r#"{"type":"record","name":"Address","namespace":"acme",
            "fields":[{"name":"street","type":"string"}]}"#;
        let address_v2 = r#"{"type":"record","name":"Address","namespace":"acme",
            "fields":[{"name":"street","type":"string"},{"name":"zip","type":"string"}]}"#;
        let person = r#"{"type":"record","name":"Person","namespace":"acme",
            "fields":[{"name":"home","type":"acme.Address"}]}"#;
        let with_reference = |address: &str| {
            let (schema, references) = Schema::parse_str_with_list(person, [address]).unwrap();
            let names = Names::new(std::iter::once(&schema).chain(&references));
            (schema, names)
        };
        let (old, old_names) = with_reference(address_v1);
        let (new, new_names) = with_reference(address_v2);
        assert!(matches!(
            &old,
            Schema::Record(r) if matches!(r.fields[0].schema, Schema::Ref { .. })
        ));
        assert!(incompatibilities(&old, &old_names, &new, &new_names).is_empty());
        assert_eq!(
            triples(&incompatibilities(&new, &new_names, &old, &old_names)),
            [(
                Kind::ReaderFieldMissingDefaultValue,
                "/fields/0/type/fields/1",
                "zip"
            )]
        );
        // The same type defined inline on one side and referenced on the other.
        let inline = format!(
            r#"{{"type":"record","name":"Person","namespace":"acme",
            "fields":[{{"name":"home","type":{address_v1}}}]}}"#
        );
        let (inline, inline_names) = parse(&inline);
        assert!(incompatibilities(&inline, &inline_names, &old, &old_names).is_empty());
        assert!(incompatibilities(&old, &old_names, &inline, &inline_names).is_empty());
    }

    #[test]
    fn nested_record_failure_is_located_in_the_reader() {
        let outer = |y: &str| {
            format!(
                r#"{{"type":"record","name":"Outer","fields":[{A},
                {{"name":"inner","type":{{"type":"record","name":"Inner","fields":[
                  {{"name":"x","type":"int"}},{{"name":"y","type":"{y}"}}]}}}},
                {{"name":"list","type":{{"type":"array","items":"Inner"}}}},
                {{"name":"map","type":{{"type":"map","values":"Inner"}}}}]}}"#
            )
        };
        let found = problems(&outer("int"), &outer("string"));
        let message = "reader type: INT not compatible with writer type: STRING";
        assert_eq!(
            triples(&found),
            [
                (Kind::TypeMismatch, "/fields/1/type/fields/1/type", message),
                (
                    Kind::TypeMismatch,
                    "/fields/2/type/items/fields/1/type",
                    message
                ),
                (
                    Kind::TypeMismatch,
                    "/fields/3/type/values/fields/1/type",
                    message
                ),
            ]
        );
    }

    #[test]
    fn every_problem_is_collected() {
        let reader = r#"{"type":"record","name":"R","fields":[
            {"name":"a","type":"string"},
            {"name":"b","type":"int"},
            {"name":"c","type":{"type":"enum","name":"E","symbols":["X"]}},
            {"name":"d","type":{"type":"fixed","name":"F","size":4}}]}"#;
        let writer = r#"{"type":"record","name":"S","fields":[
            {"name":"a","type":"int"},
            {"name":"c","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
            {"name":"d","type":{"type":"fixed","name":"G","size":8}}]}"#;
        assert_eq!(
            triples(&problems(reader, writer)),
            [
                (Kind::NameMismatch, "/name", "expected: S"),
                (
                    Kind::TypeMismatch,
                    "/fields/0/type",
                    "reader type: STRING not compatible with writer type: INT"
                ),
                (Kind::ReaderFieldMissingDefaultValue, "/fields/1", "b"),
                (Kind::MissingEnumSymbols, "/fields/2/type/symbols", "[Y]"),
                (Kind::NameMismatch, "/fields/3/type/name", "expected: G"),
                (
                    Kind::FixedSizeMismatch,
                    "/fields/3/type/size",
                    "expected: 8, found: 4"
                ),
            ]
        );
    }

    #[test]
    fn fixed_needs_the_same_name_and_size() {
        let f4 = r#"{"type":"fixed","name":"F","size":4}"#;
        let f8 = r#"{"type":"fixed","name":"F","size":8}"#;
        assert_eq!(verdicts(f4, f4), (true, true, true));
        assert_eq!(
            triples(&problems(f4, f8)),
            [(Kind::FixedSizeMismatch, "/size", "expected: 8, found: 4")]
        );
        let renamed = r#"{"type":"fixed","name":"G","aliases":["F"],"size":4}"#;
        assert_eq!(verdicts(f4, renamed), (true, false, false));
        assert_eq!(
            triples(&problems(r#""bytes""#, f4)),
            [(
                Kind::TypeMismatch,
                "/",
                "reader type: BYTES not compatible with writer type: FIXED"
            )]
        );
    }

    #[test]
    fn unions_against_non_unions_both_ways() {
        // Writer union, plain reader: every branch must be readable; failures sit at the index.
        assert_eq!(
            triples(&problems(r#""string""#, r#"["null","string","int"]"#)),
            [
                (
                    Kind::TypeMismatch,
                    "/0",
                    "reader type: STRING not compatible with writer type: NULL"
                ),
                (
                    Kind::TypeMismatch,
                    "/2",
                    "reader type: STRING not compatible with writer type: INT"
                ),
            ]
        );
        assert!(problems(r#""long""#, r#"["int","long"]"#).is_empty());
        // Reader union, plain writer: some branch must read it, promotions included.
        assert!(problems(r#"["null","long"]"#, r#""int""#).is_empty());
        assert_eq!(
            triples(&problems(r#"["null","string"]"#, r#""int""#)),
            [(
                Kind::MissingUnionBranch,
                "/",
                "reader union lacking writer type: INT"
            )]
        );
        // A named branch matches by name (or alias) and reports the resolved type.
        let reader = r#"["null",{"type":"record","name":"A","fields":[]}]"#;
        let writer = r#"[{"type":"record","name":"B","fields":[]}]"#;
        assert_eq!(
            triples(&problems(reader, writer)),
            [(
                Kind::MissingUnionBranch,
                "/0",
                "reader union lacking writer type: RECORD"
            )]
        );
    }

    #[test]
    fn enum_defaults_follow_java() {
        // An enum default lets the reader take unknown symbols…
        let reader = r#"{"type":"enum","name":"E","symbols":["A"],"default":"A"}"#;
        assert!(problems(reader, r#"{"type":"enum","name":"E","symbols":["B"]}"#).is_empty());
        // …but does not stand in for a missing field's default: Java compares the enum with
        // the writer record.
        let with_enum = record(&format!(
            r#"{A},{{"name":"e","type":{{"type":"enum","name":"E","symbols":["A"],"default":"A"}}}}"#
        ));
        assert_eq!(
            triples(&problems(&with_enum, &record(A))),
            [(
                Kind::TypeMismatch,
                "/fields/1/type",
                "reader type: ENUM not compatible with writer type: RECORD"
            )]
        );
    }

    #[test]
    fn fields_match_by_reader_aliases_only_once() {
        // A null default is a default.
        let nullable = record(r#"{"name":"n","type":["null","int"],"default":null}"#);
        assert!(problems(&nullable, &record(A)).is_empty());
        let ambiguous = record(r#"{"name":"a","type":"int","aliases":["b"]}"#);
        let found = problems(
            &ambiguous,
            &record(&format!(r#"{A},{{"name":"b","type":"int"}}"#)),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].location.as_str()),
            (Kind::TypeMismatch, "/fields/0")
        );
    }

    #[test]
    fn logical_types_read_as_their_underlying_types() {
        let pairs = [
            (r#"{"type":"string","logicalType":"uuid"}"#, r#""string""#),
            (r#"{"type":"int","logicalType":"date"}"#, r#""int""#),
            (
                r#"{"type":"long","logicalType":"timestamp-millis"}"#,
                r#""long""#,
            ),
            (
                r#"{"type":"long","logicalType":"timestamp-micros"}"#,
                r#"{"type":"long","logicalType":"local-timestamp-nanos"}"#,
            ),
            (
                r#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}"#,
                r#""bytes""#,
            ),
            // Java ignores precision and scale.
            (
                r#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":2}"#,
                r#"{"type":"bytes","logicalType":"decimal","precision":9,"scale":3}"#,
            ),
            (
                r#"{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":4}"#,
                r#"{"type":"fixed","name":"D","size":8}"#,
            ),
            (
                r#"{"type":"fixed","name":"Du","size":12,"logicalType":"duration"}"#,
                r#"{"type":"fixed","name":"Du","size":12}"#,
            ),
        ];
        for (a, b) in pairs {
            assert_eq!(verdicts(a, b), (true, true, true), "{a} vs {b}");
        }
        // Promotions apply to the underlying types.
        assert_eq!(
            verdicts(r#"{"type":"int","logicalType":"date"}"#, r#""long""#),
            (true, false, false)
        );
        assert_eq!(
            triples(&problems(
                r#"{"type":"fixed","name":"D","size":8,"logicalType":"decimal","precision":4}"#,
                r#"{"type":"fixed","name":"D","size":16,"logicalType":"decimal","precision":4}"#,
            )),
            [(Kind::FixedSizeMismatch, "/size", "expected: 16, found: 8")]
        );
    }

    #[test]
    fn dangling_references_are_reported_not_panicked_on() {
        let dangling = Schema::Ref {
            name: Name::new("nowhere.T").unwrap(),
        };
        let empty = Names::default();
        let found = incompatibilities(&dangling, &empty, &Schema::Int, &empty);
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].message,
            "the reader refers to an undefined type 'nowhere.T'"
        );
        let found = incompatibilities(&Schema::Int, &empty, &dangling, &empty);
        assert_eq!(
            found[0].message,
            "the writer refers to an undefined type 'nowhere.T'"
        );
    }

    /// R0 has two fields of type R1, which has two of R2, …: 2^depth paths to the leaf.
    fn diamond_chain(depth: usize, leaf: &str) -> String {
        let mut schema = format!(
            r#"{{"type":"record","name":"R{depth}","fields":[{{"name":"x","type":"{leaf}"}}]}}"#
        );
        for i in (0..depth).rev() {
            let next = i + 1;
            schema = format!(
                r#"{{"type":"record","name":"R{i}","fields":[{{"name":"a","type":{schema}}},{{"name":"b","type":"R{next}"}}]}}"#
            );
        }
        schema
    }

    #[test]
    fn shared_types_are_compared_once_and_reports_are_bounded() {
        let (old, new) = (diamond_chain(20, "int"), diamond_chain(20, "string"));
        assert!(problems(&old, &old).is_empty());
        let found = problems(&old, &new);
        assert_eq!(found.len(), MAX_REPORTED);
        assert_eq!(
            found[0].location,
            format!("{}/fields/0/type", "/fields/0/type".repeat(20))
        );
    }

    /// A record whose one field has type `T{length}`, from a chain of referenced schemas in
    /// which each `T{i}` has a field of type `T{i-1}`.
    fn reference_chain(length: usize) -> (Schema, Names) {
        let mut references = vec![r#"{"type":"record","name":"T0","fields":[]}"#.to_owned()];
        for i in 1..=length {
            let before = i - 1;
            references.push(format!(
                r#"{{"type":"record","name":"T{i}","fields":[{{"name":"x","type":"T{before}"}}]}}"#
            ));
        }
        let root = format!(
            r#"{{"type":"record","name":"Root","fields":[{{"name":"x","type":"T{length}"}}]}}"#
        );
        // apache-avro parses references recursively in hash order, so a long chain needs a
        // deep stack here (the registry has to bound reference chains before parsing).
        let parse = move || Schema::parse_str_with_list(&root, &references).unwrap();
        let parser = std::thread::Builder::new().stack_size(256 << 20);
        let (schema, references) = parser.spawn(parse).unwrap().join().unwrap();
        let names = Names::new(std::iter::once(&schema).chain(&references));
        (schema, names)
    }

    #[test]
    fn long_reference_chains_stop_at_the_depth_bound() {
        let (short, short_names) = reference_chain(100);
        assert!(incompatibilities(&short, &short_names, &short, &short_names).is_empty());
        let (long, long_names) = reference_chain(2000);
        let found = incompatibilities(&long, &long_names, &long, &long_names);
        assert!(!found.is_empty() && found.len() <= MAX_REPORTED);
        assert!(
            found
                .iter()
                .all(|p| p.kind == Kind::TypeMismatch && p.message.contains("nested"))
        );
    }

    mod generated {
        use apache_avro::schema_compatibility::SchemaCompatibility;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        use super::*;

        /// Types without the features apache-avro's checker gets wrong (aliases, enum
        /// defaults, logical types), so it can serve as an oracle.
        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                prop::sample::select(vec![
                    "null", "boolean", "int", "long", "float", "double", "bytes", "string"
                ])
                .prop_map(|t| json!(t)),
                prop::sample::subsequence(vec!["A", "B", "C"], 1..=3)
                    .prop_map(|s| json!({"type":"enum","name":"E","symbols":s})),
                prop::sample::select(vec![2, 4])
                    .prop_map(|n| json!({"type":"fixed","name":"F","size":n})),
            ]
        }

        fn value_type(unions: bool) -> impl Strategy<Value = Value> {
            leaf().prop_recursive(3, 12, 3, move |inner| {
                let union_weight = if unions { 1 } else { 0 };
                prop_oneof![
                    1 => inner
                        .clone()
                        .prop_map(|t| json!({"type":"array","items":t})),
                    1 => inner.clone().prop_map(|t| json!({"type":"map","values":t})),
                    union_weight => prop::collection::vec(inner, 1..4).prop_map(Value::Array),
                ]
            })
        }

        /// A record `R` with some of the fields a, b, c, each maybe defaulted.
        fn schema(unions: bool) -> impl Strategy<Value = Value> {
            let field = (value_type(unions), any::<bool>());
            prop_oneof![
                value_type(unions),
                prop::collection::vec(field, 0..3).prop_map(|fields| {
                    let fields: Vec<Value> = fields
                        .into_iter()
                        .zip(["a", "b", "c"])
                        .map(|((t, defaulted), name)| {
                            let default = match t.as_str() {
                                Some("int") => Some(json!(0)),
                                Some("string") => Some(json!("")),
                                _ => None,
                            };
                            match default {
                                Some(d) if defaulted => json!({"name":name,"type":t,"default":d}),
                                _ => json!({"name":name,"type":t}),
                            }
                        })
                        .collect();
                    json!({"type":"record","name":"R","fields":fields})
                }),
            ]
        }

        fn parsed(value: &Value) -> Option<(Schema, Names)> {
            let schema = Schema::parse_str(&value.to_string()).ok()?;
            let names = Names::new([&schema]);
            Some((schema, names))
        }

        fn verdicts(reader: &Value, writer: &Value) -> Option<(Vec<Incompatibility>, bool)> {
            let ((r, r_names), (w, w_names)) = (parsed(reader)?, parsed(writer)?);
            let ours = incompatibilities(&r, &r_names, &w, &w_names);
            Some((ours, SchemaCompatibility::can_read(&w, &r).is_ok()))
        }

        proptest! {
            #[test]
            fn every_schema_reads_itself(value in schema(true)) {
                if let Some((s, names)) = parsed(&value) {
                    prop_assert!(incompatibilities(&s, &names, &s, &names).is_empty(), "{value}");
                }
            }

            #[test]
            fn verdicts_agree_with_apache_avro_without_unions(
                reader in schema(false),
                writer in schema(false),
            ) {
                if let Some((ours, theirs)) = verdicts(&reader, &writer) {
                    prop_assert_eq!(ours.is_empty(), theirs, "R {} W {}: {:?}", reader, writer, ours);
                }
            }

            /// apache-avro wrongly refuses a writer union of named types or maps read by a
            /// plain reader (`[E]` read as `E`), so with unions it only bounds us from above.
            #[test]
            fn what_apache_avro_accepts_we_accept(reader in schema(true), writer in schema(true)) {
                if let Some((ours, theirs)) = verdicts(&reader, &writer) {
                    prop_assert!(!theirs || ours.is_empty(), "R {} W {}: {:?}", reader, writer, ours);
                }
            }
        }
    }
}
