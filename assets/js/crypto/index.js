// index.js — the crypto provider the app uses. getCrypto() returns one object with the
// same async methods on both paths: WebCrypto (crypto.subtle) when it exists, else our
// own implementations from this directory. The choice is by feature detection only.
// Randomness always comes from crypto.getRandomValues. All results are Uint8Arrays.
// ECDH (P-256): ecdhGenerate() gives { privateKey, publicKey } with the public key as 65 bytes
// (uncompressed SEC1) and the private key as a value IndexedDB can store (WebCrypto: a
// non-extractable CryptoKey; fallback: 32 bytes); ecdhDerive(privateKey, peerPublic65) gives
// the 32-byte shared x coordinate. Both paths validate the peer's point with p256.js first.

import { sha256 } from './sha256.js';
import { sha512 } from './sha512.js';
import { hmac } from './hmac.js';
import { pbkdf2Async } from './pbkdf2.js';
import { hkdf } from './hkdf.js';
import { AesGcm } from './gcm.js';
import { decodePoint, generatePrivateKey, publicKeyFromPrivate, ecdh, SCALAR_LENGTH } from './p256.js';
import { toBytes, hashName, constantTimeEqual } from './util.js';

/** n bytes from crypto.getRandomValues (which fills at most 65,536 bytes per call). */
export function randomBytes(n) {
  const c = globalThis.crypto;
  if (!c || typeof c.getRandomValues !== 'function') throw new Error('crypto.getRandomValues is not available');
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) c.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

const AUTH_FAILED = 'AES-GCM: authentication failed';
const ECDH_P256 = { name: 'ECDH', namedCurve: 'P-256' };

/** Base64url without padding (for JWK fields). */
function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Is `k` a raw 32-byte private key (as the fallback makes) rather than a CryptoKey? */
const isRawPrivateKey = (k) => k instanceof Uint8Array || ArrayBuffer.isView(k) || k instanceof ArrayBuffer;

/** Provider backed by WebCrypto. */
export function nativeCrypto(subtle = globalThis.crypto.subtle) {
  const gcmParams = (nonce, aad) => {
    const p = { name: 'AES-GCM', iv: toBytes(nonce), tagLength: 128 };
    if (aad !== undefined && aad !== null) p.additionalData = toBytes(aad);
    return p;
  };
  // The imported key of the last raw key, per use: a transfer seals or opens a thousand
  // records a GiB with one key, and importing it for each took an extra round trip each.
  const imported = new Map(); // use -> { raw, key: Promise<CryptoKey> }
  const gcmKey = (key, use) => {
    const raw = toBytes(key);
    const last = imported.get(use);
    if (last && constantTimeEqual(last.raw, raw)) return last.key;
    const k = subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, [use]);
    imported.set(use, { raw: Uint8Array.from(raw), key: k });
    k.catch(() => { if (imported.get(use) && imported.get(use).key === k) imported.delete(use); });
    return k;
  };
  return {
    native: true,
    async sha256(data) { return new Uint8Array(await subtle.digest('SHA-256', toBytes(data))); },
    async sha512(data) { return new Uint8Array(await subtle.digest('SHA-512', toBytes(data))); },
    async hmac(hash, key, data) {
      const k = await subtle.importKey('raw', toBytes(key), { name: 'HMAC', hash: hashName(hash) }, false, ['sign']);
      return new Uint8Array(await subtle.sign('HMAC', k, toBytes(data)));
    },
    async pbkdf2(hash, password, salt, iterations, lengthBytes, onProgress) {
      if (onProgress) onProgress(0);
      const k = await subtle.importKey('raw', toBytes(password), 'PBKDF2', false, ['deriveBits']);
      const bits = await subtle.deriveBits(
        { name: 'PBKDF2', hash: hashName(hash), salt: toBytes(salt), iterations }, k, lengthBytes * 8);
      if (onProgress) onProgress(1);
      return new Uint8Array(bits);
    },
    async hkdf(ikm, salt, info, length) {
      const k = await subtle.importKey('raw', toBytes(ikm), 'HKDF', false, ['deriveBits']);
      const bits = await subtle.deriveBits(
        { name: 'HKDF', hash: 'SHA-256', salt: toBytes(salt), info: toBytes(info) }, k, length * 8);
      return new Uint8Array(bits);
    },
    async aesGcmEncrypt(key, nonce, plaintext, aad) {
      const k = await gcmKey(key, 'encrypt');
      return new Uint8Array(await subtle.encrypt(gcmParams(nonce, aad), k, toBytes(plaintext)));
    },
    async aesGcmDecrypt(key, nonce, data, aad) {
      const k = await gcmKey(key, 'decrypt');
      try {
        return new Uint8Array(await subtle.decrypt(gcmParams(nonce, aad), k, toBytes(data)));
      } catch (e) {
        if (e && e.name === 'OperationError') throw new Error(AUTH_FAILED);
        throw e;
      }
    },
    async ecdhGenerate() {
      const pair = await subtle.generateKey(ECDH_P256, false, ['deriveBits']);
      const publicKey = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
      return { privateKey: pair.privateKey, publicKey };
    },
    async ecdhDerive(privateKey, peerPublic) {
      const peer = toBytes(peerPublic);
      decodePoint(peer); // throws InvalidPointError; WebCrypto's own checks vary by browser
      let priv = privateKey;
      if (isRawPrivateKey(privateKey)) {
        // A raw key (made by the fallback, or fixed in a test vector) goes in as a JWK,
        // the one import format that takes a bare scalar.
        const d = toBytes(privateKey);
        const pub = publicKeyFromPrivate(d);
        const jwk = { kty: 'EC', crv: 'P-256', d: b64url(d), x: b64url(pub.subarray(1, 33)), y: b64url(pub.subarray(33)) };
        priv = await subtle.importKey('jwk', jwk, ECDH_P256, false, ['deriveBits']);
      }
      const peerKey = await subtle.importKey('raw', peer, ECDH_P256, false, []);
      return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: peerKey }, priv, 256));
    },
    randomBytes,
  };
}

/** Provider backed by our own implementations (for non-secure contexts). */
export function fallbackCrypto() {
  // Reuse the expanded key and GHASH table while the same key is used record after record.
  let lastKey = null;
  let lastGcm = null;
  const gcmFor = (key) => {
    const k = toBytes(key);
    if (!lastKey || !constantTimeEqual(lastKey, k)) {
      lastGcm = new AesGcm(k);
      lastKey = Uint8Array.from(k);
    }
    return lastGcm;
  };
  return {
    native: false,
    async sha256(data) { return sha256(toBytes(data)); },
    async sha512(data) { return sha512(toBytes(data)); },
    async hmac(hash, key, data) { return hmac(hash, toBytes(key), toBytes(data)); },
    async pbkdf2(hash, password, salt, iterations, lengthBytes, onProgress) {
      return pbkdf2Async(hash, toBytes(password), toBytes(salt), iterations, lengthBytes, onProgress);
    },
    async hkdf(ikm, salt, info, length) { return hkdf(toBytes(ikm), toBytes(salt), toBytes(info), length); },
    async aesGcmEncrypt(key, nonce, plaintext, aad) {
      return gcmFor(key).encrypt(toBytes(nonce), toBytes(plaintext), toBytes(aad));
    },
    async aesGcmDecrypt(key, nonce, data, aad) {
      return gcmFor(key).decrypt(toBytes(nonce), toBytes(data), toBytes(aad));
    },
    async ecdhGenerate() {
      const privateKey = generatePrivateKey(randomBytes);
      return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
    },
    async ecdhDerive(privateKey, peerPublic) {
      if (!isRawPrivateKey(privateKey) || toBytes(privateKey).length !== SCALAR_LENGTH) {
        // A non-extractable WebCrypto key cannot be read here; it needs the native provider.
        throw new TypeError('ECDH: the fallback needs a raw 32-byte private key');
      }
      return ecdh(toBytes(privateKey), toBytes(peerPublic));
    },
    randomBytes,
  };
}

/**
 * The provider: WebCrypto if globalThis.crypto.subtle exists, otherwise the fallback.
 * options.forceFallback selects the fallback regardless (for tests and diagnostics).
 */
export async function getCrypto(options = {}) {
  const subtle = globalThis.crypto && globalThis.crypto.subtle;
  if (subtle && !options.forceFallback) return nativeCrypto(subtle);
  return fallbackCrypto();
}
