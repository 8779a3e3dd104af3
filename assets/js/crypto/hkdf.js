// hkdf.js — HKDF (RFC 5869) extract and expand, over HMAC-SHA-256 by default
// (SHA-512 is accepted too). Owns nothing else.

import { Hmac, hashClass } from './hmac.js';
import { toBytes } from './util.js';

/** PRK = HMAC-Hash(salt, IKM); an empty salt means HashLen zero bytes. */
export function hkdfExtract(salt, ikm, hash = 'SHA-256') {
  const H = hashClass(hash);
  salt = toBytes(salt);
  if (salt.length === 0) salt = new Uint8Array(H.outputLength);
  return new Hmac(H, salt).update(toBytes(ikm)).digest();
}

/** OKM = T(1) || T(2) || ... truncated to `length` bytes (at most 255 * HashLen). */
export function hkdfExpand(prk, info, length, hash = 'SHA-256') {
  const H = hashClass(hash);
  const hl = H.outputLength;
  if (!Number.isInteger(length) || length < 0 || length > 255 * hl) {
    throw new RangeError('hkdf: invalid output length');
  }
  info = toBytes(info);
  const mac = new Hmac(H, toBytes(prk));
  const out = new Uint8Array(length);
  let t = new Uint8Array(0);
  for (let i = 1, off = 0; off < length; i++) {
    t = mac.update(t).update(info).update(Uint8Array.of(i)).digest();
    out.set(t.subarray(0, Math.min(hl, length - off)), off);
    off += hl;
  }
  return out;
}

/** HKDF(IKM, salt, info, L) = Expand(Extract(salt, IKM), info, L). */
export function hkdf(ikm, salt, info, length, hash = 'SHA-256') {
  return hkdfExpand(hkdfExtract(salt, ikm, hash), info, length, hash);
}
