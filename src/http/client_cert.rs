//! The principal a client certificate names under mutual TLS: the common name (CN) of its
//! subject. The handshake already verified the chain and validity; this only reads the name,
//! with a small bounds-checked DER walk (no X.509 library: the subject is all we need).
//!
//! It must not decide trust: a certificate reaches here only after rustls accepted it.

/// A DER tag-length-value: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (bytes, rest) = rest.split_at_checked(count)?;
        let len = bytes.iter().fold(0usize, |n, b| (n << 8) | usize::from(*b));
        (len, rest)
    };
    let (value, rest) = rest.split_at_checked(len)?;
    Some((tag, value, rest))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
/// 2.5.4.3, commonName.
const CN_OID: &[u8] = &[0x55, 0x04, 0x03];

/// The subject's common name of a DER certificate.
#[must_use]
pub fn common_name(cert: &[u8]) -> Option<String> {
    let (SEQUENCE, certificate, _) = tlv(cert)? else {
        return None;
    };
    let (SEQUENCE, tbs, _) = tlv(certificate)? else {
        return None;
    };
    let mut rest = tbs;
    // [0] version is optional; then serial, signature algorithm, issuer, validity, subject.
    let (tag, _, after) = tlv(rest)?;
    if tag == 0xa0 {
        rest = after;
    }
    for _ in 0..4 {
        rest = tlv(rest)?.2;
    }
    let (SEQUENCE, mut rdns, _) = tlv(rest)? else {
        return None;
    };
    while !rdns.is_empty() {
        let (tag, set, next) = tlv(rdns)?;
        rdns = next;
        if tag != SET {
            continue;
        }
        let mut attrs = set;
        while !attrs.is_empty() {
            let (_, attr, next) = tlv(attrs)?;
            attrs = next;
            let (0x06, oid, value) = tlv(attr)? else {
                continue;
            };
            if oid != CN_OID {
                continue;
            }
            let (kind, text, _) = tlv(value)?;
            // UTF8String, PrintableString, T61String, IA5String.
            if matches!(kind, 0x0c | 0x13 | 0x14 | 0x16) {
                return std::str::from_utf8(text).ok().map(str::to_owned);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_gives_none() {
        assert_eq!(common_name(&[]), None);
        assert_eq!(common_name(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..512)) {
            let _ = common_name(&bytes);
        }
    }
}
