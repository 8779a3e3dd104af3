// decrypt-workers.js — the page's side of decrypt-worker.js: V4Reader hands it whole sealed
// records and gets their plaintext, decrypted off the page's thread, so the page reads the
// network and writes the file while records are opened. start() answers null where dedicated
// module workers cannot run; a worker that did not start only means the records are opened
// on the page: nothing is handed to a worker before it said it is ready. A record a worker
// could not open for another reason than its tag comes back and is opened on the page too.
// A worker that stops, or does not answer within ANSWER_MS, fails the records it held (and
// with them the download); so does close(), which the download calls when it is cancelled.

const WORKER_URL = new URL('./decrypt-worker.js', import.meta.url);
const START_MS = 10000;
/** A record not answered within this time fails (a worker that hangs must not hang the page). */
const ANSWER_MS = 30000;

export class DecryptWorkers {
  /** `size` workers using WebCrypto (`native`) or our own AES-GCM, or null. */
  static start({ native, size = 1 }) {
    if (typeof Worker !== 'function') return null;
    try {
      return new DecryptWorkers(native, size);
    } catch (e) {
      return null;
    }
  }

  constructor(native, size) {
    this.waiting = new Map(); // request id -> { resolve, reject }
    this.next = 1;
    this.turn = 0;
    this.workers = [];
    try {
      for (let i = 0; i < size; i++) this.workers.push(this.spawn(native));
    } catch (e) {
      this.close();
      throw e;
    }
    // Ready when one is; null when none started.
    this.ready = Promise.any(this.workers.map((w) => w.ready)).catch(() => null);
  }

  spawn(native) {
    const worker = new Worker(WORKER_URL, { type: 'module' });
    const entry = { worker, up: false, ready: null };
    entry.ready = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the decryption worker did not start')), START_MS);
      worker.onmessage = (e) => {
        const d = e.data || {};
        if (d.type === 'ready') { clearTimeout(t); entry.up = true; resolve(entry); return; }
        if (d.type === 'failed') { clearTimeout(t); reject(new Error('the decryption worker did not start')); return; }
        const p = this.waiting.get(d.id);
        if (!p) return;
        this.waiting.delete(d.id);
        clearTimeout(p.timer);
        if (d.plain) p.resolve({ plain: new Uint8Array(d.plain, d.off, d.len), spare: new Uint8Array(d.rec) });
        else p.resolve({ rec: new Uint8Array(d.rec), error: d.error || null });
      };
      const stopped = (e) => {
        e.preventDefault();
        clearTimeout(t);
        reject(new Error('the decryption worker did not start'));
        if (entry.up) this.fail(entry, 'the decryption worker stopped');
      };
      worker.onerror = stopped;
      worker.onmessageerror = stopped;
    });
    entry.ready.catch(() => worker.terminate());
    worker.postMessage({ type: 'init', native: !!native });
    return entry;
  }

  /** A worker that stopped or hangs: what it held is lost, so that download fails. */
  fail(entry, why) {
    entry.up = false;
    entry.worker.terminate();
    for (const [id, p] of this.waiting) {
      if (p.entry === entry) { this.waiting.delete(id); clearTimeout(p.timer); p.reject(new Error(why)); }
    }
  }

  /**
   * Opens sealed record `rec` (a Uint8Array that is the whole of its buffer, which is handed
   * over) with `key`, `nonce` and `aad`: resolves { plain, spare } (`spare`: the record's
   * buffer, given back to be filled again) or { rec, error } (it failed authentication, or
   * with `error` could not be opened there), or null without taking `rec` when no worker
   * runs.
   */
  async open(key, nonce, rec, aad) {
    if (!(await this.ready)) return null;
    const up = this.workers.filter((w) => w.up);
    if (!up.length) return null;
    const entry = up[this.turn++ % up.length];
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(entry, 'the decryption worker did not answer'), ANSWER_MS);
      this.waiting.set(id, { resolve, reject, entry, timer });
      entry.worker.postMessage({ type: 'open', id, key, nonce, aad, rec: rec.buffer }, [rec.buffer]);
    });
  }

  /** Ends the workers (and the key copies they hold); what waits for them fails. */
  close() {
    for (const p of this.waiting.values()) { clearTimeout(p.timer); p.reject(new Error('the download ended')); }
    this.waiting.clear();
    for (const w of this.workers) { w.up = false; w.worker.terminate(); }
  }
}
