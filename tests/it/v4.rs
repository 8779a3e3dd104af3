//! The V4 format (SPEC §6) against the shared vectors in `tests/vectors/v4.json` (which the
//! browser tests check too): byte-exact encryption, decryption with the ciphertext cut at
//! random places and at upload-chunk boundaries, the negative cases, and a round trip of a
//! V4 ciphertext through a real server.
//!
//! `cargo test --test it v4::write_vectors -- --ignored` regenerates the vectors file.

use crate::harness::{test_bytes, TestServer};
use qopy::v4::{
    content_key, decrypt_all, derive_ikm, Decryptor, EncryptOptions, Encryptor, Header, Kind,
    Metadata, V4Error,
};
use serde_json::{json, Value};
use std::path::PathBuf;

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/v4.json")
}

fn load() -> Value {
    let text = std::fs::read_to_string(vectors_path()).expect("tests/vectors/v4.json");
    serde_json::from_str(&text).expect("valid JSON")
}

fn arr<const N: usize>(v: &Value) -> [u8; N] {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

/// The byte pattern that stands in for large plaintexts: `byte[i] = i % 251`.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn plaintext(case: &Value) -> Vec<u8> {
    if let Some(s) = case["plaintext_utf8"].as_str() {
        s.as_bytes().to_vec()
    } else if let Some(h) = case.get("plaintext_hex") {
        unhex(h)
    } else {
        pattern(case["plaintext_pattern"]["length"].as_u64().unwrap() as usize)
    }
}

fn header(case: &Value) -> Header {
    Header {
        password: !case["password"].is_null(),
        data_record_size: case["data_record_size"].as_u64().unwrap() as u32,
        metadata_record_size: case["metadata_record_size"].as_u64().unwrap() as u32,
        salt: arr(&case["salt_hex"]),
        nonce_prefix: arr(&case["nonce_prefix_hex"]),
    }
}

fn metadata(case: &Value) -> Metadata {
    serde_json::from_value(case["metadata"].clone()).unwrap()
}

/// Small deterministic generator for piece sizes.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Cuts `data` into pieces of 1..=max bytes.
fn cut(data: &[u8], rng: &mut Rng, max: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (1 + rng.below(max) as usize).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

fn decrypt_pieces(key: &[u8; 32], pieces: &[Vec<u8>]) -> Result<(Metadata, Vec<u8>), V4Error> {
    let mut dec = Decryptor::with_key(key);
    let mut out = Vec::new();
    for p in pieces {
        dec.update(p, &mut out)?;
    }
    Ok((dec.finish()?, out))
}

/// Runs `f` on every case in its own thread (each pays for 600,000 PBKDF2 iterations).
fn each_case(cases: &[Value], f: impl Fn(&Value) + Sync) {
    std::thread::scope(|s| {
        for case in cases {
            let f = &f;
            s.spawn(move || f(case));
        }
    });
}

#[test]
fn vectors_derive_keys_and_encrypt_byte_exact() {
    let v = load();
    let cases = v["cases"].as_array().unwrap();
    assert!(cases.len() >= 9);
    each_case(cases, |case| {
        let name = case["name"].as_str().unwrap();
        let salt = arr(&case["salt_hex"]);
        let ikm = derive_ikm(
            case["secret"].as_str().unwrap(),
            case["password"].as_str(),
            &salt,
        );
        assert_eq!(
            hex::encode(ikm),
            case["ikm_hex"].as_str().unwrap(),
            "{name}: ikm"
        );
        let key = content_key(&ikm);
        assert_eq!(
            hex::encode(key),
            case["content_key_hex"].as_str().unwrap(),
            "{name}"
        );

        let meta = metadata(case);
        assert_eq!(
            meta.to_json(),
            case["metadata_json"].as_str().unwrap().as_bytes()
        );
        let pt = plaintext(case);
        assert_eq!(pt.len() as u64, meta.size, "{name}: size");
        let expected = unhex(&case["ciphertext_hex"]);
        assert_eq!(
            expected.len() as u64,
            case["ciphertext_len"].as_u64().unwrap()
        );
        let h = header(case);
        assert_eq!(
            hex::encode(h.to_bytes().unwrap()),
            case["header_hex"].as_str().unwrap()
        );

        let mut rng = Rng(0x5eed ^ expected.len() as u64);
        for round in 0..4 {
            let mut enc = Encryptor::with_key(&key, h.clone(), &meta).unwrap();
            assert_eq!(enc.ciphertext_len(), expected.len() as u64);
            let mut out = Vec::new();
            for p in cut(&pt, &mut rng, if round == 0 { u64::MAX } else { 10_000 }) {
                enc.update(&p, &mut out).unwrap();
            }
            enc.finish(&mut out).unwrap();
            assert!(
                out == expected,
                "{name}: ciphertext differs (round {round})"
            );
        }
    });
}

#[test]
fn vectors_decrypt_in_any_pieces() {
    let v = load();
    each_case(v["cases"].as_array().unwrap(), |case| {
        let name = case["name"].as_str().unwrap();
        let key = arr(&case["content_key_hex"]);
        let ct = unhex(&case["ciphertext_hex"]);
        let want = (metadata(case), plaintext(case));
        let mut rng = Rng(0xabcdef ^ ct.len() as u64);
        for max in [1, 7, 100, 1_000, 10_000, 10_000, 10_000, u64::MAX] {
            let pieces = cut(&ct, &mut rng, max);
            assert!(
                decrypt_pieces(&key, &pieces).unwrap() == want,
                "{name}: pieces ≤ {max}"
            );
        }
        // Upload chunks of various sizes, with the same bytes regardless of records.
        for chunk in [1usize, 64, 1000, 4096, 65_536] {
            let pieces: Vec<Vec<u8>> = ct.chunks(chunk).map(<[u8]>::to_vec).collect();
            assert!(
                decrypt_pieces(&key, &pieces).unwrap() == want,
                "{name}: chunk {chunk}"
            );
        }
        // Metadata is there as soon as record 0 is.
        let mut dec = Decryptor::with_key(&key);
        let m = 64 + case["metadata_record_size"].as_u64().unwrap() as usize + 16;
        dec.update(&ct[..m - 1], &mut Vec::new()).unwrap();
        assert!(dec.metadata().is_none());
        dec.update(&ct[m - 1..m], &mut Vec::new()).unwrap();
        assert_eq!(dec.metadata(), Some(&want.0));
        assert_eq!(dec.layout().unwrap().ciphertext_len, ct.len() as u64);
    });
}

#[test]
fn vectors_decrypt_with_the_secret() {
    // The secret path (key derived from the header's salt and flag) for a few cases.
    let v = load();
    let cases: Vec<Value> = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            ["empty_text", "password", "quick_share"].contains(&c["name"].as_str().unwrap())
        })
        .cloned()
        .collect();
    assert_eq!(cases.len(), 3);
    each_case(&cases, |case| {
        let ct = unhex(&case["ciphertext_hex"]);
        let got = decrypt_all(
            case["secret"].as_str().unwrap(),
            case["password"].as_str(),
            &ct,
        );
        assert_eq!(got.unwrap(), (metadata(case), plaintext(case)));
    });
}

#[test]
fn vectors_negative_cases() {
    let v = load();
    let cases = v["cases"].as_array().unwrap();
    let negatives = v["negative"].as_array().unwrap();
    assert!(negatives.len() >= 8);
    each_case(negatives, |neg| {
        let name = neg["name"].as_str().unwrap();
        let base = cases.iter().find(|c| c["name"] == neg["base"]).unwrap();
        let ct = unhex(&neg["ciphertext_hex"]);
        let (secret, password) = (neg["secret"].as_str().unwrap(), neg["password"].as_str());
        let same_key = base["secret"] == neg["secret"] && base["password"] == neg["password"];
        let err = if same_key && base["salt_hex"] == neg["salt_hex"] {
            // Known key: also cut the stream at random places.
            let key = arr(&base["content_key_hex"]);
            let mut rng = Rng(ct.len() as u64 | 1);
            let whole = decrypt_pieces(&key, std::slice::from_ref(&ct)).unwrap_err();
            for max in [1, 50, 3000] {
                let e = decrypt_pieces(&key, &cut(&ct, &mut rng, max)).unwrap_err();
                assert_eq!(e, whole, "{name}: pieces ≤ {max}");
            }
            whole
        } else {
            decrypt_all(secret, password, &ct).unwrap_err()
        };
        assert_eq!(err.kind(), neg["error"].as_str().unwrap(), "{name}: {err}");
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v4_ciphertext_round_trips_through_the_server() {
    let server = TestServer::start_with(|c| c.chunk_size = 64 * 1024).await;
    let secret = qopy::v4::generate_secret();
    let content = test_bytes(300_000, 44);
    let meta = Metadata::file("photo (1).jpg", "image/jpeg", content.len() as u64);
    let opts = EncryptOptions {
        data_record_size: 50_000, // records straddle the 64 KiB chunk boundaries
        ..EncryptOptions::default()
    };
    let (s, m, c) = (secret.clone(), meta.clone(), content.clone());
    let ct = tokio::task::spawn_blocking(move || {
        let mut enc = Encryptor::new(&s, None, &m, &opts).unwrap();
        let mut out = Vec::new();
        for piece in c.chunks(12_345) {
            enc.update(piece, &mut out).unwrap();
        }
        enc.finish(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(ct.len(), 64 + 1040 + 6 * 50_016 + 16);
    assert!(ct.len() > 4 * 64 * 1024, "several upload chunks");

    let done = server
        .upload(
            &ct,
            json!({ "filename": "0123456789abcdef", "filesize": ct.len() }),
            json!({}),
        )
        .await;
    let id = done["clipId"].as_str().unwrap().to_string();
    let (status, bytes) = server.download_bytes(&id, None).await;
    assert_eq!(status, 200);
    assert!(bytes == ct, "the server returns the ciphertext unchanged");

    let got = tokio::task::spawn_blocking(move || {
        let mut dec = Decryptor::new(&secret, None);
        let mut out = Vec::new();
        for chunk in bytes.chunks(64 * 1024) {
            dec.update(chunk, &mut out).unwrap();
        }
        (dec.finish().unwrap(), out)
    })
    .await
    .unwrap();
    assert_eq!(got.0, meta);
    assert!(got.1 == content);
    assert_eq!(got.0.kind, Kind::File);
}

// ---------------------------------------------------------------------------------------
// The generator of tests/vectors/v4.json.

struct Spec {
    name: &'static str,
    description: &'static str,
    secret: &'static str,
    password: Option<&'static str>,
    data_record_size: u32,
    metadata_record_size: u32,
    metadata: Metadata,
    plaintext: Vec<u8>,
    /// Store the plaintext as `plaintext_pattern` rather than in full.
    as_pattern: bool,
}

const SECRET: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

fn specs() -> Vec<Spec> {
    let text = |name, description, secret, password, s: &str| Spec {
        name,
        description,
        secret,
        password,
        data_record_size: 1 << 20,
        metadata_record_size: 1024,
        metadata: Metadata::text(s.len() as u64),
        plaintext: s.as_bytes().to_vec(),
        as_pattern: false,
    };
    let file = |name, description, r, m, fname: &str, mime: &str, len: usize| Spec {
        name,
        description,
        secret: SECRET,
        password: None,
        data_record_size: r,
        metadata_record_size: m,
        metadata: Metadata::file(fname, mime, len as u64),
        plaintext: pattern(len),
        as_pattern: len > 2048,
    };
    let lorem = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(11);
    vec![
        text(
            "empty_text",
            "empty text: padded to 1 KiB, one data record",
            SECRET,
            None,
            "",
        ),
        text(
            "unicode_text",
            "short Unicode text with leading and trailing whitespace (kept)",
            SECRET,
            None,
            "  Grüße, 世界! 🔐 café\n\t  ",
        ),
        file(
            "exact_1024",
            "exactly 1 KiB: no padding needed",
            1 << 20,
            1024,
            "exact-1k.bin",
            "application/octet-stream",
            1024,
        ),
        file(
            "pad_64k_minus_1",
            "64 KiB − 1 bytes: padded with one zero to 64 KiB",
            1 << 20,
            1024,
            "almost-64k.dat",
            "",
            65_535,
        ),
        file(
            "exact_64k_records_16k",
            "exactly 64 KiB (no padding) in 16 KiB records: 4 full \
             records and an empty last record",
            16_384,
            1024,
            "64k.bin",
            "application/octet-stream",
            65_536,
        ),
        file(
            "multi_record_1000",
            "5000 bytes padded to 8192 in 1000-byte records: 8 full \
             records and a last record of 192 bytes; 256-byte metadata record",
            1000,
            256,
            "Ünïcödé \"name\" (1).txt",
            "text/plain",
            5000,
        ),
        file(
            "multiple_of_record_size",
            "5000 bytes padded to 8192 in 1024-byte records: 8 \
             full records and an empty last record",
            1024,
            1024,
            "x.bin",
            "",
            5000,
        ),
        text(
            "password",
            "text with a password mixed into the key (flag bit 0)",
            SECRET,
            Some("pw123"),
            "hello",
        ),
        text(
            "quick_share",
            "Quick Share: a 6-character secret",
            "AB7K9P",
            None,
            "Quick share ✓",
        ),
        Spec {
            data_record_size: 256,
            ..text(
                "small_records",
                "600 bytes of text padded to 1 KiB in 256-byte records: \
                    4 full records and an empty last one (the base of most negative cases)",
                SECRET,
                None,
                &lorem[..600],
            )
        },
    ]
}

fn build_case(i: usize, spec: &Spec) -> (Value, [u8; 32], Vec<u8>) {
    let salt: [u8; 32] = std::array::from_fn(|j| (i as u8).wrapping_mul(32).wrapping_add(j as u8));
    let prefix: [u8; 7] = std::array::from_fn(|j| 0xA0 + i as u8 * 8 + j as u8);
    let ikm = derive_ikm(spec.secret, spec.password, &salt);
    let key = content_key(&ikm);
    let h = Header {
        password: spec.password.is_some(),
        data_record_size: spec.data_record_size,
        metadata_record_size: spec.metadata_record_size,
        salt,
        nonce_prefix: prefix,
    };
    let mut enc = Encryptor::with_key(&key, h.clone(), &spec.metadata).unwrap();
    let mut ct = Vec::new();
    enc.update(&spec.plaintext, &mut ct).unwrap();
    enc.finish(&mut ct).unwrap();
    let mut case = json!({
        "name": spec.name,
        "description": spec.description,
        "secret": spec.secret,
        "password": spec.password,
        "salt_hex": hex::encode(salt),
        "nonce_prefix_hex": hex::encode(prefix),
        "data_record_size": spec.data_record_size,
        "metadata_record_size": spec.metadata_record_size,
        "metadata": spec.metadata,
        "metadata_json": String::from_utf8(spec.metadata.to_json()).unwrap(),
    });
    let o = case.as_object_mut().unwrap();
    if spec.as_pattern {
        o.insert(
            "plaintext_pattern".into(),
            json!({ "length": spec.plaintext.len(), "rule": "byte[i] = i % 251" }),
        );
    } else if let Ok(s) = std::str::from_utf8(&spec.plaintext) {
        o.insert("plaintext_utf8".into(), json!(s));
    } else {
        o.insert("plaintext_hex".into(), json!(hex::encode(&spec.plaintext)));
    }
    o.insert("ikm_hex".into(), json!(hex::encode(ikm)));
    o.insert("content_key_hex".into(), json!(hex::encode(key)));
    o.insert(
        "header_hex".into(),
        json!(hex::encode(h.to_bytes().unwrap())),
    );
    o.insert("ciphertext_len".into(), json!(ct.len()));
    o.insert("ciphertext_hex".into(), json!(hex::encode(&ct)));
    (case, key, ct)
}

#[test]
#[ignore = "writes tests/vectors/v4.json"]
fn write_vectors() {
    let specs = specs();
    let built: Vec<(Value, [u8; 32], Vec<u8>)> = std::thread::scope(|s| {
        let handles: Vec<_> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| s.spawn(move || build_case(i, spec)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let find = |n: &str| built.iter().find(|b| b.0["name"] == n).unwrap();
    let (small, _, sct) = find("small_records");
    let (pw, _, pct) = find("password");
    // small_records: header 64, metadata record 1040, then 272-byte records 1..=4, last 16.
    let rec = |i: usize| 64 + 1040 + (i - 1) * 272;
    let neg = |name: &str, desc: &str, base: &Value, ct: Vec<u8>, pass: Option<&str>, err: &str| {
        json!({
            "name": name, "description": desc, "base": base["name"],
            "secret": base["secret"], "password": pass, "salt_hex": base["salt_hex"],
            "ciphertext_hex": hex::encode(ct), "error": err,
        })
    };
    let flip = |ct: &[u8], at: usize| {
        let mut c = ct.to_vec();
        c[at] ^= 0x01;
        c
    };
    let mut swapped = sct.clone();
    swapped[rec(1)..rec(3)].rotate_left(272);
    let mut dropped = sct.clone();
    dropped.drain(rec(2)..rec(3));
    let mut extended = sct.clone();
    extended.extend_from_slice(&[0; 16]);
    let mut bad_magic = sct.clone();
    bad_magic[3] = b'3';
    let negative = vec![
        neg(
            "tampered_data",
            "one bit flipped inside data record 2",
            small,
            flip(sct, rec(2) + 10),
            None,
            "tampered",
        ),
        neg(
            "tampered_tag",
            "one bit flipped in the tag of the (empty) last record",
            small,
            flip(sct, sct.len() - 1),
            None,
            "tampered",
        ),
        neg(
            "tampered_header",
            "one bit flipped in the salt (the header is every record's \
            associated data, so record 0 fails)",
            small,
            flip(sct, 20),
            None,
            "wrong_key",
        ),
        neg(
            "tampered_metadata",
            "one bit flipped inside the metadata record",
            small,
            flip(sct, 64 + 30),
            None,
            "wrong_key",
        ),
        neg(
            "truncated_last_record",
            "the empty last record removed",
            small,
            sct[..sct.len() - 16].to_vec(),
            None,
            "truncated",
        ),
        neg(
            "truncated_mid_record",
            "the stream cut inside data record 3",
            small,
            sct[..rec(3) + 100].to_vec(),
            None,
            "truncated",
        ),
        neg(
            "truncated_header",
            "only 40 bytes",
            small,
            sct[..40].to_vec(),
            None,
            "truncated",
        ),
        neg(
            "swapped_records",
            "data records 1 and 2 swapped",
            small,
            swapped,
            None,
            "reordered",
        ),
        neg(
            "dropped_record",
            "data record 2 removed (record 3 then sits at position 2)",
            small,
            dropped,
            None,
            "reordered",
        ),
        neg(
            "extended",
            "16 zero bytes appended after the last record",
            small,
            extended,
            None,
            "extended",
        ),
        neg(
            "bad_magic",
            "magic QPY3 instead of QPY4",
            small,
            bad_magic,
            None,
            "bad_header",
        ),
        neg(
            "wrong_password",
            "the password case opened with password \"pw124\"",
            pw,
            pct.clone(),
            Some("pw124"),
            "wrong_key",
        ),
        neg(
            "missing_password",
            "the password case opened without a password",
            pw,
            pct.clone(),
            None,
            "password_required",
        ),
        json!({
            "name": "wrong_secret", "description": "small_records opened with another secret",
            "base": "small_records", "secret": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9",
            "password": null, "salt_hex": small["salt_hex"],
            "ciphertext_hex": hex::encode(sct), "error": "wrong_key",
        }),
    ];
    let doc = json!({
        "format": "qopy-v4",
        "notes": [
            "SPEC §6. Header 64 bytes: 'QPY4', 0x04, flags (bit 0 = password), 2 zero bytes, data record size u32be, metadata record size u32be, salt[32], nonce prefix[7], 9 zero bytes.",
            "ikm = PBKDF2-HMAC-SHA256(utf8(secret) [|| ':' || utf8(password)], salt, 600000, 32); content_key = HKDF-SHA256(ikm, salt = empty, info = 'qopy v4 content', 32).",
            "Record i: AES-256-GCM(content_key, nonce = prefix || u32be(i) || last, aad = the 64 header bytes); record 0 = u32be(L) || metadata JSON (L bytes) || zeros, exactly metadata_record_size bytes.",
            "Content shorter than 64 KiB is zero-padded to the next power of two (at least 1 KiB); data records are data_record_size bytes except the last, which is shorter (possibly empty) and sealed with last = 1.",
            "metadata_json is the exact JSON in record 0 (JSON.stringify of {kind, name, type, size} in this order). Text clips use name '' and type 'text/plain; charset=utf-8' (a convention, not part of the format).",
            "plaintext is plaintext_utf8, plaintext_hex, or plaintext_pattern: length bytes with byte[i] = i % 251.",
            "Negative cases: decrypting ciphertext_hex with secret/password must fail. Error kinds: bad_header (magic, version, flags, reserved bytes, record sizes), truncated (the stream ends before the last record, including inside the header), password_required (flag set, no password given), wrong_key (record 0 does not authenticate: wrong secret or password, or damaged header or metadata record), tampered (a data record does not authenticate), reordered (a data record authenticates at another index; a reader that does not search other indices may report tampered), extended (bytes after the last record). The metadata gives the size, hence the exact record count and total length, so a reader knows which record is last and where the stream ends.",
            "Generated by `cargo test --test it v4::write_vectors -- --ignored`."
        ],
        "cases": built.iter().map(|b| b.0.clone()).collect::<Vec<_>>(),
        "negative": negative,
    });
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    std::fs::create_dir_all(vectors_path().parent().unwrap()).unwrap();
    std::fs::write(vectors_path(), text).unwrap();
}
