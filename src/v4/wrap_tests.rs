//! Tests of drop-box key wrap v1: the shared vectors (`tests/vectors/dropbox-wrap.json`, made
//! with node:crypto and also checked by the browser code) byte for byte, round trips, point
//! validation, and tampering with every byte, the length, the box ID and the key.

use super::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    note: String,
    receiver_private: String,
    receiver_public: String,
    fingerprint_display: String,
    fingerprint_link: String,
    ephemeral_private: String,
    nonce: String,
    box_id: String,
    secret: String,
    wrapped: String,
}

fn vectors() -> Vec<Vector> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/dropbox-wrap.json"
    );
    let text = std::fs::read_to_string(path).expect("tests/vectors/dropbox-wrap.json");
    let file: VectorFile = serde_json::from_str(&text).expect("valid vector JSON");
    assert!(file.vectors.len() >= 5);
    file.vectors
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

#[test]
fn wrap_vectors_produce_exactly_the_shared_bytes() {
    for v in vectors() {
        let keys = KeyPair::from_private_bytes(&h(&v.receiver_private)).unwrap();
        assert_eq!(
            hex::encode(keys.public_bytes()),
            v.receiver_public,
            "{}",
            v.note
        );
        let eph = secret_from_bytes(&h(&v.ephemeral_private)).unwrap();
        let nonce: [u8; WRAP_NONCE_LEN] = h(&v.nonce).try_into().unwrap();
        let wrapped = wrap_with(
            &h(&v.secret),
            &h(&v.receiver_public),
            &v.box_id,
            &eph,
            &nonce,
        );
        assert_eq!(hex::encode(wrapped.unwrap()), v.wrapped, "{}", v.note);
    }
}

#[test]
fn wrap_vectors_unwrap_to_their_secret() {
    for v in vectors() {
        let keys = KeyPair::from_private_bytes(&h(&v.receiver_private)).unwrap();
        let secret = unwrap_secret(&keys, &h(&v.wrapped), &v.box_id).unwrap();
        assert_eq!(hex::encode(secret), v.secret, "{}", v.note);
        // The same wrap under another box ID must fail.
        let other = format!("{}x", v.box_id);
        assert_eq!(
            unwrap_secret(&keys, &h(&v.wrapped), &other),
            Err(WrapError::WrongKey)
        );
    }
}

#[test]
fn wrap_vectors_fingerprints_match() {
    for v in vectors() {
        let (display, link) = fingerprint(&h(&v.receiver_public)).unwrap();
        assert_eq!(display, v.fingerprint_display, "{}", v.note);
        assert_eq!(link, v.fingerprint_link, "{}", v.note);
    }
}

#[test]
fn wrap_fingerprint_format_and_alphabet() {
    let keys = KeyPair::generate();
    let (display, link) = fingerprint(&keys.public_bytes()).unwrap();
    let groups: Vec<&str> = display.split('-').collect();
    assert_eq!(groups.len(), 5);
    for g in groups {
        assert_eq!(g.len(), 4);
        assert!(g.bytes().all(|c| CROCKFORD.contains(&c)), "{display}");
    }
    assert_eq!(link.len(), 22);
    assert!(link
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    for c in b"ILOU" {
        assert!(!CROCKFORD.contains(c));
    }
    assert!(matches!(
        fingerprint(&keys.public_bytes()[..64]),
        Err(WrapError::BadPublicKey(_))
    ));
}

#[test]
fn wrap_round_trips_for_many_lengths() {
    let keys = KeyPair::generate();
    for len in [0usize, 1, 6, 32, 43, 100, 1000] {
        let secret: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let w = wrap_secret(&secret, &keys.public_bytes(), "box-é📦").unwrap();
        assert_eq!(w.len(), len + WRAP_OVERHEAD);
        assert_eq!(w[0], WRAP_VERSION);
        assert_eq!(unwrap_secret(&keys, &w, "box-é📦").unwrap(), secret);
    }
    // Fresh ephemeral key and nonce every time.
    let a = wrap_secret(b"s", &keys.public_bytes(), "b").unwrap();
    let b = wrap_secret(b"s", &keys.public_bytes(), "b").unwrap();
    assert_ne!(a[1..66], b[1..66]);
    assert_ne!(a[66..78], b[66..78]);
}

#[test]
fn wrap_private_keys_round_trip_and_out_of_range_ones_are_refused() {
    let keys = KeyPair::generate();
    let again = KeyPair::from_private_bytes(keys.private_bytes().as_ref()).unwrap();
    assert_eq!(again.public_bytes(), keys.public_bytes());
    let n = h("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    for bad in [
        vec![0u8; 32],
        n,
        vec![0xff; 32],
        vec![1u8; 31],
        vec![1u8; 33],
    ] {
        assert!(matches!(
            KeyPair::from_private_bytes(&bad),
            Err(WrapError::BadPrivateKey)
        ));
    }
    // The Debug form never shows the private key.
    let shown = format!("{keys:?}");
    assert!(!shown.contains(&hex::encode(keys.private_bytes().as_ref())));
}

#[test]
fn wrap_refuses_invalid_public_keys() {
    let good = KeyPair::generate().public_bytes();
    let p = h("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    let mut off_curve = good;
    off_curve[64] ^= 1;
    let mut compressed = vec![2 + (good[64] & 1)];
    compressed.extend_from_slice(&good[1..33]);
    let mut hybrid = good.to_vec();
    hybrid[0] = 6 + (good[64] & 1);
    let mut x_is_p = vec![4u8];
    x_is_p.extend_from_slice(&p);
    x_is_p.extend_from_slice(&good[33..]);
    let mut y_is_p = good[..33].to_vec();
    y_is_p.extend_from_slice(&p);
    let mut zeros = vec![0u8; 65];
    zeros[0] = 4;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("off the curve", off_curve.to_vec()),
        ("64 bytes", good[..64].to_vec()),
        ("66 bytes", [&good[..], &[0u8]].concat()),
        ("bare x || y", good[1..].to_vec()),
        ("compressed", compressed),
        ("hybrid prefix", hybrid),
        ("x = p", x_is_p),
        ("y = p", y_is_p),
        ("infinity, one byte", vec![0u8]),
        ("infinity as zeros", zeros),
        ("empty", Vec::new()),
    ];
    for (what, bytes) in cases {
        assert!(
            matches!(parse_public_key(&bytes), Err(WrapError::BadPublicKey(_))),
            "{what}"
        );
        assert!(
            matches!(
                wrap_secret(b"s", &bytes, "b"),
                Err(WrapError::BadPublicKey(_))
            ),
            "{what}"
        );
    }
}

/// A point whose x coordinate is below 2^256 - p, so that x + p still fits in 32 bytes: the
/// first x = 0, 1, 2, ... that decompresses to a point (about half of all x do).
fn point_with_small_x() -> [u8; 65] {
    for x in 0u8..=255 {
        let mut compressed = [0u8; 33];
        compressed[0] = 2;
        compressed[32] = x;
        if let Ok(key) = PublicKey::from_sec1_bytes(&compressed) {
            return encode_point(&key);
        }
    }
    panic!("no point with x < 256");
}

#[test]
fn wrap_refuses_a_coordinate_not_reduced_mod_p() {
    // (x + p, y) is congruent to a real point; only the range check can refuse it.
    let point = point_with_small_x();
    parse_public_key(&point).unwrap();
    let p = h("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    let mut x = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(point[1 + i]) + u16::from(p[i]) + carry;
        x[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "x + p fits in 32 bytes");
    let mut bad = point;
    bad[1..33].copy_from_slice(&x);
    assert!(matches!(
        parse_public_key(&bad),
        Err(WrapError::BadPublicKey(_))
    ));
}

#[test]
fn wrap_tampering_with_any_byte_fails_cleanly() {
    let keys = KeyPair::generate();
    let w = wrap_secret(&[0x5a; 32], &keys.public_bytes(), "box").unwrap();
    for i in 0..w.len() {
        for flip in [0x01u8, 0x80] {
            let mut t = w.clone();
            t[i] ^= flip;
            let err = unwrap_secret(&keys, &t, "box").unwrap_err();
            match i {
                0 => assert_eq!(err, WrapError::UnsupportedVersion(WRAP_VERSION ^ flip)),
                1..=65 => assert!(
                    matches!(err, WrapError::BadPublicKey(_) | WrapError::WrongKey),
                    "byte {i}: {err:?}"
                ),
                _ => assert_eq!(err, WrapError::WrongKey, "byte {i}"),
            }
        }
    }
    // Another valid ephemeral key in place of the real one.
    let mut t = w.clone();
    t[1..66].copy_from_slice(&KeyPair::generate().public_bytes());
    assert_eq!(unwrap_secret(&keys, &t, "box"), Err(WrapError::WrongKey));
}

#[test]
fn wrap_truncation_extension_box_id_and_key_are_checked() {
    let keys = KeyPair::generate();
    let w = wrap_secret(&[7; 16], &keys.public_bytes(), "Box1").unwrap();
    for n in 0..w.len() {
        let err = unwrap_secret(&keys, &w[..n], "Box1").unwrap_err();
        if n < WRAP_OVERHEAD {
            assert_eq!(err, WrapError::TooShort(n));
        } else {
            assert_eq!(err, WrapError::WrongKey);
        }
    }
    let longer = [&w[..], &[0u8]].concat();
    assert_eq!(
        unwrap_secret(&keys, &longer, "Box1"),
        Err(WrapError::WrongKey)
    );
    for id in ["box1", "Box1 ", "Box", "", "Box2"] {
        assert_eq!(
            unwrap_secret(&keys, &w, id),
            Err(WrapError::WrongKey),
            "{id}"
        );
    }
    let other = KeyPair::generate();
    assert_eq!(unwrap_secret(&other, &w, "Box1"), Err(WrapError::WrongKey));
    assert_eq!(unwrap_secret(&keys, &w, "Box1").unwrap(), vec![7; 16]);
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct CdhVector {
    dIUT: String,
    QCAVSx: String,
    QCAVSy: String,
    QIUTx: String,
    QIUTy: String,
    ZIUT: String,
}

#[test]
fn wrap_keys_match_the_nist_ecc_cdh_vectors() {
    #[derive(Deserialize)]
    struct File {
        vectors: Vec<CdhVector>,
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/p256-ecdh.json");
    let file: File = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(file.vectors.len() >= 5);
    for v in file.vectors {
        let keys = KeyPair::from_private_bytes(&h(&v.dIUT)).unwrap();
        let public = format!("04{}{}", v.QIUTx, v.QIUTy);
        assert_eq!(hex::encode(keys.public_bytes()), public);
        let peer = parse_public_key(&h(&format!("04{}{}", v.QCAVSx, v.QCAVSy))).unwrap();
        let z = diffie_hellman(keys.secret.to_nonzero_scalar(), peer.as_affine());
        assert_eq!(hex::encode(z.raw_secret_bytes()), v.ZIUT);
    }
}
