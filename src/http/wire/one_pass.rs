//! Produce bodies read in one pass with our strict JSON reader, each record's value checked by
//! its topic's schema where it lies in the body ([`ValueCheck`]), so a validated value is read
//! once instead of being skipped by the body's decoder and then read again by the validator.
//!
//! Owns only the accept path, and it must agree with [`super::decode_produce`] on every body it
//! accepts: anything else — bad syntax, an unknown or repeated field, too many records, a value
//! the check does not pass, a text the reader declines — answers `None`, and the caller decodes
//! the body with `decode_produce`, whose errors (and produce's full check) say what is wrong.

use std::marker::PhantomData;

use bytes::Bytes;
use serde::de::{Error as _, IgnoredAny};

use super::{EntryParts, Headers, compact_text};
use crate::broker::{ProduceRecord, ValueCheck};
use crate::json_text::{Error, Reader, Result, Span};

/// The records of a `{"records": [...]}` body (at most `limit`), with values run through
/// `check` when there is one; `None` when this path does not accept the body (see the module
/// doc).
pub fn read_produce(
    body: &Bytes,
    limit: usize,
    mut check: Option<&mut ValueCheck<'_>>,
) -> Option<Vec<ProduceRecord>> {
    let text = std::str::from_utf8(body).ok()?;
    let mut reader = Reader::new(text);
    let mut records: Option<Vec<ProduceRecord>> = None;
    reader
        .object(|r, key| {
            if key != "records" || records.is_some() {
                return Err(elsewhere());
            }
            let mut list = Vec::new();
            r.array(|r| {
                if list.len() == limit {
                    return Err(elsewhere());
                }
                let parts = entry(r, body, text, list.len(), check.as_deref_mut())?;
                list.push(parts.into_record(list.len()).map_err(Error::custom)?);
                Ok(())
            })?;
            records = Some(list);
            Ok(())
        })
        .ok()?;
    reader.finish().ok()?;
    records
}

/// This path does not take the body; `decode_produce` will say why, if anything is wrong.
fn elsewhere() -> Error {
    Error::custom("decoded elsewhere")
}

/// The fields of one record, in any order, each at most once.
fn entry(
    r: &mut Reader<'_>,
    body: &Bytes,
    text: &str,
    index: usize,
    mut check: Option<&mut ValueCheck<'_>>,
) -> Result<EntryParts> {
    let mut parts = EntryParts::default();
    let mut seen = 0u8;
    r.object(|r, field| {
        let bit = match field {
            "key" => 1,
            "value" => 2,
            "key_base64" => 4,
            "value_base64" => 8,
            "headers" => 16,
            "partition" => 32,
            "timestamp" => 64,
            _ => return Err(elsewhere()),
        };
        if seen & bit != 0 {
            return Err(elsewhere());
        }
        seen |= bit;
        match field {
            "key" => parts.key = json(r, body, text)?,
            "value" => {
                parts.value = match check.as_deref_mut() {
                    Some(check) if !r.null()? => Some(checked(r, body, text, index, check)?),
                    Some(_) => None,
                    None => json(r, body, text)?,
                }
            }
            "key_base64" => parts.key_base64 = r.value(PhantomData)?,
            "value_base64" => parts.value_base64 = r.value(PhantomData)?,
            "headers" => parts.headers = r.value(PhantomData::<Headers>)?.0,
            "partition" => parts.partition = r.value(PhantomData)?,
            _ => parts.timestamp = r.value(PhantomData)?,
        }
        Ok(())
    })?;
    Ok(parts)
}

/// A JSON key or value as stored: compact text out of `body`; `None` for `null`.
fn json(r: &mut Reader<'_>, body: &Bytes, text: &str) -> Result<Option<(Bytes, bool)>> {
    if r.null()? {
        return Ok(None);
    }
    let (_, span) = r.spanned(PhantomData::<IgnoredAny>)?;
    Ok(Some((slice(body, text, span), true)))
}

/// A value its topic's check passed: the bytes the check made (Avro's wire format), or its
/// compact JSON text.
fn checked(
    r: &mut Reader<'_>,
    body: &Bytes,
    text: &str,
    index: usize,
    check: &mut ValueCheck<'_>,
) -> Result<(Bytes, bool)> {
    let (passed, span) = r.spanned_with(|r| check.read(index, r));
    match passed {
        Some(Some(made)) => Ok((made, false)),
        Some(None) => Ok((slice(body, text, span), true)),
        None => Err(elsewhere()),
    }
}

fn slice(body: &Bytes, text: &str, span: Span) -> Bytes {
    compact_text(
        body,
        text.get(span.start..span.end).unwrap_or_default(),
        span.spaced,
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::http::wire::decode_produce;

    /// What the serde_json decoder makes of `body`, as comparable parts.
    fn decoded(body: &Bytes, limit: usize) -> Option<Vec<(crate::event::Record, Option<u32>)>> {
        let parsed = decode_produce(body, limit).ok()?;
        parsed
            .records
            .into_iter()
            .enumerate()
            .map(|(i, e)| e.into_record(body, i).ok().map(|r| (r.record, r.partition)))
            .collect()
    }

    fn read(body: &Bytes, limit: usize) -> Option<Vec<(crate::event::Record, Option<u32>)>> {
        read_produce(body, limit, None).map(|records| {
            records
                .into_iter()
                .map(|r| (r.record, r.partition))
                .collect()
        })
    }

    /// Whatever one pass takes, the serde_json decoder takes too, with the same records.
    fn agrees(body: &str, limit: usize) -> bool {
        let body = Bytes::copy_from_slice(body.as_bytes());
        match read(&body, limit) {
            Some(records) => {
                assert_eq!(Some(records), decoded(&body, limit), "{body:?}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn takes_typical_bodies_compact_or_pretty_and_agrees() {
        let bodies = [
            r#"{"records":[{"value":{"id":"p-1","amount":1.5,"currency":"EUR","note":null}}]}"#,
            r#"{"records":[{"key":"k","value":[1,2],"headers":{"h":"v"},"partition":0,"timestamp":5},
                {"key_base64":"aGk=","value_base64":"AAE="},{"value":null},{"key":{"a":1}}]}"#,
            "{\n  \"records\": [\n    {\n      \"value\": {\n        \"a\": [ 1, 2 ],\n        \
             \"b\": \"x y\"\n      }\n    }\n  ]\n}\n",
            r#"{"records":[{"value":"caf\u00e9 \"quoted\"","key":"\n"}]}"#,
            r#"{"rec\u006frds":[{"v\u0061lue":1,"headers":{"\u0068":"v"}}]}"#,
        ];
        for body in bodies {
            assert!(agrees(body, 100), "one pass should take {body}");
        }
    }

    #[test]
    fn leaves_to_the_serde_json_decoder_what_it_must_explain() {
        for body in [
            r#"{"records":[{"value":1}],"extra":1}"#,
            r#"{"records":[{"value":1,"value":2}]}"#,
            r#"{"records":[{"value":1,"value_base64":"AA=="}]}"#,
            r#"{"records":[{"value_base64":"!!"}]}"#,
            r#"{"records":[{"partition":-1}]}"#,
            r#"{"records":[{"vaule":1}]}"#,
            r#"{"records":[{"value":1}]} x"#,
            r#"{"records":[{"value":1},{"value":2},{"value":3}]}"#,
            r#"{"records":[{"value":1e400}]}"#,
            r#"{"records":[{"value":"\ud83d"}]}"#,
            r#"[]"#,
        ] {
            assert!(!agrees(body, 2), "one pass should leave {body}");
        }
    }

    const FIELDS: &[&str] = &[
        "key",
        "value",
        "key_base64",
        "value_base64",
        "headers",
        "partition",
        "timestamp",
        "other",
        "v\\u0061lue",
    ];
    const VALUES: &[&str] = &[
        "null",
        "1",
        "-0",
        "0.5",
        "1e400",
        "4294967296",
        "-3",
        "true",
        "\"s\"",
        "\"aGk=\"",
        "\"!!\"",
        "\"caf\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "{\"h\":\"v\"}",
        "{\"h\":1}",
        "{ \"a\" : [1, {\"b\":null}] }",
        "[1,2]",
        "[ ]",
        "{}",
        "\"\\n\"",
        "\"x\"y",
    ];
    const SPACE: &[&str] = &["", " ", "\n  ", "\t"];

    fn entry() -> impl Strategy<Value = String> {
        prop::collection::vec(
            (
                prop::sample::select(FIELDS),
                prop::sample::select(VALUES),
                prop::sample::select(SPACE),
            ),
            0..5,
        )
        .prop_map(|fields| {
            let inner: Vec<String> = fields
                .into_iter()
                .map(|(f, v, ws)| format!("{ws}\"{f}\"{ws}:{ws}{v}{ws}"))
                .collect();
            format!("{{{}}}", inner.join(","))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn agrees_with_the_serde_json_decoder_on_every_body_it_takes(
            entries in prop::collection::vec(entry(), 0..6),
            ws in prop::sample::select(SPACE),
            limit in 1usize..8,
        ) {
            let body = format!("{ws}{{{ws}\"records\"{ws}:{ws}[{}]{ws}}}{ws}", entries.join(","));
            agrees(&body, limit);
        }
    }
}
