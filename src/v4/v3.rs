//! A reader for the original Qopy's V3 payloads (reference §5), so that our clients can
//! open what the original's clients made.
//!
//! ```text
//! V3 payload: 0x03 | salt (32) | IV (12) | AES-256-GCM ciphertext || tag (16), no AAD,
//!             key = PBKDF2-HMAC-SHA256(utf8(secret) [|| ":" || utf8(password)], salt, 600000, 32)
//! text:  payload(padded text), padded = text || random(10240 − n) || u32be(n) when n < 10240
//! file:  payload(u32le(len(envelope)) || envelope || padded file), key from the secret only,
//!        envelope = payload({"filename","size","mimeType","timestamp","version"}) under its
//!        own salt and IV, also from the secret only
//! ```
//!
//! The payload itself does not say whether it is text or a file (the server's
//! `contentType` did). [`decrypt_v3`] tells them apart by the envelope: if the inner bytes
//! start with a length whose envelope authenticates, it is a file; otherwise text.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use sha2::Sha256;

use super::{kdf_input, Kind, Metadata, V4Error, PBKDF2_ITERATIONS};

/// The version byte of a V3 payload.
pub const V3_VERSION: u8 = 0x03;
/// The shortest V3 payload: 1 + 32 + 12 header bytes and a 16-byte tag.
pub const V3_MIN_LEN: usize = 61;
/// Where the ciphertext starts.
const V3_HEADER_LEN: usize = 45;

/// The V3 AES key: PBKDF2-HMAC-SHA256 of `secret` or `secret:password`, 600,000 iterations.
pub fn derive_key_v3(secret: &str, password: Option<&str>, salt: &[u8]) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(&kdf_input(secret, password), salt, PBKDF2_ITERATIONS)
}

/// Opens one V3 payload with the key from `secret` / `password`.
fn open_v3(secret: &str, password: Option<&str>, payload: &[u8]) -> Result<Vec<u8>, V4Error> {
    if payload.len() < V3_MIN_LEN || payload[0] != V3_VERSION {
        return Err(V4Error::NotV3);
    }
    let key = derive_key_v3(secret, password, &payload[1..33]);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key));
    cipher
        .decrypt(
            Nonce::from_slice(&payload[33..45]),
            &payload[V3_HEADER_LEN..],
        )
        .map_err(|_| V4Error::WrongKey)
}

/// Decrypts a V3 payload of either kind, returning V4-style metadata and the plaintext with
/// the original's padding removed.
///
/// * The key is tried with `secret:password` first when a password is given (text clips
///   mixed it in), then with the secret alone (file clips never did: their password was
///   only the server's access code).
/// * A file's metadata comes from its envelope (`filename`, `mimeType`, `size`) and its data
///   is truncated to `size` (the original's main download path forgot to). Envelopes longer
///   than the original's 1,024-byte limit are accepted (the original ignored them, a bug).
/// * Text has its padding removed by the original's rule: when the last 4 bytes, big-endian,
///   give `m` with `0 < m < len − 4`, keep the first `m` bytes. Its metadata is
///   [`Metadata::text`] of the result's length.
pub fn decrypt_v3(
    secret: &str,
    password: Option<&str>,
    data: &[u8],
) -> Result<(Metadata, Vec<u8>), V4Error> {
    let inner = match password {
        Some(p) => match open_v3(secret, Some(p), data) {
            Err(V4Error::WrongKey) => open_v3(secret, None, data)?,
            other => other?,
        },
        None => open_v3(secret, None, data)?,
    };
    if let Some((meta, body)) = open_file(secret, &inner) {
        let mut body = body.to_vec();
        if meta.size < body.len() as u64 {
            body.truncate(meta.size as usize);
        }
        let meta = Metadata {
            size: body.len() as u64,
            ..meta
        };
        return Ok((meta, body));
    }
    let text = strip_text_padding(inner);
    Ok((Metadata::text(text.len() as u64), text))
}

/// If `inner` is `u32le(L) || envelope || data` with an envelope that opens with the secret,
/// the file's metadata and data.
fn open_file<'a>(secret: &str, inner: &'a [u8]) -> Option<(Metadata, &'a [u8])> {
    let len_bytes: [u8; 4] = inner.get(..4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len < V3_MIN_LEN {
        return None;
    }
    let envelope = inner.get(4..4usize.checked_add(len)?)?;
    if envelope[0] != V3_VERSION {
        return None;
    }
    let json = open_v3(secret, None, envelope).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let size = v
        .get("size")
        .and_then(|s| s.as_u64().or_else(|| s.as_f64().map(|f| f as u64)))
        .unwrap_or(u64::MAX);
    let meta = Metadata {
        kind: Kind::File,
        name: text("filename"),
        r#type: text("mimeType"),
        size,
    };
    Some((meta, &inner[4 + len..]))
}

/// The original's heuristic removal of text padding.
fn strip_text_padding(mut bytes: Vec<u8>) -> Vec<u8> {
    let n = bytes.len();
    if n >= 4 {
        let m = u32::from_be_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
        let m = m as usize;
        if m > 0 && m < n - 4 {
            bytes.truncate(m);
        }
    }
    bytes
}
