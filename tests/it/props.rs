//! Property tests of the parsers and codecs that take outside input (security-and-reliability
//! §10 F2): configuration values, clip and upload IDs, stored-value and key encodings, the
//! download file name and the rate-limit address key. Each property runs on arbitrary input
//! and must never panic; where a value round-trips, it must come back unchanged.

use proptest::prelude::*;
use qopy::config::{parse_duration, parse_size, IpNet, Rate, UploadRate};
use qopy::http::clips::disposition;
use qopy::http::guard::address_key;
use qopy::model::{ClipId, UploadId};
use qopy::names;
use qopy::store::codec;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const SIZE_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("B", 1),
    ("KB", 1_000),
    ("kib", 1 << 10),
    ("MiB", 1 << 20),
    ("GB", 1_000_000_000),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
];
const DURATION_UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("s", 1),
    ("min", 60),
    ("hr", 3_600),
    ("hours", 3_600),
    ("d", 86_400),
    ("w", 604_800),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn config_parsers_never_panic(s in ".{0,40}") {
        let _ = parse_size(&s);
        let _ = parse_duration(&s);
        let _ = Rate::parse(&s);
        let _ = UploadRate::parse(&s);
        let _ = IpNet::parse(&s);
    }

    #[test]
    fn sizes_parse_to_number_times_unit(n in 0u64..1_000_000, u in 0..SIZE_UNITS.len(), space in any::<bool>()) {
        let (unit, scale) = SIZE_UNITS[u];
        let text = format!("{n}{}{unit}", if space && !unit.is_empty() { " " } else { "" });
        prop_assert_eq!(parse_size(&text), Ok(n * scale));
    }

    #[test]
    fn durations_parse_to_number_times_unit(n in 0u64..100_000, u in 0..DURATION_UNITS.len()) {
        let (unit, scale) = DURATION_UNITS[u];
        prop_assert_eq!(parse_duration(&format!("{n}{unit}")).map(|d| d.as_secs()), Ok(n * scale));
    }

    #[test]
    fn rates_parse_count_and_period(count in 1u32..100_000, secs in 1u64..100_000) {
        let r = Rate::parse(&format!("{count}/{secs}s")).unwrap();
        prop_assert_eq!((r.count, r.per.as_secs()), (count, secs));
        let u = UploadRate::parse(&format!("{count}KiB/{secs}s")).unwrap().unwrap();
        prop_assert_eq!((u.bytes, u.per.as_secs()), (u64::from(count) << 10, secs));
    }

    #[test]
    fn ip_ranges_contain_their_own_addresses(a in any::<u32>(), prefix in 0u8..=32, b in any::<u128>(), p6 in 0u8..=128) {
        let v4 = Ipv4Addr::from(a);
        let net = IpNet::parse(&format!("{v4}/{prefix}")).unwrap();
        prop_assert!(net.contains(IpAddr::V4(v4)));
        let v6 = Ipv6Addr::from(b);
        let net = IpNet::parse(&format!("{v6}/{p6}")).unwrap();
        prop_assert!(net.contains(IpAddr::V6(v6)));
    }

    #[test]
    fn clip_ids_accept_exactly_6_or_10_alphabet_characters(s in "[A-Za-z0-9./%\\\\ -]{0,12}") {
        let valid = (s.len() == 6 || s.len() == 10)
            && s.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        match ClipId::parse(&s) {
            Ok(id) => {
                prop_assert!(valid, "{} accepted", s);
                prop_assert_eq!(id.as_str(), s.as_str());
            }
            Err(_) => prop_assert!(!valid, "{} refused", s),
        }
    }

    #[test]
    fn clip_ids_never_panic(s in ".{0,20}") {
        let _ = ClipId::parse(&s);
    }

    #[test]
    fn upload_ids_round_trip_and_refuse_everything_else(n in any::<u64>(), s in ".{0,20}") {
        let id = UploadId(n);
        prop_assert_eq!(UploadId::parse(&id.to_hex()).map(|u| u.0), Some(n));
        prop_assert_eq!(UploadId::parse(&id.to_hex().to_ascii_lowercase()).map(|u| u.0), Some(n));
        let valid = s.len() == 16 && s.bytes().all(|c| c.is_ascii_hexdigit());
        prop_assert_eq!(UploadId::parse(&s).is_some(), valid);
        // The redacted form never holds the whole ID.
        prop_assert!(!id.redacted().contains(&id.to_hex()));
    }

    #[test]
    fn stored_values_round_trip_and_garbage_is_refused(v in any::<(u64, String, Vec<u8>, Option<u32>)>(), junk in proptest::collection::vec(any::<u8>(), 0..64)) {
        let bytes = codec::encode_as(1, &v).unwrap();
        let back: (u64, String, Vec<u8>, Option<u32>) = codec::decode_as(1, &bytes).unwrap();
        prop_assert_eq!(back, v);
        // Arbitrary bytes never panic the decoder.
        let _ = codec::decode::<qopy::model::ClipMeta>(&junk);
        let _ = codec::decode::<qopy::model::UploadSession>(&junk);
        let _ = codec::parse_expiry_key(&junk);
        let _ = codec::chunk_number(&junk);
    }

    #[test]
    fn keys_round_trip_and_keep_order(t1 in any::<u64>(), t2 in any::<u64>(), n1 in any::<u32>(), n2 in any::<u32>(), u in any::<u64>()) {
        let id = ClipId::random(10);
        let k1 = codec::expiry_key(t1, &id);
        let k2 = codec::expiry_key(t2, &id);
        prop_assert_eq!(codec::parse_expiry_key(&k1), Some((t1, id)));
        prop_assert_eq!(t1.cmp(&t2), k1.cmp(&k2));
        let c1 = codec::chunk_key(UploadId(u), n1);
        let c2 = codec::chunk_key(UploadId(u), n2);
        prop_assert_eq!(codec::chunk_number(&c1), Some(n1));
        prop_assert_eq!(n1.cmp(&n2), c1.cmp(&c2));
        prop_assert!(c1.starts_with(&codec::session_key(UploadId(u))));
    }

    #[test]
    fn download_names_are_safe_header_values(name in "\\PC{0,300}|[\\x00-\\x7f]{0,40}") {
        let d = disposition(&name);
        prop_assert!(http::HeaderValue::from_str(&d).is_ok(), "not a header value: {:?}", d);
        let quoted = d
            .strip_prefix("attachment; filename=\"")
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        prop_assert!(!quoted.is_empty());
        prop_assert!(quoted.chars().count() <= 255);
        prop_assert!(quoted.chars().all(|c| c.is_ascii() && !c.is_ascii_control()));
        prop_assert!(!quoted.contains('/') && !quoted.contains('\\'));
        prop_assert!(quoted != "." && quoted != "..");
        // Exactly one quoted name and, at most, one RFC 5987 name after it.
        prop_assert_eq!(d.matches('"').count(), 2);
    }

    #[test]
    fn file_names_keep_no_control_format_or_separator_character(name in "\\PC{0,300}|[\\x00-\\x7f]{0,40}|[\\p{Cf}\\p{Cc}\\p{Zl}\\p{Zp}/\\\\. a-z]{0,40}") {
        let clean_char = |c: char| {
            !names::is_format(c) && !c.is_control() && !matches!(c, '/' | '\\' | '\u{2028}' | '\u{2029}')
        };
        if let Ok(n) = names::sanitize(&name) {
            prop_assert!(n.chars().all(clean_char), "{:?} -> {:?}", name, n);
            prop_assert!(!n.is_empty() && n != "." && n != "..");
            prop_assert!(n.chars().count() <= names::MAX_CHARS);
            prop_assert_eq!(n.trim(), n.as_str());
            // The rule is idempotent: a cleaned name passes unchanged.
            prop_assert_eq!(names::sanitize(&n), Ok(n.clone()));
        }
        let out = names::for_output(&name);
        prop_assert!(out.chars().all(clean_char), "{:?} -> {:?}", name, out);
        prop_assert!(!out.is_empty() && out.chars().count() <= names::MAX_CHARS);
        // The RFC 5987 form of a download name, decoded, is the same clean name.
        let d = disposition(&name);
        if let Some((_, star)) = d.split_once("; filename*=UTF-8''") {
            let decoded = percent_encoding::percent_decode_str(star).decode_utf8().unwrap();
            prop_assert!(decoded.chars().all(clean_char), "{:?}", d);
        }
    }

    #[test]
    fn address_keys_group_ipv6_by_64_and_keep_ipv4(a in any::<u32>(), b in any::<u128>(), low in any::<u64>()) {
        let v4 = IpAddr::V4(Ipv4Addr::from(a));
        prop_assert_eq!(address_key(v4), v4);
        prop_assert_eq!(address_key(IpAddr::V6(Ipv4Addr::from(a).to_ipv6_mapped())), v4);
        let v6 = Ipv6Addr::from(b);
        if v6.to_ipv4_mapped().is_none() {
            let same_64 = Ipv6Addr::from((b & !u128::from(u64::MAX)) | u128::from(low));
            prop_assume!(same_64.to_ipv4_mapped().is_none());
            prop_assert_eq!(address_key(IpAddr::V6(v6)), address_key(IpAddr::V6(same_64)));
            let k = address_key(IpAddr::V6(v6));
            prop_assert_eq!(address_key(k), k);
        }
    }
}
