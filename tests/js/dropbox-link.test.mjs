// Tests of the drop-box address forms (assets/js/dropbox-link.js) and of the list of recently
// used boxes the sender page keeps (assets/app/dropbox-store.js, localStorage
// `qopy.recentDropboxes`, read by the share-target page). Run: node --test tests/js/

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  formatBoxId, parseBoxCode, parseDropInput, boxIdOfPath, isFingerprintLink, fromBase64url,
} from '../../assets/js/dropbox-link.js';
import { base64url } from '../../assets/js/v4.js';
import { recentDropboxes, rememberRecent, RECENT_KEY } from '../../assets/app/dropbox-store.js';

test('short codes: shown as ABCD-EFGH, typed with or without the dash, in any case', () => {
  assert.equal(formatBoxId('ABCD2345'), 'ABCD-2345');
  assert.equal(formatBoxId('abcd2345'), 'ABCD-2345');
  for (const typed of ['ABCD-2345', 'abcd2345', ' abcd 2345 ', 'Abcd-2345']) assert.equal(parseBoxCode(typed), 'ABCD2345', typed);
  // Crockford base32 has no I, L, O or U; the length is 8.
  for (const bad of ['ABCD-234', 'ABCD23456', 'ABCI2345', 'ABCL2345', 'ABCO2345', 'ABCU2345', 'ABC_2345', '']) {
    assert.equal(parseBoxCode(bad), null, bad);
  }
});

test('links and codes typed into "Send to a drop box"', () => {
  const fp = 'Zm9vYmFyYmF6cXV4cXV1eA';
  assert.deepEqual(parseDropInput(`http://h:8080/drop/abcd2345#${fp}`), { id: 'ABCD2345', fp });
  assert.deepEqual(parseDropInput('https://h/drop/ABCD2345/'), { id: 'ABCD2345', fp: '' });
  assert.deepEqual(parseDropInput('abcd-2345'), { id: 'ABCD2345', fp: '' });
  assert.equal(parseDropInput('https://h/file/ABCD234567#x'), null);
  assert.equal(parseDropInput('https://h/drop/ABCO2345'), null);
  assert.equal(boxIdOfPath('/drop/abcd2345'), 'ABCD2345');
  assert.equal(boxIdOfPath('/drop/ABCD2345/'), 'ABCD2345');
  assert.equal(boxIdOfPath('/drop/ABCD234'), null);
  assert.equal(boxIdOfPath('/clip/ABCD234567'), null);
  assert.ok(isFingerprintLink(fp));
  assert.ok(!isFingerprintLink(fp.slice(1)));
  assert.ok(!isFingerprintLink(`${fp.slice(1)}+`));
});

test('base64url decoding is the inverse of v4.js base64url', () => {
  for (let n = 0; n < 70; n++) {
    const b = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 255);
    assert.deepEqual(fromBase64url(base64url(b)), b, String(n));
  }
  assert.throws(() => fromBase64url('ab+c'), RangeError);
  assert.throws(() => fromBase64url('abcde'), RangeError);
});

function memoryStorage() {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)) };
}

test('recent drop boxes: newest first, at most 5, one entry per ID, in the shared format', () => {
  const s = memoryStorage();
  assert.deepEqual(recentDropboxes(s), []);
  const box = (i) => ({ id: `BOX0000${i}`, url: `http://h/drop/BOX0000${i}`, fingerprint: `FP${i}`, fpLink: `L${i}` });
  for (let i = 1; i <= 6; i++) rememberRecent(box(i), s, 1000 + i);
  rememberRecent(box(3), s, 2000);
  const list = JSON.parse(s.getItem(RECENT_KEY));
  assert.deepEqual(list.map((e) => e.id), ['BOX00003', 'BOX00006', 'BOX00005', 'BOX00004', 'BOX00002']);
  assert.deepEqual(list[0], { ...box(3), usedAt: 2000 });
  assert.deepEqual(recentDropboxes(s), list);
  s.setItem(RECENT_KEY, 'not json');
  assert.deepEqual(recentDropboxes(s), []);
  rememberRecent(box(1), s, 3000);
  assert.equal(recentDropboxes(s).length, 1);
});
