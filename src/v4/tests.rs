//! Unit tests of the V4 writer and reader and of the V3 reader. Most use a fixed content
//! key (`Encryptor::with_key`) so that only a few tests pay for 600,000 PBKDF2 iterations.

use super::*;
use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};

const KEY: [u8; 32] = [7; 32];

fn header(r: u32, m: u32, password: bool) -> Header {
    Header {
        password,
        data_record_size: r,
        metadata_record_size: m,
        salt: [1; 32],
        nonce_prefix: [2; 7],
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn seal(h: Header, meta: &Metadata, pt: &[u8]) -> Vec<u8> {
    let mut enc = Encryptor::with_key(&KEY, h, meta).unwrap();
    let mut out = Vec::new();
    enc.update(pt, &mut out).unwrap();
    let expected = enc.ciphertext_len();
    enc.finish(&mut out).unwrap();
    assert_eq!(out.len() as u64, expected);
    out
}

fn open(ct: &[u8], pieces: usize) -> Result<(Metadata, Vec<u8>), V4Error> {
    let mut dec = Decryptor::with_key(&KEY);
    let mut out = Vec::new();
    for p in ct.chunks(pieces.max(1)) {
        dec.update(p, &mut out)?;
    }
    Ok((dec.finish()?, out))
}

#[test]
fn header_round_trip_and_rejections() {
    let h = header(1000, 64, true);
    let b = h.to_bytes().unwrap();
    assert_eq!(&b[..8], b"QPY4\x04\x01\0\0");
    assert_eq!(Header::parse(&b).unwrap(), h);
    let bad = |i: usize, v: u8| {
        let mut x = b;
        x[i] = v;
        Header::parse(&x).unwrap_err()
    };
    assert_eq!(bad(0, b'X'), V4Error::BadMagic);
    assert_eq!(bad(4, 3), V4Error::UnsupportedVersion(3));
    assert_eq!(bad(5, 2).kind(), "bad_header");
    for i in [6, 7, 55, 60, 63] {
        assert_eq!(bad(i, 1).kind(), "bad_header", "reserved byte {i}");
    }
    for (r, m) in [(0, 64), ((64 << 20) + 1, 64), (1, 63), (1, (64 << 20) + 1)] {
        assert_eq!(
            header(r, m, false).to_bytes().unwrap_err().kind(),
            "bad_header"
        );
    }
    assert!(header(64 << 20, 64 << 20, false).to_bytes().is_ok());
    assert_eq!(Header::parse(&b[..63]).unwrap_err(), V4Error::Truncated);
}

#[test]
fn padding_and_layout() {
    for (size, padded) in [
        (0, 1024),
        (1, 1024),
        (1024, 1024),
        (1025, 2048),
        (5000, 8192),
        (65535, 65536),
        (65536, 65536),
        (70000, 70000),
    ] {
        assert_eq!(padded_len(size), padded, "size {size}");
    }
    let l = header(1024, 1024, false).layout(5000).unwrap();
    assert_eq!((l.full_records, l.last_len, l.records), (8, 0, 10));
    assert_eq!(l.ciphertext_len, 64 + 1040 + 8 * 1040 + 16);
    let l = header(1000, 1024, false).layout(5000).unwrap();
    assert_eq!((l.full_records, l.last_len, l.records), (8, 192, 10));
    assert_eq!(
        header(1, 64, false).layout(u64::MAX).unwrap_err(),
        V4Error::TooManyRecords
    );
}

#[test]
fn round_trips_at_many_sizes_and_piece_sizes() {
    for (r, size) in [
        (1u32, 0usize),
        (1, 3000),
        (7, 1024),
        (1024, 5000),
        (1000, 5000),
    ] {
        for size in [size, size + 1] {
            let pt = data(size);
            let meta = Metadata::file("a.bin", "application/octet-stream", size as u64);
            let ct = seal(header(r, 128, false), &meta, &pt);
            for pieces in [1, 13, 1040, usize::MAX] {
                let (m, out) = open(&ct, pieces).unwrap();
                assert_eq!((m, &out), (meta.clone(), &pt), "r {r} size {size}");
            }
        }
    }
    // Writer pieces do not change the bytes.
    let pt = data(70_000);
    let meta = Metadata::text(70_000);
    let whole = seal(header(4096, 1024, false), &meta, &pt);
    let mut enc = Encryptor::with_key(&KEY, header(4096, 1024, false), &meta).unwrap();
    let mut out = Vec::new();
    for p in pt.chunks(333) {
        enc.update(p, &mut out).unwrap();
    }
    enc.finish(&mut out).unwrap();
    assert_eq!(out, whole);
    assert_eq!(open(&whole, 4111).unwrap().1, pt);
}

#[test]
fn writer_checks_size_and_metadata_room() {
    let h = header(1024, 64, false);
    let mut enc = Encryptor::with_key(&KEY, header(1024, 128, false), &Metadata::text(3)).unwrap();
    let mut out = Vec::new();
    assert_eq!(
        enc.update(b"abcd", &mut out).unwrap_err(),
        V4Error::SizeMismatch {
            declared: 3,
            actual: 4
        }
    );
    enc.update(b"ab", &mut out).unwrap();
    assert_eq!(enc.finish(&mut out).unwrap_err().kind(), "size_mismatch");
    let long = Metadata::file(&"n".repeat(40), "x", 1);
    assert_eq!(
        Encryptor::with_key(&KEY, h, &long).err().unwrap().kind(),
        "metadata_too_large"
    );
}

#[test]
fn reader_detects_every_kind_of_damage() {
    let pt = data(5000);
    let meta = Metadata::file("f", "", 5000);
    let ct = seal(header(1000, 64, false), &meta, &pt);
    let rec = 1016; // ciphertext bytes per full data record
    let first = 64 + 80; // header + metadata record

    let mut t = ct.clone();
    t[first + rec + 5] ^= 1;
    assert_eq!(open(&t, 100).unwrap_err(), V4Error::Tampered { index: 2 });
    let mut t = ct.clone();
    t[70] ^= 1; // metadata record
    assert_eq!(open(&t, 100).unwrap_err(), V4Error::WrongKey);
    let mut t = ct.clone();
    t[20] ^= 1; // salt: it is associated data, so record 0 fails
    assert_eq!(open(&t, 100).unwrap_err(), V4Error::WrongKey);

    let mut t = ct.clone();
    let (a, b) = (first + rec, first + 2 * rec);
    let r1 = t[a..b].to_vec();
    t.copy_within(b..b + rec, a);
    t[b..b + rec].copy_from_slice(&r1);
    assert_eq!(
        open(&t, 100).unwrap_err(),
        V4Error::Reordered { index: 2, found: 3 }
    );

    for cut in [
        0,
        10,
        64,
        100,
        first,
        first + rec + 1,
        ct.len() - 208,
        ct.len() - 1,
    ] {
        assert_eq!(
            open(&ct[..cut], 100).unwrap_err(),
            V4Error::Truncated,
            "cut {cut}"
        );
    }
    let mut t = ct.clone();
    t.push(0);
    assert_eq!(open(&t, 100).unwrap_err(), V4Error::Extended);
    t.extend_from_slice(&ct);
    assert_eq!(open(&t, 1 << 20).unwrap_err(), V4Error::Extended);

    let mut dec = Decryptor::with_key(&[8; 32]);
    assert_eq!(
        dec.update(&ct, &mut Vec::new()).unwrap_err(),
        V4Error::WrongKey
    );
    assert_eq!(
        dec.update(b"x", &mut Vec::new()).unwrap_err(),
        V4Error::Failed
    );
    assert_eq!(dec.finish().unwrap_err(), V4Error::Failed);
}

#[test]
fn passwords_are_flagged_and_required() {
    let opts = EncryptOptions {
        salt: Some([3; 32]),
        nonce_prefix: Some([4; 7]),
        ..EncryptOptions::default()
    };
    let meta = Metadata::text(2);
    let ct = encrypt_all("s3cret", Some("pw"), &meta, &opts, b"hi").unwrap();
    assert_eq!(ct[5], FLAG_PASSWORD);
    assert_eq!(ct.len(), 64 + 1040 + 1040);
    assert_eq!(
        decrypt_all("s3cret", None, &ct).unwrap_err(),
        V4Error::PasswordRequired
    );
    assert_eq!(
        decrypt_all("s3cret", Some("pW"), &ct).unwrap_err(),
        V4Error::WrongKey
    );
    assert_eq!(
        decrypt_any("s3cret", Some("pw"), &ct).unwrap(),
        (meta.clone(), b"hi".to_vec())
    );
    // Without the flag a given password is ignored.
    let plain = encrypt_all("s3cret", None, &meta, &opts, b"hi").unwrap();
    assert_eq!(plain[5], 0);
    assert_eq!(decrypt_all("s3cret", Some("x"), &plain).unwrap().1, b"hi");
}

#[test]
fn derive_key_matches_an_independent_computation() {
    // Python: hashlib.pbkdf2_hmac + an RFC 5869 HKDF written with hmac (see the vectors).
    let salt: [u8; 32] = std::array::from_fn(|i| i as u8);
    let ikm = derive_ikm("AB7K9P", Some("pw"), &salt);
    let key = content_key(&ikm);
    assert_eq!(hex::encode(ikm), IKM_AB7K9P_PW);
    assert_eq!(hex::encode(key), KEY_AB7K9P_PW);
}

const IKM_AB7K9P_PW: &str = "f75798ef78a4114fb77cc41ea2c90f99410a676ab5954ce85ed921179a2a603a";
const KEY_AB7K9P_PW: &str = "453d6822c2ea09a1907ca956a586cdc1aa24dba796b7117b37671aed1f46bd99";

// ---- V3 ----

const SALT_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const IV_HEX: &str = "a0a1a2a3a4a5a6a7a8a9aaab";
const B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn v3_payload(ct_hex: &str) -> Vec<u8> {
    hex::decode(format!("03{SALT_HEX}{IV_HEX}{ct_hex}")).unwrap()
}

/// A V3 payload as the original's `encryptV3` made it, with the key for `salt` given.
fn seal_v3(key: &[u8; 32], salt: [u8; 32], iv: [u8; 12], pt: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let ct = cipher.encrypt(Nonce::from_slice(&iv), pt).unwrap();
    [&[3u8][..], &salt, &iv, &ct].concat()
}

#[test]
fn v3_known_answers_from_the_reference() {
    let salt = hex::decode(SALT_HEX).unwrap();
    let cases = [
        (
            B64,
            None,
            "a69889934a1c2e5d885fa49005569fc616db33f9572ea184501d39105c02aa51",
            "0ac80e455c2fcd1691d008b6572aaaa2ea5856911b",
        ),
        (
            B64,
            Some("pw123"),
            "d1a971f844be73c94cd1aeb4c8c5fd3fa9365dc66a4f0bec4287049fc64a8baa",
            "1438a92192c2074c8dfd4bb2623801160a06b95274",
        ),
        (
            "AB7K9P",
            None,
            "770031df46e6c66c4af17f5d3c24e4d43ae04e81ae6eb3fba82e8745a7331fc7",
            "ddb91dbdf8ba29a9939823d41f545ba748cda2c7b6",
        ),
    ];
    assert_eq!(hex::encode(derive_key_v3(B64, None, &salt)), cases[0].2);
    for (secret, password, _key, ct) in cases {
        let (meta, pt) = decrypt_any(secret, password, &v3_payload(ct)).unwrap();
        assert_eq!((meta, pt), (Metadata::text(5), b"hello".to_vec()));
    }
    assert_eq!(decrypt_v3(B64, None, &[3; 60]).unwrap_err(), V4Error::NotV3);
    assert_eq!(decrypt_v3(B64, None, &[2; 80]).unwrap_err(), V4Error::NotV3);
    let wrong = v3_payload("0ac80e455c2fcd1691d008b6572aaaa2ea5856911c");
    assert_eq!(
        decrypt_v3(B64, None, &wrong).unwrap_err(),
        V4Error::WrongKey
    );
}

#[test]
fn v3_padded_text() {
    // Text < 10,240 bytes: text || random || u32be(n), key from secret:password.
    let text = "  Grüße  ".as_bytes();
    let mut padded = text.to_vec();
    padded.resize(10_240, 0xEE);
    padded.extend_from_slice(&(text.len() as u32).to_be_bytes());
    let ct = seal_v3(
        &derive_key_v3("S", Some("pw"), &[5; 32]),
        [5; 32],
        [6; 12],
        &padded,
    );
    let (meta, pt) = decrypt_v3("S", Some("pw"), &ct).unwrap();
    assert_eq!((meta.kind, pt.as_slice()), (Kind::Text, text));
}

/// A small V3 file with an envelope, and what reading it must give.
fn v3_file() -> (Vec<u8>, (Metadata, Vec<u8>)) {
    let file = b"%PDF-1.4 tiny";
    let mut padded = file.to_vec();
    padded.resize(10_240, 0x11);
    padded.extend_from_slice(&(file.len() as u32).to_be_bytes());
    let env_json = br#"{"filename":"r\u00e9sum\u00e9.pdf","size":13,"mimeType":"application/pdf","timestamp":1700000000000,"version":"v3"}"#;
    // The same salt for envelope and payload (the original drew two) saves a derivation.
    let key = derive_key_v3("S", None, &[8; 32]);
    let envelope = seal_v3(&key, [8; 32], [9; 12], env_json);
    let inner = [
        &(envelope.len() as u32).to_le_bytes()[..],
        &envelope,
        &padded,
    ]
    .concat();
    let outer = seal_v3(&key, [8; 32], [11; 12], &inner);
    (
        outer,
        (
            Metadata::file("résumé.pdf", "application/pdf", 13),
            file.to_vec(),
        ),
    )
}

#[test]
fn v3_file_with_envelope() {
    let (outer, want) = v3_file();
    assert_eq!(decrypt_v3("S", None, &outer).unwrap(), want);
}

#[test]
fn v3_file_ignores_the_access_code() {
    let (outer, want) = v3_file();
    assert_eq!(decrypt_v3("S", Some("access"), &outer).unwrap(), want);
}

#[test]
fn secrets_have_the_right_shape() {
    assert_eq!(base64url(b""), "");
    assert_eq!(base64url(b"f"), "Zg");
    assert_eq!(base64url(b"fo"), "Zm8");
    assert_eq!(base64url(b"foo"), "Zm9v");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    let s = generate_secret();
    assert_eq!(s.len(), 43);
    assert!(s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    assert_ne!(s, generate_secret());
    let q = generate_quick_share_secret();
    assert_eq!(q.len(), 6);
    assert!(q
        .bytes()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
}

#[test]
fn base64url_decodes_what_it_encodes_and_nothing_loose() {
    for len in 0..70 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        assert_eq!(base64url_decode(&base64url(&bytes)), Some(bytes));
    }
    assert_eq!(base64url_decode("-_8"), Some(vec![0xfb, 0xff]));
    for bad in ["A", "AB=", "A+B/", "AB C", "AB\n", "AR", "ABD"] {
        assert_eq!(base64url_decode(bad), None, "{bad:?}");
    }
}
