// Tests of our P-256 ECDH (assets/js/crypto/p256.js) and of the providers' ecdhGenerate and
// ecdhDerive (assets/js/crypto/index.js): NIST CAVS ECC CDH vectors (tests/vectors/p256-ecdh.json),
// cross-checks against node's WebCrypto and OpenSSL on random keys in both directions, edge
// scalars, point validation, and speed. Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createECDH } from 'node:crypto';

import {
  P, N, B, decodePoint, encodePoint, ecdh, publicKeyFromPrivate, generatePrivateKey,
  isValidPrivateKey, InvalidPointError,
} from '../../assets/js/crypto/p256.js';
import { fallbackCrypto, nativeCrypto, randomBytes } from '../../assets/js/crypto/index.js';
import { toHex, fromHex } from '../../assets/js/crypto/util.js';

const V = JSON.parse(readFileSync(new URL('../vectors/p256-ecdh.json', import.meta.url), 'utf8'));
const subtle = globalThis.crypto.subtle;
const ALG = { name: 'ECDH', namedCurve: 'P-256' };
const big32 = (v) => fromHex(v.toString(16).padStart(64, '0'));
const pointHex = (x, y) => '04' + x + y;

/** OpenSSL's public key for a private key, and its ECDH with a peer. */
function openssl(priv, peer) {
  const e = createECDH('prime256v1');
  e.setPrivateKey(Buffer.from(priv));
  return {
    pub: new Uint8Array(e.getPublicKey(null, 'uncompressed')),
    z: peer ? new Uint8Array(e.computeSecret(Buffer.from(peer))) : null,
  };
}

/** WebCrypto's ECDH of its own key pair with a 65-byte peer key. */
async function webDerive(privKey, peer) {
  const pk = await subtle.importKey('raw', peer, ALG, true, []);
  return new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: pk }, privKey, 256));
}

test('NIST CAVS ECC CDH P-256 vectors: public keys and shared secrets, ours and both providers', async () => {
  assert.ok(V.vectors.length >= 5);
  for (const v of V.vectors) {
    const d = fromHex(v.dIUT);
    const peer = fromHex(pointHex(v.QCAVSx, v.QCAVSy));
    assert.equal(toHex(publicKeyFromPrivate(d)), pointHex(v.QIUTx, v.QIUTy), `QIUT of COUNT ${v.count}`);
    assert.equal(toHex(ecdh(d, peer)), v.ZIUT, `Z of COUNT ${v.count}`);
    // The other side of the exchange gives the same Z from its own public key.
    for (const c of [fallbackCrypto(), nativeCrypto()]) {
      assert.equal(toHex(await c.ecdhDerive(d, peer)), v.ZIUT, `native=${c.native} COUNT ${v.count}`);
    }
  }
});

test('public keys of random and edge scalars agree with OpenSSL', () => {
  const edges = [1n, 2n, 3n, 15n, 16n, 17n, N - 1n, N - 2n, N >> 1n, 1n << 255n, (1n << 252n) + 1n, 0xf0f0n << 200n];
  const scalars = edges.map(big32);
  for (let i = 0; i < 100; i++) scalars.push(generatePrivateKey(randomBytes));
  for (const d of scalars) assert.equal(toHex(publicKeyFromPrivate(d)), toHex(openssl(d).pub), toHex(d));
  // 1·G is G itself, and (n-1)·G is -G: the same x, y negated.
  const g = decodePoint(publicKeyFromPrivate(big32(1n)));
  const minus = decodePoint(publicKeyFromPrivate(big32(N - 1n)));
  assert.equal(minus.x, g.x);
  assert.equal(minus.y, P - g.y);
});

test('ECDH with scalar 1 and n-1 gives the peer x; 0, n and wrong lengths are refused', () => {
  const q = openssl(generatePrivateKey(randomBytes)).pub;
  const qx = toHex(q.subarray(1, 33));
  assert.equal(toHex(ecdh(big32(1n), q)), qx);
  assert.equal(toHex(ecdh(big32(N - 1n), q)), qx);
  for (const bad of [big32(0n), big32(N), big32(N + 1n), fromHex('ff'.repeat(32)), new Uint8Array(31), new Uint8Array(33)]) {
    assert.equal(isValidPrivateKey(bad), false);
    assert.throws(() => ecdh(bad, q), RangeError);
    assert.throws(() => publicKeyFromPrivate(bad), RangeError);
  }
});

test('fallback and WebCrypto agree on random key pairs, in both directions', async () => {
  const fb = fallbackCrypto();
  const nat = nativeCrypto();
  for (let i = 0; i < 60; i++) {
    // Fallback key pair against a WebCrypto key pair.
    const a = await fb.ecdhGenerate();
    const w = await subtle.generateKey(ALG, true, ['deriveBits']);
    const wPub = new Uint8Array(await subtle.exportKey('raw', w.publicKey));
    const z1 = await fb.ecdhDerive(a.privateKey, wPub);
    const z2 = await webDerive(w.privateKey, a.publicKey);
    assert.equal(toHex(z1), toHex(z2));
    // WebCrypto's private scalar through our code gives its own public key.
    const jwk = await subtle.exportKey('jwk', w.privateKey);
    const d = new Uint8Array(Buffer.from(jwk.d, 'base64url'));
    assert.equal(toHex(publicKeyFromPrivate(d)), toHex(wPub));
    // The native provider's pair against ours.
    const n = await nat.ecdhGenerate();
    assert.equal(toHex(await nat.ecdhDerive(n.privateKey, a.publicKey)), toHex(await fb.ecdhDerive(a.privateKey, n.publicKey)));
  }
});

test('ecdhGenerate: native keys are non-extractable CryptoKeys, fallback keys 32 bytes; both clone', async () => {
  const n = await nativeCrypto().ecdhGenerate();
  assert.ok(n.privateKey instanceof CryptoKey);
  assert.equal(n.privateKey.extractable, false);
  assert.deepEqual(n.privateKey.usages, ['deriveBits']);
  assert.equal(n.publicKey.length, 65);
  assert.equal(n.publicKey[0], 4);
  decodePoint(n.publicKey);
  const f = await fallbackCrypto().ecdhGenerate();
  assert.ok(f.privateKey instanceof Uint8Array);
  assert.equal(f.privateKey.length, 32);
  assert.ok(isValidPrivateKey(f.privateKey));
  assert.equal(toHex(f.publicKey), toHex(openssl(f.privateKey).pub));
  // IndexedDB stores values by structured clone: both kinds survive it and still work.
  const peer = (await fallbackCrypto().ecdhGenerate()).publicKey;
  const nc = structuredClone(n.privateKey);
  assert.equal(toHex(await nativeCrypto().ecdhDerive(nc, peer)), toHex(await nativeCrypto().ecdhDerive(n.privateKey, peer)));
  const fc = structuredClone(f.privateKey);
  assert.equal(toHex(await fallbackCrypto().ecdhDerive(fc, peer)), toHex(await fallbackCrypto().ecdhDerive(f.privateKey, peer)));
  // The fallback cannot use a WebCrypto key (it cannot read it).
  await assert.rejects(fallbackCrypto().ecdhDerive(n.privateKey, peer), TypeError);
});

/** A point whose x is below 2^256 - p, so x + p still fits in 32 bytes (found by search). */
function pointWithSmallX() {
  for (let x = 0n; ; x++) {
    const rhs = (((x * x * x - 3n * x + B) % P) + P) % P;
    let y = 1n; // rhs^((p+1)/4) is a square root when one exists (p ≡ 3 mod 4)
    for (let b = rhs, e = (P + 1n) / 4n; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) y = (y * b) % P;
    if ((y * y) % P === rhs) return { x, y };
  }
}

test('point validation refuses every malformed or off-curve key, in ours and both providers', async () => {
  const good = openssl(generatePrivateKey(randomBytes)).pub;
  const { x, y } = decodePoint(good);
  const small = pointWithSmallX();
  decodePoint(encodePoint(small)); // the canonical encoding is fine
  const bad = {
    'off the curve (y + 1)': encodePoint({ x, y: (y + 1n) % P }),
    'off the curve (a flipped bit of x)': (() => { const b = good.slice(); b[10] ^= 1; return b; })(),
    'too short (64 bytes)': good.subarray(0, 64),
    'too long (66 bytes)': Uint8Array.from([...good, 0]),
    'bare x || y': good.subarray(1),
    'compressed (33 bytes)': Uint8Array.from([2 + Number(y & 1n), ...good.subarray(1, 33)]),
    'prefix 0x06 (hybrid)': Uint8Array.from([6 + Number(y & 1n), ...good.subarray(1)]),
    'prefix 0x00': Uint8Array.from([0, ...good.subarray(1)]),
    'prefix 0x05': Uint8Array.from([5, ...good.subarray(1)]),
    'x >= p (x + p of a real point)': Uint8Array.from([4, ...big32(small.x + P), ...big32(small.y)]),
    'y >= p (y = p)': Uint8Array.from([4, ...big32(x), ...big32(P)]),
    'y >= p (all ones)': Uint8Array.from([4, ...big32(x), ...new Uint8Array(32).fill(255)]),
    'x = p, y = 0': Uint8Array.from([4, ...big32(P), ...big32(0n)]),
    'infinity (single 0x00 byte)': Uint8Array.of(0),
    'infinity as 0x04 and zeros': Uint8Array.from([4, ...new Uint8Array(64)]),
    'empty': new Uint8Array(0),
  };
  const priv = generatePrivateKey(randomBytes);
  const nKey = (await nativeCrypto().ecdhGenerate()).privateKey;
  for (const [what, b] of Object.entries(bad)) {
    assert.throws(() => decodePoint(b), InvalidPointError, what);
    assert.throws(() => ecdh(priv, b), InvalidPointError, what);
    await assert.rejects(fallbackCrypto().ecdhDerive(priv, b), InvalidPointError, what);
    await assert.rejects(nativeCrypto().ecdhDerive(nKey, b), InvalidPointError, what);
  }
  assert.throws(() => decodePoint(bad['x >= p (x + p of a real point)']), /below p/);
  assert.throws(() => decodePoint(bad['off the curve (y + 1)']), /not on the curve/);
});

test('one ECDH (key generation and derivation) takes well under 100 ms', async () => {
  const fb = fallbackCrypto();
  const peer = (await fb.ecdhGenerate()).publicKey;
  const times = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    const k = await fb.ecdhGenerate();
    await fb.ecdhDerive(k.privateKey, peer);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  assert.ok(times[7] < 50, `median ${times[7].toFixed(1)} ms`);
});
