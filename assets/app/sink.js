// sink.js — where a retrieved file's decrypted bytes go, in constant memory where the browser
// allows it. Three paths, tried in this order:
// - 'picker': the File System Access save picker (showSaveFilePicker; Chromium in a secure
//   context): the bytes stream to the chosen file. The file is known to be saved.
// - 'stream': a same-origin service worker (/download-worker.js, scope /download-stream/) in
//   a secure context without the picker (Firefox, Safari, Chromium when the picker is refused),
//   for files of 32 MiB and more (smaller ones take the Blob path, which can preview images):
//   the page posts the decrypted pieces to the worker, which serves them as the body of a
//   download (Content-Disposition: attachment) that a hidden frame opens, so the browser
//   writes them to disk as they arrive. Only decrypted bytes go to the worker, never the key.
// - 'blob': no secure context (plain-HTTP LAN address, no service workers): the pieces are
//   kept without copying and folded into a Blob every 64 MiB (the browser may keep Blobs
//   outside the page's memory); once decryption succeeded, the Blob is handed to the browser
//   as a download named after the decrypted metadata.
// abort() (called by the engine on a decryption error) discards everything written. After
// finish(), a Blob sink's `blob` holds the decrypted file (retrieve.js previews images).
// Downloads are application/octet-stream whatever type the metadata declares: a blob: URL of
// type text/html (or SVG) opened in a tab would run the sender's script in our origin.
import { DOWNLOAD_TYPE } from '/js/image-type.js';

/** Where the blob path folds its pieces into a Blob. */
const FOLD_BYTES = 64 * 1024 * 1024;
/**
 * Above this size the page warns that the blob path is a poor fit: the browser holds the
 * whole file, and headless Chromium 148 cancelled every Blob download of 512 MiB or more
 * that was tried (500 MiB passed; a 600 MiB Blob made in a page without Qopy failed too).
 */
export const BLOB_COMFORT_BYTES = 400 * 1024 * 1024;
/**
 * The picker path gathers pieces into writes of this size: each write costs Chromium's
 * browser process a Blob and a file operation, and writing 1 GiB in 8 MiB writes took
 * 5.3 s where 1 MiB writes took 6.8 s (headless Chromium 148, two cores, nothing else
 * running).
 */
const PICKER_WRITE_BYTES = 8 * 1024 * 1024;
/** How many bytes the picker path lets the browser write while it goes on (see pickerSink). */
const PICKER_WINDOW_BYTES = 2 * PICKER_WRITE_BYTES;
/** Smaller files take the Blob path even where the worker could stream them (see sizedSink). */
const STREAM_MIN_BYTES = 32 * 1024 * 1024;
const WORKER_URL = '/download-worker.js';
const WORKER_SCOPE = '/download-stream/';
/** How long the service worker may take to answer (registration, then the frame's request). */
const WORKER_WAIT_MS = 15000;
/** The worker gets a message this often while a download runs (keeps it alive in Chromium). */
const KEEPALIVE_MS = 10000;

/** Keeps a decrypted file name harmless as a download name. */
export function safeName(name, fallback) {
  const s = String(name || '').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, '_').replace(/^\.+/, '').trim().slice(0, 200);
  return s || fallback;
}

/**
 * Writes to the chosen file without waiting for each piece: pieces are copied into buffers
 * of PICKER_WRITE_BYTES, and up to PICKER_WINDOW_BYTES of them may be on their way to the
 * browser while the next pieces are fetched and decrypted (waiting for every write held a
 * download at about 90 MiB/s). A buffer is filled again only once its write has finished.
 * A failed write fails the next call.
 */
function pickerSink(handle, writable) {
  const inflight = [], free = [];
  let inflightBytes = 0, failure = null, batch = null, fill = 0;
  const settle = async (keep) => {
    while (inflight.length && inflightBytes > keep) {
      const w = inflight.shift();
      await w.done;
      inflightBytes -= w.bytes;
      if (w.buf.length === PICKER_WRITE_BYTES) free.push(w.buf);
    }
    if (failure) throw failure;
  };
  const send = async () => {
    if (!fill) return;
    const buf = batch, bytes = fill;
    batch = null;
    fill = 0;
    const done = writable.write(bytes === buf.length ? buf : buf.subarray(0, bytes)).catch((e) => { failure = failure || e; });
    inflight.push({ done, bytes, buf });
    inflightBytes += bytes;
    await settle(PICKER_WINDOW_BYTES - PICKER_WRITE_BYTES);
  };
  const sink = {
    closed: false,
    kind: 'picker',
    async write(chunk) {
      if (failure) throw failure;
      for (let o = 0; o < chunk.length;) {
        if (!batch) batch = free.pop() || new Uint8Array(PICKER_WRITE_BYTES);
        const n = Math.min(chunk.length - o, PICKER_WRITE_BYTES - fill);
        batch.set(chunk.subarray(o, o + n), fill);
        fill += n;
        o += n;
        if (fill === PICKER_WRITE_BYTES) await send();
      }
    },
    async close() {
      // Only closed once written: a write that fails here leaves abort() to remove the file.
      await send();
      await settle(0);
      await writable.close();
      sink.closed = true;
    },
    async abort() {
      if (sink.closed) return;
      sink.closed = true;
      try { await writable.abort(); } catch { /* already closed */ }
      // The picker may have created an empty file: remove it (Chromium supports remove()).
      try { if (handle.remove) await handle.remove(); } catch { /* not supported */ }
    },
    /** Already on disk; give it the decrypted name where the browser can rename (move()). */
    async finish(meta) {
      const name = safeName(meta && meta.name, '');
      if (name && handle.name !== name && typeof handle.move === 'function' && /^qopy-[A-Z0-9]+$/.test(handle.name)) {
        try { await handle.move(name); } catch { /* renaming not supported here: keep the chosen name */ }
      }
    },
  };
  return sink;
}

function blobSink(fallbackName) {
  let pending = [], pendingBytes = 0, blobs = [];
  const sink = {
    closed: false,
    kind: 'blob',
    /** Pieces are fresh buffers (the engine never reuses them): kept as they are. */
    async write(chunk) {
      if (sink.closed) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= FOLD_BYTES) {
        blobs.push(new Blob(pending));
        pending = [];
        pendingBytes = 0;
      }
    },
    async close() { sink.closed = true; },
    async abort() { sink.closed = true; pending = []; blobs = []; },
    /** After a successful decryption: download under the decrypted name. */
    async finish(meta) {
      if (!blobs.length && !pending.length && !(meta && meta.size === 0)) return;
      const blob = new Blob([...blobs, ...pending], { type: DOWNLOAD_TYPE });
      pending = [];
      blobs = [];
      sink.blob = blob; // the caller may preview it (and drops it then)
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = safeName(meta && meta.name, fallbackName);
      a.rel = 'noopener';
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 120000);
    },
  };
  return sink;
}

const within = (ms, promise, what) => Promise.race([promise, new Promise((_, reject) => {
  setTimeout(() => reject(new Error(`${what} did not answer`)), ms);
})]);

/** The download worker, registered and active (or an error). */
async function activeWorker() {
  const reg = await navigator.serviceWorker.register(WORKER_URL, { scope: WORKER_SCOPE });
  const waitActive = async () => {
    for (;;) {
      if (reg.active && reg.active.state === 'activated') return reg.active;
      const w = reg.installing || reg.waiting || reg.active;
      if (!w) throw new Error('the download worker was not installed');
      await new Promise((resolve, reject) => {
        w.addEventListener('statechange', () => (w.state === 'redundant' ? reject(new Error('the download worker failed')) : resolve()), { once: true });
      });
    }
  };
  const worker = await within(WORKER_WAIT_MS, waitActive(), 'the download worker');
  // A round trip, so a worker that cannot run here is found before anything is consumed.
  const ch = new MessageChannel();
  const pong = new Promise((resolve) => { ch.port1.onmessage = (e) => resolve(e.data); });
  worker.postMessage({ type: 'ping' }, [ch.port2]);
  const answer = await within(WORKER_WAIT_MS, pong, 'the download worker');
  ch.port1.close();
  if (!answer || answer.type !== 'pong') throw new Error('the download worker answered wrongly');
  return { reg, worker };
}

const randomToken = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/** The service-worker path (see the header). */
async function streamSink(fallbackName) {
  const { worker } = await activeWorker();
  const ch = new MessageChannel();
  const port = ch.port1;
  let credits = 0, wake = null, failure = null, keepalive = 0, onStarted = null, onEnded = null, onRegistered = null;
  const signal = () => { if (wake) { const w = wake; wake = null; w(); } };
  port.onmessage = (e) => {
    const d = e.data || {};
    if (d.type === 'pull') credits++;
    else if (d.type === 'registered' && onRegistered) onRegistered();
    else if (d.type === 'started' && onStarted) onStarted();
    else if (d.type === 'ended' && onEnded) onEnded();
    else if (d.type === 'cancelled') failure = failure || Object.assign(new Error('the browser stopped the download'), { kind: 'download_cancelled' });
    signal();
  };
  // The frame stays until the next streamed download: removing it could end the download.
  const cleanup = () => {
    clearInterval(keepalive);
    port.close();
  };
  const sink = {
    closed: false,
    kind: 'stream',
    /** Opens the download (the name and size come from the decrypted metadata). */
    async start(meta) {
      const token = randomToken();
      const started = new Promise((resolve) => { onStarted = resolve; });
      const registered = new Promise((resolve) => { onRegistered = resolve; });
      worker.postMessage({
        type: 'download', token, name: safeName(meta && meta.name, fallbackName),
        size: meta && Number.isSafeInteger(meta.size) ? meta.size : null,
      }, [ch.port2]);
      // The frame's request must not overtake the announcement.
      await within(WORKER_WAIT_MS, registered, 'the download worker');
      keepalive = setInterval(() => { try { worker.postMessage({ type: 'keepalive' }); } catch { /* gone */ } }, KEEPALIVE_MS);
      for (const old of document.querySelectorAll('iframe[data-download-stream]')) old.remove();
      const frame = document.createElement('iframe');
      frame.hidden = true;
      frame.dataset.downloadStream = '';
      frame.src = `${WORKER_SCOPE}${token}`;
      document.body.append(frame);
      await within(WORKER_WAIT_MS, started, 'the download worker');
    },
    async write(chunk) {
      while (!failure && credits === 0) await new Promise((resolve) => { wake = resolve; });
      if (failure) throw failure;
      credits--;
      const msg = { type: 'data', buf: chunk.buffer, off: chunk.byteOffset, len: chunk.byteLength };
      try { port.postMessage(msg, [chunk.buffer]); } catch {
        const copy = chunk.slice(); // a buffer that cannot be moved (not made by the engine)
        port.postMessage({ type: 'data', buf: copy.buffer, off: 0, len: copy.length }, [copy.buffer]);
      }
    },
    async close() {
      if (failure) throw failure;
      sink.closed = true;
      const ended = new Promise((resolve) => { onEnded = resolve; });
      port.postMessage({ type: 'end' });
      // Closing the port at once could lose the 'end' still on its way.
      await within(WORKER_WAIT_MS, ended, 'the download worker').finally(cleanup);
    },
    async abort() {
      if (sink.closed) return;
      sink.closed = true;
      try { port.postMessage({ type: 'abort' }); } catch { /* closed */ }
      clearInterval(keepalive);
      setTimeout(cleanup, 1000); // after the 'abort' has arrived
    },
    async finish() { /* the browser has the whole stream */ },
  };
  return sink;
}

/**
 * A sink for clip `clipId`. Call it directly from the click handler: the save picker
 * needs the click's user activation. `onPicker` is called just before the picker opens
 * (to show that the page waits for it). Rejects with AbortError when the user closes the
 * picker.
 */
export async function makeSink(clipId, { onPicker } = {}) {
  const fallback = `qopy-${clipId}`;
  if (typeof window.showSaveFilePicker === 'function') {
    if (onPicker) onPicker();
    let handle = null;
    try {
      handle = await window.showSaveFilePicker({ suggestedName: fallback });
    } catch (e) {
      if (e && e.name === 'AbortError') throw e; // the user closed the picker
      // Refused (no user activation, a policy): the next path.
    }
    if (handle) return pickerSink(handle, await handle.createWritable());
  }
  if (canStream()) {
    try { return sizedSink(await streamSink(fallback), blobSink(fallback)); } catch { /* no worker here: the Blob path */ }
  }
  return blobSink(fallback);
}

/**
 * The worker is ready before anything is consumed; once the decrypted size is known (start),
 * a file below STREAM_MIN_BYTES takes the Blob path after all (a few MiB in memory, and the
 * page can preview an image from the Blob), a larger one the streamed download.
 */
function sizedSink(stream, blob) {
  let chosen = null;
  const sink = {
    closed: false,
    get kind() { return chosen ? chosen.kind : stream.kind; },
    get blob() { return chosen ? chosen.blob : undefined; },
    set blob(v) { if (chosen) chosen.blob = v; },
    async start(meta) {
      chosen = meta && Number.isSafeInteger(meta.size) && meta.size < STREAM_MIN_BYTES ? blob : stream;
      if (chosen === blob) await stream.abort();
      if (chosen.start) await chosen.start(meta);
    },
    async write(chunk) { await chosen.write(chunk); },
    async close() {
      sink.closed = true;
      if (!chosen) { chosen = blob; await stream.abort(); }
      await chosen.close();
    },
    async abort() {
      sink.closed = true;
      await (chosen || stream).abort();
    },
    async finish(meta) { if (chosen) await chosen.finish(meta); },
  };
  return sink;
}

/** True when the service-worker path can be tried (a secure context with service workers). */
export function canStream() {
  return !!(window.isSecureContext && navigator.serviceWorker && typeof navigator.serviceWorker.register === 'function');
}
