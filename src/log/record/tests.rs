//! Codec property tests: roundtrip, and totality on garbage.
use super::*;
use proptest::prelude::*;

fn arb_bytes() -> impl Strategy<Value = Option<Bytes>> {
    proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40).prop_map(Bytes::from))
}

fn arb_record() -> impl Strategy<Value = Record> {
    let header =
        ("[a-z]{0,8}", proptest::collection::vec(any::<u8>(), 0..10)).prop_map(|(name, v)| {
            Header {
                name,
                value: Bytes::from(v),
            }
        });
    (
        arb_bytes(),
        arb_bytes(),
        proptest::collection::vec(header, 0..3),
        1i64..,
        any::<u8>(),
    )
        .prop_map(|(key, value, headers, timestamp, attributes)| Record {
            key,
            value,
            headers,
            timestamp,
            attributes,
        })
}

proptest! {
    #[test]
    fn roundtrip(recs in proptest::collection::vec(arb_record(), 1..8), base in 0u64..1 << 40, gap in 1u32..5) {
        let enc = encode(recs.iter().enumerate().map(|(i, r)| (i as u32 * gap, r)), None, 1 << 20)
            .map_err(|_| "too large").unwrap();
        let mut bytes = enc.bytes;
        set_base_offset(&mut bytes, base);
        let bytes = Bytes::from(bytes);
        let (h, out) = decode(&bytes).unwrap();
        prop_assert_eq!(h.total_len, bytes.len());
        prop_assert_eq!(h.record_count as usize, recs.len());
        prop_assert_eq!(out.len(), recs.len());
        for (i, (o, r)) in out.iter().zip(&recs).enumerate() {
            prop_assert_eq!(o.offset, base + i as u64 * u64::from(gap));
            prop_assert_eq!(&o.record, r);
        }
    }
}

#[test]
fn zero_timestamp_gets_now() {
    let r = Record {
        timestamp: 0,
        ..Record::default()
    };
    let enc = encode(std::iter::once((0, &r)), Some(42), 10)
        .map_err(|_| ())
        .unwrap();
    let (_, out) = decode(&Bytes::from(enc.bytes)).unwrap();
    assert_eq!(out[0].record.timestamp, 42);
    assert_eq!(enc.max_timestamp, 42);
}
