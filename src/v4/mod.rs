//! The client-side encrypted formats (SPEC §6): V4, Qopy's streaming format, which we read
//! and write, and V3, the original's single-message format (reference §5), which we read.
//!
//! A V4 stream is a 64-byte [`Header`] followed by AES-256-GCM records: record 0 holds the
//! [`Metadata`] JSON, records 1.. hold the content (zero-padded to the next power of two of at
//! least 1 KiB when it is shorter than 64 KiB), and the final record is shorter than the data
//! record size (possibly empty) and sealed with `last = 1` in its nonce. Every record is
//! authenticated with the header bytes as associated data, so reordering, truncation,
//! extension and tampering are all detected.
//!
//! * [`Encryptor`] / [`Decryptor`] stream in bounded memory (one record at a time);
//!   the decryptor accepts ciphertext cut anywhere (for example at upload-chunk boundaries).
//! * [`encrypt_all`] / [`decrypt_all`] / [`decrypt_any`] are one-shot conveniences.
//! * [`derive_key`] is the V4 key schedule; [`decrypt_v3`] reads the original's payloads.
//! * [`wrap`] hands a content secret to a drop box's receiver (ECDH P-256 key wrap).
//!
//! Nothing here touches the network or the server: the server only ever stores ciphertext.

mod decrypt;
mod encrypt;
mod error;
mod header;
mod v3;
pub mod wrap;

#[cfg(test)]
mod tests;

pub use decrypt::Decryptor;
pub use encrypt::{EncryptOptions, Encryptor};
pub use error::V4Error;
pub use header::{Header, Layout};
pub use v3::{decrypt_v3, derive_key_v3, V3_MIN_LEN, V3_VERSION};

use hkdf::Hkdf;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The four magic bytes that open a V4 stream: ASCII `QPY4`.
pub const MAGIC: [u8; 4] = *b"QPY4";
/// The format version byte that follows the magic.
pub const VERSION: u8 = 0x04;
/// Flags bit 0: a password is mixed into the key.
pub const FLAG_PASSWORD: u8 = 0x01;
/// Length of the header in bytes (also the associated data of every record).
pub const HEADER_LEN: usize = 64;
/// Length of the salt in the header.
pub const SALT_LEN: usize = 32;
/// Length of the nonce prefix in the header.
pub const NONCE_PREFIX_LEN: usize = 7;
/// Length of the AES-GCM tag appended to every record.
pub const TAG_LEN: usize = 16;
/// Default plaintext bytes per data record (1 MiB).
pub const DEFAULT_DATA_RECORD_SIZE: u32 = 1 << 20;
/// Default plaintext bytes of the metadata record (1 KiB).
pub const DEFAULT_METADATA_RECORD_SIZE: u32 = 1024;
/// The smallest metadata record size a header may declare.
pub const MIN_METADATA_RECORD_SIZE: u32 = 64;
/// The largest record size (data or metadata) a header may declare (64 MiB).
pub const MAX_RECORD_SIZE: u32 = 64 << 20;
/// PBKDF2-HMAC-SHA256 iterations; fixed by the format.
pub const PBKDF2_ITERATIONS: u32 = 600_000;
/// The HKDF `info` string of the content key.
pub const HKDF_INFO: &[u8] = b"qopy v4 content";
/// Content shorter than this is padded (64 KiB).
pub const PAD_BELOW: u64 = 64 * 1024;
/// Padded content is at least this long (1 KiB).
pub const MIN_PADDED: u64 = 1024;

/// What a clip holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A text clip (shown in the page).
    Text,
    /// A file (saved under `name`).
    File,
}

/// The metadata record's JSON: `{"kind":..,"name":..,"type":..,"size":..}` (in that order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Text or file.
    pub kind: Kind,
    /// The file's real name (empty for text).
    pub name: String,
    /// The MIME type (may be empty).
    #[serde(rename = "type")]
    pub r#type: String,
    /// The exact plaintext length in bytes (before padding).
    pub size: u64,
}

impl Metadata {
    /// Metadata for a text clip of `size` UTF-8 bytes: no name, type `text/plain; charset=utf-8`.
    pub fn text(size: u64) -> Metadata {
        Metadata {
            kind: Kind::Text,
            name: String::new(),
            r#type: "text/plain; charset=utf-8".to_string(),
            size,
        }
    }

    /// Metadata for a file.
    pub fn file(name: &str, mime: &str, size: u64) -> Metadata {
        Metadata {
            kind: Kind::File,
            name: name.to_string(),
            r#type: mime.to_string(),
            size,
        }
    }

    /// The compact JSON bytes that go into the metadata record (the same bytes
    /// `JSON.stringify` produces for an object with these keys in this order).
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing a struct of strings and an integer cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The PBKDF2 input: `utf8(secret)`, or `utf8(secret) || ":" || utf8(password)`.
fn kdf_input(secret: &str, password: Option<&str>) -> Vec<u8> {
    let mut input = secret.as_bytes().to_vec();
    if let Some(p) = password {
        input.push(b':');
        input.extend_from_slice(p.as_bytes());
    }
    input
}

/// `ikm = PBKDF2-HMAC-SHA256(utf8(secret) [|| ":" || utf8(password)], salt, 600000, 32)`.
pub fn derive_ikm(secret: &str, password: Option<&str>, salt: &[u8; SALT_LEN]) -> [u8; 32] {
    pbkdf2::pbkdf2_hmac_array::<Sha256, 32>(&kdf_input(secret, password), salt, PBKDF2_ITERATIONS)
}

/// `content_key = HKDF-SHA256(ikm, salt = empty, info = "qopy v4 content", 32)`.
pub fn content_key(ikm: &[u8; 32]) -> [u8; 32] {
    let hk = Hkdf::<Sha256>::new(None, ikm);
    let mut okm = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
    let _ = hk.expand(HKDF_INFO, &mut okm);
    okm
}

/// The V4 content key for a secret, an optional password and a header's salt
/// (600,000 PBKDF2 iterations, then HKDF). `Some("")` is a password like any other.
pub fn derive_key(secret: &str, password: Option<&str>, salt: &[u8; SALT_LEN]) -> [u8; 32] {
    content_key(&derive_ikm(secret, password, salt))
}

/// The length of the padded content for `size` plaintext bytes: below 64 KiB the next power
/// of two, at least 1 KiB; otherwise `size` itself.
pub fn padded_len(size: u64) -> u64 {
    if size < PAD_BELOW {
        size.next_power_of_two().max(MIN_PADDED)
    } else {
        size
    }
}

/// Encrypts `plaintext` in one go. `metadata.size` must equal `plaintext.len()`.
pub fn encrypt_all(
    secret: &str,
    password: Option<&str>,
    metadata: &Metadata,
    options: &EncryptOptions,
    plaintext: &[u8],
) -> Result<Vec<u8>, V4Error> {
    let mut enc = Encryptor::new(secret, password, metadata, options)?;
    let mut out = Vec::with_capacity(usize::try_from(enc.ciphertext_len()).unwrap_or(0));
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Decrypts a whole V4 stream, returning its metadata and the plaintext (without padding).
/// The password is used only if the header says one was mixed in.
pub fn decrypt_all(
    secret: &str,
    password: Option<&str>,
    data: &[u8],
) -> Result<(Metadata, Vec<u8>), V4Error> {
    let mut dec = Decryptor::new(secret, password);
    let mut out = Vec::new();
    dec.update(data, &mut out)?;
    let meta = dec.finish()?;
    Ok((meta, out))
}

/// Decrypts either format, chosen by the first bytes: `QPY4` → V4, `0x03` → V3.
pub fn decrypt_any(
    secret: &str,
    password: Option<&str>,
    data: &[u8],
) -> Result<(Metadata, Vec<u8>), V4Error> {
    if data.starts_with(&MAGIC) {
        decrypt_all(secret, password, data)
    } else {
        decrypt_v3(secret, password, data)
    }
}

/// A fresh URL secret: 32 random bytes in base64url without padding (43 characters).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    base64url(&bytes)
}

/// A fresh Quick Share secret: 6 characters of `A-Z0-9`, by rejection sampling (no bias).
pub fn generate_quick_share_secret() -> String {
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut out = String::with_capacity(6);
    while out.len() < 6 {
        let mut b = [0u8; 16];
        OsRng.fill_bytes(&mut b);
        for &x in b.iter().filter(|&&x| x < 252) {
            if out.len() < 6 {
                out.push(char::from(ALPHABET[usize::from(x % 36)]));
            }
        }
    }
    out
}

/// Decodes base64url (RFC 4648 §5) without padding, strictly: only the alphabet, no length
/// of the form 4n + 1, and zero bits after the last byte (so every value has one encoding).
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        } as u32)
    }
    let b = text.as_bytes();
    if b.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for group in b.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = group.len() - 1;
        // Bits below the last whole byte must be zero.
        if n & ((1 << (8 * (3 - bytes))) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..1 + bytes]);
    }
    Some(out)
}

/// Base64url (RFC 4648 §5) without padding.
pub fn base64url(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        let chars = c.len() + 1;
        for i in 0..chars {
            out.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// Fresh random bytes from the OS.
fn random_array<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// The 12-byte nonce of record `index`: `prefix || u32be(index) || last`.
fn record_nonce(prefix: &[u8; NONCE_PREFIX_LEN], index: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..7].copy_from_slice(prefix);
    n[7..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}
