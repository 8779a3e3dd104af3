// dropbox-store.js — what the browser keeps about drop boxes.
// - The receiver's boxes, in IndexedDB (database `qopy`, object store `dropboxes`, keyPath
//   `id`): { id, ownerToken, privateKey, publicKey, expiresAt, url, createdAt }. The private
//   key is stored as the crypto provider made it: a non-extractable CryptoKey under WebCrypto
//   (IndexedDB clones it without ever exposing its bytes), 32 raw bytes under the fallback.
// - The boxes this browser recently sent into, in localStorage `qopy.recentDropboxes`: a
//   JSON array, newest first, at most 5, one entry per ID, of { id, url, fingerprint (display
//   form), fpLink (link form), usedAt (ms) }. The share-target page reads this exact format.

const DB_NAME = 'qopy';
const DB_VERSION = 1;
const STORE = 'dropboxes';
export const RECENT_KEY = 'qopy.recentDropboxes';
export const RECENT_MAX = 5;

let opening = null;

/** The database, created (with its store) on first use. */
function db() {
  if (!opening) {
    opening = new Promise((resolve, reject) => {
      const req = indexedDB.open(DB_NAME, DB_VERSION);
      req.onupgradeneeded = () => {
        const d = req.result;
        if (!d.objectStoreNames.contains(STORE)) d.createObjectStore(STORE, { keyPath: 'id' });
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('the browser database is in use by an older page'));
    });
    opening.catch(() => { opening = null; });
  }
  return opening;
}

/** Runs `fn(store)` in a transaction and resolves with its request's result once committed. */
async function run(mode, fn) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, mode);
    const req = fn(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req ? req.result : undefined);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error || new Error('the browser database refused the change'));
  });
}

/** Stores (or replaces) a box. */
export function saveBox(box) { return run('readwrite', (s) => s.put(box)); }

/** Every stored box, newest first. */
export async function listBoxes() {
  const all = (await run('readonly', (s) => s.getAll())) || [];
  return all.sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0));
}

/** Forgets a box and its keys. */
export function forgetBox(id) { return run('readwrite', (s) => s.delete(id)); }

/** The boxes recently sent into (see the header); [] when nothing valid is stored. */
export function recentDropboxes(storage = localStorage) {
  try {
    const list = JSON.parse(storage.getItem(RECENT_KEY) || '[]');
    return Array.isArray(list) ? list.filter((e) => e && typeof e.id === 'string') : [];
  } catch {
    return [];
  }
}

/** Puts a box first in the recent list (no duplicates by ID, at most RECENT_MAX). */
export function rememberRecent({ id, url, fingerprint, fpLink }, storage = localStorage, now = Date.now()) {
  const list = [{ id, url, fingerprint, fpLink, usedAt: now }, ...recentDropboxes(storage).filter((e) => e.id !== id)];
  try {
    storage.setItem(RECENT_KEY, JSON.stringify(list.slice(0, RECENT_MAX)));
  } catch { /* storage full or blocked: nothing to remember, the send still worked */ }
}
