//! The top-level fields of a record that data-contract rules read, picked out while a
//! streaming pass (the JSON Schema fast validator, the Avro encoding plan) reads the
//! record anyway, so the rules' fast evaluator needs no JSON tree.
//!
//! Owns only the slots and what a slot may hold. It must not parse JSON or evaluate rules.

use super::object_key::same;

/// What a streaming pass saw at one top-level field.
#[derive(Debug, Clone, PartialEq)]
pub enum Captured {
    /// The record has no such field (or the pass has not reached it).
    Absent,
    /// JSON `null`.
    Null,
    /// JSON `true`/`false`.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// The symbol at this index of an Avro enum (a rule's evaluator knows the symbols of the
    /// field's type): picking it copies no text.
    Symbol(u32),
    /// An object or array: the fast evaluator cannot use it.
    Complex,
}

impl Captured {
    /// A non-negative JSON integer: an `Int` when it fits `i64`, as CEL reads JSON numbers.
    #[must_use]
    pub fn unsigned(v: u64) -> Self {
        i64::try_from(v).map_or(Captured::Uint(v), Captured::Int)
    }
}

/// Fields looked up by a linear scan up to this many (a length check rules most out without
/// comparing bytes); a binary search past it.
const LINEAR_FIELDS: usize = 8;

/// The fields to pick (sorted, distinct) and what was picked for each, in buffers kept from
/// one record to the next ([`Slots`]): borrowed, not moved in and out, because moving them
/// per record cost more than picking the fields.
#[derive(Debug)]
pub struct Capture<'f> {
    fields: &'f [String],
    slots: &'f mut Slots,
    /// Whether the record is an object whose fields these are: rules see any other record
    /// (an array, a scalar, an Avro map) whole, which the fast evaluator does not model.
    object: bool,
    /// The slot of each field of the record's schema, in schema order, when the pass knows
    /// them ([`Capture::by_field`]): then fields are not looked up by name.
    by_field: Option<&'f [Option<usize>]>,
}

/// A capture's buffers, kept from one record to the next so that picking fields allocates
/// nothing once they are warm.
#[derive(Debug, Default)]
pub struct Slots {
    /// `values[i]` is what was seen for `fields[i]`.
    values: Vec<Captured>,
    /// Emptied strings of earlier records, reused for picked strings.
    spare: Vec<String>,
}

impl<'f> Capture<'f> {
    /// Slots for `fields`, which must be sorted and distinct, all [`Captured::Absent`], in the
    /// buffers of `slots` (whatever an earlier capture left there is cleared).
    #[must_use]
    #[inline]
    pub fn new(fields: &'f [String], slots: &'f mut Slots) -> Self {
        for value in &mut slots.values {
            if let Captured::Str(mut s) = std::mem::replace(value, Captured::Absent) {
                s.clear();
                slots.spare.push(s);
            }
        }
        if slots.values.len() != fields.len() {
            slots.values.resize(fields.len(), Captured::Absent);
        }
        Self {
            fields,
            slots,
            object: false,
            by_field: None,
        }
    }

    /// The same capture, told the slot of each field of the record's schema (`by_field[i]`
    /// for the schema's field `i`, as [`Capture::slot`] would find it by name).
    #[must_use]
    pub fn by_field(self, by_field: &'f [Option<usize>]) -> Self {
        Self {
            by_field: Some(by_field),
            ..self
        }
    }

    /// What was seen for each field: `values()[i]` for `fields[i]`.
    #[must_use]
    #[inline]
    pub fn values(&self) -> &[Captured] {
        &self.slots.values
    }

    /// Records that the record is an object (a JSON object, an Avro record) and that its
    /// top-level fields were picked.
    #[inline]
    pub fn mark_object(&mut self) {
        self.object = true;
    }

    /// Whether the picked fields are the whole story: no field was wanted, or the record is
    /// an object and absent slots are really absent fields.
    #[must_use]
    #[inline]
    pub fn is_complete(&self) -> bool {
        self.object || self.fields.is_empty()
    }

    /// The slot of top-level field `key`, if a rule reads it.
    #[must_use]
    #[inline]
    pub fn slot(&self, key: &str) -> Option<usize> {
        if self.fields.len() <= LINEAR_FIELDS {
            return self.fields.iter().position(|f| same(f, key));
        }
        self.fields.binary_search_by(|f| f.as_str().cmp(key)).ok()
    }

    /// The slot of the schema's field `index`, whose name is `key`: from the map the pass was
    /// given, else by name.
    #[must_use]
    #[inline]
    pub fn slot_of_field(&self, index: usize, key: &str) -> Option<usize> {
        match self.by_field {
            Some(by_field) => by_field.get(index).copied().flatten(),
            None => self.slot(key),
        }
    }

    /// Records the string `value` for slot `slot`, in a reused buffer when there is one.
    #[inline]
    pub fn set_str(&mut self, slot: usize, value: &str) {
        let mut s = self.slots.spare.pop().unwrap_or_default();
        s.push_str(value);
        self.set(slot, Captured::Str(s));
    }

    /// Records `value` for slot `slot` (the last occurrence of a duplicated key wins, as in a
    /// parsed JSON tree).
    #[inline]
    pub fn set(&mut self, slot: usize, value: Captured) {
        if let Some(v) = self.slots.values.get_mut(slot) {
            *v = value;
        }
    }

    /// Whether no field is wanted (nothing to pick).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_follow_the_sorted_fields_and_the_last_value_wins() {
        let fields = vec!["amount".to_owned(), "currency".to_owned()];
        let mut slots = Slots::default();
        let mut capture = Capture::new(&fields, &mut slots);
        assert_eq!(capture.slot("currency"), Some(1));
        assert_eq!(capture.slot("note"), None);
        capture.set(0, Captured::Int(1));
        capture.set(0, Captured::Float(2.5));
        assert_eq!(capture.values(), [Captured::Float(2.5), Captured::Absent]);
    }

    #[test]
    fn a_recycled_capture_starts_absent_and_reuses_its_strings() {
        let fields: Vec<String> = (0..12).map(|i| format!("f{i:02}")).collect();
        let mut slots = Slots::default();
        let mut capture = Capture::new(&fields, &mut slots);
        assert_eq!(
            capture.slot("f11"),
            Some(11),
            "binary search past the linear scan"
        );
        capture.set_str(3, "a long enough string");
        capture.mark_object();
        let buffer = match &capture.values()[3] {
            Captured::Str(s) => s.as_ptr(),
            other => panic!("{other:?}"),
        };
        let few = vec!["b".to_owned()];
        let mut next = Capture::new(&few, &mut slots);
        assert_eq!(next.values(), [Captured::Absent]);
        assert!(!next.is_complete(), "not marked as an object yet");
        next.set_str(0, "x");
        match &next.values()[0] {
            Captured::Str(s) => {
                assert_eq!(s, "x");
                assert_eq!(s.as_ptr(), buffer, "the earlier record's string was reused");
            }
            other => panic!("{other:?}"),
        }
    }
}
