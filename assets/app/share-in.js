// share-in.js — the app page's side of "Share → Qopy" (the manifest's share target).
// registerShareWorker() registers /share-worker.js for the scope /share-target, in secure
// contexts only; the worker keeps what another app shared in IndexedDB and sends the browser
// to /?share=ID. initShareIn() then takes that record (/app/shared-items.js), removes the
// query from the address, and offers it:
// - "Share as a link": the files go to the Share Files tab (one file as is; several as one
//   archive where the tab has acceptTransfer(), else the first with a note), the text to the
//   Share Text tab. Nothing is sent until the user clicks there.
// - "Send to a drop box": one button per drop box this browser recently sent to
//   (localStorage qopy.recentDropboxes, written by the drop-box sender page). A click keeps
//   the items again under a new ID and opens /drop/BOX?share=NEW_ID#FINGERPRINT, whose page
//   takes them the same way.
// Without recent drop boxes there is nothing to choose: the items go straight to the tabs.
import { t } from './i18n.js';
import { toast } from './toast.js';
import { takeShared, keepShared, sharedText } from './shared-items.js';

const $ = (id) => document.getElementById(id);
const WORKER_URL = '/share-worker.js';
const WORKER_SCOPE = '/share-target';
const RECENT_KEY = 'qopy.recentDropboxes';
/** At most this many drop boxes are offered. */
const RECENT_MAX = 5;

/** Registers the share worker where service workers exist (secure contexts). */
export function registerShareWorker() {
  if (!window.isSecureContext || !navigator.serviceWorker || typeof navigator.serviceWorker.register !== 'function') return;
  navigator.serviceWorker.register(WORKER_URL, { scope: WORKER_SCOPE, type: 'module' })
    .catch((err) => console.warn('share worker not registered', err));
}

/**
 * The drop boxes of localStorage qopy.recentDropboxes that can be offered: entries with an
 * ID of letters and digits, newest first, without duplicates. Anything else in the list
 * (another shape, a broken JSON) is skipped. Only the ID and the fragment are used to build
 * the link, always on this origin: an entry's `url` is never followed.
 */
export function recentDropboxes() {
  let list;
  try { list = JSON.parse(localStorage.getItem(RECENT_KEY) || '[]'); } catch { return []; }
  if (!Array.isArray(list)) return [];
  const seen = new Set();
  const out = [];
  for (const e of list) {
    if (!e || typeof e !== 'object' || typeof e.id !== 'string' || !/^[0-9A-Za-z]{1,32}$/.test(e.id)) continue;
    const key = e.id.toUpperCase();
    if (seen.has(key)) continue;
    seen.add(key);
    const fpLink = typeof e.fpLink === 'string' ? e.fpLink.replace(/^#/, '') : '';
    out.push({
      id: e.id,
      fpLink: /^[\x21-\x7e]{0,512}$/.test(fpLink) ? fpLink : '',
      fingerprint: typeof e.fingerprint === 'string' ? e.fingerprint.slice(0, 64) : '',
      usedAt: Number.isFinite(e.usedAt) ? e.usedAt : 0,
    });
  }
  out.sort((a, b) => b.usedAt - a.usedAt);
  return out.slice(0, RECENT_MAX);
}

/** The drop-box page's address for `box`, carrying the record `shareId`. */
export function dropboxLink(box, shareId) {
  const u = new URL(`/drop/${encodeURIComponent(box.id)}`, location.origin);
  u.searchParams.set('share', shareId);
  if (box.fpLink) u.hash = box.fpLink;
  return u.pathname + u.search + u.hash;
}

/** Puts the items into the tabs: files to Share Files, text to Share Text. */
function fillTabs(items, { selectTab, file }) {
  const text = sharedText(items);
  if (text) {
    const ta = $('text-input');
    ta.value = text;
    ta.dispatchEvent(new Event('input', { bubbles: true }));
  }
  const files = items.files;
  if (!files.length) {
    selectTab('text');
    return;
  }
  selectTab('file');
  if (typeof file.acceptTransfer === 'function' && typeof DataTransfer === 'function') {
    // The multi-file Share Files tab: one file as is, several as one archive.
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(f);
    file.acceptTransfer(dt);
    return;
  }
  file.acceptDrop(files[0]);
  if (files.length > 1) toast(t('shareIn.onlyFirst', { n: files.length }), 'info', 10000);
}

function summary(items) {
  const parts = [];
  const n = items.files.length;
  if (n === 1) parts.push(items.files[0].name || t('shareIn.oneFile'));
  else if (n > 1) parts.push(t('shareIn.files', { n }));
  if (sharedText(items)) parts.push(t('shareIn.text'));
  return parts.join(' · ');
}

/** Shows the choice between a link and the recent drop boxes. */
function offer(items, boxes, ui) {
  const box = $('share-in');
  $('share-in-what').textContent = summary(items);
  const list = $('share-in-boxes');
  list.textContent = '';
  for (const b of boxes) {
    const li = document.createElement('li');
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.className = 'btn';
    btn.dataset.testid = 'share-in-box';
    btn.dataset.box = b.id;
    const name = document.createElement('span');
    name.textContent = t('shareIn.box', { id: b.id });
    btn.append(name);
    if (b.fingerprint) {
      const fp = document.createElement('span');
      fp.className = 'mono hint';
      fp.textContent = b.fingerprint;
      btn.append(' ', fp);
    }
    btn.addEventListener('click', async () => {
      for (const el of box.querySelectorAll('button')) el.disabled = true;
      try {
        const id = await keepShared(items);
        location.assign(dropboxLink(b, id));
      } catch (err) {
        console.error(err);
        toast(t('shareIn.failed'), 'error');
        for (const el of box.querySelectorAll('button')) el.disabled = false;
      }
    });
    li.append(btn);
    list.append(li);
  }
  $('share-in-link').onclick = () => {
    box.hidden = true;
    fillTabs(items, ui);
  };
  box.hidden = false;
  $('share-in-link').focus();
}

/**
 * Takes what the share target left for this page (?share=ID on /). `ui` gives selectTab and
 * the Share Files module (acceptDrop, and acceptTransfer where several files are supported).
 */
export async function initShareIn(ui) {
  if (location.pathname !== '/') return;
  const params = new URLSearchParams(location.search);
  if (!params.has('share')) return;
  const id = params.get('share');
  // A reload or the back button must not look for the record again.
  params.delete('share');
  const rest = params.toString();
  history.replaceState(history.state, '', `/${rest ? `?${rest}` : ''}${location.hash}`);
  let items = null;
  try { items = await takeShared(id); } catch (err) { console.error(err); }
  if (!items || (!items.files.length && !sharedText(items))) {
    toast(t('shareIn.missing'), 'error', 10000);
    return;
  }
  const boxes = recentDropboxes();
  if (boxes.length) offer(items, boxes, ui);
  else fillTabs(items, ui);
}
