// Tests for assets/js/tar.js (run: node --test tests/js/).
// The archives are compared byte for byte with what GNU tar makes of the same files on disk
// (same names, sizes, modes and times), listed with `tar -tvf` and unpacked with `tar -xf`.
// GNU tar is required: these tests fail, never skip, without it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  mkdtempSync, writeFileSync, rmSync, mkdirSync, utimesSync, chmodSync, readFileSync, readdirSync,
  statSync, openSync, writeSync, closeSync, ftruncateSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  sanitizePath, planEntries, archiveParts, buildArchive, entryHeader, paxRecord, ustarSplit,
  archiveName, BLOCK, OCTAL_MAX,
} from '../../assets/js/tar.js';

// ---- helpers ------------------------------------------------------------------------------------

const ENV = { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' };
const tar = (args, opts = {}) => execFileSync('tar', args, { env: ENV, maxBuffer: 1 << 26, ...opts });

/** Runs `fn(dir)` with a fresh temporary directory, removed afterwards. */
async function withTemp(fn) {
  const d = mkdtempSync(join(tmpdir(), 'qopy-tar-'));
  try { return await fn(d); } finally { rmSync(d, { recursive: true, force: true }); }
}

/** Deterministic bytes. */
function bytes(n, seed) {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 >>> 0;
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
  return out;
}

const file = (data, seconds, name = 'f') => new File([data], name, { lastModified: seconds * 1000 });

async function archiveBytes(parts) {
  return new Uint8Array(await new Blob(parts).arrayBuffer());
}

/**
 * Writes `entries` (as planned by planEntries) to disk under `root` with their modes and
 * times, so GNU tar can archive the same thing.
 */
async function materialise(root, entries) {
  for (const e of entries) {
    const p = join(root, e.path);
    if (e.dir) mkdirSync(p, { recursive: true });
    else writeFileSync(p, new Uint8Array(await e.file.arrayBuffer()));
  }
  // Times last, deepest first: writing into a directory changes its time.
  for (const e of [...entries].reverse()) {
    const p = join(root, e.path);
    chmodSync(p, e.dir ? 0o755 : 0o644);
    utimesSync(p, e.mtime, e.mtime);
  }
}

function gnuTar(root, entries, format, out) {
  const args = [`--format=${format}`, '--owner=0', '--group=0', '--numeric-owner', '-b', '1', '--no-recursion'];
  if (format === 'pax') args.push('--pax-option=delete=atime,delete=ctime');
  tar([...args, '-C', root, '-cf', out, '--', ...entries.map((e) => e.path)]);
  return new Uint8Array(readFileSync(out));
}

/** The first index where two byte arrays differ (-1 if equal), for readable failures. */
function firstDiff(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (a[i] !== b[i]) return i;
  return -1;
}

function assertSameBytes(ours, gnu, what) {
  const at = firstDiff(ours, gnu);
  assert.equal(at, -1, `${what}: differs from GNU tar at byte ${at} (block ${Math.floor(at / BLOCK)}, offset ${at % BLOCK}); sizes ${ours.length} and ${gnu.length}`);
}

/**
 * Builds our archive of `items`, and GNU tar's (in `format`) of the same entries put on disk
 * under `tmpPath`, and asserts that the two are the same bytes. Returns our archive (as
 * buildArchive gives it) and its bytes.
 */
async function assertSameAsGnu(tmpPath, items, format) {
  const a = buildArchive(items);
  const ours = await archiveBytes(a.parts);
  const root = join(tmpPath, 'root');
  mkdirSync(root);
  await materialise(root, a.entries);
  const gnu = gnuTar(root, a.entries, format, join(tmpPath, 'gnu.tar'));
  assertSameBytes(ours, gnu, `${format} archive`);
  return { a, ours };
}

/** Every file and directory under `root`, as "path" (files) or "path/" (directories). */
function walk(root, base = '') {
  const out = [];
  for (const name of readdirSync(join(root, base)).sort()) {
    const rel = base ? `${base}/${name}` : name;
    if (statSync(join(root, rel)).isDirectory()) { out.push(`${rel}/`); out.push(...walk(root, rel)); } else out.push(rel);
  }
  return out;
}

// ---- pure parts ---------------------------------------------------------------------------------

test('paths are made relative, with "/" separators and no "." or ".." components', () => {
  assert.equal(sanitizePath('../x'), 'x');
  assert.equal(sanitizePath('/abs'), 'abs');
  assert.equal(sanitizePath('a/../../b'), 'a/b');
  assert.equal(sanitizePath('./a//b/./c/'), 'a/b/c');
  assert.equal(sanitizePath('C:\\Users\\me\\..\\x.txt'), 'C:/Users/me/x.txt');
  assert.equal(sanitizePath('a\u0000b\nc'), 'a_b_c');
  assert.equal(sanitizePath('..'), '');
  assert.equal(sanitizePath('...'), '...', 'three dots are a name, not a parent');
  assert.equal(sanitizePath('Grüße/日本.txt'), 'Grüße/日本.txt');
});

test('PAX records count their own length, across a change in the number of digits', () => {
  for (const [key, value] of [['path', 'a'], ['path', 'x'.repeat(89)], ['path', 'x'.repeat(90)], ['path', 'x'.repeat(985)], ['path', 'é'.repeat(400)], ['size', '8589934592']]) {
    const rec = paxRecord(key, value);
    const text = new TextDecoder().decode(rec);
    const len = Number(text.slice(0, text.indexOf(' ')));
    assert.equal(len, rec.length, `${key}=${value.slice(0, 10)}…`);
    assert.equal(text.slice(text.indexOf(' ') + 1), `${key}=${value}\n`);
  }
});

test('long names are split at a slash into prefix and name as GNU tar does, or not at all', () => {
  const enc = (s) => new TextEncoder().encode(s);
  const dec = (b) => new TextDecoder().decode(b);
  const s = ustarSplit(enc(`${'a'.repeat(60)}/${'b'.repeat(60)}/c.txt`));
  assert.equal(dec(s.prefix), `${'a'.repeat(60)}/${'b'.repeat(60)}`);
  assert.equal(dec(s.name), 'c.txt');
  assert.equal(ustarSplit(enc('x'.repeat(101))), null, 'one long component');
  assert.equal(ustarSplit(enc(`a/${'x'.repeat(101)}`)), null, 'a last component over 100 bytes');
  assert.equal(ustarSplit(enc(`${'p'.repeat(156)}/x`)), null, 'a prefix over 155 bytes');
  assert.equal(dec(ustarSplit(enc(`${'p'.repeat(155)}/x`)).prefix), 'p'.repeat(155));
  assert.equal(ustarSplit(enc(`${'d'.repeat(101)}/`)), null, 'the trailing slash of a directory is no split point');
});

test('duplicate names get a suffix; a second folder of the same name is kept apart', () => {
  const t = 1_700_000_000;
  const entries = planEntries([
    { path: 'photo.jpg', file: file(bytes(3, 1), t), group: 0 },
    { path: 'photo.jpg', file: file(bytes(4, 2), t), group: 1 },
    { path: 'PHOTO.JPG', file: file(bytes(5, 3), t), group: 2 },
    { path: 'notes', file: file(bytes(1, 4), t), group: 3 },
    { path: 'notes/a.txt', file: file(bytes(2, 5), t), group: 4 },
    { path: 'notes/a.txt', file: file(bytes(2, 6), t), group: 5 },
    { path: '.bashrc', file: file(bytes(1, 7), t), group: 6 },
    { path: '.bashrc', file: file(bytes(1, 8), t), group: 7 },
    { path: 'v1.2/x', file: file(bytes(1, 9), t), group: 8 },
    { path: 'v1.2/y', file: file(bytes(1, 10), t), group: 9 },
    { path: 'Cafe\u0301.txt', file: file(bytes(1, 11), t), group: 10 },
    { path: 'Caf\u00e9.txt', file: file(bytes(1, 12), t), group: 11 },
  ]);
  assert.deepEqual(entries.map((e) => e.path + (e.dir ? '/' : '')), [
    'photo.jpg', 'photo (2).jpg', 'PHOTO (3).JPG', 'notes', 'notes (2)/', 'notes (2)/a.txt',
    'notes (3)/', 'notes (3)/a.txt', '.bashrc', '.bashrc (2)', 'v1.2/', 'v1.2/x', 'v1.2 (2)/', 'v1.2 (2)/y',
    'Cafe\u0301.txt', 'Caf\u00e9 (2).txt',
  ]);
  assert.deepEqual(entries.filter((e) => !e.dir).map((e) => e.size), [3, 4, 5, 1, 2, 2, 1, 1, 1, 1, 1, 1]);
});

test('the parts add up: total size is the sum of the lengths, headers and data on block boundaries', async () => {
  const t = 1_700_000_000;
  const items = [
    { path: 'd/a', file: file(bytes(1, 1), t), group: 0 },
    { path: 'd/b', file: file(bytes(512, 2), t), group: 0 },
    { path: 'd/c', file: file(bytes(0, 3), t), group: 0 },
    { path: 'd/e', file: file(bytes(1000, 4), t), group: 0 },
    { path: 'x'.repeat(150), file: file(bytes(7, 5), t), group: 1 },
  ];
  const a = buildArchive(items);
  const sum = a.parts.reduce((n, p) => n + (p.byteLength ?? p.size), 0);
  const blob = new Blob(a.parts);
  assert.equal(a.size, sum);
  assert.equal(blob.size, sum);
  const pad = (n) => Math.ceil(n / BLOCK) * BLOCK;
  const expected = a.entries.reduce((n, e) => n + entryHeader(e).length + pad(e.size), 0) + 2 * BLOCK;
  assert.equal(sum, expected);
  assert.equal(sum % BLOCK, 0);
  // The Files are parts themselves (referenced, never copied); an empty file adds none.
  assert.equal(a.parts.filter((p) => p instanceof Blob).length, 4);
  assert.equal(a.files, 5);
  assert.equal(a.dirs, 1);
  // Any byte range reads the same whether sliced from the Blob or from the whole.
  const whole = await archiveBytes(a.parts);
  for (const [s, e] of [[0, 100], [500, 1600], [1023, 1025], [sum - 1100, sum]]) {
    assert.deepEqual(new Uint8Array(await blob.slice(s, e).arrayBuffer()), whole.subarray(s, e));
  }
});

test('the same choice listed in another order makes the same archive; names, sizes and times change its identity', async () => {
  const mk = (order, t = 1_700_000_000, size = 5) => {
    const items = [
      { path: 'top/b.txt', file: file(bytes(size, 1), t), group: 0 },
      { path: 'top/a/z.txt', file: file(bytes(3, 2), t + 5), group: 0 },
      { path: 'top/a', dir: true, group: 0 },
      { path: 'top/empty', dir: true, group: 0 },
      { path: 'solo.txt', file: file(bytes(2, 3), t), group: 1 },
    ];
    return buildArchive(order.map((i) => items[i]));
  };
  const one = mk([0, 1, 2, 3, 4]);
  const two = mk([3, 1, 0, 2, 4]);
  assert.deepEqual(await archiveBytes(one.parts), await archiveBytes(two.parts));
  assert.equal(one.identity, two.identity);
  assert.notEqual(mk([0, 1, 2, 3, 4], 1_700_000_001).identity, one.identity, 'time');
  assert.notEqual(mk([0, 1, 2, 3, 4], undefined, 6).identity, one.identity, 'size');
  assert.deepEqual(one.entries.map((e) => e.path), ['top', 'top/a', 'top/a/z.txt', 'top/b.txt', 'top/empty', 'solo.txt']);
  // Directory times: the newest file below; an empty one takes the newest in the archive.
  assert.equal(one.entries[0].mtime, 1_700_000_005);
  assert.equal(one.entries[4].mtime, 1_700_000_005);
  assert.equal(one.mtime, 1_700_000_005_000);
});

test('archive names: one folder gives FOLDER.tar, anything else qopy-N-files.tar', () => {
  const t = 1_700_000_000;
  assert.equal(archiveName(planEntries([{ path: 'Holiday/a.jpg', file: file(bytes(1, 1), t) }, { path: 'Holiday/b.jpg', file: file(bytes(1, 1), t) }].map((x) => ({ ...x, group: 0 })))), 'Holiday.tar');
  assert.equal(archiveName(planEntries([{ path: 'a.jpg', file: file(bytes(1, 1), t) }, { path: 'b.jpg', file: file(bytes(1, 1), t) }, { path: 'c.jpg', file: file(bytes(1, 1), t) }])), 'qopy-3-files.tar');
  assert.equal(archiveName(planEntries([{ path: 'F/a.jpg', file: file(bytes(1, 1), t), group: 0 }, { path: 'b.jpg', file: file(bytes(1, 1), t), group: 1 }])), 'qopy-2-files.tar');
});

// ---- against GNU tar --------------------------------------------------------------------------------

test('ustar headers and checksums are byte for byte what GNU tar --format=ustar writes', async () => {
  await withTemp(async (tmpPath) => {
    const t = 1_700_000_000;
    const longDir = `${'a'.repeat(60)}/${'b'.repeat(60)}`;
    const items = [
      { path: 'docs/readme.txt', file: file(new TextEncoder().encode('hello world\n'), t + 1), group: 0 },
      { path: 'docs/empty.txt', file: file(new Uint8Array(0), t + 2), group: 0 },
      { path: 'docs/sub/data.bin', file: file(bytes(1000, 7), t + 3), group: 0 },
      { path: 'docs/sub/exact.bin', file: file(bytes(1024, 8), t + 4), group: 0 },
      { path: 'docs/sub/deep/nested/empty-dir', dir: true, group: 0 },
      { path: `docs/${longDir}/${'c'.repeat(90)}.txt`, file: file(bytes(33, 9), t + 5), group: 0 },
      { path: 'x'.repeat(100), file: file(bytes(1, 10), t + 6), group: 1 },
      { path: 'old.txt', file: file(bytes(9, 11), 0), group: 2 },
    ];
    const { ours } = await assertSameAsGnu(tmpPath, items, 'ustar');
    // tar -tvf lists them with their modes, owners, sizes and times.
    const listing = tar(['-tvf', '-', '--numeric-owner'], { input: ours }).toString();
    assert.match(listing, /^drwxr-xr-x 0\/0 +0 2023-11-14 22:13 docs\/$/m);
    assert.match(listing, /^-rw-r--r-- 0\/0 +12 2023-11-14 22:13 docs\/readme\.txt$/m);
    assert.match(listing, /^-rw-r--r-- 0\/0 +0 2023-11-14 22:13 docs\/empty\.txt$/m);
    assert.match(listing, /^-rw-r--r-- 0\/0 +9 1970-01-01 00:00 old\.txt$/m);
    assert.ok(listing.includes(`docs/${longDir}/${'c'.repeat(90)}.txt`), listing);
  });
});

test('PAX headers for non-ASCII and over-long names are byte for byte what GNU tar --format=pax writes', async () => {
  await withTemp(async (tmpPath) => {
    const t = 1_700_000_000;
    const items = [
      { path: 'Grüße/日本語.txt', file: file(new TextEncoder().encode('こんにちは'), t + 1), group: 0 },
      { path: 'Grüße/😀 emoji.bin', file: file(bytes(700, 1), t + 2), group: 0 },
      { path: 'Grüße/leer', dir: true, group: 0 },
      { path: 'y'.repeat(150), file: file(bytes(10, 2), t + 3), group: 1 },
      // (Names that ustar's prefix field can hold are not here: GNU's pax format never uses
      // the prefix, ours does; the ustar test compares those.)
      { path: `${'d'.repeat(160)}/${'f'.repeat(120)}.txt`, file: file(bytes(5, 3), t + 4), group: 2 },
      { path: `${'é'.repeat(80)}/x`, file: file(bytes(1, 4), t + 5), group: 3 },
      { path: 'plain.txt', file: file(bytes(2, 5), t + 6), group: 4 },
    ];
    const { a, ours } = await assertSameAsGnu(tmpPath, items, 'pax');
    const names = tar(['-tf', '-'], { input: ours }).toString().split('\n').filter(Boolean);
    assert.deepEqual(names, a.entries.map((e) => (e.dir ? `${e.path}/` : e.path)));
  });
});

test('a size of 8 GiB or more goes into a PAX size record, as GNU tar writes it', async () => {
  await withTemp(async (tmpPath) => {
    const t = 1_700_000_000;
    for (const [name, size] of [['big.bin', OCTAL_MAX + 1], ['bïg.bin', 9 * 2 ** 30]]) {
      const head = entryHeader({ path: name, size, mtime: t });
      // GNU tar's header of a sparse file of that size on disk (only the first blocks are read).
      const p = join(tmpPath, name);
      const fd = openSync(p, 'w');
      ftruncateSync(fd, size);
      closeSync(fd);
      utimesSync(p, t, t);
      chmodSync(p, 0o644);
      const gnu = execFileSync('sh', ['-c', `tar --format=pax --owner=0 --group=0 --numeric-owner -b 1 --no-recursion --pax-option=delete=atime,delete=ctime -C "$1" -cf - -- "$2" | head -c ${head.length}`, 'sh', tmpPath, name], { env: ENV });
      rmSync(p);
      assertSameBytes(head, new Uint8Array(gnu), name);
      // A (sparse) archive with that member lists with the full size.
      const arch = join(tmpPath, `${name}.tar`);
      const afd = openSync(arch, 'w');
      writeSync(afd, head, 0, head.length, 0);
      writeSync(afd, new Uint8Array(2 * BLOCK), 0, 2 * BLOCK, head.length + Math.ceil(size / BLOCK) * BLOCK);
      closeSync(afd);
      const listing = tar(['-tvf', arch]).toString();
      assert.ok(listing.includes(` ${size} `) && listing.includes(name), listing);
      rmSync(arch);
    }
  });
});

test('hostile names, duplicates, nested folders and empty things unpack inside the target with their contents', async () => {
  await withTemp(async (tmpPath) => {
    const t = 1_700_000_000;
    const content = new Map();
    const f = (seed, n) => { const b = bytes(n, seed); return { b, f: file(b, t + seed) }; };
    const x = f(1, 10), abs = f(2, 20), up = f(3, 30), dupA = f(4, 40), dupB = f(5, 50), deep = f(6, 600), empty = f(7, 0), uni = f(8, 80);
    const items = [
      { path: '../x', file: x.f, group: 0 },
      { path: '/abs', file: abs.f, group: 1 },
      { path: 'a/../../b', file: up.f, group: 2 },
      { path: 'same.txt', file: dupA.f, group: 3 },
      { path: 'same.txt', file: dupB.f, group: 4 },
      { path: 'top/one/two/three/deep.bin', file: deep.f, group: 5 },
      { path: 'top/one/empty.txt', file: empty.f, group: 5 },
      { path: 'top/hollow', dir: true, group: 5 },
      { path: 'top/ünï/ç😀.txt', file: uni.f, group: 5 },
    ];
    for (const [p, v] of [['x', x], ['abs', abs], ['a/b', up], ['same.txt', dupA], ['same (2).txt', dupB],
      ['top/one/two/three/deep.bin', deep], ['top/one/empty.txt', empty], ['top/ünï/ç😀.txt', uni]]) content.set(p, v.b);
    const a = buildArchive(items);
    const out = join(tmpPath, 'out');
    mkdirSync(out);
    const arch = join(tmpPath, 'a.tar');
    writeFileSync(arch, await archiveBytes(a.parts));
    const listed = tar(['-tf', arch]).toString().split('\n').filter(Boolean);
    for (const n of listed) {
      assert.ok(!n.startsWith('/') && !n.split('/').includes('..'), `unsafe name ${n}`);
    }
    tar(['-xf', arch, '-C', out]);
    assert.deepEqual(walk(out), [
      'a/', 'a/b', 'abs', 'same (2).txt', 'same.txt', 'top/', 'top/hollow/', 'top/one/', 'top/one/empty.txt',
      'top/one/two/', 'top/one/two/three/', 'top/one/two/three/deep.bin', 'top/ünï/', 'top/ünï/ç😀.txt', 'x',
    ]);
    for (const [p, b] of content) assert.deepEqual(new Uint8Array(readFileSync(join(out, p))), b, p);
    assert.equal(statSync(join(out, 'top/hollow')).mode & 0o777, 0o755);
    assert.equal(statSync(join(out, 'x')).mtimeMs, (t + 1) * 1000);
  });
});
