//! Difference types, named as Confluent's `Difference.Type` so messages and tests line up with
//! Confluent's, plus two of ours for the depth and work limits. Only the types this module
//! can emit are listed (Confluent's deprecated `PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL` and its
//! metadata-driven `RESERVED_PROPERTY_*` are not).

use super::Policy;

macro_rules! kinds {
    ($($k:ident),* $(,)?) => {
        #[allow(non_camel_case_types, reason = "variants spell Confluent's enum names")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub(super) enum Kind { $($k),* }

        impl Kind {
            pub(super) const fn name(self) -> &'static str {
                match self { $(Kind::$k => stringify!($k)),* }
            }

            fn from_name(name: &str) -> Option<Kind> {
                match name { $(stringify!($k) => Some(Kind::$k),)* _ => None }
            }
        }
    };
}

kinds! {
    ID_CHANGED, DESCRIPTION_CHANGED, TITLE_CHANGED, DEFAULT_CHANGED,
    SCHEMA_ADDED, SCHEMA_REMOVED, TYPE_EXTENDED, TYPE_NARROWED, TYPE_CHANGED,

    MAX_LENGTH_ADDED, MAX_LENGTH_REMOVED, MAX_LENGTH_INCREASED, MAX_LENGTH_DECREASED,
    MIN_LENGTH_ADDED, MIN_LENGTH_REMOVED, MIN_LENGTH_INCREASED, MIN_LENGTH_DECREASED,
    PATTERN_ADDED, PATTERN_REMOVED, PATTERN_CHANGED,

    MAXIMUM_ADDED, MAXIMUM_REMOVED, MAXIMUM_INCREASED, MAXIMUM_DECREASED,
    MINIMUM_ADDED, MINIMUM_REMOVED, MINIMUM_INCREASED, MINIMUM_DECREASED,
    EXCLUSIVE_MAXIMUM_ADDED, EXCLUSIVE_MAXIMUM_REMOVED, EXCLUSIVE_MAXIMUM_INCREASED,
    EXCLUSIVE_MAXIMUM_DECREASED,
    EXCLUSIVE_MINIMUM_ADDED, EXCLUSIVE_MINIMUM_REMOVED, EXCLUSIVE_MINIMUM_INCREASED,
    EXCLUSIVE_MINIMUM_DECREASED,
    MULTIPLE_OF_ADDED, MULTIPLE_OF_REMOVED, MULTIPLE_OF_EXPANDED, MULTIPLE_OF_REDUCED,
    MULTIPLE_OF_CHANGED,

    REQUIRED_ATTRIBUTE_ADDED, REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED, REQUIRED_ATTRIBUTE_REMOVED,
    MAX_PROPERTIES_ADDED, MAX_PROPERTIES_REMOVED, MAX_PROPERTIES_INCREASED,
    MAX_PROPERTIES_DECREASED,
    MIN_PROPERTIES_ADDED, MIN_PROPERTIES_REMOVED, MIN_PROPERTIES_INCREASED,
    MIN_PROPERTIES_DECREASED,
    ADDITIONAL_PROPERTIES_ADDED, ADDITIONAL_PROPERTIES_REMOVED, ADDITIONAL_PROPERTIES_EXTENDED,
    ADDITIONAL_PROPERTIES_NARROWED,
    DEPENDENCY_ARRAY_ADDED, DEPENDENCY_ARRAY_REMOVED, DEPENDENCY_ARRAY_EXTENDED,
    DEPENDENCY_ARRAY_NARROWED, DEPENDENCY_ARRAY_CHANGED,
    DEPENDENCY_SCHEMA_ADDED, DEPENDENCY_SCHEMA_REMOVED,
    REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL,
    OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL,
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL,
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    UNEVALUATED_PROPERTIES_ADDED, UNEVALUATED_PROPERTIES_REMOVED,
    UNEVALUATED_PROPERTIES_EXTENDED, UNEVALUATED_PROPERTIES_NARROWED,

    MAX_ITEMS_ADDED, MAX_ITEMS_REMOVED, MAX_ITEMS_INCREASED, MAX_ITEMS_DECREASED,
    MIN_ITEMS_ADDED, MIN_ITEMS_REMOVED, MIN_ITEMS_INCREASED, MIN_ITEMS_DECREASED,
    MAX_CONTAINS_ADDED, MAX_CONTAINS_REMOVED, MAX_CONTAINS_INCREASED, MAX_CONTAINS_DECREASED,
    MIN_CONTAINS_ADDED, MIN_CONTAINS_REMOVED, MIN_CONTAINS_INCREASED, MIN_CONTAINS_DECREASED,
    UNIQUE_ITEMS_ADDED, UNIQUE_ITEMS_REMOVED,
    ADDITIONAL_ITEMS_ADDED, ADDITIONAL_ITEMS_REMOVED, ADDITIONAL_ITEMS_EXTENDED,
    ADDITIONAL_ITEMS_NARROWED,
    UNEVALUATED_ITEMS_ADDED, UNEVALUATED_ITEMS_REMOVED, UNEVALUATED_ITEMS_EXTENDED,
    UNEVALUATED_ITEMS_NARROWED,
    ITEM_ADDED_TO_OPEN_CONTENT_MODEL, ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL, ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL,
    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL, ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL,
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,

    ENUM_ARRAY_EXTENDED, ENUM_ARRAY_NARROWED, ENUM_ARRAY_CHANGED,

    COMBINED_TYPE_EXTENDED, COMBINED_TYPE_CHANGED, PRODUCT_TYPE_EXTENDED, PRODUCT_TYPE_NARROWED,
    SUM_TYPE_EXTENDED, SUM_TYPE_NARROWED, COMBINED_TYPE_SUBSCHEMAS_CHANGED,
    NOT_TYPE_EXTENDED, NOT_TYPE_NARROWED,

    MAX_DEPTH_EXCEEDED, COMPARISON_BUDGET_EXCEEDED,
}

use Kind::*;

impl Kind {
    pub(super) fn is_compatible(self, policy: Policy) -> bool {
        // Confluent's COMPATIBLE_CHANGES_STRICT, in its order.
        let strict = matches!(
            self,
            ID_CHANGED
                | DESCRIPTION_CHANGED
                | TITLE_CHANGED
                | DEFAULT_CHANGED
                | SCHEMA_REMOVED
                | TYPE_EXTENDED
                | MAX_LENGTH_INCREASED
                | MAX_LENGTH_REMOVED
                | MIN_LENGTH_DECREASED
                | MIN_LENGTH_REMOVED
                | PATTERN_REMOVED
                | MAXIMUM_INCREASED
                | MAXIMUM_REMOVED
                | MINIMUM_DECREASED
                | MINIMUM_REMOVED
                | EXCLUSIVE_MAXIMUM_INCREASED
                | EXCLUSIVE_MAXIMUM_REMOVED
                | EXCLUSIVE_MINIMUM_DECREASED
                | EXCLUSIVE_MINIMUM_REMOVED
                | MULTIPLE_OF_REDUCED
                | MULTIPLE_OF_REMOVED
                | REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED
                | REQUIRED_ATTRIBUTE_REMOVED
                | DEPENDENCY_ARRAY_NARROWED
                | DEPENDENCY_ARRAY_REMOVED
                | DEPENDENCY_SCHEMA_REMOVED
                | MAX_PROPERTIES_INCREASED
                | MAX_PROPERTIES_REMOVED
                | MIN_PROPERTIES_DECREASED
                | MIN_PROPERTIES_REMOVED
                | ADDITIONAL_PROPERTIES_ADDED
                | ADDITIONAL_PROPERTIES_EXTENDED
                | UNEVALUATED_PROPERTIES_ADDED
                | UNEVALUATED_PROPERTIES_EXTENDED
                | PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                | REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
                | OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
                | PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
                | PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
                | PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | MAX_ITEMS_INCREASED
                | MAX_ITEMS_REMOVED
                | MIN_ITEMS_DECREASED
                | MIN_ITEMS_REMOVED
                | MAX_CONTAINS_INCREASED
                | MAX_CONTAINS_REMOVED
                | MIN_CONTAINS_DECREASED
                | MIN_CONTAINS_REMOVED
                | UNIQUE_ITEMS_REMOVED
                | ADDITIONAL_ITEMS_ADDED
                | ADDITIONAL_ITEMS_EXTENDED
                | UNEVALUATED_ITEMS_ADDED
                | UNEVALUATED_ITEMS_EXTENDED
                | ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
                | ITEM_ADDED_TO_CLOSED_CONTENT_MODEL
                | ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL
                | ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
                | ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | ENUM_ARRAY_EXTENDED
                | COMBINED_TYPE_EXTENDED
                | PRODUCT_TYPE_NARROWED
                | SUM_TYPE_EXTENDED
                | NOT_TYPE_NARROWED
        );
        // The LENIENT additions: exactly the nine types the module doc lists.
        let lenient = matches!(
            self,
            ADDITIONAL_PROPERTIES_NARROWED
                | ADDITIONAL_PROPERTIES_REMOVED
                | UNEVALUATED_PROPERTIES_NARROWED
                | UNEVALUATED_PROPERTIES_REMOVED
                | REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
                | OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
                | PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
                | PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
                | PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
        );
        strict || (policy == Policy::Lenient && lenient)
    }
}

/// Human text for a difference, in the shape of Confluent's messages but with "reader" and
/// "writer" filled in (Confluent leaves `%s` placeholders). The diff runs writer → reader, so
/// "added" means present in the reader only.
pub(super) fn describe(kind: &str, path: &str) -> String {
    match Kind::from_name(kind).and_then(template) {
        Some(text) => text.replace("{path}", path),
        // Changes every policy accepts: name them plainly.
        None => format!(
            "{} at path '{path}'",
            kind.to_ascii_lowercase().replace('_', " ")
        ),
    }
}

fn template(kind: Kind) -> Option<&'static str> {
    Some(match kind {
        MAXIMUM_ADDED
        | MINIMUM_ADDED
        | EXCLUSIVE_MAXIMUM_ADDED
        | EXCLUSIVE_MINIMUM_ADDED
        | MULTIPLE_OF_ADDED
        | MAX_LENGTH_ADDED
        | MIN_LENGTH_ADDED
        | PATTERN_ADDED
        | REQUIRED_ATTRIBUTE_ADDED
        | MAX_PROPERTIES_ADDED
        | MIN_PROPERTIES_ADDED
        | DEPENDENCY_ARRAY_ADDED
        | DEPENDENCY_SCHEMA_ADDED
        | MAX_ITEMS_ADDED
        | MIN_ITEMS_ADDED
        | MAX_CONTAINS_ADDED
        | MIN_CONTAINS_ADDED
        | UNIQUE_ITEMS_ADDED
        | SCHEMA_ADDED => {
            "The keyword at path '{path}' in the reader schema is not present in the writer schema"
        }
        ADDITIONAL_ITEMS_REMOVED
        | ADDITIONAL_PROPERTIES_REMOVED
        | UNEVALUATED_PROPERTIES_REMOVED
        | UNEVALUATED_ITEMS_REMOVED => {
            "The reader schema forbids at path '{path}' what the writer schema allows"
        }
        MIN_LENGTH_INCREASED
        | MINIMUM_INCREASED
        | EXCLUSIVE_MINIMUM_INCREASED
        | MIN_PROPERTIES_INCREASED
        | MULTIPLE_OF_EXPANDED
        | MIN_ITEMS_INCREASED
        | MIN_CONTAINS_INCREASED => {
            "The value at path '{path}' in the reader schema is more than its value in the \
             writer schema"
        }
        MAX_LENGTH_DECREASED
        | MAXIMUM_DECREASED
        | MAX_ITEMS_DECREASED
        | MAX_CONTAINS_DECREASED
        | EXCLUSIVE_MAXIMUM_DECREASED
        | MAX_PROPERTIES_DECREASED => {
            "The value at path '{path}' in the reader schema is less than its value in the \
             writer schema"
        }
        PATTERN_CHANGED | MULTIPLE_OF_CHANGED | DEPENDENCY_ARRAY_CHANGED => {
            "The value at path '{path}' is different between the reader and writer schema"
        }
        ADDITIONAL_ITEMS_NARROWED
        | ENUM_ARRAY_NARROWED
        | SUM_TYPE_NARROWED
        | ADDITIONAL_PROPERTIES_NARROWED
        | UNEVALUATED_PROPERTIES_NARROWED
        | UNEVALUATED_ITEMS_NARROWED => {
            "An array or combined type at path '{path}' has fewer elements in the reader schema \
             than the writer schema"
        }
        DEPENDENCY_ARRAY_EXTENDED
        | PRODUCT_TYPE_EXTENDED
        | SUM_TYPE_EXTENDED
        | NOT_TYPE_EXTENDED => {
            "An array or combined type at path '{path}' has more elements in the reader schema \
             than the writer schema"
        }
        TYPE_CHANGED
        | TYPE_NARROWED
        | COMBINED_TYPE_CHANGED
        | COMBINED_TYPE_SUBSCHEMAS_CHANGED
        | ENUM_ARRAY_CHANGED => {
            "A type at path '{path}' is different between the reader schema and the writer schema"
        }
        REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
        | REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL
        | OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL
        | ITEM_ADDED_TO_OPEN_CONTENT_MODEL => {
            "The writer schema has an open content model and the reader schema has a property or \
             item at path '{path}' which is missing in the writer schema"
        }
        REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL => {
            "The reader schema requires a property at path '{path}' which is missing in the \
             writer schema, whose content model is not open"
        }
        PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL | ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL => {
            "The reader schema has a closed content model and is missing a property or item \
             present at path '{path}' in the writer schema"
        }
        PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
        | ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => {
            "A property or item is missing in the reader schema but present at path '{path}' in \
             the writer schema and is not covered by the reader's partially open content model"
        }
        PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
        | ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL => {
            "The reader schema has a property or item at path '{path}' which is missing in the \
             writer schema and is not covered by the writer's partially open content model"
        }
        MAX_DEPTH_EXCEEDED => {
            "The schemas below path '{path}' nest too deeply to be compared to the end"
        }
        COMPARISON_BUDGET_EXCEEDED => {
            "The comparison below path '{path}' needed more steps than allowed and was stopped"
        }
        _ => return None,
    })
}
