//! Drop-box key wrap v1: how a sender hands a V4 content secret to a drop box's receiver, who
//! alone holds the private key (the browser twin is `assets/js/dropbox-crypto.js`; both check
//! the shared vectors in `tests/vectors/dropbox-wrap.json`).
//!
//! A receiver has a P-256 key pair; its public key travels as an uncompressed SEC1 point of 65
//! bytes (`0x04 || X || Y`) and is validated wherever it is received. To wrap a secret `S` for
//! the receiver's public key `B` and the drop box `box_id`, a sender makes a fresh ephemeral key
//! pair `(e, E)` and computes
//!
//! ```text
//! Z       = ECDH(e, B)                      the 32-byte x coordinate
//! K       = HKDF-SHA256(ikm = Z, salt = E || B (130 bytes), info = "qopy drop-box key wrap v1", 32)
//! C       = AES-256-GCM(K, nonce, S, aad = UTF-8(box_id))     nonce: 12 random bytes
//! wrapped = 0x01 || E (65) || nonce (12) || C (len(S) + 16)
//! ```
//!
//! Unwrapping checks the version byte and the length, validates `E`, and fails with
//! [`WrapError`] (never wrong bytes) if any byte, the box ID or the key differs. The
//! [`fingerprint`] of a public key lets both people compare what the server handed out.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hkdf::Hkdf;
use p256::ecdh::diffie_hellman;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::elliptic_curve::zeroize::Zeroizing;
use p256::{FieldBytes, PublicKey, SecretKey};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The first byte of a wrapped secret.
pub const WRAP_VERSION: u8 = 0x01;
/// The HKDF `info` string of the wrapping key.
pub const WRAP_INFO: &[u8] = b"qopy drop-box key wrap v1";
/// Length of a public key: an uncompressed SEC1 point.
pub const PUBLIC_KEY_LEN: usize = 65;
/// Length of a private key (a big-endian scalar in `[1, n-1]`).
pub const PRIVATE_KEY_LEN: usize = 32;
/// Length of the AES-GCM nonce in a wrap.
pub const WRAP_NONCE_LEN: usize = 12;
/// Bytes a wrap adds to the secret: version, ephemeral key, nonce and tag (94).
pub const WRAP_OVERHEAD: usize = 1 + PUBLIC_KEY_LEN + WRAP_NONCE_LEN + super::TAG_LEN;
/// The Crockford base32 alphabet of the displayed fingerprint (no I, L, O or U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Why a key, a wrap or an unwrap was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WrapError {
    /// A public key (the receiver's, or the ephemeral one inside a wrap) is not a valid
    /// uncompressed P-256 point.
    #[error("invalid public key: {0}")]
    BadPublicKey(&'static str),
    /// A private key is not 32 bytes encoding a scalar in `[1, n-1]`.
    #[error("invalid private key")]
    BadPrivateKey,
    /// The wrap's first byte is not a version we know.
    #[error("unsupported drop-box wrap version {0}")]
    UnsupportedVersion(u8),
    /// The wrap is shorter than its fixed parts.
    #[error("drop-box wrap too short ({0} bytes)")]
    TooShort(usize),
    /// Authentication failed: a changed byte, another box ID or another key.
    #[error("drop-box wrap failed authentication (damaged, another box, or another key)")]
    WrongKey,
    /// AES-GCM refused to encrypt (a secret far beyond any real one).
    #[error("secret too long to wrap")]
    SecretTooLong,
}

/// A receiver's key pair. The private key is wiped from memory when the pair is dropped.
#[derive(Clone)]
pub struct KeyPair {
    secret: SecretKey,
    public: [u8; PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for KeyPair {
    /// Shows the public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &hex::encode(self.public))
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// A fresh key pair from the operating system's random generator.
    pub fn generate() -> KeyPair {
        KeyPair::from_secret(SecretKey::random(&mut OsRng))
    }

    /// The key pair of a stored private key: 32 big-endian bytes in `[1, n-1]`.
    pub fn from_private_bytes(bytes: &[u8]) -> Result<KeyPair, WrapError> {
        Ok(KeyPair::from_secret(secret_from_bytes(bytes)?))
    }

    /// The private key as 32 big-endian bytes (for storing it; wiped when dropped).
    pub fn private_bytes(&self) -> Zeroizing<[u8; PRIVATE_KEY_LEN]> {
        Zeroizing::new(self.secret.to_bytes().into())
    }

    /// The public key: 65 bytes, `0x04 || X || Y`.
    pub fn public_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.public
    }

    fn from_secret(secret: SecretKey) -> KeyPair {
        let public = encode_point(&secret.public_key());
        KeyPair { secret, public }
    }
}

/// A private key from exactly 32 bytes (`SecretKey::from_slice` would also take shorter ones).
fn secret_from_bytes(bytes: &[u8]) -> Result<SecretKey, WrapError> {
    if bytes.len() != PRIVATE_KEY_LEN {
        return Err(WrapError::BadPrivateKey);
    }
    SecretKey::from_bytes(FieldBytes::from_slice(bytes)).map_err(|_| WrapError::BadPrivateKey)
}

/// The 65-byte uncompressed encoding of a point.
fn encode_point(key: &PublicKey) -> [u8; PUBLIC_KEY_LEN] {
    let mut out = [0u8; PUBLIC_KEY_LEN];
    out.copy_from_slice(key.to_encoded_point(false).as_bytes());
    out
}

/// Decodes and validates a received public key: exactly 65 bytes, prefix `0x04`, both
/// coordinates below p, on the curve (which excludes the point at infinity; the cofactor is 1).
pub fn parse_public_key(bytes: &[u8]) -> Result<PublicKey, WrapError> {
    if bytes == [0u8] {
        return Err(WrapError::BadPublicKey("the point at infinity"));
    }
    if bytes.len() != PUBLIC_KEY_LEN {
        return Err(WrapError::BadPublicKey("not 65 bytes"));
    }
    if bytes[0] != 0x04 {
        return Err(WrapError::BadPublicKey("not an uncompressed point"));
    }
    // The crate refuses coordinates >= p and points off the curve.
    PublicKey::from_sec1_bytes(bytes).map_err(|_| WrapError::BadPublicKey("not a point on P-256"))
}

/// The fingerprint of a public key (validated first), as `(display, link)`: SHA-256 of the 65
/// bytes; `display` is its first 100 bits as 20 Crockford base32 characters in 5 groups of 4
/// joined by `-`, `link` its first 16 bytes in base64url without padding (22 characters).
pub fn fingerprint(public_key: &[u8]) -> Result<(String, String), WrapError> {
    parse_public_key(public_key)?;
    let hash = Sha256::digest(public_key);
    let mut display = String::with_capacity(24);
    for i in 0..20 {
        if i > 0 && i % 4 == 0 {
            display.push('-');
        }
        // Character i is bits 5i .. 5i+5 of the hash, most significant bit first.
        let mut v = 0usize;
        for bit in i * 5..i * 5 + 5 {
            v = (v << 1) | usize::from((hash[bit / 8] >> (7 - bit % 8)) & 1);
        }
        display.push(char::from(CROCKFORD[v]));
    }
    Ok((display, super::base64url(&hash[..16])))
}

/// `K = HKDF-SHA256(ikm = Z, salt = E || B, info = WRAP_INFO, 32)`.
fn wrap_key(
    shared: &[u8],
    ephemeral: &[u8; PUBLIC_KEY_LEN],
    receiver: &[u8; PUBLIC_KEY_LEN],
) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 2 * PUBLIC_KEY_LEN];
    salt[..PUBLIC_KEY_LEN].copy_from_slice(ephemeral);
    salt[PUBLIC_KEY_LEN..].copy_from_slice(receiver);
    let hk = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
    let _ = hk.expand(WRAP_INFO, key.as_mut());
    key
}

/// The AES-256-GCM cipher under the wrapping key of `secret`·`peer` for the pair `(e_pub, b_pub)`.
fn wrap_cipher(
    secret: &SecretKey,
    peer: &PublicKey,
    e_pub: &[u8; PUBLIC_KEY_LEN],
    b_pub: &[u8; PUBLIC_KEY_LEN],
) -> Aes256Gcm {
    let shared = diffie_hellman(secret.to_nonzero_scalar(), peer.as_affine());
    let key = wrap_key(shared.raw_secret_bytes(), e_pub, b_pub);
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key.as_ref()))
}

/// Wraps `secret` (for example a V4 URL secret's UTF-8 bytes) to the receiver's 65-byte public
/// key for the drop box `box_id`, with a fresh ephemeral key pair and a random nonce.
pub fn wrap_secret(secret: &[u8], receiver_pub: &[u8], box_id: &str) -> Result<Vec<u8>, WrapError> {
    let mut nonce = [0u8; WRAP_NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    wrap_with(
        secret,
        receiver_pub,
        box_id,
        &SecretKey::random(&mut OsRng),
        &nonce,
    )
}

/// The wrap with its ephemeral private key and nonce given: the deterministic core of
/// [`wrap_secret`], which the tests drive with the shared vectors' fixed values.
fn wrap_with(
    secret: &[u8],
    receiver_pub: &[u8],
    box_id: &str,
    ephemeral: &SecretKey,
    nonce: &[u8; WRAP_NONCE_LEN],
) -> Result<Vec<u8>, WrapError> {
    let receiver = parse_public_key(receiver_pub)?;
    let b_pub = encode_point(&receiver);
    let e_pub = encode_point(&ephemeral.public_key());
    let cipher = wrap_cipher(ephemeral, &receiver, &e_pub, &b_pub);
    let payload = Payload {
        msg: secret,
        aad: box_id.as_bytes(),
    };
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce), payload)
        .map_err(|_| WrapError::SecretTooLong)?;
    let mut out = Vec::with_capacity(1 + PUBLIC_KEY_LEN + WRAP_NONCE_LEN + sealed.len());
    out.push(WRAP_VERSION);
    out.extend_from_slice(&e_pub);
    out.extend_from_slice(nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Unwraps a secret wrapped to `keys` for the drop box `box_id`: checks the version byte and the
/// length, validates the ephemeral key, and returns [`WrapError::WrongKey`] if the wrap does
/// not authenticate (a changed byte, another box ID, or a wrap for another key).
pub fn unwrap_secret(keys: &KeyPair, wrapped: &[u8], box_id: &str) -> Result<Vec<u8>, WrapError> {
    let Some(&version) = wrapped.first() else {
        return Err(WrapError::TooShort(0));
    };
    if version != WRAP_VERSION {
        return Err(WrapError::UnsupportedVersion(version));
    }
    if wrapped.len() < WRAP_OVERHEAD {
        return Err(WrapError::TooShort(wrapped.len()));
    }
    let (e_bytes, rest) = wrapped[1..].split_at(PUBLIC_KEY_LEN);
    let (nonce, sealed) = rest.split_at(WRAP_NONCE_LEN);
    let ephemeral = parse_public_key(e_bytes)?;
    let e_pub = encode_point(&ephemeral);
    let cipher = wrap_cipher(&keys.secret, &ephemeral, &e_pub, &keys.public);
    let payload = Payload {
        msg: sealed,
        aad: box_id.as_bytes(),
    };
    cipher
        .decrypt(Nonce::from_slice(nonce), payload)
        .map_err(|_| WrapError::WrongKey)
}

// The tests (shared vectors, round trips, tampering) live beside this file; as a child module
// they can drive the private deterministic `wrap_with`.
#[cfg(test)]
#[path = "wrap_tests.rs"]
mod tests;
