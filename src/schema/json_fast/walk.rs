//! The fast JSON Schema check over our reader's pull API: the common path, which reads each
//! token once and hands keys and strings over in registers, where the `serde` visitor walk
//! ([`Seed`]) went through generic accessors and returned keys through memory.
//!
//! It must judge and capture exactly as the visitor walk does (the differential tests against
//! `jsonschema` hold both). A node whose `enum`/`const` holds an array or object needs the
//! parsed subtree: such a value is handed to the visitor walk whole.

use serde::de::Error as _;

use super::{ARRAY, BOOLEAN, FastSchema, NULL, Node, Num, OBJECT, STRING, Seed};
use crate::json_text::{self, Kind, Number, Reader};
use crate::schema::capture::{Capture, Captured};

impl FastSchema {
    /// The value at `reader`'s position checked against the root schema.
    pub(super) fn walk(
        &self,
        reader: &mut Reader<'_>,
        capture: &mut Capture<'_>,
    ) -> json_text::Result<()> {
        Walk {
            schema: self,
            capture,
        }
        .value(self.root, reader, None, true)
    }
}

fn abort<T>() -> json_text::Result<T> {
    Err(json_text::Error::custom("not valid on the fast path"))
}

/// `Ok` when `fits`, else the refusal.
fn require(fits: bool) -> json_text::Result<()> {
    if fits { Ok(()) } else { abort() }
}

struct Walk<'s, 'c, 'f> {
    schema: &'s FastSchema,
    capture: &'c mut Capture<'f>,
}

impl Walk<'_, '_, '_> {
    /// One value against node `index`; `slot` is its capture slot when it is a captured
    /// top-level field, `root` whether it is the top-level value.
    fn value(
        &mut self,
        index: usize,
        reader: &mut Reader<'_>,
        slot: Option<usize>,
        root: bool,
    ) -> json_text::Result<()> {
        let schema = self.schema;
        let Some(node) = schema.nodes.get(index) else {
            return abort();
        };
        if node.never {
            return abort();
        }
        if node.tree {
            return reader.value(Seed {
                schema,
                node: index,
                capture: &mut *self.capture,
                slot,
                root,
                chosen: false,
            });
        }
        let keep = |capture: &mut Capture<'_>, value: Captured| {
            if let Some(slot) = slot {
                capture.set(slot, value);
            }
        };
        match reader.next_kind() {
            Kind::Null => {
                reader.null()?;
                keep(self.capture, Captured::Null);
                require(node.scalar_fits(NULL, false, |c| c.null))
            }
            Kind::Bool => {
                let v = reader.boolean()?;
                keep(self.capture, Captured::Bool(v));
                require(node.scalar_fits(BOOLEAN, false, |c| c.booleans[usize::from(v)]))
            }
            Kind::Number => {
                let (captured, n) = match reader.number()? {
                    Number::U64(v) => (Captured::unsigned(v), Num::Int(v.into())),
                    Number::I64(v) => (Captured::Int(v), Num::Int(v.into())),
                    Number::F64(v) => (Captured::Float(v), Num::Float(v)),
                };
                keep(self.capture, captured);
                require(node.number_accepts(n, false))
            }
            Kind::String => reader.string(|v| {
                if let Some(slot) = slot {
                    self.capture.set_str(slot, v);
                }
                require(node.scalar_fits(STRING, false, |c| c.has_string(v)) && node.length_fits(v))
            })?,
            Kind::Array => {
                keep(self.capture, Captured::Complex);
                require(node.container_fits(ARRAY, false))?;
                self.array(node, reader)
            }
            Kind::Object => {
                keep(self.capture, Captured::Complex);
                require(node.container_fits(OBJECT, false))?;
                if root {
                    self.capture.mark_object();
                }
                self.object(node, reader, root && !self.capture.is_empty())
            }
            Kind::Invalid => abort(),
        }
    }

    fn array(&mut self, node: &Node, reader: &mut Reader<'_>) -> json_text::Result<()> {
        let mut count = 0u64;
        reader.array(|reader| {
            self.value(node.items, reader, None, false)?;
            count += 1;
            require(count <= node.max_items)
        })?;
        require(count >= node.min_items)
    }

    /// An object's entries; `capturing`: its fields are the record's top-level ones.
    fn object(
        &mut self,
        node: &Node,
        reader: &mut Reader<'_>,
        capturing: bool,
    ) -> json_text::Result<()> {
        let mut names: Option<Vec<Box<str>>> = node.lists_names().then(Vec::new);
        let mut seen = 0u64;
        let mut any = false;
        reader.object(|reader, key| {
            let Some((schema, bit, slot)) = node.entry(key, capturing.then_some(&*self.capture))
            else {
                return abort();
            };
            seen |= bit;
            self.value(schema, reader, slot, false)?;
            any = true;
            if let Some(names) = &mut names {
                names.push(key.into());
            }
            Ok(())
        })?;
        require(node.object_fits(seen, any, names))
    }
}
