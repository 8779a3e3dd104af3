// Tests for assets/js/v4.js and assets/js/v3.js (run: node --test tests/js/).
// Every case of tests/vectors/v4.json is checked byte-exactly with both crypto providers
// (WebCrypto and our fallback): key schedule, whole-stream encryption via V4Writer, random
// ranges of V4Writer.read, V4Reader with random piece sizes, and every negative case. The
// V3 known answers of the reference (§5.5) are decrypted through decryptAny.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { nativeCrypto, fallbackCrypto } from '../../assets/js/crypto/index.js';
import { toHex, fromHex } from '../../assets/js/crypto/util.js';
import {
  HEADER_SIZE, DEFAULT_RECORD_SIZE, DEFAULT_META_SIZE, newSecret, newQuickSecret, deriveContentKey,
  deriveIkm, ciphertextLength, V4Writer, V4Reader, decryptAny, plaintextSize,
} from '../../assets/js/v4.js';
import { decryptV3 } from '../../assets/js/v3.js';

const V = JSON.parse(readFileSync(new URL('../vectors/v4.json', import.meta.url), 'utf8'));
const PROVIDERS = [['native', nativeCrypto()], ['fallback', fallbackCrypto()]];
const rint = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));

function plaintextOf(c) {
  if (c.plaintext_utf8 !== undefined) return new TextEncoder().encode(c.plaintext_utf8);
  if (c.plaintext_hex !== undefined) return fromHex(c.plaintext_hex);
  const p = new Uint8Array(c.plaintext_pattern.length);
  for (let i = 0; i < p.length; i++) p[i] = i % 251;
  return p;
}
const concat = (parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
};

/** Feeds `data` to a reader in random pieces (sometimes empty, sometimes whole records). */
async function readInPieces(reader, data, maxPiece) {
  const parts = [];
  for (let o = 0; o < data.length;) {
    const n = Math.min(data.length - o, rint(0, maxPiece));
    parts.push(...await reader.push(data.subarray(o, o + n)));
    o += n;
  }
  parts.push(...await reader.flush());
  const meta = await reader.finish();
  return { meta, data: concat(parts) };
}

// Content keys per (provider, case), so that each 600,000-iteration PBKDF2 runs once.
const keys = new Map();
const FULL_KDF = ['unicode_text', 'password', 'quick_share'];

for (const [pname, crypto] of PROVIDERS) {
  test(`${pname}: key schedule matches every vector`, async () => {
    for (const c of V.cases) {
      const salt = fromHex(c.salt_hex);
      // The fallback's PBKDF2 takes about a second here: run it in full for three cases
      // (plain, password, Quick Share) and check its HKDF step on the others.
      if (pname === 'fallback' && !FULL_KDF.includes(c.name)) {
        const key = await crypto.hkdf(fromHex(c.ikm_hex), new Uint8Array(0), new TextEncoder().encode('qopy v4 content'), 32);
        assert.equal(toHex(key), c.content_key_hex, c.name);
        keys.set(`${pname}/${c.name}`, key);
        continue;
      }
      assert.equal(toHex(await deriveIkm(crypto, c.secret, c.password, salt)), c.ikm_hex, c.name);
      const key = await deriveContentKey(crypto, c.secret, c.password, salt);
      assert.equal(toHex(key), c.content_key_hex, c.name);
      keys.set(`${pname}/${c.name}`, key);
    }
  });

  test(`${pname}: V4Writer reproduces every vector byte-exactly, whole and in random ranges`, async () => {
    for (const c of V.cases) {
      const pt = plaintextOf(c);
      const opts = {
        crypto, secret: c.secret, password: c.password, meta: c.metadata,
        recordSize: c.data_record_size, metaSize: c.metadata_record_size,
        salt: fromHex(c.salt_hex), noncePrefix: fromHex(c.nonce_prefix_hex), key: keys.get(`${pname}/${c.name}`),
      };
      const w = await V4Writer.create(opts);
      assert.equal(toHex(w.header), c.header_hex, c.name);
      assert.equal(w.totalLength, c.ciphertext_len, c.name);
      assert.equal(ciphertextLength(c.metadata.size, { recordSize: c.data_record_size, metaSize: c.metadata_record_size }), c.ciphertext_len);
      const whole = await w.read(0, w.totalLength, pt);
      assert.equal(toHex(whole), c.ciphertext_hex, c.name);
      const blob = new Blob([pt]);
      for (let k = 0; k < 12; k++) {
        const a = rint(0, w.totalLength), len = rint(0, w.totalLength - a + 10);
        const src = k % 2 ? blob : pt;
        const got = await w.read(a, len, src);
        assert.deepEqual(got, whole.subarray(a, Math.min(w.totalLength, a + len)), `${c.name} [${a}, +${len})`);
      }
      // Cutting the stream into consecutive chunks in any order reassembles it.
      const cs = rint(100, 3000), chunks = [];
      const order = [...Array(Math.ceil(w.totalLength / cs)).keys()].sort(() => Math.random() - 0.5);
      for (const i of order) chunks[i] = await w.read(i * cs, cs, blob);
      assert.equal(toHex(concat(chunks)), c.ciphertext_hex, c.name);
    }
  });

  test(`${pname}: V4Reader decrypts every vector from random pieces`, async () => {
    for (const c of V.cases) {
      const ct = fromHex(c.ciphertext_hex);
      for (const max of [1, 100, 5000]) {
        if (max === 1 && ct.length > 10000) continue;
        const r = new V4Reader({ crypto, secret: c.secret, password: c.password, key: keys.get(`${pname}/${c.name}`) });
        const { meta, data } = await readInPieces(r, ct, max);
        assert.deepEqual(meta, c.metadata, c.name);
        assert.deepEqual(data, plaintextOf(c), c.name);
      }
    }
  });
}

test('V4Reader derives the key itself and decryptAny reads V4 (native)', async () => {
  const crypto = nativeCrypto();
  for (const c of V.cases) {
    const r = await decryptAny(crypto, c.secret, c.password, fromHex(c.ciphertext_hex));
    assert.equal(r.format, 'v4');
    assert.deepEqual(r.meta, c.metadata);
    assert.deepEqual(r.data, plaintextOf(c));
  }
  const text = V.cases.find((c) => c.name === 'unicode_text');
  const r = await decryptAny(crypto, text.secret, null, fromHex(text.ciphertext_hex));
  assert.equal(new TextDecoder().decode(r.data), text.plaintext_utf8); // whitespace kept
});

for (const [pname, crypto] of PROVIDERS) {
  test(`${pname}: every negative vector fails with its kind`, async () => {
    for (const n of V.negative) {
      const ct = fromHex(n.ciphertext_hex);
      // Reuse the base case's key when the secret, password and salt are the base's.
      const base = V.cases.find((c) => c.name === n.base);
      const same = base && base.secret === n.secret && base.password === n.password && base.salt_hex === n.salt_hex
        && n.ciphertext_hex.slice(32, 96) === base.salt_hex;
      const key = pname === 'fallback' && !same ? null : undefined;
      if (key === null && n.error !== 'bad_header' && n.error !== 'truncated' && n.error !== 'password_required') {
        // Needs a fresh 600,000-iteration PBKDF2 with the fallback: done once below instead.
        continue;
      }
      for (const max of [7, 1 << 20]) {
        const r = new V4Reader({ crypto, secret: n.secret, password: n.password, key: same ? keys.get(`${pname}/${n.base}`) : null });
        await assert.rejects(readInPieces(r, ct, max), (e) => {
          assert.equal(e.kind, n.error, `${n.name}: ${e.message}`);
          return true;
        });
      }
    }
  });
}

test('fallback: a wrong password fails as wrong_key (one fresh KDF)', async () => {
  const n = V.negative.find((x) => x.name === 'wrong_password');
  const r = new V4Reader({ crypto: fallbackCrypto(), secret: n.secret, password: n.password });
  await assert.rejects(readInPieces(r, fromHex(n.ciphertext_hex), 999), (e) => e.kind === 'wrong_key');
});

test('a failed reader refuses further input; extension after the end is caught at once', async () => {
  const crypto = nativeCrypto();
  const c = V.cases.find((x) => x.name === 'small_records');
  const key = await deriveContentKey(crypto, c.secret, null, fromHex(c.salt_hex));
  const ct = fromHex(c.ciphertext_hex);
  const r = new V4Reader({ crypto, secret: c.secret, key });
  await r.push(ct);
  assert.ok(r.done);
  await assert.rejects(r.push(new Uint8Array(1)), (e) => e.kind === 'extended');
  await assert.rejects(r.push(new Uint8Array(1)), (e) => e.kind === 'failed');
  const bad = ct.slice();
  bad[HEADER_SIZE + 1024 + 16 + 3] ^= 1;
  const r2 = new V4Reader({ crypto, secret: c.secret, key });
  await assert.rejects(r2.push(bad), (e) => e.kind === 'tampered' && e.index === 1);
});

test('round trip of random content with random record sizes (native and fallback agree)', async () => {
  const [nat, fb] = [nativeCrypto(), fallbackCrypto()];
  const key = nat.randomBytes(32); // any key works for the record layer
  for (const size of [0, 1, 1023, 1025, 70000, 300001]) {
    const pt = nat.randomBytes(size);
    const recordSize = [1, 1000, 4096, 65536][rint(0, 3)];
    const meta = { kind: 'file', name: 'f.bin', type: '', size };
    const base = { secret: 'x', meta, recordSize, key, salt: nat.randomBytes(32), noncePrefix: nat.randomBytes(7) };
    if (recordSize === 1 && size > 2000) continue;
    const w1 = await V4Writer.create({ ...base, crypto: nat });
    const w2 = await V4Writer.create({ ...base, crypto: fb });
    const a = await w1.read(0, w1.totalLength, pt);
    assert.equal(a.length, ciphertextLength(size, { recordSize }));
    assert.deepEqual(await w2.read(0, w2.totalLength, new Blob([pt])), a);
    const r = new V4Reader({ crypto: fb, secret: 'x', key });
    const out = await readInPieces(r, a, 70000);
    assert.deepEqual(out.meta, meta);
    assert.deepEqual(out.data, pt);
  }
});

/**
 * A decryptor as decrypt-workers.js is one, opening records with `crypto` after random
 * delays (so answers come back out of order), and now and then answering null (no worker)
 * or an error other than a failed tag (the reader then opens the record itself). Counts the records it holds at once, and checks that
 * each is the whole of its buffer (what a worker is handed).
 */
function unevenDecryptor(crypto) {
  const d = { held: 0, most: 0, opened: 0 };
  d.open = async (key, nonce, rec, aad) => {
    assert.ok(rec.byteOffset === 0 && rec.byteLength === rec.buffer.byteLength, 'a record handed over is its whole buffer');
    if (Math.random() < 0.2) return null;
    if (Math.random() < 0.1) return { rec, error: 'out of memory' }; // the reader opens it itself
    d.held++;
    d.most = Math.max(d.most, d.held);
    try {
      await new Promise((r) => setTimeout(r, rint(0, 3)));
      d.opened++;
      try { return { plain: await crypto.aesGcmDecrypt(key, nonce, rec, aad) }; } catch (e) { return { rec }; }
    } finally { d.held--; }
  };
  return d;
}

test('with a decryptor answering out of order, V4Reader gives the same pieces in order, and every negative vector fails with its kind', async () => {
  const crypto = nativeCrypto();
  let opened = 0;
  for (const c of V.cases) {
    const d = unevenDecryptor(crypto);
    const r = new V4Reader({ crypto, secret: c.secret, password: c.password, key: keys.get(`native/${c.name}`), decryptor: d });
    const { meta, data } = await readInPieces(r, fromHex(c.ciphertext_hex), 5000);
    assert.deepEqual(meta, c.metadata, c.name);
    assert.deepEqual(data, plaintextOf(c), c.name);
    assert.ok(d.most <= 5, `${c.name}: ${d.most} records held at once`);
    opened += d.opened;
  }
  assert.ok(opened > 0, 'the decryptor opened records');
  for (const n of V.negative) {
    const r = new V4Reader({ crypto, secret: n.secret, password: n.password, decryptor: unevenDecryptor(crypto) });
    await assert.rejects(readInPieces(r, fromHex(n.ciphertext_hex), 999), (e) => {
      assert.equal(e.kind, n.error, `${n.name}: ${e.message}`);
      return true;
    });
  }
});

test('with a decryptor, nothing after a tampered record comes out, and the records before it do', async () => {
  const crypto = nativeCrypto();
  const key = crypto.randomBytes(32);
  const pt = crypto.randomBytes(40 * 1000 + 123);
  const w = await V4Writer.create({ crypto, secret: 'x', meta: { kind: 'file', name: 'f', type: '', size: pt.length }, recordSize: 1000, key });
  const ct = await w.read(0, w.totalLength, pt);
  const bad = ct.slice();
  const at = 17; // data record 17 (1-based) is damaged
  bad[w.recordSpan(at).start + 5] ^= 1;
  for (let round = 0; round < 5; round++) {
    const r = new V4Reader({ crypto, secret: 'x', key, decryptor: unevenDecryptor(crypto) });
    const out = [];
    const err = await (async () => {
      try {
        for (let o = 0; o < bad.length; o += 777) out.push(...await r.push(bad.subarray(o, o + 777)));
        out.push(...await r.flush());
        await r.finish();
      } catch (e) { return e; }
      return null;
    })();
    assert.ok(err && err.kind === 'tampered' && err.index === at, `round ${round}: ${err && err.message}`);
    const got = concat(out);
    assert.equal(got.length, (at - 1) * 1000);
    assert.deepEqual(got, pt.subarray(0, got.length));
    await assert.rejects(r.push(new Uint8Array(1)), (e) => e.kind === 'failed');
  }
});

test('layout: sizes, padding and the defaults', () => {
  assert.equal(HEADER_SIZE, 64);
  assert.equal(DEFAULT_RECORD_SIZE, 1048576);
  assert.equal(DEFAULT_META_SIZE, 1024);
  const fixed = 64 + 1024 + 16;
  assert.equal(ciphertextLength(0), fixed + 1024 + 16);
  assert.equal(ciphertextLength(1025), fixed + 2048 + 16);
  assert.equal(ciphertextLength(65536), fixed + 65536 + 16);
  assert.equal(ciphertextLength(1048576), fixed + 1048576 + 16 + 16);
  assert.equal(ciphertextLength(4 * 2 ** 30), fixed + 4096 * (1048576 + 16) + 16);
});

test('metadata that does not fit the metadata record is refused', async () => {
  const crypto = nativeCrypto();
  await assert.rejects(V4Writer.create({
    crypto, secret: 's', key: new Uint8Array(32), meta: { kind: 'file', name: 'n'.repeat(2000), type: '', size: 1 },
  }), (e) => e.kind === 'metadata_too_large');
});

test('secrets: 43-char base64url and 6-char Quick Share codes', () => {
  const crypto = nativeCrypto();
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const s = newSecret(crypto);
    assert.match(s, /^[A-Za-z0-9_-]{43}$/);
    seen.add(s);
    assert.match(newQuickSecret(crypto), /^[A-Z0-9]{6}$/);
  }
  assert.equal(seen.size, 200);
  assert.equal(V.cases[0].secret, 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8');
  // Rejection sampling: bytes >= 252 are skipped, the rest map mod 36.
  const fake = { randomBytes: () => Uint8Array.from([255, 252, 0, 35, 36, 251, 253, 1, 2, 3, 4, 5, 6, 7, 8, 9]) };
  assert.equal(newQuickSecret(fake), 'A9A9BC');
});

// ---- V3 (reference §5.5) ------------------------------------------------------------------

const SALT = fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
const IV = fromHex('a0a1a2a3a4a5a6a7a8a9aaab');
const V3 = [
  ['AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', null, '0ac80e455c2fcd1691d008b6572aaaa2ea5856911b'],
  ['AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=', 'pw123', '1438a92192c2074c8dfd4bb2623801160a06b95274'],
  ['AB7K9P', null, 'ddb91dbdf8ba29a9939823d41f545ba748cda2c7b6'],
];
const v3Payload = (ct) => Uint8Array.from([3, ...SALT, ...IV, ...fromHex(ct)]);

test('V3: the reference vectors decrypt to "hello" (native), and wrong secrets fail', async () => {
  const crypto = nativeCrypto();
  for (const [secret, password, ct] of V3) {
    const r = await decryptAny(crypto, secret, password, v3Payload(ct));
    assert.equal(r.format, 'v3');
    assert.equal(r.meta.kind, 'text');
    assert.equal(new TextDecoder().decode(r.data), 'hello');
  }
  await assert.rejects(decryptAny(crypto, 'AB7K9Q', null, v3Payload(V3[2][2])), (e) => e.kind === 'wrong_key');
  await assert.rejects(decryptV3(crypto, 'x', null, new Uint8Array(60).fill(3)), (e) => e.kind === 'not_v3');
});

test('V3: the Quick Share vector with the fallback provider', async () => {
  const r = await decryptAny(fallbackCrypto(), 'AB7K9P', null, v3Payload(V3[2][2]));
  assert.equal(new TextDecoder().decode(r.data), 'hello');
});

test('V3: a file made as the original did (envelope, padding) opens with name and size', async () => {
  const crypto = nativeCrypto();
  const secret = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
  const seal = async (pt) => {
    const salt = crypto.randomBytes(32), iv = crypto.randomBytes(12);
    const key = await crypto.pbkdf2('SHA-256', new TextEncoder().encode(secret), salt, 600000, 32);
    return Uint8Array.from([3, ...salt, ...iv, ...await crypto.aesGcmEncrypt(key, iv, pt)]);
  };
  const data = Uint8Array.from({ length: 100 }, (_, i) => i);
  const padded = concat([data, crypto.randomBytes(10240 - 100), Uint8Array.from([0, 0, 0, 100])]);
  const env = await seal(new TextEncoder().encode(JSON.stringify({ filename: 'ä.bin', size: 100, mimeType: 'x/y', timestamp: 1, version: 'v3' })));
  const len = Uint8Array.from([env.length & 255, env.length >> 8, 0, 0]);
  const outer = await seal(concat([len, env, padded]));
  const r = await decryptAny(crypto, secret, 'ignored-access-code', outer);
  assert.deepEqual(r.meta, { kind: 'file', name: 'ä.bin', type: 'x/y', size: 100 });
  assert.deepEqual(r.data, data);
  // Text padding of the original is removed; leading/trailing whitespace is kept.
  const t = new TextEncoder().encode('  hi  ');
  const tp = await seal(concat([t, crypto.randomBytes(10240 - t.length), Uint8Array.from([0, 0, 0, t.length])]));
  assert.equal(new TextDecoder().decode((await decryptAny(crypto, secret, null, tp)).data), '  hi  ');
});

test('plaintextSize inverts ciphertextLength: exact above 64 KiB, a power-of-two range below', () => {
  const R = 1048576;
  const sizes = [1, 2, 1000, 1024, 1025, 2048, 5000, 32768, 32769, 65535, 65536, 65537, 100000,
    R - 1, R, R + 1, 2 * R, 5 * R + 12345, 300 * R + 7, 4 * 1024 * R];
  for (const size of sizes) {
    const p = plaintextSize(ciphertextLength(size));
    assert.ok(p, `size ${size}`);
    assert.ok(p.min <= size && size <= p.max, `size ${size}: ${JSON.stringify(p)}`);
    assert.equal(p.exact, size > 65536, `size ${size}`);
    if (p.exact) assert.equal(p.min, size);
    // Every size in the range gives the same ciphertext length: the range is tight.
    assert.equal(ciphertextLength(p.min), ciphertextLength(size));
    assert.equal(ciphertextLength(p.max), ciphertextLength(size));
    if (p.min > 1) assert.notEqual(ciphertextLength(p.min - 1), ciphertextLength(size));
  }
  // Lengths no default layout produces: null, never a wrong size.
  for (const bad of [0, 100, ciphertextLength(1) - 1, ciphertextLength(1) + 1, ciphertextLength(R) - 1, ciphertextLength(R) - 16, ciphertextLength(3 * R) - 5, -5, 1.5]) {
    assert.equal(plaintextSize(bad), null, String(bad));
  }
});
