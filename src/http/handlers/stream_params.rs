//! The query of every live subscription (Server-Sent Events and WebSocket): where to start,
//! which partitions, exact per-partition positions, a consumer group (`group=`,
//! `auto_commit=`), and the server-side filters (`key=`, `header=name:value`,
//! `filter=<predicate>`, `transform=<plugin>` with `config=<JSON object>`).
//!
//! Owns parsing and the position text format `0:15,1:20` (partition:next offset), which is
//! also the SSE event id, so `Last-Event-ID` resumes exactly. It must not open anything.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bytes::Bytes;

use crate::broker::{GroupSpec, PluginFilter, Predicate, StartAt, SubscriptionSpec};
use crate::http::ApiError;

/// Builds a subscription from the query pairs and an optional resume text (`Last-Event-ID`),
/// which wins over `offsets=` and `from=` for the partitions it names.
///
/// # Errors
/// 400 naming the parameter and what is wrong with it.
pub fn parse_spec(
    query: &[(String, String)],
    resume: Option<&str>,
) -> Result<SubscriptionSpec, ApiError> {
    let mut spec = SubscriptionSpec::default();
    let mut auto_commit = None;
    let mut config = None;
    for (name, value) in query {
        match name.as_str() {
            "group" => {
                spec.group = Some(GroupSpec {
                    name: value.clone(),
                    auto_commit: true,
                });
            }
            "auto_commit" => {
                auto_commit = Some(value.parse::<bool>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "auto_commit must be true or false, got '{value}'"
                    ))
                })?);
            }
            "transform" => {
                spec.transform = Some(PluginFilter {
                    plugin: value.clone(),
                    config: Vec::new(),
                });
            }
            "config" => config = Some(parse_config(value)?),
            "decode" => {
                spec.decode = value.is_empty()
                    || value.parse::<bool>().map_err(|_| {
                        ApiError::bad_request(format!(
                            "decode must be true or false, got '{value}'"
                        ))
                    })?;
            }
            "from" => spec.start = parse_from(value)?,
            "partitions" => spec.partitions = Some(parse_partitions(value)?),
            "offsets" => spec.positions = parse_positions("offsets", value)?,
            "key" => spec.filter.key = Some(Bytes::copy_from_slice(value.as_bytes())),
            "header" => {
                let (n, v) = value.split_once(':').ok_or_else(|| {
                    ApiError::bad_request(format!("header must be name:value, got '{value}'"))
                })?;
                spec.filter.header = Some((n.to_owned(), Bytes::copy_from_slice(v.as_bytes())));
            }
            "filter" => {
                let predicate = Predicate::parse(value)
                    .map_err(|e| ApiError::bad_request(format!("{e}: '{value}'")))?;
                spec.filter.predicate = Some(predicate);
            }
            _ => {}
        }
    }
    match (&mut spec.group, auto_commit) {
        (Some(group), Some(auto)) => group.auto_commit = auto,
        (None, Some(_)) => return Err(ApiError::bad_request("auto_commit needs group=")),
        _ => {}
    }
    match (&mut spec.transform, config) {
        (Some(transform), Some(config)) => transform.config = config,
        (None, Some(_)) => return Err(ApiError::bad_request("config needs transform=<plugin>")),
        _ => {}
    }
    if let Some(text) = resume.filter(|t| !t.trim().is_empty()) {
        spec.positions
            .extend(parse_positions("Last-Event-ID", text)?);
    }
    Ok(spec)
}

/// A plugin's configuration: a JSON object whose values are strings (numbers and booleans
/// are taken as their JSON text).
fn parse_config(value: &str) -> Result<Vec<(String, String)>, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "config must be a JSON object of strings, like {{\"field\":\"kind\"}}, got '{value}'"
        ))
    };
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(value).map_err(|_| bad())?;
    object
        .into_iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k, s)),
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Ok((k, v.to_string())),
            _ => Err(bad()),
        })
        .collect()
}

/// `earliest`, `latest`, an offset, or `time:` with milliseconds or an RFC 3339 timestamp.
fn parse_from(value: &str) -> Result<StartAt, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "from must be earliest, latest, an offset, or time:<ms or RFC 3339>, got '{value}'"
        ))
    };
    match value {
        "earliest" => Ok(StartAt::Earliest),
        "latest" => Ok(StartAt::Latest),
        v => match v.strip_prefix("time:") {
            Some(t) => match t.parse::<i64>() {
                Ok(ms) => Ok(StartAt::Time(ms)),
                Err(_) => {
                    let at = humantime::parse_rfc3339_weak(t).map_err(|_| bad())?;
                    let ms = at
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_err(|_| bad())?
                        .as_millis();
                    Ok(StartAt::Time(i64::try_from(ms).map_err(|_| bad())?))
                }
            },
            None => v.parse().map(StartAt::Offset).map_err(|_| bad()),
        },
    }
}

/// `0,2,5`: distinct partition numbers.
fn parse_partitions(value: &str) -> Result<Vec<u32>, ApiError> {
    let mut out = Vec::new();
    for item in value.split(',') {
        let p = item.trim().parse::<u32>().map_err(|_| {
            ApiError::bad_request(format!(
                "partitions must be a comma-separated list of partition numbers, got '{value}'"
            ))
        })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `0:15,1:20`: the next offset to deliver, per partition.
pub fn parse_positions(what: &str, value: &str) -> Result<BTreeMap<u32, u64>, ApiError> {
    let mut out = BTreeMap::new();
    for item in value.split(',').filter(|i| !i.trim().is_empty()) {
        let parsed = item
            .trim()
            .split_once(':')
            .and_then(|(p, o)| Some((p.parse::<u32>().ok()?, o.parse::<u64>().ok()?)));
        let Some((p, o)) = parsed else {
            return Err(ApiError::bad_request(format!(
                "{what} must look like 0:15,1:20 (partition:next offset), got '{value}'"
            )));
        };
        out.insert(p, o);
    }
    Ok(out)
}

/// The inverse of [`parse_positions`].
pub fn format_positions(positions: &BTreeMap<u32, u64>) -> String {
    let mut out = String::with_capacity(positions.len() * 8);
    for (i, (p, o)) in positions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{p}:{o}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn every_kind_of_start_and_resume() {
        let spec = parse_spec(&q(&[("from", "earliest"), ("partitions", "2,0,2")]), None);
        let spec = spec.unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(spec.start, StartAt::Earliest);
        assert_eq!(spec.partitions, Some(vec![2, 0]));
        let at = |from: &str| parse_spec(&q(&[("from", from)]), None).map(|s| s.start);
        assert!(matches!(at("42"), Ok(StartAt::Offset(42))));
        assert!(matches!(
            at("time:1700000000000"),
            Ok(StartAt::Time(1_700_000_000_000))
        ));
        assert!(matches!(
            at("time:2023-11-14T22:13:20Z"),
            Ok(StartAt::Time(1_700_000_000_000))
        ));
        assert!(at("soon").is_err() && at("time:yesterday").is_err() && at("-1").is_err());
        let resumed = parse_spec(&q(&[("offsets", "0:5,1:6")]), Some("1:9,2:3"));
        let resumed = resumed.unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(format_positions(&resumed.positions), "0:5,1:9,2:3");
        assert!(parse_spec(&q(&[("offsets", "0-5")]), None).is_err());
        assert!(parse_spec(&q(&[("partitions", "a")]), None).is_err());
        assert!(parse_spec(&[], Some("x")).is_err());
        let bad = parse_spec(&q(&[("filter", "/a >")]), None)
            .err()
            .map(|e| e.message);
        assert!(bad.is_some_and(|m| m.contains("position 4")));
        let filtered = parse_spec(
            &q(&[("key", "k"), ("header", "src:web"), ("filter", "/a == 1")]),
            None,
        );
        let filtered = filtered.unwrap_or_else(|e| panic!("{}", e.message)).filter;
        assert!(
            filtered.key.is_some() && filtered.header.is_some() && filtered.predicate.is_some()
        );
        assert!(parse_spec(&q(&[("header", "nocolon")]), None).is_err());
    }

    #[test]
    fn groups_and_plugin_filters() {
        let spec = parse_spec(&q(&[("group", "g"), ("auto_commit", "false")]), None);
        let group = spec.unwrap_or_else(|e| panic!("{}", e.message)).group;
        assert_eq!(
            group.map(|g| (g.name, g.auto_commit)),
            Some(("g".into(), false))
        );
        let spec = parse_spec(&q(&[("group", "g")]), None);
        assert!(spec.is_ok_and(|s| s.group.is_some_and(|g| g.auto_commit)));
        assert!(parse_spec(&q(&[("auto_commit", "true")]), None).is_err());
        assert!(parse_spec(&q(&[("group", "g"), ("auto_commit", "yes")]), None).is_err());
        let spec = parse_spec(
            &q(&[("transform", "f"), ("config", r#"{"field":"kind","n":3}"#)]),
            None,
        );
        let transform = spec.unwrap_or_else(|e| panic!("{}", e.message)).transform;
        let config = transform.map(|t| t.config);
        assert_eq!(
            config,
            Some(vec![
                ("field".into(), "kind".into()),
                ("n".into(), "3".into())
            ])
        );
        assert!(parse_spec(&q(&[("config", "{}")]), None).is_err());
        assert!(parse_spec(&q(&[("transform", "f"), ("config", "[1]")]), None).is_err());
    }
}
