// upload-workers.js — the page's side of chunk-worker.js: a few workers that seal and PUT
// the chunks of one file upload, so the page's thread only schedules them. `open` answers
// null where dedicated module workers cannot run; then transfer.js uploads from the page as
// it always could. Each worker is replaced after RECYCLE_AFTER chunks (see chunk-worker.js).

const WORKER_URL = new URL('./chunk-worker.js', import.meta.url);
/**
 * 8 rather than 16 since a chunk's plaintext is read in one piece: the renderer then grew by
 * 159-186 MiB instead of 189-238 MiB for 256 MiB and 2 GiB uploads, at the same speed
 * (benches/browser-memory.mjs).
 */
const RECYCLE_AFTER = 8;
const START_MS = 10000;

/** A started worker holding the writer's state and the source, or a rejection. */
function startWorker(init) {
  const w = new Worker(WORKER_URL, { type: 'module' });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the upload worker did not start')), START_MS);
    w.onmessage = (e) => {
      clearTimeout(t);
      if (e.data && e.data.type === 'ready') resolve(w);
      else reject(new Error('the upload worker answered wrongly'));
    };
    w.onerror = (e) => { e.preventDefault(); clearTimeout(t); reject(new Error('the upload worker did not start')); };
    w.postMessage(init);
  }).catch((err) => { w.terminate(); throw err; });
}

export class UploadWorkers {
  /**
   * `size` workers uploading chunks of `source` sealed as `writer` (a V4Writer) would, or null.
   * `native`: whether the page uses WebCrypto (the workers then do too).
   */
  static async open({ writer, source, native, size = 3 }) {
    if (typeof Worker !== 'function') return null;
    const init = {
      type: 'init', native, source, key: writer.key, header: writer.header, noncePrefix: writer.noncePrefix,
      salt: writer.salt, layout: writer.layout, prefix: writer.prefix,
    };
    try {
      const first = await startWorker(init); // one that fails here means none will work
      const pool = new UploadWorkers(init);
      pool.add(first);
      for (let i = 1; i < size; i++) pool.add(startWorker(init));
      return pool;
    } catch (e) {
      return null;
    }
  }

  constructor(init) {
    this.init = init;
    this.slots = []; // { worker: Promise<Worker>, busy, uses, retired }
    this.waiting = new Map(); // request id -> { resolve, slot }
    this.next = 1;
    this.closed = false;
  }

  add(worker) {
    const slot = { worker: Promise.resolve(worker), busy: 0, uses: 0 };
    slot.worker.then((w) => this.listen(w, slot), () => {});
    this.slots.push(slot);
  }

  listen(w, slot) {
    w.onmessage = (e) => {
      const d = e.data || {};
      const p = this.waiting.get(d.id);
      if (!p) return;
      this.waiting.delete(d.id);
      slot.busy--;
      p.resolve(d);
      this.recycle(slot);
    };
    w.onerror = (e) => {
      e.preventDefault();
      for (const [id, p] of this.waiting) {
        if (p.slot === slot) { this.waiting.delete(id); p.resolve({ error: 'the upload worker stopped' }); }
      }
      slot.busy = 0;
      slot.uses = RECYCLE_AFTER; // replace it
      this.recycle(slot);
    };
  }

  /** Replaces a worker that has done its share, once it is idle. */
  recycle(slot) {
    if (this.closed || slot.busy > 0 || slot.uses < RECYCLE_AFTER) return;
    slot.worker.then((w) => w.terminate(), () => {});
    slot.uses = 0;
    slot.worker = startWorker(this.init);
    slot.worker.then((w) => this.listen(w, slot), () => {});
  }

  /**
   * PUTs ciphertext [offset, offset + length) to `url`, by worker `lane` (modulo their
   * number) when given, else by the least busy one. Resolves { status, statusText,
   * retryAfter, text, size } (any status) or { error } for a failed request.
   */
  async put(url, offset, length, timeoutMs, signal, lane) {
    if (this.closed) return { error: 'the upload ended' };
    const pinned = Number.isInteger(lane);
    let slot = this.slots[pinned ? lane % this.slots.length : 0];
    if (!pinned) for (const s of this.slots) if (s.busy < slot.busy) slot = s;
    slot.busy++;
    slot.uses++;
    let w;
    try {
      w = await slot.worker;
    } catch (e) {
      slot.busy--;
      slot.uses = RECYCLE_AFTER; // try a fresh one next time
      this.recycle(slot);
      return { error: e.message };
    }
    if (signal && signal.aborted) { slot.busy--; return { error: 'cancelled' }; }
    const id = this.next++;
    const onAbort = () => w.postMessage({ type: 'abort', id });
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await new Promise((resolve) => {
        this.waiting.set(id, { resolve, slot });
        w.postMessage({ type: 'put', id, url, offset, length, timeoutMs });
      });
    } finally {
      if (signal) signal.removeEventListener('abort', onAbort);
    }
  }

  /** Ends the workers (and with them the key they hold). */
  close() {
    this.closed = true;
    for (const p of this.waiting.values()) p.resolve({ error: 'the upload ended' });
    this.waiting.clear();
    for (const s of this.slots) s.worker.then((w) => w.terminate(), () => {});
  }
}
