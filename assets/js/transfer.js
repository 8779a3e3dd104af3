// transfer.js — the browser client's network side: share text and files as V4 streams
// (parallel chunk uploads with retry, progress with speed and time left, cancel, resume
// after a dropped connection, a server restart or a tab reload), and open clips (streaming
// decryption into a caller-supplied sink; V3 and unencrypted clips too).
// Options shared by every call: base (URL prefix, '' = same origin), fetch (for tests),
// crypto (a provider from ./crypto/index.js; default getCrypto()).
// API errors are ApiError { status, error, message, ...body }; crypto errors are V4Error.
// A file collected in memory is an application/octet-stream Blob whatever its declared type
// (see image-type.js): the caller decides from the bytes whether it may be shown.

import { getCrypto } from './crypto/index.js';
import { toHex, fromHex } from './crypto/util.js';
import {
  V4Writer, V4Reader, V4Error, newSecret, newQuickSecret, ciphertextLength, decryptAny, isV4,
} from './v4.js';
import { DOWNLOAD_TYPE } from './image-type.js';
import { UploadWorkers } from './upload-workers.js';
import { DecryptWorkers } from './decrypt-workers.js';

const utf8 = new TextEncoder();
const RESUME_PREFIX = 'qopy.upload.';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const CHUNK_TIMEOUT_MS = 120000;
/**
 * Files from this size on are uploaded by workers (upload-workers.js): 133 MiB/s instead of
 * 108 MiB/s for 1 GiB in headless Chromium 148 on two cores (benches/browser-memory.mjs),
 * and a 2 GiB upload no longer stalls. Below it, starting the workers is not worth it.
 */
const WORKER_MIN_BYTES = 64 * 1024 * 1024;
/**
 * Downloads from this size on, without WebCrypto (our own AES-GCM: a plain-HTTP address),
 * open their records in two workers (decrypt-workers.js), and the page reads the network and
 * writes the file meanwhile: 67 instead of 52 MiB/s for 256 MiB in headless Chromium on two
 * cores. With WebCrypto they do not: there the workers' messages cost more than they saved
 * (159-165 instead of 183 MiB/s on the service-worker path), on the same machine.
 */
const DECRYPT_WORKER_MIN_BYTES = 8 * 1024 * 1024;
/** The buffer a download reads the network into (see request() in openClip). */
const READ_BYTES = 256 * 1024;
const MAX_TEXT_BYTES = 16 * 1024 * 1024; // larger "text" is treated as a file
// Ours (43 base64url chars), the original's (44 standard Base64 chars), Quick Share (6 A-Z0-9).
const SECRET_RE = /^(?:[A-Za-z0-9_-]{43}|[A-Za-z0-9+/]{43}=|[A-Z0-9]{6})$/;

/** An error answer of the API: { status, error, message } and the body's other fields. */
export class ApiError extends Error {
  constructor(status, body = {}, fallback = '') {
    super(body.message || body.error || fallback || `HTTP ${status}`);
    Object.assign(this, body, { name: 'ApiError', status, error: body.error || fallback || `HTTP ${status}` });
    this.message = body.message || this.error;
  }
}

const fetchOf = (opts) => opts.fetch || globalThis.fetch.bind(globalThis);
const cryptoOf = async (opts) => opts.crypto || getCrypto();
const abortError = () => Object.assign(new Error('cancelled'), { name: 'AbortError', kind: 'cancelled' });
const sleep = (ms, signal) => new Promise((resolve, reject) => {
  if (signal && signal.aborted) return reject(abortError());
  const t = setTimeout(() => { if (signal) signal.removeEventListener('abort', on); resolve(); }, ms);
  const on = () => { clearTimeout(t); reject(abortError()); };
  if (signal) signal.addEventListener('abort', on, { once: true });
});

/** fetch + JSON, throwing ApiError for non-2xx answers. */
async function api(path, opts, init = {}) {
  const res = await fetchOf(opts)((opts.base || '') + path, init);
  if (res.ok) return res;
  let body = {};
  try { body = await res.json(); } catch (e) { /* not JSON */ }
  const err = new ApiError(res.status, body, res.statusText);
  const ra = res.headers.get('retry-after');
  if (ra) err.retryAfter = Number(ra);
  throw err;
}
const jsonInit = (method, body, signal) => ({
  method, signal, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

const configCache = new Map();
/** GET /api/config, cached per base URL (a failure is not cached). */
export async function getServerConfig(opts = {}) {
  const k = opts.base || '';
  if (!configCache.has(k)) {
    const p = api('/api/config', opts).then((r) => r.json());
    configCache.set(k, p);
    p.catch(() => configCache.delete(k));
  }
  return configCache.get(k);
}

/** The access-code hash the server expects: PBKDF2-HMAC-SHA512(code, salt, 600000, 64), hex. */
export async function accessCodeHash(crypto, code, pbkdf2Salt, onProgress) {
  return toHex(await crypto.pbkdf2('SHA-512', utf8.encode(code), utf8.encode(pbkdf2Salt), 600000, 64, onProgress));
}

/** Progress with speed and time left over a moving window (5 s) of samples. */
function meter(total, onProgress, already) {
  let sent = already;
  const samples = [[Date.now(), sent]];
  const report = (now) => {
    const [t0, s0] = samples[0];
    const bytesPerSec = now > t0 ? ((sent - s0) * 1000) / (now - t0) : 0;
    const etaSeconds = bytesPerSec > 0 ? (total - sent) / bytesPerSec : null;
    if (onProgress) onProgress({ phase: 'upload', sent, total, bytesPerSec, etaSeconds });
  };
  report(Date.now());
  return {
    add(bytes) {
      sent += bytes;
      const now = Date.now();
      samples.push([now, sent]);
      while (samples.length > 2 && now - samples[0][0] > 5000) samples.shift();
      report(now);
    },
  };
}

const offline = () => typeof navigator !== 'undefined' && navigator.onLine === false
  && typeof globalThis.addEventListener === 'function';

/** One request with retries on network errors, timeouts, 5xx and 429 (honouring Retry-After). */
async function withRetry(opts, fn) {
  const retries = opts.retries ?? 5, base = opts.backoffMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    if (opts.signal && opts.signal.aborted) throw abortError();
    try {
      return await fn();
    } catch (e) {
      if (opts.signal && opts.signal.aborted) throw abortError();
      const retriable = !(e instanceof ApiError) || e.status >= 500 || e.status === 429;
      if (!retriable || attempt >= retries) throw e;
      if (!(e instanceof ApiError) && offline()) { // wait for the network without using up retries
        await new Promise((resolve) => { globalThis.addEventListener('online', resolve, { once: true }); sleep(60000, opts.signal).then(resolve, resolve); });
        attempt--;
        continue;
      }
      let wait = Math.min(30000, base * 2 ** attempt) * (0.75 + Math.random() / 2);
      if (e.retryAfter > 0) wait = Math.max(wait, e.retryAfter * 1000);
      await sleep(wait, opts.signal);
    }
  }
}

/**
 * PUTs one chunk (a Blob); a per-request timeout counts as a network error. The answer is
 * read to its end: a browser keeps an unread response (and the request behind it) alive,
 * which made a 2 GiB upload hold about twice the file in the renderer. The body is a Blob,
 * not bytes: in Chromium 148 a 5 MiB byte body went out at 17 MiB/s and a Blob body at
 * 200 MiB/s (sequential PUTs to a loopback server that discards them), and the renderer kept
 * byte bodies until its request objects were collected (a 1 GiB upload grew it by 420-530
 * MiB with bytes, by 110-150 MiB with Blobs).
 */
async function putChunk(opts, uploadId, n, bytes) {
  const ctl = new AbortController();
  const onAbort = () => ctl.abort();
  if (opts.signal) opts.signal.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => ctl.abort(), opts.chunkTimeoutMs ?? CHUNK_TIMEOUT_MS);
  try {
    const res = await api(`/api/upload/chunk/${uploadId}/${n}`, opts, {
      method: 'PUT', signal: ctl.signal, headers: { 'Content-Type': 'application/octet-stream' }, body: bytes,
    });
    await res.arrayBuffer();
  } finally {
    clearTimeout(timer);
    if (opts.signal) opts.signal.removeEventListener('abort', onAbort);
  }
}

/** putChunk done by upload worker `lane` (upload-workers.js); the chunk's size. */
async function putByWorker(opts, s, n, lane) {
  const r = await s.workers.put(`${opts.base || ''}/api/upload/chunk/${s.uploadId}/${n}`, n * s.chunkSize, s.chunkSize,
    opts.chunkTimeoutMs ?? CHUNK_TIMEOUT_MS, opts.signal, lane);
  if (r.error) throw new TypeError(r.error); // a network error, a timeout: retried
  if (r.status >= 200 && r.status < 300) return r.size;
  let body = {};
  try { body = JSON.parse(r.text); } catch (e) { /* not JSON */ }
  const err = new ApiError(r.status, body, r.statusText);
  if (r.retryAfter) err.retryAfter = Number(r.retryAfter);
  throw err;
}

/** A chunk's body: a Blob of its parts (never copied into one buffer here; see putChunk). */
const chunkBody = (parts) => new Blob(parts);

/**
 * `todo` cut into `parallel` contiguous runs, one a lane: take(lane) gives the lane's next
 * chunk; a lane whose run is done takes the back half of the longest run left (so the lanes
 * finish together); undefined once every chunk was given out. Each chunk is given once.
 */
export function chunkLanes(todo, parallel) {
  const lanes = [];
  const per = Math.ceil(todo.length / parallel);
  for (let i = 0; i < parallel; i++) lanes.push(todo.slice(i * per, (i + 1) * per));
  return (lane) => {
    if (!lanes[lane].length) {
      const longest = lanes.reduce((x, y) => (y.length > x.length ? y : x));
      if (longest.length > 1) lanes[lane] = longest.splice(Math.ceil(longest.length / 2));
    }
    return lanes[lane].shift();
  };
}

/**
 * Uploads the listed chunks, `parallel` at a time; the first fatal error stops the rest.
 * With upload workers each lane takes a contiguous run of the chunks and keeps to one
 * worker, which then seals a record cut by the edge of two chunks once for both (its
 * writer keeps it); a lane that runs dry takes the back half of the longest run left.
 */
async function uploadChunks(opts, s, todo, m) {
  const parallel = Math.max(1, opts.parallel ?? 3);
  let failed = null;
  let shared = 0; // without workers: one queue in order
  const lanes = s.workers ? chunkLanes(todo, parallel) : null;
  const take = (lane) => (lanes ? lanes(lane) : (shared < todo.length ? todo[shared++] : undefined));
  const run = async (lane) => {
    for (let n = take(lane); !failed && n !== undefined; n = take(lane)) {
      try {
        if (s.workers) {
          m.add(await withRetry(opts, () => putByWorker(opts, s, n, lane)));
        } else {
          const body = chunkBody(await s.writer.readParts(n * s.chunkSize, s.chunkSize, s.source));
          await withRetry(opts, () => putChunk(opts, s.uploadId, n, body));
          m.add(body.size);
        }
      } catch (e) {
        failed = failed || e;
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, (_, lane) => run(lane)));
  if (failed) throw failed;
}

/** The chunks the server already has that match what we would send (null: not resumable). */
async function verifyResume(opts, s, total) {
  const st = await (await api(`/api/upload/${s.uploadId}/status`, opts)).json();
  if (st.totalChunks !== s.totalChunks || st.chunkSize !== s.chunkSize) return null;
  const have = [];
  let verified = 0;
  for (const c of st.chunks || []) {
    const mine = await s.writer.read(c.n * s.chunkSize, s.chunkSize, s.source);
    if (mine.length !== c.size || toHex(await s.crypto.sha256(mine)) !== c.sha256) return null;
    have.push(c.n);
    verified += mine.length;
    if (opts.onProgress) opts.onProgress({ phase: 'upload', sent: verified, total, bytesPerSec: 0, etaSeconds: null });
  }
  return have;
}

const storageOf = (opts) => (opts.storage !== undefined ? opts.storage
  : (typeof localStorage !== 'undefined' ? localStorage : null));

/**
 * The storage key of a file's saved upload: from its name, size and time, or from
 * `resumeId` when the caller knows better (an archive made in the page passes the names,
 * sizes and times of the files in it).
 */
async function resumeKey(crypto, file, resumeId) {
  const id = resumeId !== undefined && resumeId !== null
    ? JSON.stringify(['id', String(resumeId)])
    : JSON.stringify([file.name || '', file.size, file.lastModified || 0]);
  return RESUME_PREFIX + toHex(await crypto.sha256(utf8.encode(id))).slice(0, 32);
}

/** The key under which shareFile(file, opts) saves its upload (see resumableUploads). */
export async function uploadKey(file, opts = {}) {
  return resumeKey(await cryptoOf(opts), file, opts.resumeId);
}

function load(storage, key) {
  try { return storage ? JSON.parse(storage.getItem(key) || 'null') : null; } catch (e) { return null; }
}
function drop(storage, key) {
  try { if (storage && key) storage.removeItem(key); } catch (e) { /* ignore */ }
}

/**
 * The saved, unfinished uploads: [{ key, uploadId, name, size, lastModified, total, options,
 * savedAt }]. shareFile resumes one when the same file is shared with the same `options`
 * (expiration, oneTime, maxDownloads, quickShare, hasPassword, hasAccessCode), so a form can
 * prefill them.
 */
export async function resumableUploads(storage = storageOf({})) {
  const out = [];
  for (let i = 0; storage && i < storage.length; i++) {
    const key = storage.key(i), e = key && key.startsWith(RESUME_PREFIX) ? load(storage, key) : null;
    if (e && e.uploadId) out.push({ key, uploadId: e.uploadId, name: e.name, size: e.size, lastModified: e.lastModified, total: e.total, options: e.options, savedAt: e.savedAt });
  }
  return out;
}

/** The options that must match for a saved upload to be resumed. */
function sessionOptions(opts, quick) {
  if (opts.dropbox) return { dropbox: String(opts.dropbox.id) }; // a drop-box item takes no other option
  return {
    expiration: quick ? '5min' : (opts.expiration || null), oneTime: !!opts.oneTime || opts.maxDownloads === 1,
    maxDownloads: opts.maxDownloads || (opts.oneTime ? 1 : null), quickShare: quick,
    hasPassword: !quick && !!opts.password, hasAccessCode: !quick && !!opts.accessCode,
  };
}
const sameOptions = (a, b) => !!a && Object.keys(b).every((k) => a[k] === b[k]);

/**
 * Common path of shareText and shareFile. With `dropbox: { id, wrappedKey }` the item goes
 * into that drop box: `secret` (the caller's, whose wrap `wrappedKey` is) encrypts it, and
 * what the server refuses for drop-box items (expiration, oneTime, maxDownloads, quickShare,
 * an access code or password) is left out. A resumed drop-box upload keeps the secret it
 * was started with, since the server holds that secret's wrap: the result's `secret` says
 * which one was used.
 */
async function share(source, meta, opts, file) {
  const crypto = await cryptoOf(opts);
  const cfg = await getServerConfig(opts);
  const box = opts.dropbox || null;
  if (box && (!box.id || !box.wrappedKey || !opts.secret)) throw new TypeError('a drop-box item needs the box ID, the wrapped key and its secret');
  const quick = !box && !!opts.quickShare;
  const password = box || quick || !opts.password ? null : opts.password;
  const accessCode = box || quick || !opts.accessCode ? null : opts.accessCode;
  const chunkSize = cfg.chunkSize || 5242880;
  const total = ciphertextLength(meta.size);
  const totalChunks = Math.max(1, Math.ceil(total / chunkSize));
  const options = sessionOptions(opts, quick);
  const storage = file ? storageOf(opts) : null;
  const key = storage ? await resumeKey(crypto, file, opts.resumeId) : null;
  const onProgress = opts.onProgress;
  const onKeyProgress = onProgress ? (f) => onProgress({ phase: 'key', sent: 0, total, fraction: f }) : undefined;
  const s = { crypto, source, chunkSize, totalChunks, uploadId: null, writer: null, secret: null };
  let have = [];
  const cancel = async () => {
    drop(storage, key);
    if (s.uploadId) await api(`/api/upload/${s.uploadId}`, opts, { method: 'DELETE' }).catch(() => {});
  };
  const saved = load(storage, key);
  if (saved && saved.chunkSize === chunkSize && saved.total === total && sameOptions(saved.options, options)) {
    try {
      s.secret = saved.secret;
      s.uploadId = saved.uploadId;
      s.writer = await V4Writer.create({
        crypto, secret: saved.secret, password, meta, salt: fromHex(saved.salt), noncePrefix: fromHex(saved.noncePrefix), onKeyProgress,
      });
      have = await verifyResume(opts, s, total);
    } catch (e) {
      if (opts.signal && opts.signal.aborted) { await cancel(); throw abortError(); }
      have = null;
    }
    if (!have) { // Different content or a lost session: never reuse its nonces; start afresh.
      if (s.uploadId) api(`/api/upload/${s.uploadId}`, opts, { method: 'DELETE' }).catch(() => {});
      drop(storage, key);
      s.uploadId = null; s.writer = null; have = [];
    }
  } else if (saved) {
    drop(storage, key);
  }

  if (!s.uploadId) {
    s.secret = box ? opts.secret : quick ? newQuickSecret(crypto) : newSecret(crypto);
    s.writer = await V4Writer.create({ crypto, secret: s.secret, password, meta, onKeyProgress });
    const body = {
      filename: toHex(crypto.randomBytes(file ? 16 : 8)), filesize: total, totalChunks,
      mimeType: 'application/octet-stream', contentType: file ? 'file' : 'text', isTextContent: !file,
    };
    if (box) Object.assign(body, { dropbox: String(box.id), wrappedKey: box.wrappedKey });
    else {
      Object.assign(body, {
        expiration: options.expiration || undefined, hasPassword: options.hasAccessCode, oneTime: options.oneTime,
        maxDownloads: options.maxDownloads || undefined, quickShare: quick,
      });
    }
    const init = await withRetry(opts, async () => (await api('/api/upload/initiate', opts, jsonInit('POST', body, opts.signal))).json());
    s.uploadId = init.uploadId;
    if (storage) {
      try {
        storage.setItem(key, JSON.stringify({
          uploadId: s.uploadId, secret: s.secret, salt: toHex(s.writer.salt), noncePrefix: toHex(s.writer.noncePrefix),
          chunkSize, total, options, name: file.name || '', size: file.size, lastModified: file.lastModified || 0, savedAt: Date.now(),
        }));
      } catch (e) { /* storage full or blocked: no resume, the upload still works */ }
    }
  }

  // Big files are read, sealed and sent by workers (upload-workers.js), off the page's thread.
  s.workers = file && !opts.fetch && total >= WORKER_MIN_BYTES
    ? await UploadWorkers.open({ writer: s.writer, source, native: !!crypto.native, size: Math.max(1, opts.parallel ?? 3) })
    : null;
  try {
    const hashing = accessCode ? accessCodeHash(crypto, accessCode, cfg.pbkdf2Salt) : null; // alongside the upload
    if (hashing) hashing.catch(() => {});
    const m = meter(total, onProgress, have.reduce((n, c) => n + Math.min(chunkSize, total - c * chunkSize), 0));
    const todo = [];
    for (let n = 0; n < totalChunks; n++) if (!have.includes(n)) todo.push(n);
    await uploadChunks(opts, s, todo, m);
    const hash = await hashing;
    const body = hash ? { requiresAccessCode: true, accessCodeHash: hash } : {};
    let done;
    try {
      done = await withRetry(opts, async () => (await api(`/api/upload/complete/${s.uploadId}`, opts,
        jsonInit('POST', body, opts.signal))).json());
    } catch (e) {
      if (!(e instanceof ApiError) || !Array.isArray(e.missingChunks)) throw e;
      await uploadChunks(opts, s, e.missingChunks, m);
      done = await (await api(`/api/upload/complete/${s.uploadId}`, opts, jsonInit('POST', body, opts.signal))).json();
    }
    drop(storage, key);
    if (onProgress) onProgress({ phase: 'complete', sent: total, total, bytesPerSec: 0, etaSeconds: 0 });
    return {
      clipId: done.clipId, url: `${done.url}#${s.secret}`, secret: s.secret, expiresAt: done.expiresAt,
      quickShare: !!done.quickShare, oneTime: !!done.oneTime, maxDownloads: done.maxDownloads ?? options.maxDownloads,
      verbalCode: quick ? `${done.clipId} · ${s.secret}` : null,
    };
  } catch (e) {
    if (opts.signal && opts.signal.aborted) { await cancel(); throw abortError(); }
    throw e;
  } finally {
    if (s.workers) s.workers.close();
  }
}

/** Shares text exactly as given (no trimming). */
export async function shareText(text, opts = {}) {
  if (typeof text !== 'string' || text.length === 0) throw new Error('the text is empty');
  const cfg = await getServerConfig(opts);
  let chars = 0;
  for (const _ of text) chars++; // eslint-disable-line no-unused-vars
  if (cfg.maxTextChars && chars > cfg.maxTextChars) {
    throw Object.assign(new Error(`text too long: ${chars} characters (max ${cfg.maxTextChars})`), { kind: 'too_long' });
  }
  const bytes = utf8.encode(text);
  return share(bytes, { kind: 'text', name: '', type: TEXT_TYPE, size: bytes.length }, opts, null);
}

/**
 * Shares a File (or Blob), streaming it from disk record by record. `opts.resumeId` (a
 * string) names the upload for resuming instead of the file's name, size and time.
 */
export async function shareFile(file, opts = {}) {
  const cfg = await getServerConfig(opts);
  if (cfg.maxFileSize && file.size > cfg.maxFileSize) {
    throw Object.assign(new Error(`file too large (max ${cfg.maxFileSize} bytes)`), { kind: 'too_large' });
  }
  const meta = { kind: 'file', name: file.name || 'file', type: file.type || '', size: file.size };
  return share(file, meta, opts, file);
}

/** GET /api/clip/:id/info (never consumes). */
export async function clipInfo(clipId, opts = {}) {
  return (await api(`/api/clip/${encodeURIComponent(clipId)}/info`, opts)).json();
}

/**
 * Collects pieces in memory when no sink is given. Pieces are never copied (the V4 reader
 * and the network hand over fresh buffers); every FOLD_BYTES they are folded into a Blob,
 * which the browser may keep outside the page's memory.
 */
const FOLD_BYTES = 64 * 1024 * 1024;
function blobSink() {
  let pending = [], pendingBytes = 0, blobs = [];
  return {
    async write(b) {
      pending.push(b);
      pendingBytes += b.length;
      if (pendingBytes >= FOLD_BYTES) { blobs.push(new Blob(pending)); pending = []; pendingBytes = 0; }
    },
    async close() {},
    async abort() { pending = []; blobs = []; },
    blob(type) { return new Blob([...blobs, ...pending], { type }); },
  };
}

/** Reconnects after a dropped download: attempts before giving up, first delay, longest delay. */
const DOWNLOAD_RETRIES = 8, DOWNLOAD_BACKOFF_MS = 500, DOWNLOAD_BACKOFF_MAX_MS = 15000;
/** No byte for this long counts as a dropped connection. */
const DOWNLOAD_STALL_MS = 30000;

/** The total length in `Content-Range: bytes a-b/len` (or `*\/len`), or null. */
function rangeOf(res) {
  const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+)$/.exec((res.headers.get('content-range') || '').trim());
  return m ? { start: m[1] === undefined ? null : Number(m[1]), total: Number(m[3]) } : null;
}

/** A download's failure that reconnecting may cure: the network, a stall, 5xx, 429. */
const dropped = (e) => !(e instanceof ApiError) || e.status >= 500 || e.status === 429;

/**
 * Opens a clip. The POST /api/file/:id inside consumes a one-time clip: call it only after
 * the user's reveal/download click. Text → { kind:'text', text, meta }; files are written to
 * `sink` (or collected into `blob`) → { kind:'file', meta }. Any failure aborts the sink and
 * throws (a V4Error's kind says why decryption failed), so nothing is saved.
 *
 * A sink is { write(bytes), close(), abort(), start?(meta) }: start (optional) is called once
 * the metadata is known, before the first write. Pieces given to write are the sink's to keep
 * (never reused by the caller), and they are always authenticated plaintext.
 *
 * A dropped connection (network error, no byte for `stallMs`, a short body, 5xx) is retried
 * on its own with backoff (onProgress gets { phase: 'reconnecting', attempt, delayMs }), and
 * the download continues from the end of the last authenticated V4 record with `Range`,
 * `If-Range` (the first answer's ETag) and `X-Qopy-Claim` (when the first answer carried
 * one), never from zero. An answer that is not the asked range fails the download.
 * With `saveText`, a text clip goes to the sink like a file (the user asked to save it).
 */
export async function openClip({ clipId, secret, password, accessCode, onProgress, signal, sink, saveText = false, ...rest }) {
  const opts = { ...rest, signal };
  const crypto = await cryptoOf(opts);
  const id = encodeURIComponent(clipId);
  const hash = accessCode ? await accessCodeHash(crypto, accessCode, (await getServerConfig(opts)).pbkdf2Salt) : null;
  const desc = await (await api(`/api/clip/${id}`, opts, hash ? jsonInit('POST', { accessCode: hash }, signal) : { signal })).json();
  const encrypted = desc.encrypted !== false;
  if (encrypted && !secret) throw new V4Error('missing_secret', 'the link has no secret (#...)');
  if (encrypted && !SECRET_RE.test(secret)) throw new V4Error('bad_secret', 'the secret is malformed (nothing was downloaded)');
  const pw = password || null;
  const body = JSON.stringify(hash ? { accessCode: hash } : {});
  const retries = opts.downloadRetries ?? DOWNLOAD_RETRIES;
  const backoff = opts.backoffMs ?? DOWNLOAD_BACKOFF_MS;
  const stallMs = opts.stallMs ?? DOWNLOAD_STALL_MS;
  let etag = null, claim = null, total = 0, answered = false;
  /** One request for the bytes from `offset` on; returns a reader over the body. Every
   * request after the first answer carries that answer's claim token (even from offset 0:
   * a retry before any record arrived must not claim again) and its ETag. */
  const request = async (offset) => {
    const ctl = new AbortController();
    const onAbort = () => ctl.abort();
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    const headers = { 'Content-Type': 'application/json' };
    if (answered) {
      if (offset > 0) headers.Range = `bytes=${offset}-`;
      if (etag && offset > 0) headers['If-Range'] = etag;
      if (claim) headers['X-Qopy-Claim'] = claim;
    }
    let res;
    try {
      res = await api(`/api/file/${id}`, opts, { method: 'POST', signal: ctl.signal, headers, body });
    } catch (e) {
      if (signal) signal.removeEventListener('abort', onAbort);
      throw e;
    }
    if (!answered) {
      answered = true;
      etag = res.headers.get('etag');
      claim = res.headers.get('x-qopy-claim');
      total = Number(res.headers.get('content-length')) || desc.filesize || 0;
    } else {
      const whole = offset === 0 && res.status === 200 && res.headers.get('etag') === etag;
      const r = res.status === 206 ? rangeOf(res) : null;
      if (!whole && (!r || r.start !== offset || (total && r.total !== total))) {
        if (res.body) res.body.cancel().catch(() => {});
        if (signal) signal.removeEventListener('abort', onAbort);
        throw Object.assign(new Error('the download cannot be continued: the server sent other content'), { kind: 'resume_refused' });
      }
    }
    // A byte reader fills one buffer of ours again and again (see readInto): the page then
    // makes no garbage of the network's pieces, which a 1 GiB download made 1 GiB of.
    let byob = null;
    try { byob = res.body.getReader({ mode: 'byob' }); } catch (e) { /* not a byte stream here */ }
    const reader = byob || res.body.getReader();
    let spare = null;
    let timer = 0;
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => ctl.abort(), stallMs); };
    return {
      /**
       * The next piece. With `reuse`, the piece may be a view of a buffer that the next
       * read() fills again: only for a caller that is done with it by then.
       */
      async read(reuse = false) {
        arm();
        try {
          if (!byob) return await reader.read();
          const r = await byob.read(new Uint8Array(spare || new ArrayBuffer(READ_BYTES), 0, READ_BYTES));
          if (r.value) spare = r.value.buffer;
          if (r.done || !r.value) return { done: true, value: undefined };
          if (reuse) return r;
          return { done: false, value: r.value.slice() }; // kept by the caller: only its bytes
        } catch (e) {
          if (signal && signal.aborted) throw abortError();
          throw Object.assign(new Error('the connection dropped'), { kind: 'dropped', cause: e });
        } finally { clearTimeout(timer); }
      },
      cancel() {
        clearTimeout(timer);
        if (signal) signal.removeEventListener('abort', onAbort);
        reader.cancel().catch(() => {});
      },
    };
  };

  let reader = await request(0);
  const out = sink || blobSink();
  const t0 = Date.now(), textParts = [];
  let received = 0, meta = null, asText = !saveText && !encrypted && desc.contentType === 'text', v4 = null, head = [], v3 = false;
  let started = false, resumedAt = 0, attempt = 0, decryptor = null;
  if (!encrypted && !asText) meta = { kind: 'file', name: desc.filename, type: desc.mimeType, size: total };
  const start = async () => {
    if (started) return;
    started = true;
    if (!asText && out.start) await out.start(meta);
  };
  const emit = async (pieces) => {
    for (const p of pieces) {
      if (asText) textParts.push(p);
      else { await start(); await out.write(p); }
    }
  };
  const feed = async (bytes) => { // V4: metadata first, so the kind is known before any data
    const pieces = await v4.push(bytes);
    if (!meta && v4.metadata) { meta = v4.metadata; asText = !saveText && meta.kind === 'text' && meta.size <= MAX_TEXT_BYTES; }
    await emit(pieces);
  };
  const onKeyProgress = onProgress ? (f) => onProgress({ phase: 'key', fraction: f, received, total }) : null;
  try {
    for (;;) {
      let next;
      try {
        next = await reader.read(!!v4); // the V4 reader is done with a piece when push() returns
        if (next.done && total && received < total) throw Object.assign(new Error('the download ended early'), { kind: 'dropped' });
      } catch (e) {
        reader.cancel();
        if (signal && signal.aborted) throw abortError();
        if (e.kind !== 'dropped' || attempt >= retries) throw e;
        // Continue after the last authenticated record: the bytes of a partial record are
        // dropped and asked for again (a V3 payload and plaintext keep everything received).
        const keep = v4 ? received - v4.pendingBytes : received;
        for (;;) {
          attempt++;
          const delayMs = Math.min(DOWNLOAD_BACKOFF_MAX_MS, backoff * 2 ** (attempt - 1)) * (0.75 + Math.random() / 2);
          if (onProgress) onProgress({ phase: 'reconnecting', attempt, delayMs, received: keep, total, bytesPerSec: 0, etaSeconds: null });
          await sleep(delayMs, signal);
          try {
            reader = await request(keep);
            break;
          } catch (e2) {
            if (signal && signal.aborted) throw abortError();
            if (!dropped(e2) || attempt >= retries) throw e2;
          }
        }
        if (v4) v4.dropPending();
        received = resumedAt = keep;
        continue;
      }
      const { done, value } = next;
      if (done) { reader.cancel(); break; }
      if (received - resumedAt > (1 << 20)) attempt = 0; // progress since the last reconnect
      received += value.length;
      if (onProgress) {
        const secs = (Date.now() - t0) / 1000, bytesPerSec = secs > 0 ? received / secs : 0;
        onProgress({ phase: 'download', received, total, bytesPerSec, etaSeconds: bytesPerSec ? (total - received) / bytesPerSec : null });
      }
      if (!encrypted) await emit([value]);
      else if (v4) await feed(value);
      else {
        head.push(value);
        if (received < 4 || v3) continue;
        const buf = concatParts(head);
        if (isV4(buf)) {
          decryptor = total >= DECRYPT_WORKER_MIN_BYTES && !crypto.native ? DecryptWorkers.start({ native: false, size: 2 }) : null;
          // Cancelling ends the workers, which fails what waits for them (see the catch below).
          if (decryptor && signal) signal.addEventListener('abort', () => decryptor.close(), { once: true });
          v4 = new V4Reader({ crypto, secret, password: pw, onKeyProgress, decryptor });
          head = null;
          await feed(buf);
        } else { // the original's V3: one GCM message, decrypted whole at the end
          v3 = true;
          head = [buf];
        }
      }
    }
    if (!encrypted) meta = { kind: asText ? 'text' : 'file', name: desc.filename, type: desc.mimeType, size: received };
    else if (v4) {
      await emit(await v4.flush());
      await v4.finish();
    }
    else {
      const r = await decryptAny(crypto, secret, pw, concatParts(head));
      meta = r.meta;
      asText = !saveText && meta.kind === 'text';
      await emit([r.data]);
    }
    if (asText) {
      if (sink) await sink.abort(); // a text clip is shown, never saved
      return { kind: 'text', text: new TextDecoder().decode(concatParts(textParts)), meta, encrypted };
    }
    await start();
    await out.close();
    return { kind: 'file', meta, encrypted, ...(sink ? {} : { blob: out.blob(DOWNLOAD_TYPE) }) };
  } catch (e) {
    try { await out.abort(); } catch (e2) { /* ignore */ }
    reader.cancel();
    if (signal && signal.aborted) throw abortError();
    throw e;
  } finally {
    if (decryptor) decryptor.close();
  }
}

function concatParts(parts) {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
