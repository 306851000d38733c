//! The named types (records, enums, fixed) one Avro schema can reach, its own and those of the
//! schemas it references, so walkers can follow `Schema::Ref`. Owns copies: a walker must not
//! care whether a name was defined inline, earlier in the same schema, or in a reference.

use std::collections::HashMap;

use apache_avro::Schema;
use apache_avro::schema::Name;

/// Named types by full name.
#[derive(Debug, Default, Clone)]
pub struct Names {
    map: HashMap<Name, Schema>,
}

impl Names {
    /// Collects every named type defined in `schemas` (a root and its references).
    pub fn new<'a>(schemas: impl IntoIterator<Item = &'a Schema>) -> Names {
        let mut names = Names::default();
        for schema in schemas {
            names.collect(schema);
        }
        names
    }

    fn collect(&mut self, schema: &Schema) {
        match schema {
            Schema::Record(record) => {
                if self.map.contains_key(&record.name) {
                    return;
                }
                self.map.insert(record.name.clone(), schema.clone());
                for field in &record.fields {
                    self.collect(&field.schema);
                }
            }
            Schema::Enum(e) => {
                self.map.insert(e.name.clone(), schema.clone());
            }
            Schema::Fixed(f) => {
                self.map.insert(f.name.clone(), schema.clone());
            }
            Schema::Decimal(d) => self.collect(&d.inner),
            Schema::Array(a) => self.collect(&a.items),
            Schema::Map(m) => self.collect(&m.types),
            Schema::Union(u) => {
                for variant in u.variants() {
                    self.collect(variant);
                }
            }
            _ => {}
        }
    }

    /// `schema` itself, or the named type a `Ref` points at; `None` for a dangling reference
    /// (the parser refuses those, so it only happens to hand-built schemas).
    pub fn resolve<'s>(&'s self, schema: &'s Schema) -> Option<&'s Schema> {
        match schema {
            Schema::Ref { name } => self.map.get(name),
            other => Some(other),
        }
    }
}
