// dropbox-crypto.js — the cryptography of drop boxes ("drop-box key wrap v1"; the Rust twin is
// src/v4/wrap.rs). A receiver's page holds a P-256 key pair; a sender encrypts each item with
// a fresh V4 content secret and wraps that secret to the receiver's public key:
//
//   (e, E)  a fresh ephemeral key pair; E is 65 bytes, uncompressed SEC1
//   Z       ECDH(e, B): the 32-byte x coordinate, B the receiver's 65-byte public key
//   K       HKDF-SHA256(ikm = Z, salt = E || B (130 bytes), info = "qopy drop-box key wrap v1", 32)
//   C       AES-256-GCM(K, nonce (12 random bytes), secret, aad = UTF-8 of the box ID)
//   wrapped 0x01 || E (65) || nonce (12) || C (secret length + 16)
//
// The fingerprint of a public key is SHA-256 of its 65 bytes: shown as the first 100 bits in
// 20 Crockford base32 characters in groups of 4 ("K3QF-8ZT1-..."), and put in links as the
// first 16 bytes in base64url. Errors are DropBoxError with a stable `kind`: bad_public_key,
// bad_version, bad_length, wrong_key (authentication failed: a changed byte, another box ID or
// another key). All crypto goes through a provider from ./crypto/index.js.

import { decodePoint, publicKeyFromPrivate } from './crypto/p256.js';
import { concatBytes, toBytes } from './crypto/util.js';
import { base64url } from './v4.js';

/** The first byte of a wrapped secret. */
export const WRAP_VERSION = 0x01;
/** The HKDF info string. */
export const WRAP_INFO = 'qopy drop-box key wrap v1';
export const PUBLIC_KEY_LENGTH = 65, NONCE_LENGTH = 12, TAG_LENGTH = 16;
/** Bytes a wrap adds to the secret: version, ephemeral key, nonce and tag (94). */
export const WRAP_OVERHEAD = 1 + PUBLIC_KEY_LENGTH + NONCE_LENGTH + TAG_LENGTH;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const utf8 = new TextEncoder();

/** A drop-box format or integrity failure; `kind` is a stable short name (see the header). */
export class DropBoxError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'DropBoxError';
    this.kind = kind;
  }
}

/** Decode and validate a 65-byte public key, as a DropBoxError when it is not one. */
function checkPublicKey(pub, what) {
  try {
    decodePoint(pub);
  } catch (e) {
    throw new DropBoxError('bad_public_key', what + ': ' + e.message);
  }
}

/** The first `count` 5-bit groups of `bytes` (most significant bit first) in Crockford base32. */
export function crockford32(bytes, count) {
  let s = '';
  for (let i = 0; i < count; i++) {
    let v = 0;
    for (let bit = i * 5; bit < i * 5 + 5; bit++) v = (v << 1) | ((bytes[bit >> 3] >> (7 - (bit & 7))) & 1);
    s += CROCKFORD[v];
  }
  return s;
}

/**
 * The fingerprint of a receiver's public key (validated first): `display` is the first 100
 * bits of SHA-256(key) as 20 Crockford base32 characters in 5 groups of 4 joined by '-';
 * `link` is the first 16 bytes of the hash in base64url without padding (22 characters).
 */
export async function fingerprint(crypto, pub) {
  const key = toBytes(pub);
  checkPublicKey(key, 'receiver key');
  const h = await crypto.sha256(key);
  const chars = crockford32(h, 20);
  return { display: chars.match(/.{4}/g).join('-'), link: base64url(h.subarray(0, 16)) };
}

/** K = HKDF-SHA256(Z, salt = E || B, info = WRAP_INFO, 32). */
async function wrapKey(crypto, shared, ephemeralPub, receiverPub) {
  return crypto.hkdf(shared, concatBytes(ephemeralPub, receiverPub), utf8.encode(WRAP_INFO), 32);
}

/**
 * The wrap itself, with the ephemeral private key (WebCrypto CryptoKey or 32 raw bytes) and
 * its public key given. Internal: exported for the shared test vectors, which fix the
 * ephemeral key and the nonce; everything else calls wrapSecret.
 */
export async function wrapSecretWith(crypto, secret, receiverPub, boxId, ephemeral, nonce) {
  const b = toBytes(receiverPub);
  checkPublicKey(b, 'receiver key');
  const n = toBytes(nonce);
  if (n.length !== NONCE_LENGTH) throw new RangeError('drop-box wrap: the nonce is 12 bytes');
  const ePub = ephemeral.publicKey ? toBytes(ephemeral.publicKey) : publicKeyFromPrivate(ephemeral.privateKey);
  const z = await crypto.ecdhDerive(ephemeral.privateKey, b);
  const k = await wrapKey(crypto, z, ePub, b);
  const c = await crypto.aesGcmEncrypt(k, n, toBytes(secret), utf8.encode(String(boxId)));
  return concatBytes(Uint8Array.of(WRAP_VERSION), ePub, n, c);
}

/**
 * Wrap `secret` (bytes, or a string taken as UTF-8) to the receiver's 65-byte public key for
 * the drop box `boxId`, with a fresh ephemeral key pair and a random nonce.
 */
export async function wrapSecret(crypto, secret, receiverPub, boxId) {
  const ephemeral = await crypto.ecdhGenerate();
  return wrapSecretWith(crypto, secret, receiverPub, boxId, ephemeral, crypto.randomBytes(NONCE_LENGTH));
}

/**
 * Unwrap with the receiver's private key (whatever its provider's ecdhGenerate made) and its
 * public key. Checks the version byte and the length, validates the ephemeral key, and
 * throws a DropBoxError (never returns wrong bytes) if anything, the box ID included, differs
 * from what was wrapped.
 */
export async function unwrapSecret(crypto, privateKey, receiverPub, wrapped, boxId) {
  const w = toBytes(wrapped);
  const b = toBytes(receiverPub);
  checkPublicKey(b, 'receiver key');
  if (w.length < 1) throw new DropBoxError('bad_length', 'drop-box wrap: empty');
  if (w[0] !== WRAP_VERSION) throw new DropBoxError('bad_version', 'drop-box wrap: unsupported version ' + w[0]);
  if (w.length < WRAP_OVERHEAD) throw new DropBoxError('bad_length', 'drop-box wrap: too short');
  const ePub = w.subarray(1, 1 + PUBLIC_KEY_LENGTH);
  checkPublicKey(ePub, 'ephemeral key');
  const nonce = w.subarray(1 + PUBLIC_KEY_LENGTH, 1 + PUBLIC_KEY_LENGTH + NONCE_LENGTH);
  const c = w.subarray(1 + PUBLIC_KEY_LENGTH + NONCE_LENGTH);
  const z = await crypto.ecdhDerive(privateKey, ePub);
  const k = await wrapKey(crypto, z, ePub, b);
  try {
    return await crypto.aesGcmDecrypt(k, nonce, c, utf8.encode(String(boxId)));
  } catch {
    throw new DropBoxError('wrong_key', 'drop-box wrap: authentication failed (damaged, another box, or another key)');
  }
}
