// End-to-end tests of assets/js/transfer.js against the real server binary (run: node --test
// tests/js/). The binary is target/debug/qopy (or $QOPY_BIN; built once with `cargo build` if
// missing), started on a free loopback port with a temporary data directory, rate limits off
// and 64 KiB chunks so that small files span many chunks. Covers text and file round trips (files always come back as application/octet-stream Blobs),
// password, access code, Quick Share, one-time, cancel, resume after an interrupted upload
// (only the missing chunks are sent), a server restart mid-upload, a changed file that must not resume, a tampered
// download, V3 payloads, plaintext clips, one round trip with the fallback crypto, and items
// sent into a drop box (the caller's secret, its wrap, nothing the server refuses there).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { nativeCrypto, fallbackCrypto } from '../../assets/js/crypto/index.js';
import { fromHex } from '../../assets/js/crypto/util.js';
import { ciphertextLength, newSecret, base64url } from '../../assets/js/v4.js';
import { wrapSecret, unwrapSecret } from '../../assets/js/dropbox-crypto.js';
import {
  shareText, shareFile, openClip, clipInfo, getServerConfig, accessCodeHash, resumableUploads, uploadKey,
} from '../../assets/js/transfer.js';
import { buildArchive } from '../../assets/js/tar.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const crypto = nativeCrypto();
let server, dataDir, base;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

let bin, port;
async function startServer() {
  server = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--rate-limits', 'off',
    '--chunk-size', '64KiB'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  server.stderr.on('data', (d) => { log = (log + d).slice(-4000); });
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/api/health`)).ok) break; } catch (e) { /* not up yet */ }
    if (i > 200 || server.exitCode !== null) throw new Error(`server did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  bin = process.env.QOPY_BIN || join(ROOT, 'target/debug/qopy');
  if (!existsSync(bin)) execFileSync('cargo', ['build'], { cwd: ROOT, stdio: 'inherit' });
  dataDir = mkdtempSync(join(tmpdir(), 'qopy-js-'));
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  await startServer();
});

after(() => {
  if (server) server.kill('SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const opts = (extra = {}) => ({ base, crypto, storage: null, backoffMs: 20, ...extra });
const bytes = (n, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + (i >> 8)) & 255);

/** A Storage-like object in memory. */
function memoryStorage() {
  const m = new Map();
  return {
    get length() { return m.size; },
    key: (i) => [...m.keys()][i] ?? null,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
  };
}

/** A sink that records what happened to it. */
function recordingSink() {
  const s = { parts: [], closed: false, aborted: false };
  s.write = async (b) => { s.parts.push(b.slice()); };
  s.close = async () => { s.closed = true; };
  s.abort = async () => { s.aborted = true; s.parts = []; };
  s.bytes = () => new Uint8Array(Buffer.concat(s.parts));
  return s;
}

/** A fetch that counts chunk PUTs and can fail them after `okPuts` successes. */
function countingFetch({ failAfter = Infinity, onPut } = {}) {
  const f = async (url, init = {}) => {
    if (init.method === 'PUT' && String(url).includes('/api/upload/chunk/')) {
      if (f.puts >= failAfter) throw new TypeError('fetch failed (network down)');
      f.puts++;
      if (onPut) onPut(f.puts);
    }
    return fetch(url, init);
  };
  f.puts = 0;
  return f;
}

test('config and access-code hash', async () => {
  const cfg = await getServerConfig({ base });
  assert.equal(cfg.chunkSize, 65536);
  assert.match(cfg.pbkdf2Salt, /./);
  assert.ok(cfg.maxFileSize > 0 && cfg.maxTextChars > 0 && Array.isArray(cfg.expiryOptions));
  assert.equal(await getServerConfig({ base }), cfg); // cached
  // The reference's known answer (§5.5).
  assert.equal(await accessCodeHash(crypto, 'pw123', 'qopy-access-salt-v1'),
    '0920202e0eed9de4b400cf3c3901795520fbf18332350d55a80514f31398611291764a8a40c1d191ff6efb479a710359317f69a25eb8e8c0b7c62f8ddf300892');
});

test('text round trip keeps whitespace; the server sees a random name', async () => {
  const text = '  Grüße 🔐\n\tline two  \n';
  const phases = new Set();
  const r = await shareText(text, opts({ expiration: '1hr', onProgress: (p) => phases.add(p.phase) }));
  assert.match(r.clipId, /^[A-Z0-9]{10}$/);
  assert.match(r.secret, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(r.url, `${base}/clip/${r.clipId}#${r.secret}`);
  assert.ok(r.expiresAt > Date.now() + 3500e3 && r.expiresAt < Date.now() + 3700e3);
  assert.ok(phases.has('upload') && phases.has('complete'));
  const info = await clipInfo(r.clipId, { base });
  assert.equal(info.encrypted, true);
  assert.equal(info.contentType, 'text');
  const desc = await (await fetch(`${base}/api/clip/${r.clipId}`)).json();
  assert.match(desc.filename, /^[0-9a-f]{16}$/);
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.equal(got.kind, 'text');
  assert.equal(got.text, text);
  assert.equal(got.meta.type, 'text/plain; charset=utf-8');
});

test('file round trip over many chunks and two records, with progress', async () => {
  const data = bytes(1_300_000);
  const file = new File([data], 'report final.pdf', { type: 'application/pdf', lastModified: 1700000000000 });
  const seen = [];
  const f = countingFetch();
  const r = await shareFile(file, opts({ fetch: f, parallel: 3, onProgress: (p) => seen.push(p) }));
  assert.equal(r.url, `${base}/file/${r.clipId}#${r.secret}`);
  const total = seen.find((p) => p.phase === 'upload').total;
  assert.equal(f.puts, Math.ceil(total / 65536));
  const last = seen.filter((p) => p.phase === 'upload').pop();
  assert.equal(last.sent, total);
  assert.ok(seen.some((p) => p.phase === 'upload' && p.bytesPerSec > 0 && p.etaSeconds !== null));
  assert.equal(seen[seen.length - 1].phase, 'complete');
  const desc = await (await fetch(`${base}/api/clip/${r.clipId}`)).json();
  assert.equal(desc.filesize, total);
  assert.match(desc.filename, /^[0-9a-f]{32}$/);
  assert.equal(desc.mimeType, 'application/octet-stream');
  const sink = recordingSink();
  const got = await openClip({ clipId: r.clipId, secret: r.secret, sink, ...opts() });
  assert.deepEqual(got.meta, { kind: 'file', name: 'report final.pdf', type: 'application/pdf', size: data.length });
  assert.ok(sink.closed && !sink.aborted);
  assert.deepEqual(sink.bytes(), data);
  const again = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() }); // no sink: a Blob
  assert.deepEqual(new Uint8Array(await again.blob.arrayBuffer()), data);
});

test('a file declared text/html comes back as an application/octet-stream Blob', async () => {
  const html = '<!DOCTYPE html><script>document.title = "pwned"</script>';
  const file = new File([html], 'page.html', { type: 'text/html' });
  const r = await shareFile(file, opts());
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.equal(got.meta.type, 'text/html'); // the declared type is reported, never applied
  assert.equal(got.blob.type, 'application/octet-stream');
  assert.equal(await got.blob.text(), html);
});

test('password mixed into the key; access code as the server gate', async () => {
  const r = await shareText('secret words', opts({ password: 'hunter2' }));
  const open = (extra) => openClip({ clipId: r.clipId, secret: r.secret, ...opts(), ...extra });
  await assert.rejects(open({}), (e) => e.kind === 'password_required');
  await assert.rejects(open({ password: 'hunter3' }), (e) => e.kind === 'wrong_key');
  assert.equal((await open({ password: 'hunter2' })).text, 'secret words');

  const file = new File([bytes(5000)], 'a.bin');
  const g = await shareFile(file, opts({ accessCode: 'open sesame' }));
  assert.equal((await clipInfo(g.clipId, { base })).hasPassword, true);
  const openF = (extra) => openClip({ clipId: g.clipId, secret: g.secret, ...opts(), ...extra });
  await assert.rejects(openF({}), (e) => e.status === 401 && e.requiresAccessCode === true);
  await assert.rejects(openF({ accessCode: 'open sesamE' }), (e) => e.status === 401 || e.status === 403);
  const ok = await openF({ accessCode: 'open sesame' });
  assert.deepEqual(new Uint8Array(await ok.blob.arrayBuffer()), bytes(5000));
});

test('Quick Share: 6-character ID and secret, verbal code, 5 minutes', async () => {
  const r = await shareText('quick!', opts({ quickShare: true, expiration: '24hr', password: 'ignored' }));
  assert.match(r.clipId, /^[A-Z0-9]{6}$/);
  assert.match(r.secret, /^[A-Z0-9]{6}$/);
  assert.equal(r.verbalCode, `${r.clipId} · ${r.secret}`);
  assert.equal(r.quickShare, true);
  assert.ok(r.expiresAt <= Date.now() + 300e3 && r.expiresAt > Date.now() + 200e3);
  assert.equal((await openClip({ clipId: r.clipId, secret: r.secret, ...opts() })).text, 'quick!');
});

test('one-time: info never consumes, the first open does', async () => {
  const r = await shareText('burn after reading', opts({ oneTime: true }));
  assert.equal(r.oneTime, true);
  assert.equal((await clipInfo(r.clipId, { base })).oneTime, true);
  assert.equal((await clipInfo(r.clipId, { base })).oneTime, true);
  assert.equal((await openClip({ clipId: r.clipId, secret: r.secret, ...opts() })).text, 'burn after reading');
  await assert.rejects(openClip({ clipId: r.clipId, secret: r.secret, ...opts() }), (e) => e.status === 404 || e.status === 410);
});

/** A fetch that records the JSON bodies sent to /api/upload/initiate. */
function initiateRecorder() {
  const f = async (url, init = {}) => {
    if (String(url).endsWith('/api/upload/initiate')) f.sent.push(JSON.parse(init.body));
    return fetch(url, init);
  };
  f.sent = [];
  return f;
}

test('download limit: maxDownloads (and oneTime for 1) goes into the initiate JSON, nothing when unlimited', async () => {
  const cases = [
    [{}, { oneTime: false, maxDownloads: undefined }],
    [{ maxDownloads: null }, { oneTime: false, maxDownloads: undefined }],
    [{ maxDownloads: 1, oneTime: true }, { oneTime: true, maxDownloads: 1 }],
    [{ oneTime: true }, { oneTime: true, maxDownloads: 1 }],
    [{ maxDownloads: 2 }, { oneTime: false, maxDownloads: 2 }],
    [{ maxDownloads: 1000 }, { oneTime: false, maxDownloads: 1000 }],
  ];
  for (const [given, want] of cases) {
    const f = initiateRecorder();
    const r = await shareText('limited', opts({ fetch: f, ...given }));
    assert.equal(f.sent.length, 1);
    assert.equal(f.sent[0].oneTime, want.oneTime, JSON.stringify(given));
    assert.equal(f.sent[0].maxDownloads, want.maxDownloads, JSON.stringify(given));
    // The server took it: the info route reports the limit and what is left.
    const info = await clipInfo(r.clipId, { base });
    assert.equal(info.maxDownloads, want.maxDownloads ?? null, JSON.stringify(given));
    assert.equal(info.downloadsRemaining, want.maxDownloads ?? null, JSON.stringify(given));
    assert.equal(info.oneTime, want.oneTime, JSON.stringify(given));
  }
  // A file too, and the saved resume options carry the limit (a different limit never resumes).
  const storage = memoryStorage();
  const file = new File([bytes(200_000, 5)], 'limited.bin', { lastModified: 42 });
  const broken = countingFetch({ failAfter: 1 });
  await assert.rejects(shareFile(file, opts({ fetch: broken, storage, parallel: 1, retries: 1, maxDownloads: 3 })), /network down/);
  const saved = await resumableUploads(storage);
  assert.equal(saved[0].options.maxDownloads, 3);
  const f = initiateRecorder();
  await shareFile(file, opts({ fetch: f, storage, maxDownloads: 4 }));
  assert.equal(f.sent.length, 1, 'another limit starts a new upload');
  assert.equal(f.sent[0].maxDownloads, 4);
});

test('resume: an interrupted upload sends only the missing chunks on re-select', async () => {
  const storage = memoryStorage();
  const data = bytes(400_000, 3);
  const file = () => new File([data], 'big.iso', { lastModified: 1234567890 });
  const broken = countingFetch({ failAfter: 2 });
  await assert.rejects(shareFile(file(), opts({ fetch: broken, storage, parallel: 1, retries: 1 })), /network down/);
  assert.equal(broken.puts, 2);
  const saved = await resumableUploads(storage);
  assert.equal(saved.length, 1);
  assert.equal(saved[0].name, 'big.iso');
  assert.equal(saved[0].lastModified, 1234567890);
  assert.deepEqual(saved[0].options, { expiration: null, oneTime: false, maxDownloads: null, quickShare: false, hasPassword: false, hasAccessCode: false });
  const f = countingFetch();
  const r = await shareFile(file(), opts({ fetch: f, storage }));
  const totalChunks = Math.ceil(saved[0].total / 65536);
  assert.equal(f.puts, totalChunks - 2);
  assert.equal(storage.length, 0);
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), data);
});

test('resume: an archive made in the page resumes by the names, sizes and times in it', async () => {
  const storage = memoryStorage();
  // The same choice as fresh File objects each time, as after a reload.
  const choose = (t = 1_700_000_000_000) => [
    { path: 'album/a.jpg', file: new File([bytes(150_000, 1)], 'a.jpg', { lastModified: t }), group: 0 },
    { path: 'album/sub/b.jpg', file: new File([bytes(170_000, 2)], 'b.jpg', { lastModified: t }), group: 0 },
    { path: 'notes.txt', file: new File([bytes(1000, 3)], 'notes.txt', { lastModified: t }), group: 1 },
  ];
  const pack = (items) => {
    const a = buildArchive(items);
    return { a, file: new File(a.parts, a.name, { type: a.type, lastModified: a.mtime }) };
  };
  const first = pack(choose());
  assert.equal(first.file.name, 'qopy-3-files.tar');
  const broken = countingFetch({ failAfter: 2 });
  await assert.rejects(shareFile(first.file, opts({ fetch: broken, storage, parallel: 1, retries: 1, resumeId: first.a.identity })), /network down/);
  const saved = await resumableUploads(storage);
  assert.equal(saved.length, 1);
  assert.equal(saved[0].key, await uploadKey(first.file, { crypto, resumeId: first.a.identity }));
  assert.notEqual(saved[0].key, await uploadKey(first.file, { crypto }), 'the archive is keyed by its contents, not its name');
  // Another time on one file is another archive: another key.
  const other = pack(choose(1_700_000_001_000));
  assert.notEqual(await uploadKey(other.file, { crypto, resumeId: other.a.identity }), saved[0].key);

  const again = pack(choose());
  assert.equal(await uploadKey(again.file, { crypto, resumeId: again.a.identity }), saved[0].key);
  const f = countingFetch();
  const r = await shareFile(again.file, opts({ fetch: f, storage, resumeId: again.a.identity }));
  assert.equal(f.puts, Math.ceil(saved[0].total / 65536) - 2, 'only the missing chunks were sent');
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.equal(got.meta.name, 'qopy-3-files.tar');
  assert.equal(got.meta.type, 'application/x-tar');
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), new Uint8Array(await new Blob(again.a.parts).arrayBuffer()));
});

test('resume: a changed file with the same name, size and date starts a fresh session', async () => {
  const storage = memoryStorage();
  const make = (seed) => new File([bytes(300_000, seed)], 'same.bin', { lastModified: 42 });
  const broken = countingFetch({ failAfter: 2 });
  await assert.rejects(shareFile(make(1), opts({ fetch: broken, storage, parallel: 1, retries: 0 })));
  const old = (await resumableUploads(storage))[0];
  const f = countingFetch();
  const r = await shareFile(make(2), opts({ fetch: f, storage }));
  assert.equal(f.puts, Math.ceil(old.total / 65536));
  assert.equal((await fetch(`${base}/api/upload/${old.uploadId}/status`)).status, 404); // old one deleted
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), bytes(300_000, 2));
});

test('cancel stops the upload, deletes the session and forgets it', async () => {
  const storage = memoryStorage();
  const ctl = new AbortController();
  let uploadId = null;
  const f = countingFetch({
    onPut: (n) => {
      if (n === 2) { uploadId = JSON.parse(storage.getItem(storage.key(0))).uploadId; ctl.abort(); }
    },
  });
  await assert.rejects(shareFile(new File([bytes(500_000)], 'c.bin'), opts({ fetch: f, storage, signal: ctl.signal, parallel: 1 })),
    (e) => e.name === 'AbortError');
  assert.equal(f.puts, 2);
  assert.equal(storage.length, 0);
  assert.match(uploadId, /^[0-9A-F]{16}$/);
  assert.equal((await fetch(`${base}/api/upload/${uploadId}/status`)).status, 404);
});

test('transient failures are retried: lost answers, 503, 429 with Retry-After', async () => {
  const data = bytes(350_000, 4);
  const log = [];
  const flaky = async (url, init = {}) => {
    const m = String(url).match(/\/chunk\/[0-9A-F]+\/(\d+)$/);
    if (!m || init.method !== 'PUT') return fetch(url, init);
    const n = Number(m[1]), seen = log.filter((x) => x === n).length;
    log.push(n);
    if (n === 1 && seen === 0) { await fetch(url, init); throw new TypeError('connection reset'); } // stored, answer lost
    if (n === 2 && seen === 0) return Response.json({ error: 'Busy' }, { status: 503 });
    if (n === 3 && seen === 0) return Response.json({ error: 'Too many' }, { status: 429, headers: { 'Retry-After': '1' } });
    return fetch(url, init);
  };
  const t0 = Date.now();
  const r = await shareFile(new File([data], 'flaky.bin'), opts({ fetch: flaky }));
  assert.ok(Date.now() - t0 >= 900, 'Retry-After was honoured');
  for (const n of [1, 2, 3]) assert.equal(log.filter((x) => x === n).length, 2);
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), data);
  // A client error is not retried.
  const gone = async (url, init = {}) => (String(url).includes('/chunk/') ? Response.json({ error: 'Upload session not found' }, { status: 404 }) : fetch(url, init));
  await assert.rejects(shareFile(new File([data], 'x.bin'), opts({ fetch: gone })), (e) => e.status === 404 && e.error === 'Upload session not found');
});

test('every chunk answer is read to its end (an unread one keeps its request in memory)', async () => {
  const data = bytes(300_000, 9);
  const answers = [];
  const watching = async (url, init = {}) => {
    const res = await fetch(url, init);
    if (String(url).includes('/chunk/') && init.method === 'PUT') answers.push(res);
    return res;
  };
  const r = await shareFile(new File([data], 'read.bin'), opts({ fetch: watching }));
  assert.ok(answers.length >= 5, `${answers.length} chunk answers`);
  assert.ok(answers.every((a) => a.bodyUsed), 'a chunk answer was left unread');
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), data);
});

test('a server restart during an upload is ridden out by the retries', async () => {
  const data = bytes(600_000, 9);
  let restarted = null;
  const f = countingFetch({
    onPut: (n) => {
      if (n === 3) {
        const old = server;
        restarted = new Promise((r) => old.once('exit', r)).then(startServer);
        old.kill('SIGKILL');
      }
    },
  });
  const r = await shareFile(new File([data], 'r.bin'), opts({ fetch: f, parallel: 2, retries: 8, backoffMs: 100 }));
  await restarted;
  assert.ok(f.puts > Math.ceil(ciphertextLength(data.length) / 65536), 'some chunk was sent again');
  const got = await openClip({ clipId: r.clipId, secret: r.secret, ...opts() });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), data);
});

test('a tampered download fails, aborts the sink and saves nothing', async () => {
  const data = bytes(1_200_000, 5);
  const r = await shareFile(new File([data], 't.bin'), opts());
  const tamper = async (url, init = {}) => {
    const res = await fetch(url, init);
    if (!String(url).includes('/api/file/') || init.method !== 'POST') return res;
    const b = new Uint8Array(await res.arrayBuffer());
    b[b.length - 100] ^= 0x40; // inside the second data record
    return new Response(b, { status: res.status, headers: res.headers });
  };
  const sink = recordingSink();
  await assert.rejects(openClip({ clipId: r.clipId, secret: r.secret, sink, ...opts({ fetch: tamper }) }),
    (e) => e.kind === 'tampered');
  assert.ok(sink.aborted && !sink.closed);
  await assert.rejects(openClip({ clipId: r.clipId, secret: 'A'.repeat(43), sink: recordingSink(), ...opts() }),
    (e) => e.kind === 'wrong_key');
});

test('V3 payloads made by the original client open', async () => {
  const payload = Uint8Array.from([3, ...fromHex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f'),
    ...fromHex('a0a1a2a3a4a5a6a7a8a9aaab'), ...fromHex('ddb91dbdf8ba29a9939823d41f545ba748cda2c7b6')]);
  const post = (path, body) => fetch(base + path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const init = await (await post('/api/upload/initiate', { filename: 'abcdef0123456789', filesize: payload.length, totalChunks: 1, contentType: 'text' })).json();
  await fetch(`${base}/api/upload/chunk/${init.uploadId}/0`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: payload });
  const done = await (await post(`/api/upload/complete/${init.uploadId}`, { isTextUpload: true, contentType: 'text' })).json();
  const got = await openClip({ clipId: done.clipId, secret: 'AB7K9P', ...opts() });
  assert.equal(got.text, 'hello');
});

test('unencrypted clips (curl uploads) are returned as they are; bad secrets consume nothing', async () => {
  let downloads = 0;
  const fake = async (url) => {
    const u = String(url), m = u.match(/\/api\/(clip|file)\/([A-Z0-9]+)$/);
    if (!m) return new Response('{}', { status: 404 });
    const text = m[2] === 'TTTTTTTTTT', plain = m[2] !== 'EEEEEEEEEE';
    if (m[1] === 'clip') {
      return Response.json({ contentType: text ? 'text' : 'file', encrypted: !plain, filename: 'n.txt', mimeType: 'text/plain', filesize: 3 });
    }
    downloads++;
    return new Response(text ? new TextEncoder().encode(' ü ') : new Uint8Array([1, 2, 3]));
  };
  const got = await openClip({ clipId: 'ABCDEFGHIJ', ...opts({ fetch: fake }) });
  assert.equal(got.encrypted, false);
  assert.deepEqual(got.meta, { kind: 'file', name: 'n.txt', type: 'text/plain', size: 3 });
  assert.deepEqual(new Uint8Array(await got.blob.arrayBuffer()), new Uint8Array([1, 2, 3]));
  const t = await openClip({ clipId: 'TTTTTTTTTT', ...opts({ fetch: fake }) });
  assert.deepEqual([t.kind, t.text, t.encrypted], ['text', ' ü ', false]);
  assert.equal(downloads, 2);
  await assert.rejects(openClip({ clipId: 'EEEEEEEEEE', secret: 'too-short', ...opts({ fetch: fake }) }), (e) => e.kind === 'bad_secret');
  await assert.rejects(openClip({ clipId: 'EEEEEEEEEE', ...opts({ fetch: fake }) }), (e) => e.kind === 'missing_secret');
  assert.equal(downloads, 2);
});

test('the fallback crypto provider interoperates with the native one', async () => {
  const r = await shareText('made without WebCrypto', opts({ crypto: fallbackCrypto() }));
  assert.equal((await openClip({ clipId: r.clipId, secret: r.secret, ...opts() })).text, 'made without WebCrypto');
});

/**
 * A fetch whose first download answer (POST /api/file/...) breaks after `cutAt` bytes of its
 * body, as a dropped connection does; every download request's headers are recorded.
 */
function cuttingFetch(cutAt, { replaceResume, claim } = {}) {
  const f = async (url, init = {}) => {
    const isFile = String(url).includes('/api/file/') && init.method === 'POST';
    if (isFile) f.requests.push({ ...(init.headers || {}) });
    if (isFile && f.requests.length > 1 && replaceResume) return replaceResume(url, init);
    const res = await fetch(url, init);
    if (!isFile || f.requests.length > 1) return res;
    const reader = res.body.getReader();
    let sent = 0;
    const body = new ReadableStream({
      async pull(c) {
        const { done, value } = await reader.read();
        if (done) { c.close(); return; }
        if (sent + value.length >= cutAt) {
          if (cutAt > sent) c.enqueue(value.subarray(0, cutAt - sent));
          sent = cutAt;
          reader.cancel();
          c.error(new TypeError('network error'));
          return;
        }
        sent += value.length;
        c.enqueue(value);
      },
    });
    const headers = new Headers(res.headers);
    if (claim) headers.set('X-Qopy-Claim', claim); // as the first answer of a claimed download
    return new Response(body, { status: res.status, headers });
  };
  f.requests = [];
  return f;
}

test('a dropped download reconnects and continues after the last authenticated record', async () => {
  const data = bytes(3_500_000, 9);
  const r = await shareFile(new File([data], 'cut.bin'), opts());
  const cutAt = 64 + 1024 + 16 + (1048576 + 16) + 300_000; // inside the second data record
  const f = cuttingFetch(cutAt, { claim: 'c1aim-T0ken' });
  const phases = [];
  const sink = recordingSink();
  const got = await openClip({ clipId: r.clipId, secret: r.secret, sink, onProgress: (p) => phases.push(p), ...opts({ fetch: f }) });
  assert.equal(got.kind, 'file');
  assert.equal(got.meta.name, 'cut.bin');
  assert.ok(sink.closed && !sink.aborted);
  assert.deepEqual(sink.bytes(), data);
  assert.equal(f.requests.length, 2);
  // From the end of the first data record: the partial second record is asked for again.
  assert.equal(f.requests[1].Range, `bytes=${64 + 1024 + 16 + 1048576 + 16}-`);
  assert.match(f.requests[1]['If-Range'], /^"/);
  assert.equal(f.requests[1]['X-Qopy-Claim'], 'c1aim-T0ken');
  assert.ok(!('Range' in f.requests[0]));
  const rec = phases.find((p) => p.phase === 'reconnecting');
  assert.ok(rec && rec.attempt === 1 && rec.received === 64 + 1024 + 16 + 1048576 + 16, JSON.stringify(rec));
});

test('a download dropped before its first record asks again with the claim, from the start', async () => {
  const data = bytes(200_000, 11);
  const r = await shareFile(new File([data], 'early.bin'), opts());
  const f = cuttingFetch(30, { claim: 'c1aim-T0ken' }); // inside the V4 header
  const sink = recordingSink();
  const got = await openClip({ clipId: r.clipId, secret: r.secret, sink, ...opts({ fetch: f }) });
  assert.equal(got.meta.name, 'early.bin');
  assert.deepEqual(sink.bytes(), data);
  assert.equal(f.requests.length, 2);
  // Not a new claim: the token goes with the retry, which starts over (nothing was kept).
  assert.equal(f.requests[1]['X-Qopy-Claim'], 'c1aim-T0ken');
  assert.ok(!('Range' in f.requests[1]));
});

test('a resumed download that is not the asked range fails and saves nothing', async () => {
  const data = bytes(2_500_000, 4);
  const r = await shareFile(new File([data], 'changed.bin'), opts());
  // The server answers the resume with the whole content (If-Range did not match).
  const f = cuttingFetch(1_500_000, { replaceResume: (url, init) => fetch(url, { ...init, headers: { 'Content-Type': 'application/json' } }) });
  const sink = recordingSink();
  await assert.rejects(openClip({ clipId: r.clipId, secret: r.secret, sink, ...opts({ fetch: f }) }),
    (e) => e.kind === 'resume_refused');
  assert.ok(sink.aborted && !sink.closed);
});

test('a download that keeps dropping gives up after its retries', async () => {
  const data = bytes(1_500_000, 6);
  const r = await shareFile(new File([data], 'flaky.bin'), opts());
  const f = async (url, init = {}) => {
    if (String(url).includes('/api/file/') && init.method === 'POST' && init.headers && init.headers.Range) {
      throw new TypeError('network error');
    }
    return cuttingFetch(1_200_000)(url, init);
  };
  const sink = recordingSink();
  await assert.rejects(openClip({ clipId: r.clipId, secret: r.secret, sink, downloadRetries: 3, ...opts({ fetch: f }) }),
    (e) => e instanceof TypeError);
  assert.ok(sink.aborted && !sink.closed);
});

/** A drop box with a fresh key pair: { id, owner, keys }. */
async function openDropbox() {
  const keys = await crypto.ecdhGenerate();
  const res = await fetch(`${base}/api/dropbox`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ publicKey: base64url(keys.publicKey), expiration: '1hr' }),
  });
  assert.equal(res.status, 201);
  const made = await res.json();
  return { id: made.id, owner: made.ownerToken, keys };
}

async function dropItems(box) {
  const res = await fetch(`${base}/api/dropbox/${box.id}/items?after=0`, { headers: { 'X-Qopy-Owner': box.owner } });
  assert.equal(res.status, 200);
  return (await res.json()).items;
}

/** The options of one drop-box item: a fresh secret and its wrap to the box. */
async function dropOpts(box, extra = {}) {
  const secret = newSecret(crypto);
  const wrapped = await wrapSecret(crypto, new TextEncoder().encode(secret), box.keys.publicKey, box.id);
  return opts({ secret, dropbox: { id: box.id, wrappedKey: base64url(wrapped) }, ...extra });
}

test('drop box: text and a file go in with the caller\'s secret; the receiver unwraps and opens them', async () => {
  const box = await openDropbox();
  const f = initiateRecorder();
  // Options the server refuses for drop-box items are given and must be left out.
  const o = await dropOpts(box, { fetch: f, expiration: '1hr', oneTime: true, maxDownloads: 3, quickShare: true, accessCode: 'x', password: 'x' });
  const t = await shareText('for the box ✓', o);
  assert.equal(t.secret, o.secret);
  const data = bytes(300_000, 9);
  const o2 = await dropOpts(box, { fetch: f });
  const r = await shareFile(new File([data], 'into-the-box.bin'), o2);
  assert.equal(r.secret, o2.secret);
  assert.equal(f.sent.length, 2);
  for (const body of f.sent) {
    assert.equal(body.dropbox, box.id);
    assert.match(body.wrappedKey, /^[A-Za-z0-9_-]+$/);
    for (const k of ['expiration', 'oneTime', 'maxDownloads', 'quickShare', 'hasPassword']) assert.equal(body[k], undefined, k);
  }
  const items = await dropItems(box);
  assert.deepEqual(items.map((i) => i.clipId), [t.clipId, r.clipId]);
  const open = async (item) => {
    const secret = new TextDecoder().decode(await unwrapSecret(crypto, box.keys.privateKey, box.keys.publicKey,
      Buffer.from(item.wrappedKey, 'base64url'), box.id));
    return openClip({ clipId: item.clipId, secret, ...opts() });
  };
  assert.equal((await open(items[0])).text, 'for the box ✓');
  const sink = recordingSink();
  const got = await openClip({ clipId: items[1].clipId, secret: r.secret, sink, ...opts() });
  assert.equal(got.meta.name, 'into-the-box.bin');
  assert.deepEqual(sink.bytes(), data);
  assert.equal((await open(items[1])).meta.name, 'into-the-box.bin');
  // Without its secret or wrap, a drop-box item is refused before anything is sent.
  await assert.rejects(shareText('x', opts({ dropbox: { id: box.id } })), /needs the box ID/);
});

test('drop box: an interrupted item resumes with the secret it was started with, not a new one', async () => {
  const box = await openDropbox();
  const storage = memoryStorage();
  const data = bytes(400_000, 4);
  const file = () => new File([data], 'resumed-into-box.bin', { lastModified: 7 });
  const first = await dropOpts(box, { fetch: countingFetch({ failAfter: 2 }), storage, parallel: 1, retries: 1 });
  await assert.rejects(shareFile(file(), first), /network down/);
  // A plain share of the same file does not take over the box's session.
  const plain = initiateRecorder();
  await shareFile(file(), opts({ fetch: plain, storage: memoryStorage() }));
  assert.equal(plain.sent[0].dropbox, undefined);
  const again = await dropOpts(box, { fetch: countingFetch(), storage });
  const r = await shareFile(file(), again);
  assert.equal(r.secret, first.secret, 'the resumed item keeps the wrapped secret');
  assert.notEqual(r.secret, again.secret);
  const items = await dropItems(box);
  assert.equal(items.length, 1);
  const sink = recordingSink();
  await openClip({ clipId: items[0].clipId, secret: r.secret, sink, ...opts() });
  assert.deepEqual(sink.bytes(), data);
});
