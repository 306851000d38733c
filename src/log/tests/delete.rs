//! Topic directories: delete renames the topic's directory aside under the topics lock, so a
//! topic re-created under the same name at once keeps its files; creation does its file work
//! outside the lock; an unusable `topic.json` fails open with the field named.

use std::sync::Arc;

use super::{config, name, rec};
use crate::log::{FsyncPolicy, Log, TopicConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_immediate_recreate_keeps_the_new_topics_files() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(config(dir.path(), FsyncPolicy::Never))
        .await
        .unwrap();
    let t = name("churn");
    let defaults = TopicConfig::defaults(log.config());
    log.create_topic(&t, 4, defaults.clone()).unwrap();
    for round in 0..100 {
        let deleter = {
            let (log, t) = (Arc::clone(&log), t.clone());
            std::thread::spawn(move || log.delete_topic(&t).unwrap())
        };
        // Re-create as soon as the name is free, racing the deleter's file work.
        let created = loop {
            match log.create_topic(&t, 4, defaults.clone()) {
                Ok(topic) => break topic,
                Err(crate::log::Error::TopicExists { .. }) => std::thread::yield_now(),
                Err(e) => panic!("round {round}: {e}"),
            }
        };
        deleter.join().unwrap();
        let value = format!("round {round}");
        created
            .partition(0)
            .unwrap()
            .append(&[rec(None, Some(&value), 1)])
            .await
            .unwrap();
        let topic_dir = dir.path().join("topics/churn");
        assert!(
            topic_dir.join("topic.json").exists(),
            "round {round}: metadata removed"
        );
        assert!(
            topic_dir.join("0").exists(),
            "round {round}: partition dir removed"
        );
    }
    drop(log);
    let log = Log::open(config(dir.path(), FsyncPolicy::Never))
        .await
        .unwrap();
    let p = log.topic(&t).unwrap().partition(0).unwrap();
    assert_eq!(
        p.end_offset(),
        1,
        "the last incarnation's record survives a restart"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("topics"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with("deleted~"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_finished_delete_is_cleaned_up_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(config(dir.path(), FsyncPolicy::Never))
        .await
        .unwrap();
    log.create_topic(&name("x"), 1, TopicConfig::defaults(log.config()))
        .unwrap();
    drop(log);
    let topics = dir.path().join("topics");
    std::fs::rename(topics.join("x"), topics.join("deleted~x~1~0")).unwrap();
    let log = Log::open(config(dir.path(), FsyncPolicy::Never))
        .await
        .unwrap();
    assert!(log.topic(&name("x")).is_err());
    assert!(!topics.join("deleted~x~1~0").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_topic_json_fails_open_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(config(dir.path(), FsyncPolicy::Never))
        .await
        .unwrap();
    log.create_topic(&name("bad"), 1, TopicConfig::defaults(log.config()))
        .unwrap();
    log.close().await.unwrap();
    drop(log);
    let meta = dir.path().join("topics/bad/topic.json");
    let original = std::fs::read_to_string(&meta).unwrap();
    for (from, to, field) in [
        ("\"partitions\": 1", "\"partitions\": 0", "partitions"),
        (
            "\"segment.bytes\": 1048576",
            "\"segment.bytes\": 99999999999",
            "segment.bytes",
        ),
    ] {
        assert!(original.contains(from), "{original}");
        std::fs::write(&meta, original.replace(from, to)).unwrap();
        let err = Log::open(config(dir.path(), FsyncPolicy::Never))
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.contains(field) && text.contains("topic.json"),
            "{text}"
        );
    }
}
