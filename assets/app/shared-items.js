// shared-items.js — what another app shared into Qopy ("Share → Qopy"), kept in this browser
// between pages. The share worker (/share-worker.js) stores what the system's share sheet
// posts to /share-target and sends the browser to /?share=ID; the app page takes it from
// there, and when the user sends it to a drop box it stores it again and opens
// /drop/ID?share=NEW_ID, whose page takes it the same way. Nothing here reaches the server.
//
// IndexedDB database `qopy-share`, store `shares`, one record per share:
// { id, createdAt, title, text, url, files: [File] }. A record is removed when taken, and
// records nobody took within a day are removed the next time one is stored.

const DB_NAME = 'qopy-share';
const STORE = 'shares';
const STALE_MS = 24 * 60 * 60 * 1000;
const ID_RE = /^[0-9a-f]{32}$/;

/** True for the form of a record ID (32 hex digits). */
export const isShareId = (id) => typeof id === 'string' && ID_RE.test(id);

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** Runs `work(store)` in one transaction and resolves with its value once it committed. */
async function inStore(mode, work) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      let value;
      tx.oncomplete = () => resolve(value);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('the transaction was aborted'));
      work(tx.objectStore(STORE), (v) => { value = v; });
    });
  } finally {
    db.close();
  }
}

const str = (v) => (typeof v === 'string' ? v : '');

/**
 * Stores shared items ({ title, text, url, files }; any of them may be missing) and resolves
 * with the new record's ID.
 */
export async function keepShared(items) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const id = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  const now = Date.now();
  const record = {
    id,
    createdAt: now,
    title: str(items && items.title),
    text: str(items && items.text),
    url: str(items && items.url),
    files: Array.from((items && items.files) || []).filter((f) => f instanceof Blob),
  };
  await inStore('readwrite', (store) => {
    store.put(record);
    // Shares that were never taken (the page was never opened) do not pile up.
    const cursor = store.openCursor();
    cursor.onsuccess = () => {
      const c = cursor.result;
      if (!c) return;
      if (!(c.value.createdAt > now - STALE_MS)) c.delete();
      c.continue();
    };
  });
  return id;
}

/**
 * Takes the record `id`: resolves with { title, text, url, files } and removes it (in the
 * same transaction), or resolves with null when there is none (taken already, or a
 * malformed ID).
 */
export async function takeShared(id) {
  if (!isShareId(id)) return null;
  return inStore('readwrite', (store, done) => {
    const get = store.get(id);
    get.onsuccess = () => {
      const r = get.result;
      if (!r) { done(null); return; }
      store.delete(id);
      done({ title: str(r.title), text: str(r.text), url: str(r.url), files: Array.isArray(r.files) ? r.files : [] });
    };
  });
}

/**
 * The text of a share as one string: the title, the text and the URL, each once (apps often
 * put the URL into the text as well, or send the title alone with a link).
 */
export function sharedText(items) {
  const parts = [];
  for (const p of [items.title, items.text, items.url]) {
    const s = str(p).trim();
    if (!s || parts.some((q) => q.includes(s))) continue;
    // A later part that repeats an earlier one (a title inside the text) replaces it.
    for (let i = parts.length - 1; i >= 0; i--) if (s.includes(parts[i])) parts.splice(i, 1);
    parts.push(s);
  }
  return parts.join('\n');
}
