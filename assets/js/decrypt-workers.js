// decrypt-workers.js — the page's side of decrypt-worker.js: V4Reader hands it whole sealed
// records and gets their plaintext, decrypted off the page's thread, so the page reads the
// network and writes the file while records are opened. start() answers null where dedicated
// module workers cannot run; a worker that did not start (or stops) only means the records
// are opened on the page again: nothing is handed to a worker before it said it is ready.

const WORKER_URL = new URL('./decrypt-worker.js', import.meta.url);
const START_MS = 10000;

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
    for (let i = 0; i < size; i++) this.workers.push(this.spawn(native));
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
        const p = this.waiting.get(d.id);
        if (!p) return;
        this.waiting.delete(d.id);
        p.resolve(d.plain ? { plain: new Uint8Array(d.plain, d.off, d.len), spare: new Uint8Array(d.rec) } : { rec: new Uint8Array(d.rec) });
      };
      worker.onerror = (e) => {
        e.preventDefault();
        clearTimeout(t);
        reject(new Error('the decryption worker did not start'));
        if (entry.up) this.fail(entry);
      };
    });
    entry.ready.catch(() => worker.terminate());
    worker.postMessage({ type: 'init', native: !!native });
    return entry;
  }

  /** A worker that stopped: what it held is lost, so those downloads fail. */
  fail(entry) {
    entry.up = false;
    for (const [id, p] of this.waiting) {
      if (p.entry === entry) { this.waiting.delete(id); p.reject(new Error('the decryption worker stopped')); }
    }
  }

  /**
   * Opens sealed record `rec` (a Uint8Array that is the whole of its buffer, which is handed
   * over) with `key`, `nonce` and `aad`: resolves { plain, spare } (`spare`: the record's
   * buffer, given back to be filled again) or { rec } (it failed authentication), or null
   * without taking `rec` when no worker runs.
   */
  async open(key, nonce, rec, aad) {
    if (!(await this.ready)) return null;
    const up = this.workers.filter((w) => w.up);
    if (!up.length) return null;
    const entry = up[this.turn++ % up.length];
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, entry });
      entry.worker.postMessage({ type: 'open', id, key, nonce, aad, rec: rec.buffer }, [rec.buffer]);
    });
  }

  /** Ends the workers (and the key copies they hold). */
  close() {
    for (const p of this.waiting.values()) p.reject(new Error('the download ended'));
    this.waiting.clear();
    for (const w of this.workers) w.worker.terminate();
  }
}
