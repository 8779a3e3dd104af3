// Known-answer and cross-check tests for the browser crypto fallback (assets/js/crypto).
// Every published vector in tests/vectors/primitives.json is run against our
// implementations and against WebCrypto (globalThis.crypto.subtle) on the same inputs;
// then random inputs are cross-checked between the two. Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createCipheriv } from 'node:crypto';

import { Sha256, sha256 } from '../../assets/js/crypto/sha256.js';
import { Sha512, sha512 } from '../../assets/js/crypto/sha512.js';
import { hmac, Hmac } from '../../assets/js/crypto/hmac.js';
import { pbkdf2, pbkdf2Async } from '../../assets/js/crypto/pbkdf2.js';
import { hkdf, hkdfExtract, hkdfExpand } from '../../assets/js/crypto/hkdf.js';
import { Aes256 } from '../../assets/js/crypto/aes.js';
import { AesGcm } from '../../assets/js/crypto/gcm.js';
import { getCrypto, fallbackCrypto, nativeCrypto } from '../../assets/js/crypto/index.js';
import { toHex, fromHex } from '../../assets/js/crypto/util.js';

const V = JSON.parse(readFileSync(new URL('../vectors/primitives.json', import.meta.url), 'utf8'));
const subtle = globalThis.crypto.subtle;
const H = (s) => fromHex(s);
const rnd = (n) => {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
};
const rint = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
const repeatBytes = (hex, n) => {
  const unit = H(hex);
  const out = new Uint8Array(unit.length * n);
  for (let i = 0; i < n; i++) out.set(unit, i * unit.length);
  return out;
};
/** Feed data to a hasher in random-sized pieces. */
function hashInPieces(Cls, data) {
  const h = new Cls();
  for (let o = 0; o < data.length;) {
    const n = Math.min(data.length - o, rint(0, 300));
    h.update(data.subarray(o, o + n));
    o += n;
  }
  return h.digest();
}
async function webHmac(hash, key, data) {
  const k = await subtle.importKey('raw', key, { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, data));
}
async function webPbkdf2(hash, password, salt, iterations, length) {
  const k = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'PBKDF2', hash, salt, iterations }, k, length * 8));
}
async function webHkdf(ikm, salt, info, length) {
  const k = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, k, length * 8));
}
/** AES-256-GCM encryption by OpenSSL (node:crypto), for IVs Node's WebCrypto refuses. */
function opensslGcmEncrypt(key, iv, pt, aad) {
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(aad);
  return new Uint8Array(Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]));
}
async function webGcm(op, key, iv, data, aad) {
  const k = await subtle.importKey('raw', key, 'AES-GCM', false, [op]);
  return new Uint8Array(await subtle[op]({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, k, data));
}

test('SHA-256 and SHA-512: FIPS 180 examples, ours and WebCrypto', async () => {
  for (const v of V.sha) {
    const msg = repeatBytes(v.msg, v.repeat);
    assert.equal(toHex(sha256(msg)), v.sha256, `ours sha256 ${v.name}`);
    assert.equal(toHex(sha512(msg)), v.sha512, `ours sha512 ${v.name}`);
    assert.equal(toHex(hashInPieces(Sha256, msg)), v.sha256, `ours incremental sha256 ${v.name}`);
    assert.equal(toHex(hashInPieces(Sha512, msg)), v.sha512, `ours incremental sha512 ${v.name}`);
    assert.equal(toHex(new Uint8Array(await subtle.digest('SHA-256', msg))), v.sha256, `webcrypto sha256 ${v.name}`);
    assert.equal(toHex(new Uint8Array(await subtle.digest('SHA-512', msg))), v.sha512, `webcrypto sha512 ${v.name}`);
  }
});

test('HMAC-SHA256 and HMAC-SHA512: RFC 4231 test cases 1-7, ours and WebCrypto', async () => {
  assert.equal(V.hmac.length, 7);
  for (const v of V.hmac) {
    for (const [hash, exp] of [['SHA-256', v.sha256], ['SHA-512', v.sha512]]) {
      const cut = (b) => toHex(b).slice(0, exp.length);
      assert.equal(cut(hmac(hash, H(v.key), H(v.data))), exp, `ours ${hash} ${v.name}`);
      assert.equal(cut(await webHmac(hash, H(v.key), H(v.data))), exp, `webcrypto ${hash} ${v.name}`);
    }
  }
  // A keyed Hmac object is reusable across messages.
  const m = new Hmac('SHA-256', H(V.hmac[0].key));
  assert.equal(toHex(m.update(H(V.hmac[0].data)).digest()), V.hmac[0].sha256);
  assert.equal(toHex(m.update(H(V.hmac[0].data)).digest()), V.hmac[0].sha256);
});

test('HKDF-SHA256: RFC 5869 test cases 1-3, ours and WebCrypto', async () => {
  assert.equal(V.hkdf.length, 3);
  for (const v of V.hkdf) {
    const prk = hkdfExtract(H(v.salt), H(v.ikm));
    assert.equal(toHex(prk), v.prk, `ours extract ${v.name}`);
    assert.equal(toHex(hkdfExpand(prk, H(v.info), v.length)), v.okm, `ours expand ${v.name}`);
    assert.equal(toHex(hkdf(H(v.ikm), H(v.salt), H(v.info), v.length)), v.okm, `ours ${v.name}`);
    assert.equal(toHex(await webHkdf(H(v.ikm), H(v.salt), H(v.info), v.length)), v.okm, `webcrypto ${v.name}`);
  }
  assert.throws(() => hkdfExpand(new Uint8Array(32), new Uint8Array(0), 255 * 32 + 1));
});

test('PBKDF2-HMAC-SHA256 and -SHA512: published vectors, ours (sync and async) and WebCrypto', async () => {
  for (const v of V.pbkdf2) {
    const args = [H(v.password), H(v.salt), v.iterations, v.length];
    assert.equal(toHex(pbkdf2(v.hash, ...args)), v.dk, `ours ${v.name}`);
    assert.equal(toHex(await pbkdf2Async(v.hash, ...args)), v.dk, `ours async ${v.name}`);
    assert.equal(toHex(await webPbkdf2(v.hash, ...args)), v.dk, `webcrypto ${v.name}`);
  }
});

test('AES-256 block: FIPS 197 C.3', () => {
  for (const v of V.aes) assert.equal(toHex(new Aes256(H(v.key)).encryptBlock(H(v.pt))), v.ct, v.name);
});

test('AES-256-GCM: McGrew-Viega test cases 13-18, ours and WebCrypto, with tamper detection', async () => {
  assert.equal(V.gcm.length, 6);
  for (const v of V.gcm) {
    const [key, iv, aad, pt] = [H(v.key), H(v.iv), H(v.aad), H(v.pt)];
    const g = new AesGcm(key);
    const sealed = g.encrypt(iv, pt, aad);
    assert.equal(toHex(sealed), v.ct + v.tag, `ours encrypt ${v.name}`);
    assert.equal(toHex(g.decrypt(iv, sealed, aad)), v.pt, `ours decrypt ${v.name}`);
    const bad = sealed.slice();
    bad[bad.length - 1] ^= 1;
    assert.throws(() => g.decrypt(iv, bad, aad), /authentication failed/, `tag tamper ${v.name}`);
    if (iv.length < 12) {
      // Node's WebCrypto refuses IVs shorter than 96 bits (test case 17); OpenSSL does not.
      await assert.rejects(webGcm('encrypt', key, iv, pt, aad));
      assert.equal(toHex(opensslGcmEncrypt(key, iv, pt, aad)), v.ct + v.tag, `openssl encrypt ${v.name}`);
      continue;
    }
    assert.equal(toHex(await webGcm('encrypt', key, iv, pt, aad)), v.ct + v.tag, `webcrypto encrypt ${v.name}`);
    assert.equal(toHex(await webGcm('decrypt', key, iv, sealed, aad)), v.pt, `webcrypto decrypt ${v.name}`);
    await assert.rejects(webGcm('decrypt', key, iv, bad, aad));
  }
});

test('random cross-check vs WebCrypto: SHA-256, SHA-512, HMAC, HKDF (lengths 0..5000)', async () => {
  for (let i = 0; i < 60; i++) {
    const data = rnd(rint(0, 5000));
    assert.equal(toHex(hashInPieces(Sha256, data)), toHex(new Uint8Array(await subtle.digest('SHA-256', data))), `sha256 len ${data.length}`);
    assert.equal(toHex(sha512(data)), toHex(new Uint8Array(await subtle.digest('SHA-512', data))), `sha512 len ${data.length}`);
    const key = rnd(rint(1, 200));
    for (const hash of ['SHA-256', 'SHA-512']) {
      assert.equal(toHex(hmac(hash, key, data)), toHex(await webHmac(hash, key, data)), `hmac ${hash} key ${key.length} data ${data.length}`);
    }
    const [ikm, salt, info, len] = [rnd(rint(1, 100)), rnd(rint(0, 100)), rnd(rint(0, 100)), rint(1, 255 * 32)];
    assert.equal(toHex(hkdf(ikm, salt, info, len)), toHex(await webHkdf(ikm, salt, info, len)), `hkdf len ${len}`);
  }
});

test('random cross-check vs WebCrypto: PBKDF2 with multi-block outputs', async () => {
  for (let i = 0; i < 12; i++) {
    const hash = i % 2 ? 'SHA-512' : 'SHA-256';
    const [pw, salt, it, len] = [rnd(rint(1, 150)), rnd(rint(0, 64)), rint(1, 300), rint(1, 200)];
    assert.equal(toHex(pbkdf2(hash, pw, salt, it, len)), toHex(await webPbkdf2(hash, pw, salt, it, len)), `${hash} it ${it} len ${len}`);
  }
});

test('random cross-check vs WebCrypto: AES-256-GCM both directions and tampering (lengths 0..5000)', async () => {
  for (let i = 0; i < 150; i++) {
    const key = rnd(32);
    const iv = rnd(i % 10 === 9 ? rint(13, 64) : 12); // Node's WebCrypto needs >= 12 bytes
    const pt = rnd(rint(0, 5000));
    const aad = rnd(rint(0, 100));
    const g = new AesGcm(key);
    const ours = g.encrypt(iv, pt, aad);
    const theirs = await webGcm('encrypt', key, iv, pt, aad);
    const what = `iv ${iv.length} pt ${pt.length} aad ${aad.length}`;
    assert.equal(toHex(ours), toHex(theirs), `encrypt ${what}`);
    assert.equal(toHex(g.decrypt(iv, theirs, aad)), toHex(pt), `ours decrypts webcrypto ${what}`);
    assert.equal(toHex(await webGcm('decrypt', key, iv, ours, aad)), toHex(pt), `webcrypto decrypts ours ${what}`);
    // Flip one bit in the ciphertext, the tag or the AAD: both must refuse.
    const bad = ours.slice();
    const pos = rint(0, bad.length - 1);
    bad[pos] ^= 1 << rint(0, 7);
    assert.throws(() => g.decrypt(iv, bad, aad), /authentication failed/, `tamper at ${pos} ${what}`);
    await assert.rejects(webGcm('decrypt', key, iv, bad, aad), `webcrypto tamper ${what}`);
    if (aad.length > 0) {
      const badAad = aad.slice();
      badAad[rint(0, aad.length - 1)] ^= 0x80;
      assert.throws(() => g.decrypt(iv, ours, badAad), /authentication failed/);
    }
    assert.throws(() => g.decrypt(iv, ours.subarray(0, ours.length - 1), aad), `truncated ${what}`);
  }
});

test('random cross-check vs OpenSSL: AES-256-GCM with IVs of 1..11 bytes', () => {
  for (let i = 0; i < 40; i++) {
    const [key, iv, pt, aad] = [rnd(32), rnd(rint(1, 11)), rnd(rint(0, 2000)), rnd(rint(0, 40))];
    const g = new AesGcm(key);
    const ours = g.encrypt(iv, pt, aad);
    assert.equal(toHex(ours), toHex(opensslGcmEncrypt(key, iv, pt, aad)), `iv ${iv.length} pt ${pt.length}`);
    assert.equal(toHex(g.decrypt(iv, ours, aad)), toHex(pt));
  }
});

test('provider: same results on the native and the fallback path', async () => {
  const native = await getCrypto();
  assert.equal(native.native, true, 'Node 20 has crypto.subtle, so the native path is chosen');
  const fb = await getCrypto({ forceFallback: true });
  assert.equal(fb.native, false);
  for (const p of [native, fb, nativeCrypto(subtle), fallbackCrypto()]) {
    const which = p.native ? 'native' : 'fallback';
    for (const v of V.sha.slice(0, 4)) {
      assert.equal(toHex(await p.sha256(H(v.msg))), v.sha256, `${which} sha256`);
      assert.equal(toHex(await p.sha512(H(v.msg))), v.sha512, `${which} sha512`);
    }
    for (const v of V.hmac) {
      assert.equal(toHex(await p.hmac('SHA-256', H(v.key), H(v.data))).slice(0, v.sha256.length), v.sha256, `${which} hmac`);
      assert.equal(toHex(await p.hmac('SHA-512', H(v.key), H(v.data))).slice(0, v.sha512.length), v.sha512, `${which} hmac`);
    }
    for (const v of V.hkdf) assert.equal(toHex(await p.hkdf(H(v.ikm), H(v.salt), H(v.info), v.length)), v.okm, `${which} hkdf`);
    for (const v of V.pbkdf2.filter((x) => x.iterations <= 4096)) {
      const progress = [];
      const dk = await p.pbkdf2(v.hash, H(v.password), H(v.salt), v.iterations, v.length, (f) => progress.push(f));
      assert.equal(toHex(dk), v.dk, `${which} pbkdf2 ${v.name}`);
      assert.equal(progress.at(-1), 1, `${which} pbkdf2 progress ends at 1`);
    }
    for (const v of V.gcm.filter((x) => x.iv.length >= 24 || !p.native)) {
      const sealed = await p.aesGcmEncrypt(H(v.key), H(v.iv), H(v.pt), H(v.aad));
      assert.equal(toHex(sealed), v.ct + v.tag, `${which} gcm ${v.name}`);
      assert.equal(toHex(await p.aesGcmDecrypt(H(v.key), H(v.iv), sealed, H(v.aad))), v.pt);
      sealed[0] ^= 1;
      await assert.rejects(p.aesGcmDecrypt(H(v.key), H(v.iv), sealed, H(v.aad)), /authentication failed/);
    }
    // Omitted AAD means empty AAD on both paths.
    const key = rnd(32), iv = rnd(12), pt = rnd(100);
    const sealed = await p.aesGcmEncrypt(key, iv, pt);
    assert.equal(toHex(sealed), toHex(await webGcm('encrypt', key, iv, pt, new Uint8Array(0))));
    const r = p.randomBytes(70000);
    assert.equal(r.length, 70000);
    assert.ok(r.subarray(65536).some((x) => x !== 0), 'randomBytes fills past 65,536 bytes');
  }
});

test('provider: feature detection picks the fallback when crypto.subtle is missing', async () => {
  const desc = Object.getOwnPropertyDescriptor(globalThis, 'crypto');
  const real = globalThis.crypto;
  Object.defineProperty(globalThis, 'crypto', {
    value: { getRandomValues: (a) => real.getRandomValues(a) }, configurable: true, writable: true,
  });
  try {
    const p = await getCrypto();
    assert.equal(p.native, false);
    assert.equal(toHex(await p.sha256(H(V.sha[1].msg))), V.sha[1].sha256);
    assert.equal(p.randomBytes(16).length, 16);
  } finally {
    Object.defineProperty(globalThis, 'crypto', desc);
  }
  assert.equal((await getCrypto()).native, true);
});

test('PBKDF2 async: yields, reports monotone progress, matches sync', async () => {
  const progress = [];
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 1);
  const dk = await pbkdf2Async('SHA-256', H('70617373776f7264'), H('73616c74'), 100000, 32, (f) => progress.push(f), 5);
  clearInterval(timer);
  assert.equal(toHex(dk), toHex(pbkdf2('SHA-256', H('70617373776f7264'), H('73616c74'), 100000, 32)));
  assert.ok(progress.length >= 2, 'progress reported during the run');
  for (let i = 1; i < progress.length; i++) assert.ok(progress[i] >= progress[i - 1]);
  assert.equal(progress.at(-1), 1);
  assert.ok(ticks > 0, 'other tasks ran while PBKDF2 was working');
});
