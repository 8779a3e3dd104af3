// Tests for assets/js/qr.js (run: node --test tests/js/).
// Round trips render each symbol to a PNG (own encoder, node:zlib) and decode it with zbarimg
// (Debian package zbar-tools); those tests are skipped when zbarimg is not installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import {
  encodeQr, qrToSvg, drawQr, gfMul, rsGenerator, rsEncode, dataCodewords, buildCodewords, penalty,
} from '../../assets/js/qr.js';

// ---- helpers ------------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
// 8-bit greyscale PNG of the symbol with a `margin`-module quiet zone, `px` pixels per module.
function qrToPng(qr, { margin = 4, px = 8 } = {}) {
  const side = (qr.size + 2 * margin) * px;
  const stride = side + 1; // filter byte (0 = none) + one byte per pixel
  const raw = Buffer.alloc(stride * side, 255);
  for (let y = 0; y < side; y++) raw[y * stride] = 0;
  for (let my = 0; my < qr.size; my++) {
    for (let mx = 0; mx < qr.size; mx++) {
      if (!qr.modules[my * qr.size + mx]) continue;
      for (let dy = 0; dy < px; dy++) {
        const row = ((my + margin) * px + dy) * stride + 1;
        raw.fill(0, row + (mx + margin) * px, row + (mx + margin + 1) * px);
      }
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0)),
  ]);
}

const installed = (cmd) => {
  try {
    execFileSync(cmd, ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
};
const SKIP_ZBAR = installed('zbarimg') ? false
  : 'zbarimg not installed (apt-get install -y zbar-tools): decode round trips skipped';
const SKIP_QRENCODE = installed('qrencode') ? false
  : 'qrencode not installed (apt-get install -y qrencode): optional cross-check skipped';

const dir = mkdtempSync(join(tmpdir(), 'qopy-qr-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
let fileNo = 0;
// zbarimg prints the text and a newline; with -Sbinary it prints the raw bytes (no newline, no
// character-set guessing).
function decode(qr, px = 8, binary = false) {
  const file = join(dir, `qr${fileNo++}.png`);
  writeFileSync(file, qrToPng(qr, { px }));
  const args = ['--raw', '-q', '--nodbus', '-Sdisable', '-Sqrcode.enable', ...(binary ? ['-Sbinary'] : []), file];
  const out = execFileSync('zbarimg', args, { encoding: binary ? 'buffer' : 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (binary) return out;
  return out.endsWith('\n') ? out.slice(0, -1) : out;
}
function roundTrip(text, opts, expect = {}) {
  const qr = encodeQr(text, opts);
  for (const [k, v] of Object.entries(expect)) assert.equal(qr[k], v, `${k} for ${JSON.stringify(text).slice(0, 40)}`);
  assert.equal(decode(qr, qr.size > 100 ? 4 : 8), text);
  return qr;
}
const bytesOf = (s) => new TextEncoder().encode(s).length;
const SECRET = 'Yk3bQ9_xV-2mP8rLsT4wZ0aC7dE1fG5hJ6kN3oR8uWy';
const link = (base) => `${base}/file/ABCDEFGH12#${SECRET}`;

// ---- GF(256) and Reed–Solomon --------------------------------------------------------------------

test('GF(256) multiplication: known products, identity, commutativity, inverses', () => {
  assert.equal(gfMul(2, 128), 0x1d); // x * x^7 = x^8 = x^4+x^3+x^2+1
  assert.equal(gfMul(0, 77), 0);
  assert.equal(gfMul(3, 7), 9); // (x+1)(x^2+x+1) = x^3+1
  for (let a = 1; a < 256; a++) {
    assert.equal(gfMul(a, 1), a);
    let inverses = 0;
    for (let b = 1; b < 256; b++) {
      assert.equal(gfMul(a, b), gfMul(b, a));
      if (gfMul(a, b) === 1) inverses++;
    }
    assert.equal(inverses, 1);
  }
});

test('RS generator polynomials match the published ones', () => {
  // degree 7 generator from the specification, as exponents of alpha: 0 87 229 146 149 238 102 21
  const alpha = (e) => { let v = 1; for (let i = 0; i < e; i++) v = gfMul(v, 2); return v; };
  assert.deepEqual(rsGenerator(7), [0, 87, 229, 146, 149, 238, 102, 21].map(alpha));
  assert.deepEqual(rsGenerator(2), [1, 3, 2]);
});

test('RS codewords: "HELLO WORLD" 1-M and "01234567" 1-M examples', () => {
  const hello = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17];
  assert.deepEqual([...rsEncode(hello, 10)], [196, 35, 39, 119, 235, 215, 231, 226, 93, 23]);
  const digits = [16, 32, 12, 86, 97, 128, 236, 17, 236, 17, 236, 17, 236, 17, 236, 17];
  assert.deepEqual([...rsEncode(digits, 10)], [165, 36, 212, 193, 237, 54, 199, 135, 44, 85]);
});

test('RS property: every codeword evaluates to 0 at alpha^0 .. alpha^(n-1)', () => {
  const data = Uint8Array.from({ length: 40 }, (_, i) => (i * 37 + 11) & 255);
  for (const n of [7, 10, 18, 26, 30]) {
    const cw = [...data, ...rsEncode(data, n)];
    for (let i = 0, root = 1; i < n; i++, root = gfMul(root, 2)) {
      let acc = 0;
      for (const c of cw) acc = gfMul(acc, root) ^ c;
      assert.equal(acc, 0, `n=${n} root alpha^${i}`);
    }
  }
});

test('interleaving: 5-Q layout (2 blocks of 15 + 2 of 16 data codewords)', () => {
  const { total, data } = dataCodewords(5, 'Q');
  assert.equal(total, 134);
  assert.equal(data, 62);
  const d = Uint8Array.from({ length: 62 }, (_, i) => i);
  const cw = buildCodewords(d, 5, 'Q');
  assert.equal(cw.length, 134);
  assert.deepEqual([...cw.subarray(0, 8)], [0, 15, 30, 46, 1, 16, 31, 47]);
  assert.deepEqual([...cw.subarray(56, 62)], [14, 29, 44, 60, 45, 61]); // last column: long blocks only
  assert.deepEqual([cw[62], cw[63]], [rsEncode(d.subarray(0, 15), 18)[0], rsEncode(d.subarray(15, 30), 18)[0]]);
});

// ---- capacity and version selection --------------------------------------------------------------

test('byte-mode capacities (data bytes) match the specification table', () => {
  const cap = (v, e) => dataCodewords(v, e).data - (v < 10 ? 2 : 3);
  const expected = {
    L: { 1: 17, 2: 32, 7: 154, 10: 271, 40: 2953 },
    M: { 1: 14, 2: 26, 3: 42, 4: 62, 5: 84, 6: 106, 7: 122, 10: 213, 20: 666, 40: 2331 },
    Q: { 1: 11, 2: 20, 7: 86, 10: 151, 40: 1663 },
    H: { 1: 7, 2: 14, 7: 64, 10: 119, 40: 1273 },
  };
  for (const [e, row] of Object.entries(expected)) {
    for (const [v, n] of Object.entries(row)) assert.equal(cap(+v, e), n, `${v}-${e}`);
  }
  const totals = { 1: 26, 2: 44, 7: 196, 10: 346, 14: 581, 40: 3706 };
  for (const [v, t] of Object.entries(totals)) assert.equal(dataCodewords(+v, 'M').total, t, `total v${v}`);
});

test('version selection boundaries, byte mode, level M', () => {
  const limits = [[1, 14], [2, 26], [3, 42], [4, 62], [5, 84], [6, 106], [7, 122], [10, 213]];
  for (const [v, n] of limits) {
    assert.equal(encodeQr('x'.repeat(n)).version, v, `${n} bytes`);
    assert.equal(encodeQr('x'.repeat(n + 1)).version, v + 1, `${n + 1} bytes`);
    assert.equal(encodeQr('x'.repeat(n)).size, v * 4 + 17);
  }
  assert.equal(encodeQr('x'.repeat(2331)).version, 40);
  assert.throws(() => encodeQr('x'.repeat(2332)), RangeError);
  assert.throws(() => encodeQr('x', { ecc: 'X' }), RangeError);
  assert.equal(encodeQr('ü'.repeat(7), { eci: false }).version, 1); // 14 UTF-8 bytes
  assert.equal(encodeQr('ü'.repeat(7) + 'a', { eci: false }).version, 2);
  assert.equal(encodeQr('ü'.repeat(6)).version, 1); // 12 bytes + 12-bit ECI header = 128 bits
  assert.equal(encodeQr('ü'.repeat(7)).version, 2);
});

// ---- mask penalty ----------------------------------------------------------------------------------

test('mask penalty rules N1-N4 on hand-computed matrices', () => {
  const size = 21;
  // all light: N1 19 per row and column, N2 3 per 2x2 block (20*20), N4 100 (0% dark)
  assert.equal(penalty(new Uint8Array(size * size), size), 42 * 19 + 400 * 3 + 100);
  // checkerboard: no runs, no blocks, 221/441 dark
  const checker = Uint8Array.from({ length: size * size }, (_, i) => ((i % size) + Math.floor(i / size)) % 2);
  assert.equal(penalty(checker, size), 0);
  // a finder-like 1011101 at the start of row 0 (quiet zone before it, 0000 after it), the rest a
  // checkerboard: same dark count, no run of 5, no 2x2 block -> exactly one N3 hit
  const m = checker.slice();
  [1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0].forEach((v, x) => { m[x] = v; });
  assert.equal(penalty(m, size), 40);
});

test('single-block symbol (1-H): data codewords first, then their 17 EC codewords', () => {
  // 'a' at 1-H: 0100 00000001 01100001 0000 -> 40 16 10, then pad EC 11 EC 11 EC 11
  const d = Uint8Array.from([0x40, 0x16, 0x10, 0xec, 0x11, 0xec, 0x11, 0xec, 0x11]);
  assert.equal(dataCodewords(1, 'H').data, 9);
  assert.deepEqual([...buildCodewords(d, 1, 'H').subarray(0, 9)], [...d]);
  assert.equal(buildCodewords(d, 1, 'H').length, 26);
  assert.deepEqual([...buildCodewords(d, 1, 'H').subarray(9)], [...rsEncode(d, 17)]);
});

// ---- rendering -----------------------------------------------------------------------------------

test('qrToSvg: one path, no style attribute, margin and scale honoured', () => {
  const qr = encodeQr('hello');
  const svg = qrToSvg(qr, { margin: 2, scale: 3 });
  assert.equal((svg.match(/<path/g) || []).length, 1);
  assert.ok(!/style/.test(svg));
  assert.ok(svg.includes('viewBox="0 0 25 25"') && svg.includes('width="75"'));
  // the path covers exactly the dark modules
  let area = 0;
  for (const [, len] of svg.matchAll(/h(\d+)v1/g)) area += +len;
  assert.equal(area, qr.modules.reduce((a, b) => a + b, 0));
});

test('drawQr: fills dark runs on a 2D context, resizes a canvas element', () => {
  const qr = encodeQr('hello');
  const calls = [];
  const ctx = { fillRect: (...a) => calls.push([ctx.fillStyle, ...a]), fillStyle: '' };
  const canvas = { width: 300, height: 150, getContext: (t) => (t === '2d' ? ctx : null) };
  drawQr(canvas, qr, { margin: 4 });
  assert.equal(canvas.width, 290); // 29 modules * 10 px
  assert.equal(canvas.height, 290);
  assert.deepEqual(calls[0], ['#fff', 0, 0, 290, 290]);
  let area = 0;
  for (const [fill, , , w, h] of calls.slice(1)) {
    assert.equal(fill, '#000');
    area += (w / 10) * (h / 10);
  }
  assert.equal(area, qr.modules.reduce((a, b) => a + b, 0));
});

test('function patterns: finders, timing, dark module, version info (v8)', () => {
  const qr = encodeQr('x'.repeat(123)); // version 8
  const { size, modules: m } = qr;
  const at = (x, y) => m[y * size + x];
  for (let i = 0; i < 7; i++) {
    assert.equal(at(i, 0), 1);
    assert.equal(at(size - 1 - i, 6), 1);
    assert.equal(at(0, size - 1 - i), 1);
  }
  for (let i = 8; i < size - 8; i++) {
    assert.equal(at(i, 6), i % 2 === 0 ? 1 : 0);
    assert.equal(at(6, i), i % 2 === 0 ? 1 : 0);
  }
  assert.equal(at(8, size - 8), 1);
  // version 8 information 0x085BC (bottom-left block: bit i at x = i/3, y = size-11 + i%3)
  const bits = 0x085bc;
  for (let i = 0; i < 18; i++) {
    assert.equal(at(Math.floor(i / 3), size - 11 + (i % 3)), (bits >> i) & 1);
    assert.equal(at(size - 11 + (i % 3), Math.floor(i / 3)), (bits >> i) & 1);
  }
});

// ---- decoding round trips with zbarimg -----------------------------------------------------------

test('zbarimg round trip: short texts and the 14/15-byte boundary', { skip: SKIP_ZBAR }, () => {
  roundTrip('a', {}, { version: 1 });
  roundTrip('hello', {}, { version: 1 });
  roundTrip('HELLO WORLD', {}, { version: 1 });
  roundTrip('abcdefghijklmn', {}, { version: 1 });
  roundTrip('abcdefghijklmno', {}, { version: 2 });
  roundTrip('0123456789abc', {}, { version: 1 });
});

test('zbarimg round trip: share links of 60-160 characters', { skip: SKIP_ZBAR }, () => {
  const bases = [
    'http://a.b',
    'http://192.168.1.20:8080',
    'https://qopy.example.org',
    'https://share.some-long-company-name.example.com:8443/qopy/instance',
    'https://a-really-long-host-name-for-testing.internal.example.com:8443/path/to/the/qopy/deploy/x',
  ];
  for (const base of bases) {
    const text = link(base);
    assert.ok(text.length >= 60 && text.length <= 160, `${text.length}`);
    roundTrip(text);
  }
  for (let n = 60; n <= 160; n += 5) {
    const text = link('http://host' + 'o'.repeat(Math.max(0, n - 70))).slice(-n);
    assert.equal(text.length, n);
    roundTrip(text);
    roundTrip(text, { ecc: 'L' });
    roundTrip(text, { ecc: 'Q' });
    roundTrip(text, { ecc: 'H' });
  }
});

test('zbarimg round trip: UTF-8 text (ECI header by default)', { skip: SKIP_ZBAR }, () => {
  assert.equal(bytesOf('grüße · 日本'), 17);
  roundTrip('grüße · 日本');
  roundTrip('Ünïcödé — ✓ 🙂 emoji and 日本語のテキスト');
  roundTrip(link('http://192.168.1.20:8080') + '&name=grüße-日本.pdf');
});

test('zbarimg round trip: UTF-8 bytes without ECI are byte-exact (zbar -Sbinary)', { skip: SKIP_ZBAR }, () => {
  // Without ECI zbar guesses the character set (it reads "grüße · 日本" as Shift-JIS), so compare
  // the raw bytes instead of the text.
  for (const text of ['grüße · 日本', 'Ünïcödé — ✓ 🙂 emoji and 日本語のテキスト']) {
    const qr = encodeQr(text, { eci: false });
    assert.deepEqual(decode(qr, 8, true), Buffer.from(text, 'utf8'));
  }
});

test('zbarimg round trip: version 7 and above (version information)', { skip: SKIP_ZBAR }, () => {
  roundTrip('v'.repeat(122), {}, { version: 7 });
  roundTrip(link('https://x.example') + '?' + 'q'.repeat(120), {}, { version: 10 });
  roundTrip('z'.repeat(600), {}, { version: 19 });
});

test('zbarimg round trip: every mask pattern', { skip: SKIP_ZBAR }, () => {
  const text = link('http://192.168.1.20:8080');
  for (let mask = 0; mask < 8; mask++) roundTrip(text, { mask }, { mask });
  for (let mask = 0; mask < 8; mask++) roundTrip('m'.repeat(130), { mask }, { mask, version: 8 });
});

test('zbarimg round trip: every version 1-40 at every level L/M/Q/H', { skip: SKIP_ZBAR }, () => {
  for (const ecc of ['L', 'M', 'Q', 'H']) {
    for (let v = 1; v <= 40; v++) {
      // fill the symbol exactly to capacity so every data and EC block is exercised
      const n = dataCodewords(v, ecc).data - (v < 10 ? 2 : 3);
      let text = '';
      for (let i = 0; text.length < n; i++) text += String.fromCharCode(33 + ((i * 7 + v) % 94));
      roundTrip(text, { ecc }, { version: v, ecc });
    }
  }
});

test('zbarimg round trip: minVersion pads a short text into a large symbol', { skip: SKIP_ZBAR }, () => {
  roundTrip('padded', { minVersion: 12, ecc: 'H' }, { version: 12 });
});

// Optional, bit-exact cross-check: zbarimg corrects errors, so a subtly wrong codeword could still
// decode; libqrencode's matrix must equal ours under the same mask (its mask choice may differ:
// its penalty scoring is not identical to ours).
test('qrencode cross-check: identical modules under the same mask', { skip: SKIP_QRENCODE }, () => {
  for (const ecc of ['L', 'M', 'Q', 'H']) {
    for (const len of [1, 14, 15, 40, 77, 122, 123, 200, 400, 900]) {
      let text = '';
      for (let i = 0; i < len; i++) text += String.fromCharCode(33 + ((i * 13 + len) % 94));
      const out = execFileSync('qrencode', ['-8', '-l', ecc, '-m', '0', '-t', 'ASCII', '-o', '-'], { input: text, encoding: 'utf8' });
      const theirs = out.split('\n').filter(Boolean).map((r) => [...r.matchAll(/##|  /g)].map((x) => (x[0] === '##' ? 1 : 0))).flat();
      const found = [0, 1, 2, 3, 4, 5, 6, 7].some((mask) => {
        const qr = encodeQr(text, { ecc, mask });
        return qr.modules.length === theirs.length && qr.modules.every((v, i) => v === theirs[i]);
      });
      assert.ok(found, `${len} bytes, level ${ecc}`);
    }
  }
});
