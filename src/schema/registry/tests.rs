#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::*;
use crate::schema::types::{Config, Level, Mode, SchemaRequest, VersionSpec};
use crate::schema::{Deleted, Policy};

/// Keeps entries in memory, like `__schemas` would; can be told to fail.
#[derive(Default)]
struct MemoryStore {
    entries: Mutex<Vec<Entry>>,
    fail: AtomicBool,
}

impl Store for MemoryStore {
    fn append<'a>(
        &'a self,
        entries: &'a [Entry],
    ) -> Pin<Box<dyn Future<Output = std::result::Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            if self.fail.load(Ordering::SeqCst) {
                return Err("disk on fire".into());
            }
            self.entries.lock().extend_from_slice(entries);
            Ok(())
        })
    }
}

fn registry() -> (Registry, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::default());
    (Registry::new(Arc::clone(&store) as Arc<dyn Store>), store)
}

fn replayed(store: &MemoryStore) -> Registry {
    let fresh = Registry::new(Arc::new(MemoryStore::default()));
    for entry in store.entries.lock().iter() {
        fresh.replay(entry).unwrap();
    }
    fresh
}

fn avro(text: &str) -> SchemaRequest {
    SchemaRequest {
        schema: text.into(),
        ..SchemaRequest::default()
    }
}

const V1: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"}]}"#;
const V2_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"}]}"#;
const V2_NO_DEFAULT: &str = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"b","type":"string"}]}"#;

#[tokio::test]
async fn ids_are_global_and_registration_is_idempotent() {
    let (r, _) = registry();
    let first = r.register("a-value", avro(V1)).await.unwrap();
    assert_eq!((first.id.0, first.version), (1, 1));
    // Whitespace does not change identity.
    let again = r
        .register("a-value", avro(&V1.replace(',', " , ")))
        .await
        .unwrap();
    assert_eq!((again.id, again.version), (first.id, 1));
    let other = r.register("b-value", avro(V1)).await.unwrap();
    assert_eq!((other.id, other.version), (first.id, 1));
    let second = r.register("a-value", avro(V2_DEFAULT)).await.unwrap();
    assert_eq!((second.id.0, second.version), (2, 2));
    assert_eq!(r.versions("a-value", Deleted::Exclude).unwrap(), vec![1, 2]);
    assert_eq!(
        r.uses_of(first.id, false).unwrap(),
        vec![("a-value".into(), 1), ("b-value".into(), 1)]
    );
    assert_eq!(r.subjects("", Deleted::Exclude), vec!["a-value", "b-value"]);
    assert_eq!(r.subjects("b", Deleted::Exclude), vec!["b-value"]);
}

#[tokio::test]
async fn incompatible_registrations_are_refused_with_reasons() {
    let (r, store) = registry();
    r.register("s", avro(V1)).await.unwrap();
    let err = r.register("s", avro(V2_NO_DEFAULT)).await.unwrap_err();
    assert_eq!(err.code(), 409);
    let text = err.to_string();
    assert!(
        text.contains("READER_FIELD_MISSING_DEFAULT_VALUE"),
        "{text}"
    );
    assert!(text.contains("oldSchemaVersion: 1"), "{text}");
    let entries = store.entries.lock().len();
    r.set_config(
        Some("s"),
        Config {
            compatibility: Some(Level::None),
            policy: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(store.entries.lock().len(), entries + 1);
    assert_eq!(
        r.register("s", avro(V2_NO_DEFAULT)).await.unwrap().version,
        2
    );
}

#[tokio::test]
async fn transitive_levels_check_every_live_version() {
    let (r, _) = registry();
    r.register("s", avro(V1)).await.unwrap();
    r.register("s", avro(V2_DEFAULT)).await.unwrap();
    // V2_NO_DEFAULT reads V2_DEFAULT's data (b is there) but not V1's.
    assert!(
        r.test_compatibility("s", &avro(V2_NO_DEFAULT), None)
            .unwrap()
            .is_empty()
    );
    r.set_config(
        Some("s"),
        Config {
            compatibility: Some(Level::BackwardTransitive),
            policy: None,
        },
    )
    .await
    .unwrap();
    let reasons = r
        .test_compatibility("s", &avro(V2_NO_DEFAULT), None)
        .unwrap();
    assert!(
        reasons.iter().any(|m| m.contains("oldSchemaVersion: 1")),
        "{reasons:?}"
    );
    // Against one named version, the level's direction only.
    let named = VersionSpec::Number(2);
    assert!(
        r.test_compatibility("s", &avro(V2_NO_DEFAULT), Some(named))
            .unwrap()
            .is_empty()
    );
    // Soft-deleting version 1 takes it out of the check.
    r.delete_version("s", VersionSpec::Number(1), false)
        .await
        .unwrap();
    assert_eq!(
        r.register("s", avro(V2_NO_DEFAULT)).await.unwrap().version,
        3
    );
}

#[tokio::test]
async fn deletes_follow_confluents_rules() {
    let (r, _) = registry();
    let v1 = r.register("s", avro(V1)).await.unwrap();
    r.register("s", avro(V2_DEFAULT)).await.unwrap();
    let e = r
        .delete_version("s", VersionSpec::Number(1), true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 40407);
    assert_eq!(
        r.delete_version("s", VersionSpec::Number(1), false)
            .await
            .unwrap(),
        1
    );
    let e = r
        .delete_version("s", VersionSpec::Number(1), false)
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        40402,
        "a soft-deleted version is not found without deleted=true"
    );
    assert_eq!(r.versions("s", Deleted::Exclude).unwrap(), vec![2]);
    assert_eq!(r.versions("s", Deleted::Include).unwrap(), vec![1, 2]);
    assert_eq!(r.versions("s", Deleted::Only).unwrap(), vec![1]);
    assert_eq!(
        r.version("s", VersionSpec::Number(1), false)
            .unwrap_err()
            .code(),
        40402
    );
    assert!(
        r.version("s", VersionSpec::Number(1), true)
            .unwrap()
            .deleted
    );
    // The id still resolves.
    assert_eq!(r.schema(v1.id).unwrap().id, v1.id);
    // Re-registering a soft-deleted schema makes a new version, same id.
    let back = r.register("s", avro(V1)).await.unwrap();
    assert_eq!((back.id, back.version), (v1.id, 3));

    assert_eq!(r.delete_subject("s", true).await.unwrap_err().code(), 40405);
    assert_eq!(r.delete_subject("s", false).await.unwrap(), vec![2, 3]);
    assert_eq!(
        r.delete_subject("s", false).await.unwrap_err().code(),
        40404
    );
    assert_eq!(r.versions("s", Deleted::Exclude).unwrap_err().code(), 40401);
    assert_eq!(r.subjects("", Deleted::Exclude), Vec::<String>::new());
    assert_eq!(r.subjects("", Deleted::Only), vec!["s"]);
    assert_eq!(r.delete_subject("s", true).await.unwrap(), vec![1, 2, 3]);
    assert_eq!(r.schema(v1.id).unwrap_err().code(), 40403);
    assert_eq!(
        r.delete_subject("s", false).await.unwrap_err().code(),
        40401
    );
    // Ids are never reused.
    let fresh = r.register("s", avro(V2_NO_DEFAULT)).await.unwrap();
    assert_eq!(fresh.id.0, 3);
}

#[tokio::test]
async fn replay_rebuilds_the_same_registry_and_never_reuses_ids() {
    let (r, store) = registry();
    r.register("s", avro(V1)).await.unwrap();
    r.register("s", avro(V2_DEFAULT)).await.unwrap();
    r.register("t", avro(V2_DEFAULT)).await.unwrap();
    r.set_config(
        None,
        Config {
            compatibility: Some(Level::Full),
            policy: Some(Policy::Lenient),
        },
    )
    .await
    .unwrap();
    r.set_mode(Some("t"), Mode::Readonly, false).await.unwrap();
    r.delete_version("s", VersionSpec::Number(2), false)
        .await
        .unwrap();
    r.delete_version("s", VersionSpec::Number(2), true)
        .await
        .unwrap();

    let again = replayed(&store);
    for (subject, deleted) in [("s", Deleted::Include), ("t", Deleted::Exclude)] {
        assert_eq!(
            again.versions(subject, deleted).unwrap(),
            r.versions(subject, deleted).unwrap()
        );
        assert_eq!(
            again.version(subject, VersionSpec::Latest, true).unwrap(),
            r.version(subject, VersionSpec::Latest, true).unwrap()
        );
    }
    assert_eq!(
        again.config(None, false).unwrap(),
        r.config(None, false).unwrap()
    );
    assert_eq!(again.mode(Some("t"), false).unwrap(), Mode::Readonly);
    assert_eq!(
        again.register("t", avro(V1)).await.unwrap_err().code(),
        42205
    );
    // Writes to a read-only subject stay refused after a restart; new ids continue at 3.
    let e = again.delete_subject("t", false).await.unwrap_err();
    assert_eq!(e.code(), 42205);
    again.delete_mode(Some("t")).await.unwrap();
    let third = again
        .register("u", avro(r#"{"type":"enum","name":"E","symbols":["A"]}"#))
        .await
        .unwrap();
    assert_eq!(third.id.0, 3);
}

#[tokio::test]
async fn a_failed_append_changes_nothing() {
    let (r, store) = registry();
    r.register("s", avro(V1)).await.unwrap();
    store.fail.store(true, Ordering::SeqCst);
    let e = r.register("s", avro(V2_DEFAULT)).await.unwrap_err();
    assert_eq!(e.code(), 50001);
    assert_eq!(r.versions("s", Deleted::Include).unwrap(), vec![1]);
    assert_eq!(
        r.delete_subject("s", false).await.unwrap_err().code(),
        50001
    );
    assert_eq!(r.versions("s", Deleted::Exclude).unwrap(), vec![1]);
    store.fail.store(false, Ordering::SeqCst);
    assert_eq!(r.register("s", avro(V2_DEFAULT)).await.unwrap().id.0, 2);
}

#[tokio::test]
async fn modes_guard_writes_and_import_takes_the_clients_ids() {
    let (r, _) = registry();
    r.register("s", avro(V1)).await.unwrap();
    r.set_mode(None, Mode::Readonly, false).await.unwrap();
    assert_eq!(
        r.register("s", avro(V2_DEFAULT)).await.unwrap_err().code(),
        42205
    );
    assert_eq!(
        r.set_mode(None, Mode::Import, false)
            .await
            .unwrap_err()
            .code(),
        42205
    );
    r.set_mode(None, Mode::Import, true).await.unwrap();
    let mut imported = avro(V2_NO_DEFAULT);
    imported.id = Some(SchemaId(100));
    imported.version = Some(7);
    let view = r.register("other", imported).await.unwrap();
    assert_eq!((view.id.0, view.version), (100, 7));
    // An id that holds a different schema is refused.
    let mut conflict = avro(V2_DEFAULT);
    conflict.id = Some(SchemaId(100));
    assert_eq!(
        r.register("third", conflict).await.unwrap_err().code(),
        42207
    );
    r.set_mode(None, Mode::Readwrite, false).await.unwrap();
    let mut chosen = avro(V2_DEFAULT);
    chosen.id = Some(SchemaId(5));
    assert_eq!(r.register("s", chosen).await.unwrap_err().code(), 42205);
    // New ids continue after the imported one.
    let next = r.register("fresh", avro(V2_DEFAULT)).await.unwrap();
    assert_eq!(next.id.0, 101);
}

#[tokio::test]
async fn references_resolve_and_protect_what_they_name() {
    let (r, _) = registry();
    let address = r#"{"type":"record","name":"Address","namespace":"acme","fields":[{"name":"city","type":"string"}]}"#;
    let person = r#"{"type":"record","name":"Person","namespace":"acme","fields":[{"name":"home","type":"acme.Address"}]}"#;
    let a = r.register("address", avro(address)).await.unwrap();
    let mut request = avro(person);
    assert_eq!(
        r.register("person", request.clone())
            .await
            .unwrap_err()
            .code(),
        42201
    );
    request.references = vec![Reference {
        name: "acme.Address".into(),
        subject: "address".into(),
        version: 1,
    }];
    let p = r.register("person", request).await.unwrap();
    assert_eq!(p.references.len(), 1);
    assert_eq!(
        r.referenced_by("address", VersionSpec::Latest).unwrap(),
        vec![p.id]
    );
    let e = r
        .delete_version("address", VersionSpec::Number(1), false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 42206);
    assert_eq!(
        r.delete_subject("address", false).await.unwrap_err().code(),
        42206
    );
    assert!(r.parsed_by_id(p.id).is_ok());
    assert!(r.parsed_by_id(a.id).is_ok());
}

#[tokio::test]
async fn configuration_falls_back_to_global() {
    let (r, _) = registry();
    assert_eq!(
        r.config(None, false).unwrap().compatibility,
        Some(Level::Backward)
    );
    assert_eq!(r.config(Some("s"), false).unwrap_err().code(), 40408);
    assert_eq!(
        r.config(Some("s"), true).unwrap().compatibility,
        Some(Level::Backward)
    );
    assert_eq!(r.delete_config(Some("s")).await.unwrap_err().code(), 40401);
    r.set_config(
        Some("s"),
        Config {
            compatibility: Some(Level::Forward),
            policy: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        r.config(Some("s"), false).unwrap().compatibility,
        Some(Level::Forward)
    );
    let previous = r.delete_config(Some("s")).await.unwrap();
    assert_eq!(previous.compatibility, Some(Level::Forward));
    assert_eq!(r.config(Some("s"), false).unwrap_err().code(), 40408);
    assert_eq!(r.mode(Some("s"), false).unwrap_err().code(), 40409);
    assert_eq!(r.mode(Some("s"), true).unwrap(), Mode::Readwrite);
}

#[tokio::test]
async fn lookups_find_versions_by_identity_or_text() {
    let (r, _) = registry();
    r.register("s", avro(V1)).await.unwrap();
    r.register("s", avro(V2_DEFAULT)).await.unwrap();
    let found = r
        .lookup("s", &avro(&V1.replace(':', " : ")), false)
        .unwrap();
    assert_eq!((found.id.0, found.version), (1, 1));
    assert_eq!(
        r.lookup("s", &avro(V2_NO_DEFAULT), false)
            .unwrap_err()
            .code(),
        40403
    );
    assert_eq!(
        r.lookup("nope", &avro(V1), false).unwrap_err().code(),
        40401
    );
    r.delete_version("s", VersionSpec::Number(1), false)
        .await
        .unwrap();
    assert_eq!(r.lookup("s", &avro(V1), false).unwrap_err().code(), 40403);
    assert!(r.lookup("s", &avro(V1), true).unwrap().deleted);
}

#[tokio::test]
async fn bad_requests_get_confluents_codes() {
    let (r, _) = registry();
    assert_eq!(r.register("s", avro("{")).await.unwrap_err().code(), 42201);
    let proto = SchemaRequest {
        schema: "syntax = \"proto3\";".into(),
        kind: SchemaKind::Protobuf,
        ..SchemaRequest::default()
    };
    let e = r.register("s", proto).await.unwrap_err();
    assert_eq!(e.code(), 42201);
    assert!(
        e.to_string().contains("PROTOBUF is not supported yet"),
        "{e}"
    );
    assert_eq!(r.register("", avro(V1)).await.unwrap_err().code(), 42208);
    let huge = format!("\"{}\"", "x".repeat(MAX_SCHEMA_BYTES));
    assert_eq!(
        r.register("s", avro(&huge)).await.unwrap_err().code(),
        42209
    );
    assert_eq!("0".parse::<VersionSpec>().unwrap_err().code(), 42202);
    assert_eq!("abc".parse::<VersionSpec>().unwrap_err().code(), 42202);
    assert_eq!(
        "LATEST".parse::<VersionSpec>().unwrap(),
        VersionSpec::Latest
    );
    let json = SchemaRequest {
        schema: r#"{"type":"object"}"#.into(),
        kind: SchemaKind::Json,
        ..SchemaRequest::default()
    };
    r.register("s", avro(V1)).await.unwrap();
    let e = r.register("s", json).await.unwrap_err();
    assert_eq!(
        e.code(),
        409,
        "a different schema type is incompatible: {e}"
    );
}

/// Rules read `message` as the slow path builds it even when the record's top level is not
/// an object: the fast path must not read a non-object as "no fields".
#[tokio::test]
async fn rules_on_records_that_are_not_objects_judge_as_the_tree_does() {
    use crate::schema::types::SchemaKind;
    use crate::schema::validate::Strategy;
    let (r, _) = registry();
    let guard = |kind, schema: &str| SchemaRequest {
        schema: schema.into(),
        kind,
        rule_set: Some(serde_json::json!({"domainRules": [
            {"name": "no-ssn", "type": "CEL", "expr": "!has(message.ssn)"}]})),
        ..SchemaRequest::default()
    };
    r.register(
        "m-value",
        guard(SchemaKind::Avro, r#"{"type":"map","values":"string"}"#),
    )
    .await
    .unwrap();
    let mut v = r.validator("m", false, Strategy::TopicName);
    assert!(v.check(br#"{"name":"x"}"#, true).is_ok());
    let refused = v.check(br#"{"ssn":"123-45-6789"}"#, true).unwrap_err();
    assert_eq!(
        refused.rule.as_deref().map(|(name, _)| name.as_str()),
        Some("no-ssn")
    );
    r.register("j-value", guard(SchemaKind::Json, "{}"))
        .await
        .unwrap();
    let mut v = r.validator("j", false, Strategy::TopicName);
    assert!(v.check(br#"{"name":"x"}"#, true).is_ok());
    assert!(v.check(br#"{"ssn":"1"}"#, true).is_err());
    // `has` on a list or a number is an error in CEL, so the rule refuses.
    assert!(v.check(b"[1]", true).is_err());
    assert!(v.check(b"42", true).is_err());
}
