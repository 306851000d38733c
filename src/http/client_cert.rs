//! The principal a client certificate names under mutual TLS: the common name (CN) of its
//! subject, or by configuration its first DNS name, email or URI among the subject
//! alternative names. The handshake already verified the chain and validity; this only reads
//! the name, with a small bounds-checked DER walk (no X.509 library: two fields are all we
//! need).
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

/// 2.5.29.17, subjectAltName.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// Which name of a client certificate becomes the principal (`--tls-client-principal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CertPrincipal {
    /// The subject's common name (CN).
    #[default]
    CommonName,
    /// The first DNS name among the subject alternative names.
    Dns,
    /// The first email address (rfc822Name) among them.
    Email,
    /// The first URI among them (a SPIFFE id, for example).
    Uri,
}

impl std::str::FromStr for CertPrincipal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "cn" => Self::CommonName,
            "dns" => Self::Dns,
            "email" => Self::Email,
            "uri" => Self::Uri,
            other => return Err(format!("expected cn, dns, email or uri, got '{other}'")),
        })
    }
}

/// The name `which` picks from a DER certificate, if it has one.
#[must_use]
pub fn principal(cert: &[u8], which: CertPrincipal) -> Option<String> {
    let (subject, after_subject) = subject(cert)?;
    let tag = match which {
        CertPrincipal::CommonName => return common_name_of(subject),
        CertPrincipal::Email => 0x81,
        CertPrincipal::Dns => 0x82,
        CertPrincipal::Uri => 0x86,
    };
    let names = alt_names(after_subject)?;
    let mut rest = names;
    while !rest.is_empty() {
        let (kind, text, next) = tlv(rest)?;
        rest = next;
        if kind == tag {
            return std::str::from_utf8(text).ok().map(str::to_owned);
        }
    }
    None
}

/// The subject's RDN sequence, and what follows it in the to-be-signed part.
fn subject(cert: &[u8]) -> Option<(&[u8], &[u8])> {
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
    let (SEQUENCE, rdns, after) = tlv(rest)? else {
        return None;
    };
    Some((rdns, after))
}

fn common_name_of(mut rdns: &[u8]) -> Option<String> {
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

/// The GeneralNames of the subjectAltName extension: after the subject come the public key,
/// the optional unique ids ([1], [2]) and the extensions ([3]).
fn alt_names(after_subject: &[u8]) -> Option<&[u8]> {
    let mut rest = tlv(after_subject)?.2;
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest)?;
        rest = next;
        if tag != 0xa3 {
            continue;
        }
        let (SEQUENCE, mut extensions, _) = tlv(value)? else {
            return None;
        };
        while !extensions.is_empty() {
            let (_, extension, next) = tlv(extensions)?;
            extensions = next;
            let (0x06, oid, mut fields) = tlv(extension)? else {
                continue;
            };
            if oid != SAN_OID {
                continue;
            }
            // critical BOOLEAN is optional; then the OCTET STRING wrapping GeneralNames.
            let (mut tag, mut octets, after) = tlv(fields)?;
            if tag == 0x01 {
                fields = after;
                (tag, octets, _) = tlv(fields)?;
            }
            if tag != 0x04 {
                return None;
            }
            let (SEQUENCE, names, _) = tlv(octets)? else {
                return None;
            };
            return Some(names);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_input_gives_none() {
        assert_eq!(principal(&[], CertPrincipal::CommonName), None);
        let lying = [0x30, 0x84, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(principal(&lying, CertPrincipal::Dns), None);
    }

    /// Each kind of name is read from a real certificate; a kind it lacks gives `None`.
    #[test]
    fn names_come_from_the_subject_or_the_alternative_names() {
        use rcgen::{CertificateParams, DnType, KeyPair, SanType};
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["svc.example".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "alice");
        params
            .subject_alt_names
            .push(SanType::Rfc822Name("alice@example.com".try_into().unwrap()));
        params
            .subject_alt_names
            .push(SanType::URI("spiffe://example/ns/a".try_into().unwrap()));
        let cert = params.self_signed(&key).unwrap();
        let der = cert.der();
        let name = |which| principal(der, which);
        assert_eq!(name(CertPrincipal::CommonName).as_deref(), Some("alice"));
        assert_eq!(name(CertPrincipal::Dns).as_deref(), Some("svc.example"));
        assert_eq!(
            name(CertPrincipal::Email).as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            name(CertPrincipal::Uri).as_deref(),
            Some("spiffe://example/ns/a")
        );

        let mut bare = CertificateParams::new(Vec::<String>::new()).unwrap();
        bare.distinguished_name.push(DnType::CommonName, "bob");
        let bare = bare.self_signed(&key).unwrap();
        assert_eq!(principal(bare.der(), CertPrincipal::Dns), None);
        assert_eq!(
            principal(bare.der(), CertPrincipal::CommonName).as_deref(),
            Some("bob")
        );
    }
}
