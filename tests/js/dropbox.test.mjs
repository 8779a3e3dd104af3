// Tests of "drop-box key wrap v1" and the key fingerprint (assets/js/dropbox-crypto.js): the
// shared vectors (tests/vectors/dropbox-wrap.json, also checked by src/v4/wrap.rs) recomputed
// with node:crypto, exact bytes from both providers, round trips across providers, and
// tampering with every byte, the length, the box ID and the keys. Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  fingerprint, wrapSecret, wrapSecretWith, unwrapSecret, crockford32, DropBoxError,
  WRAP_OVERHEAD, WRAP_VERSION,
} from '../../assets/js/dropbox-crypto.js';
import { fallbackCrypto, nativeCrypto, randomBytes } from '../../assets/js/crypto/index.js';
import { toHex, fromHex } from '../../assets/js/crypto/util.js';
import { referenceWrap, referenceFingerprint, referencePublicKey } from './dropbox-reference.mjs';

const V = JSON.parse(readFileSync(new URL('../vectors/dropbox-wrap.json', import.meta.url), 'utf8'));
const providers = [['fallback', fallbackCrypto()], ['native', nativeCrypto()]];
const isKind = (kinds) => (e) => e instanceof DropBoxError && kinds.includes(e.kind);

test('the shared vectors are what node:crypto computes', () => {
  assert.ok(V.vectors.length >= 5);
  for (const v of V.vectors) {
    const pub = referencePublicKey(fromHex(v.receiver_private));
    assert.equal(toHex(pub), v.receiver_public, v.note);
    const fp = referenceFingerprint(pub);
    assert.equal(fp.display, v.fingerprint_display, v.note);
    assert.equal(fp.link, v.fingerprint_link, v.note);
    const w = referenceWrap(fromHex(v.secret), pub, v.box_id, fromHex(v.ephemeral_private), fromHex(v.nonce));
    assert.equal(toHex(w), v.wrapped, v.note);
    assert.equal(w.length, v.secret.length / 2 + WRAP_OVERHEAD);
  }
});

test('both providers make exactly the vectors\' bytes and fingerprints, and unwrap them', async () => {
  for (const [name, c] of providers) {
    for (const v of V.vectors) {
      const pub = fromHex(v.receiver_public);
      assert.deepEqual(await fingerprint(c, pub), { display: v.fingerprint_display, link: v.fingerprint_link });
      const w = await wrapSecretWith(c, fromHex(v.secret), pub, v.box_id,
        { privateKey: fromHex(v.ephemeral_private) }, fromHex(v.nonce));
      assert.equal(toHex(w), v.wrapped, `${name}: ${v.note}`);
      const s = await unwrapSecret(c, fromHex(v.receiver_private), pub, fromHex(v.wrapped), v.box_id);
      assert.equal(toHex(s), v.secret, `${name}: ${v.note}`);
    }
  }
});

test('fingerprint: Crockford base32 of the first 100 bits, 5 groups of 4, and 16 bytes in base64url', async () => {
  // 0x00 0x44 0x32 0x14 0xc7 is the 5-bit groups 0..7; 0xff.. is all 31s.
  assert.equal(crockford32(Uint8Array.of(0x00, 0x44, 0x32, 0x14, 0xc7), 8), '01234567');
  assert.equal(crockford32(new Uint8Array(13).fill(255), 20), 'Z'.repeat(20));
  // Groups 8..31 check the alphabet's letters (no I, L, O or U).
  let bits = '';
  for (let i = 8; i < 32; i++) bits += i.toString(2).padStart(5, '0');
  const bytes = Uint8Array.from(bits.match(/.{8}/g), (b) => parseInt(b, 2));
  assert.equal(crockford32(bytes, 24), '89ABCDEFGHJKMNPQRSTVWXYZ');
  for (const [, c] of providers) {
    const { publicKey } = await c.ecdhGenerate();
    const fp = await fingerprint(c, publicKey);
    assert.match(fp.display, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}$/);
    assert.match(fp.link, /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(fp, referenceFingerprint(publicKey));
    await assert.rejects(fingerprint(c, publicKey.subarray(0, 64)), isKind(['bad_public_key']));
  }
});

test('wraps round-trip across providers: every receiver provider with every sender provider', async () => {
  for (const [rName, receiver] of providers) {
    for (const [sName, sender] of providers) {
      for (let i = 0; i < 12; i++) {
        const { privateKey, publicKey } = await receiver.ecdhGenerate();
        const secret = randomBytes(i === 0 ? 0 : 1 + Math.floor(Math.random() * 80));
        const boxId = 'box-' + toHex(randomBytes(4)) + (i % 3 === 0 ? '-\u00e9\u{1F4E6}' : '');
        const w = await wrapSecret(sender, secret, publicKey, boxId);
        assert.equal(w.length, secret.length + WRAP_OVERHEAD);
        assert.equal(w[0], WRAP_VERSION);
        const back = await unwrapSecret(receiver, privateKey, publicKey, w, boxId);
        assert.equal(toHex(back), toHex(secret), `${sName} → ${rName}`);
      }
    }
  }
});

test('a string secret (a V4 URL secret) is wrapped as its UTF-8 bytes', async () => {
  const c = nativeCrypto();
  const { privateKey, publicKey } = await c.ecdhGenerate();
  const secret = 'q0pYdR0pB0xS3cretAAAAAAAAAAAAAAAAAAAAAAAAAA';
  const back = await unwrapSecret(c, privateKey, publicKey, await wrapSecret(c, secret, publicKey, 'b1'), 'b1');
  assert.equal(new TextDecoder().decode(back), secret);
});

test('every wrap is fresh: a new ephemeral key and nonce each time', async () => {
  for (const [, c] of providers) {
    const { publicKey } = await c.ecdhGenerate();
    const a = await wrapSecret(c, new Uint8Array(32), publicKey, 'b');
    const b = await wrapSecret(c, new Uint8Array(32), publicKey, 'b');
    assert.notEqual(toHex(a.subarray(1, 66)), toHex(b.subarray(1, 66)));
    assert.notEqual(toHex(a.subarray(66, 78)), toHex(b.subarray(66, 78)));
  }
});

test('changing any byte of a wrap makes unwrapping fail with a DropBoxError', async () => {
  for (const [name, c] of providers) {
    const { privateKey, publicKey } = await c.ecdhGenerate();
    const w = await wrapSecret(c, randomBytes(32), publicKey, 'box');
    for (let i = 0; i < w.length; i++) {
      for (const flip of [0x01, 0x80]) {
        const t = w.slice();
        t[i] ^= flip;
        // The version byte, the ephemeral key (usually off the curve then), nonce and ciphertext.
        const kinds = i === 0 ? ['bad_version'] : i < 66 ? ['bad_public_key', 'wrong_key'] : ['wrong_key'];
        await assert.rejects(unwrapSecret(c, privateKey, publicKey, t, 'box'), isKind(kinds), `${name} byte ${i}`);
      }
    }
    // Another valid ephemeral key in place of the real one.
    const t = w.slice();
    t.set((await c.ecdhGenerate()).publicKey, 1);
    await assert.rejects(unwrapSecret(c, privateKey, publicKey, t, 'box'), isKind(['wrong_key']));
  }
});

test('truncation, extension and the version byte are checked', async () => {
  for (const [name, c] of providers) {
    const { privateKey, publicKey } = await c.ecdhGenerate();
    const w = await wrapSecret(c, randomBytes(16), publicKey, 'box');
    for (let n = 0; n < w.length; n++) {
      const kinds = n < WRAP_OVERHEAD ? ['bad_length'] : ['wrong_key'];
      await assert.rejects(unwrapSecret(c, privateKey, publicKey, w.subarray(0, n), 'box'), isKind(kinds), `${name} length ${n}`);
    }
    const longer = Uint8Array.from([...w, 0]);
    await assert.rejects(unwrapSecret(c, privateKey, publicKey, longer, 'box'), isKind(['wrong_key']));
    for (const v of [0, 2, 4, 255]) {
      const t = w.slice();
      t[0] = v;
      await assert.rejects(unwrapSecret(c, privateKey, publicKey, t, 'box'), isKind(['bad_version']));
    }
  }
});

test('another box ID, another private key or another receiver key fails', async () => {
  for (const [name, c] of providers) {
    const { privateKey, publicKey } = await c.ecdhGenerate();
    const other = await c.ecdhGenerate();
    const w = await wrapSecret(c, randomBytes(32), publicKey, 'Box1');
    assert.equal((await unwrapSecret(c, privateKey, publicKey, w, 'Box1')).length, 32);
    for (const id of ['box1', 'Box1 ', 'Box', '', 'Box2']) {
      await assert.rejects(unwrapSecret(c, privateKey, publicKey, w, id), isKind(['wrong_key']), `${name} id ${id}`);
    }
    await assert.rejects(unwrapSecret(c, other.privateKey, publicKey, w, 'Box1'), isKind(['wrong_key']));
    await assert.rejects(unwrapSecret(c, privateKey, other.publicKey, w, 'Box1'), isKind(['wrong_key']));
  }
});

test('wrapping to an invalid receiver key is refused', async () => {
  for (const [, c] of providers) {
    const { publicKey } = await c.ecdhGenerate();
    const off = publicKey.slice();
    off[64] ^= 1;
    for (const bad of [off, publicKey.subarray(1), Uint8Array.of(0), new Uint8Array(65)]) {
      await assert.rejects(wrapSecret(c, randomBytes(32), bad, 'b'), isKind(['bad_public_key']));
    }
    await assert.rejects(unwrapSecret(c, (await c.ecdhGenerate()).privateKey, off, new Uint8Array(126), 'b'),
      isKind(['bad_public_key']));
  }
});
