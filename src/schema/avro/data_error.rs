//! The error both Avro data walkers (`encode`: JSON → binary, `binary`: validate/decode) report:
//! where in the datum it went wrong, as an Avro path from the root, and a message for users.
//!
//! Owns the path type the walkers thread through their recursion, and the checks both share
//! (nesting depth, unknown named types). It must stay allocation-free until an error is built: a
//! path is a chain of borrowed segments on the walker's stack and is only rendered to a `String`
//! when a `DataError` is made, never on the success path. It knows nothing of JSON or binary.

use std::fmt::Write as _;

use apache_avro::schema::Name;

/// Data that does not fit its schema, or a payload that is not one datum of its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct DataError {
    /// Avro path from the root: `.` for the root, `.items[2].amount`, `.tags{"k"}`.
    pub path: String,
    /// What is wrong, for users: `expected long, got string "x"`.
    pub message: String,
}

/// Records, arrays and maps nest at most this deep in a datum. Equal to serde_json's default parse
/// limit, so all JSON that parsed fits; it keeps hostile payloads for recursive schemas, and
/// defaults that contain themselves, from exhausting the stack.
pub(crate) const MAX_DEPTH: usize = 128;

/// Where a walker is in the datum: a linked list of segments, each living in a caller's stack
/// frame, so descending costs nothing and only an error pays for rendering.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Path<'a> {
    Root,
    /// A record field: `.name`.
    Field(&'a Path<'a>, &'a str),
    /// An array item: `[i]`.
    Index(&'a Path<'a>, usize),
    /// A map value: `{"key"}` (the key JSON-quoted, so any key renders unambiguously).
    Key(&'a Path<'a>, &'a str),
}

impl Path<'_> {
    /// The error at this path.
    pub(crate) fn error(&self, message: impl Into<String>) -> DataError {
        DataError {
            path: self.render(),
            message: message.into(),
        }
    }

    /// One more level of nesting below `depth`, refused past `MAX_DEPTH`.
    pub(crate) fn enter(&self, depth: usize) -> Result<usize, DataError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(depth + 1)
    }

    /// A `Schema::Ref` the names map does not know (only hand-built schemas have those).
    pub(crate) fn unknown_type(&self, name: &Name) -> DataError {
        let name = name.fullname(None);
        self.error(format!("schema refers to unknown type {name}"))
    }

    fn render(&self) -> String {
        // Every path starts at the root, ".": `.items[2]`, and `.[2]` for an item of a root array.
        let mut out = String::from(".");
        self.render_into(&mut out);
        if out.starts_with("..") {
            out.remove(0);
        }
        out
    }

    // Recursion depth is bounded by the walkers' nesting cap, so this cannot blow the stack.
    fn render_into(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Field(parent, name) => {
                parent.render_into(out);
                out.push('.');
                out.push_str(name);
            }
            Path::Index(parent, index) => {
                parent.render_into(out);
                // Writing to a String cannot fail.
                let _ = write!(out, "[{index}]");
            }
            Path::Key(parent, key) => {
                parent.render_into(out);
                out.push('{');
                out.push_str(&quote(key));
                out.push('}');
            }
        }
    }
}

/// `s` as a JSON string literal (quotes and escapes), for messages and map-key paths.
pub(crate) fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;

    #[test]
    fn renders_paths() {
        assert_eq!(Path::Root.error("m").path, ".");
        let items = Path::Field(&Path::Root, "items");
        let second = Path::Index(&items, 2);
        let amount = Path::Field(&second, "amount");
        let err = amount.error("expected long, got string \"x\"");
        assert_eq!(err.path, ".items[2].amount");
        assert_eq!(
            err.to_string(),
            ".items[2].amount: expected long, got string \"x\""
        );
        let tags = Path::Field(&Path::Root, "tags");
        assert_eq!(Path::Key(&tags, "k\"").error("m").path, ".tags{\"k\\\"\"}");
        assert_eq!(Path::Index(&Path::Root, 0).error("m").path, ".[0]");
    }
}
