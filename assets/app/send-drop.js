// send-drop.js — the sender page, /drop/ID (the server serves the app page there). It reads
// the box's public key from GET /api/dropbox/ID and checks its fingerprint against the
// link's fragment: the same → "Key checked"; no fragment (a typed code) → the fingerprint is
// shown to compare with the receiver's screen; another → nothing can be sent. Each chosen
// file, and the typed or pasted text, becomes one item: a fresh V4 secret, wrapped to the
// box's key (dropbox-crypto.js), and uploaded through the engine's share pipeline (chunked,
// resumable, upload workers for big files) with its own progress line. After a delivery the
// box goes first in the list of recent boxes (dropbox-store.js). A chosen or dropped folder
// is one item, a tar archive made in the page (tar.js, as Share Files makes it). Items
// shared into Qopy from another app (Share → Qopy, then this box) arrive as ?share=ID
// (shared-items.js) and are put in the form, not sent.
import { shareFile, shareText } from '/js/transfer.js';
import { getCrypto } from '/js/crypto/index.js';
import { fingerprint, wrapSecret } from '/js/dropbox-crypto.js';
import { newSecret, base64url } from '/js/v4.js';
import { formatBoxId, fromBase64url, isFingerprintLink } from '/js/dropbox-link.js';
import { t, onLangChange } from './i18n.js';
import { rememberRecent } from './dropbox-store.js';
import { buildArchive } from '/js/tar.js';
import { collectInput, collectTransfer } from './folder-walk.js';
import { takeShared, sharedText } from './shared-items.js';
import { setBusy, errorText, formatBytes, formatTime } from './util.js';
import { setFill } from './progress.js';

const $ = (id) => document.getElementById(id);
const utf8 = new TextEncoder();
let crypto = null;
let target = null; // { id, publicKey, fp, url, expiresAt }
let keyState = 'loading'; // 'checked' | 'compare' | 'mismatch' | 'missing' | 'expired' | 'error'
let keyError = '';
let files = [];
let sending = false;
/** Archives made of folders -> their resume identity (see tar.js buildArchive). */
const archives = new WeakMap();

/**
 * Chosen or dropped items (folder-walk.js) as what is sent: a file by itself as it is, each
 * folder (a group) as one tar archive.
 */
function asItems(entries) {
  const groups = new Map();
  for (const e of entries) {
    if (!groups.has(e.group)) groups.set(e.group, []);
    groups.get(e.group).push(e);
  }
  const out = [];
  for (const list of groups.values()) {
    if (list.length === 1 && !list[0].dir && !list[0].path.includes('/')) { out.push(list[0].file); continue; }
    const a = buildArchive(list);
    const file = new File(a.parts, a.name, { type: a.type, lastModified: a.mtime });
    archives.set(file, a.identity);
    out.push(file);
  }
  return out;
}

function choose(more) {
  files = [...files, ...more];
  renderChosen();
}

/** An error of the box in plain words (full, too large, expired, unknown), else the usual. */
export function dropErrorText(err) {
  if (err && err.error === 'dropbox_full') return t('drop.full');
  if (err && err.error === 'dropbox_too_large') return t('drop.tooLarge');
  if (err && err.status === 410) return t('drop.expired');
  if (err && err.status === 404) return t('drop.missing');
  return errorText(err);
}

function renderKey() {
  const line = $('drop-key');
  const fp = target && target.fp ? target.fp.display : '';
  const keys = {
    loading: ['drop.loading', 'info'], checked: ['drop.keyChecked', 'ok'], compare: ['drop.keyCompare', 'info'],
    mismatch: ['drop.keyMismatch', 'error'], missing: ['drop.missing', 'error'], expired: ['drop.expired', 'error'],
    error: ['drop.loadFailed', 'error'],
  };
  const [key, tone] = keys[keyState];
  $('drop-key-text').textContent = t(key, { msg: keyError });
  line.className = `notice ${tone}`;
  line.dataset.state = keyState;
  // The fingerprint follows the sentence, except when it is not the link's.
  $('drop-fp').textContent = fp;
  $('drop-fp').hidden = !fp || keyState === 'mismatch';
  $('drop-expiry').textContent = target && target.expiresAt ? t('drop.until', { time: formatTime(target.expiresAt) }) : '';
  $('drop-form').hidden = !(keyState === 'checked' || keyState === 'compare');
}

function renderChosen() {
  const list = $('drop-chosen');
  list.textContent = '';
  for (const f of files) {
    const li = document.createElement('li');
    li.textContent = `${f.name} · ${formatBytes(f.size)}`;
    list.append(li);
  }
  list.hidden = !files.length;
  $('drop-submit').disabled = sending;
}

/** One line of the sent list with its own progress bar; returns its update function. */
function sentRow(name, size) {
  const li = document.createElement('li');
  li.className = 'drop-item';
  li.dataset.testid = 'sent-item';
  li.dataset.state = 'sending';
  const title = document.createElement('div');
  title.className = 'file-name';
  title.dataset.testid = 'sent-name';
  title.textContent = `${name} · ${formatBytes(size)}`;
  const bar = document.createElement('div');
  bar.className = 'progress';
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', '100');
  bar.setAttribute('aria-label', name);
  const fill = document.createElement('div');
  fill.className = 'progress-fill';
  bar.append(fill);
  const status = document.createElement('p');
  status.className = 'hint';
  status.dataset.testid = 'sent-status';
  li.append(title, bar, status);
  $('drop-sent').prepend(li);
  return (state, pct, msg) => {
    li.dataset.state = state;
    setFill(fill, pct);
    bar.setAttribute('aria-valuenow', String(pct));
    status.textContent = msg;
    status.classList.toggle('warn', state === 'failed');
  };
}

/** Sends one item (a File, or text) into the box; true when delivered. */
async function sendItem(item) {
  const isText = typeof item === 'string';
  const size = isText ? utf8.encode(item).length : item.size;
  const update = sentRow(isText ? t('drop.textItem') : item.name, size);
  update('sending', 0, t('drop.encrypting'));
  try {
    const secret = newSecret(crypto);
    const wrapped = await wrapSecret(crypto, utf8.encode(secret), target.publicKey, target.id);
    const opts = {
      secret, dropbox: { id: target.id, wrappedKey: base64url(wrapped) },
      onProgress: (p) => {
        if (p.phase !== 'upload' || !p.total) return;
        const pct = Math.min(99, Math.floor((p.sent / p.total) * 100));
        update('sending', pct, t('drop.progress', { done: formatBytes(p.sent), total: formatBytes(p.total) }));
      },
    };
    if (isText) await shareText(item, opts);
    else await shareFile(item, archives.has(item) ? { ...opts, resumeId: archives.get(item) } : opts);
    update('delivered', 100, t('drop.delivered'));
    // Only a key checked against a link is remembered with its fingerprint: a recent box's
    // link would otherwise say "Key checked" for a key nobody compared.
    rememberRecent({
      id: target.id, url: target.url, fingerprint: target.fp.display, fpLink: keyState === 'checked' ? target.fp.link : '',
    });
    return true;
  } catch (err) {
    update('failed', 0, dropErrorText(err));
    return false;
  }
}

async function submit() {
  if (sending) return;
  const text = $('drop-text').value;
  const items = [...files, ...(text ? [text] : [])];
  if (!items.length) { $('drop-error').textContent = t('drop.nothing'); $('drop-error').hidden = false; return; }
  $('drop-error').hidden = true;
  sending = true;
  const btn = $('drop-submit');
  setBusy(btn, true);
  files = [];
  $('drop-files').value = '';
  $('drop-text').value = '';
  renderChosen();
  let ok = 0;
  // One after another: the box's limits are checked item by item, and a phone's
  // connection is better used by one upload (itself sending 3 chunks at once).
  for (const item of items) if (await sendItem(item)) ok++;
  sending = false;
  setBusy(btn, false);
  renderChosen();
  $('drop-summary').textContent = t('drop.summary', { ok, n: items.length });
}

/** Loads the box and checks its key against the link's fragment. */
async function load(id, fragment) {
  keyState = 'loading';
  renderKey();
  let res;
  try {
    res = await fetch(`/api/dropbox/${id}`, { cache: 'no-store' });
  } catch (err) {
    keyState = 'error'; keyError = errorText(err); renderKey(); return;
  }
  if (res.status === 404) { keyState = 'missing'; renderKey(); return; }
  if (res.status === 410) { keyState = 'expired'; renderKey(); return; }
  if (!res.ok) { keyState = 'error'; keyError = `HTTP ${res.status}`; renderKey(); return; }
  try {
    const info = await res.json();
    const publicKey = fromBase64url(info.publicKey);
    const fp = await fingerprint(crypto, publicKey);
    target = { id, publicKey, fp, url: `${location.origin}/drop/${id}`, expiresAt: info.expiresAt };
    if (!fragment) keyState = 'compare';
    else keyState = isFingerprintLink(fragment) && fragment === fp.link ? 'checked' : 'mismatch';
  } catch (err) {
    keyState = 'mismatch'; // a key that is not a valid point cannot be the receiver's
    keyError = errorText(err);
  }
  renderKey();
}

/** Shows the sender page for box `id` instead of the tabs. */
export async function initSendDrop(id) {
  crypto = await getCrypto();
  $('tabs').hidden = true;
  for (const p of document.querySelectorAll('[role=tabpanel]')) p.hidden = true;
  $('drop-page').hidden = false;
  $('drop-code').textContent = formatBoxId(id);
  const input = $('drop-files');
  $('drop-choose').addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    files = [...(input.files || [])];
    renderChosen();
  });
  const folder = $('drop-folder');
  $('drop-choose-folder').addEventListener('click', () => folder.click());
  folder.addEventListener('change', () => {
    if (folder.files && folder.files.length) choose(asItems(collectInput(folder.files)));
    folder.value = '';
  });
  // Files dropped anywhere on the page are chosen (added to those already chosen).
  document.addEventListener('dragover', (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes('Files')) e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    const dropped = e.dataTransfer && e.dataTransfer.files;
    if (!dropped || !dropped.length) return;
    e.preventDefault();
    if (sending || $('drop-form').hidden) return;
    collectTransfer(e.dataTransfer).then((entries) => choose(asItems(entries)), (err) => {
      $('drop-error').textContent = errorText(err);
      $('drop-error').hidden = false;
    });
  });
  $('drop-form').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('drop-text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
  });
  onLangChange(() => { renderKey(); renderChosen(); });
  renderChosen();
  let fragment = location.hash.slice(1);
  try { fragment = decodeURIComponent(fragment); } catch { /* kept as it is */ }
  await load(id, fragment);
  // Shared into Qopy from another app and sent here from the landing card (share-in.js).
  const shareId = new URLSearchParams(location.search).get('share');
  if (shareId) {
    const shared = await takeShared(shareId).catch(() => null);
    if (shared) {
      choose(shared.files.filter((f) => f instanceof Blob));
      const text = sharedText(shared);
      if (text) $('drop-text').value = text;
    }
  }
}
