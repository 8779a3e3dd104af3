// hmac.js — HMAC (RFC 2104 / FIPS 198-1) over SHA-256 or SHA-512.
// Owns: the hash registry by name, the reusable keyed Hmac class (the ipad/opad key
// blocks are hashed once and the resulting states cloned per message) and hmac().

import { Sha256 } from './sha256.js';
import { Sha512 } from './sha512.js';
import { toBytes, hashName } from './util.js';

const HASHES = { 'SHA-256': Sha256, 'SHA-512': Sha512 };

/** Hasher class for 'SHA-256' / 'SHA-512' (also accepts 'sha256', {name: ...}). */
export function hashClass(name) {
  return HASHES[hashName(name)];
}

/** A keyed HMAC. Reusable: each update()/digest() cycle starts from the keyed state. */
export class Hmac {
  constructor(hash, key) {
    const H = typeof hash === 'function' ? hash : hashClass(hash);
    key = toBytes(key);
    const bl = H.blockLength;
    const block = new Uint8Array(bl);
    if (key.length > bl) block.set(new H().update(key).digest());
    else block.set(key);
    for (let i = 0; i < bl; i++) block[i] ^= 0x36;
    /** Hasher state after absorbing key ^ ipad (exactly one block). */
    this.innerKeyed = new H().update(block);
    for (let i = 0; i < bl; i++) block[i] ^= 0x36 ^ 0x5c;
    /** Hasher state after absorbing key ^ opad (exactly one block). */
    this.outerKeyed = new H().update(block);
    block.fill(0);
    this.outputLength = H.outputLength;
    this.inner = this.innerKeyed.clone();
  }

  update(data) {
    this.inner.update(data);
    return this;
  }

  /** Finish the current message and reset for the next one. */
  digest() {
    const innerHash = this.inner.digest();
    this.inner = this.innerKeyed.clone();
    return this.outerKeyed.clone().update(innerHash).digest();
  }
}

/** One-shot HMAC: hmac('SHA-256' | 'SHA-512', key, data) → Uint8Array. */
export function hmac(hash, key, data) {
  return new Hmac(hash, key).update(data).digest();
}
