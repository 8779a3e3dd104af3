// arrivals.js — the arrivals of one drop box on the Receive tab. A long-poll loop (GET
// /api/dropbox/ID/items?after=N&wait=25 with X-Qopy-Owner) lists each item as it completes;
// its secret is unwrapped with the box's private key at once, and the first 1104 bytes of
// its clip (64-byte header, 1024-byte metadata record, 16-byte tag) are fetched and
// decrypted to learn its name and kind without downloading the rest. Files get "Save" (a
// sink from sink.js made in the click, so the save picker keeps its user activation; the
// item is deleted from the box once saved) and "Delete"; texts are opened in place with
// "Copy". An item whose secret does not unwrap with this browser's key says so.
import { openClip } from '/js/transfer.js';
import { V4Reader, HEADER_SIZE, DEFAULT_META_SIZE, TAG_SIZE } from '/js/v4.js';
import { unwrapSecret } from '/js/dropbox-crypto.js';
import { fromBase64url } from '/js/dropbox-link.js';
import { t } from './i18n.js';
import { makeSink } from './sink.js';
import { formatBytes, formatTime, copyText, errorText, isAbort, el } from './util.js';
import { toast } from './toast.js';

/** Header, metadata record and its tag: enough to read an item's metadata. */
export /** A long poll answered empty sooner than this was not waited for (see run()). */
const EARLY_MS = 1000;
/** The pause after such an answer. */
const EARLY_PAUSE_MS = 3000;
const HEAD_BYTES = HEADER_SIZE + DEFAULT_META_SIZE + TAG_SIZE;
/** The longest wait the server allows for a listing (seconds). */
const WAIT_SECONDS = 25;
/** Without a waiting request (boxes past the first two), a box is asked this often. */
const QUIET_POLL_MS = 15000;
const BACKOFF_MS = 1000, BACKOFF_MAX_MS = 30000;
/** A listing that has not answered this long after its wait is taken as a lost connection. */
const LISTING_GRACE_MS = 15000;
/** Texts up to this size are opened in place; larger ones are saved like files. */
const TEXT_INLINE_MAX = 1024 * 1024;
const inlineText = (meta) => !!meta && meta.kind === 'text' && meta.size <= TEXT_INLINE_MAX;
const texts = new TextDecoder();

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  if (signal) signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
});

/** The clip's first HEAD_BYTES, decrypted as far as its metadata (null when not reached). */
async function readMetadata(crypto, clipId, secret, signal) {
  const res = await fetch(`/api/file/${encodeURIComponent(clipId)}`, {
    method: 'POST', signal, body: '{}',
    headers: { 'Content-Type': 'application/json', Range: `bytes=0-${HEAD_BYTES - 1}` },
  });
  if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  // Read no more than the head even if the server sent the whole clip.
  const reader = res.body.getReader();
  const parts = [];
  let n = 0;
  while (n < HEAD_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    n += value.length;
  }
  reader.cancel().catch(() => {});
  const head = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { head.set(p, o); o += p.length; }
  const v4 = new V4Reader({ crypto, secret });
  await v4.push(head.subarray(0, Math.min(n, HEAD_BYTES)));
  return v4.metadata;
}

/** One box's list of arrivals and the loop that fills it. */
export class Arrivals {
  /**
   * `box` as stored (dropbox-store.js), `crypto` the provider, `list` the <ul> to fill,
   * `onGone(reason)` called once when the box answers 404 or 410, `onStatus(key)` with the
   * loop's state ('waiting', 'retrying').
   */
  constructor({ box, crypto, list, onGone, onStatus, longPoll = true }) {
    Object.assign(this, { box, crypto, list, onGone, onStatus, longPoll });
    this.after = 0;
    this.items = new Map(); // clipId → { item, row, secret, meta, state }
    this.ctl = new AbortController();
  }

  stop() { this.ctl.abort(); }

  /** The loop: runs until stop() or until the box is gone. */
  async run() {
    const signal = this.ctl.signal;
    let backoff = BACKOFF_MS;
    while (!signal.aborted) {
      const wait = this.longPoll ? WAIT_SECONDS : 0;
      // A connection that died without a word would leave the request waiting for ever.
      const ctl = new AbortController();
      const onStop = () => ctl.abort();
      signal.addEventListener('abort', onStop, { once: true });
      const timer = setTimeout(() => ctl.abort(), wait * 1000 + LISTING_GRACE_MS);
      let res, page;
      const asked = Date.now();
      try {
        res = await fetch(`/api/dropbox/${this.box.id}/items?after=${this.after}&wait=${wait}`, {
          headers: { 'X-Qopy-Owner': this.box.ownerToken }, signal: ctl.signal, cache: 'no-store',
        });
        if (res.ok) page = await res.json();
      } catch {
        res = null;
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onStop);
      }
      if (signal.aborted) return;
      if (res && (res.status === 404 || res.status === 410)) { this.onGone(res.status); return; }
      if (!page) { // the network, a 5xx, a 429 (with its Retry-After): again, later and later
        const ra = res ? Number(res.headers.get('retry-after')) * 1000 : 0;
        this.onStatus('retrying');
        await sleep(Math.max(backoff, ra || 0), signal);
        backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
        continue;
      }
      backoff = BACKOFF_MS;
      this.onStatus('waiting');
      for (const item of page.items || []) this.add(item);
      const more = (page.items || []).length > 0 && page.next > this.after;
      this.after = Math.max(this.after, Number(page.next) || 0);
      if (!more && !this.longPoll) await sleep(QUIET_POLL_MS, signal);
      // An empty answer to a long poll that came back at once: the server had no room for
      // another waiting request (or is stopping); asking again at once would only spin.
      else if (!more && Date.now() - asked < EARLY_MS) await sleep(EARLY_PAUSE_MS, signal);
    }
  }

  /** Lists a new item and starts learning what it is. */
  add(item) {
    if (this.items.has(item.clipId)) return;
    const entry = { item, secret: null, meta: null, state: 'opening', text: null, note: '' };
    entry.row = el('li', { class: 'drop-item', testid: 'drop-item', 'data-clip': item.clipId, 'data-seq': String(item.seq) });
    this.items.set(item.clipId, entry);
    this.list.prepend(entry.row);
    this.render(entry);
    this.open(entry).catch(() => {});
  }

  async open(entry) {
    const { item } = entry;
    try {
      const secret = await unwrapSecret(this.crypto, this.box.privateKey, this.box.publicKey, fromBase64url(item.wrappedKey), this.box.id);
      entry.secret = texts.decode(secret);
    } catch {
      entry.state = 'locked';
      this.render(entry);
      return;
    }
    try {
      entry.meta = await readMetadata(this.crypto, item.clipId, entry.secret, this.ctl.signal);
    } catch { /* the name stays unknown until the item is saved */ }
    entry.state = 'ready';
    this.render(entry);
    if (inlineText(entry.meta)) await this.showText(entry);
  }

  /** A text item is opened and shown in place (it is never saved to a file). */
  async showText(entry) {
    entry.state = 'busy';
    this.render(entry);
    try {
      const r = await openClip({ clipId: entry.item.clipId, secret: entry.secret, signal: this.ctl.signal });
      entry.text = r.kind === 'text' ? r.text : null;
      entry.state = 'ready';
    } catch (err) {
      entry.state = 'ready';
      entry.note = errorText(err);
    }
    this.render(entry);
  }

  /** Save, from the click (see the header). */
  async save(entry) {
    if (entry.state !== 'ready') return;
    entry.state = 'busy';
    entry.note = '';
    this.render(entry);
    let sink;
    try {
      sink = await makeSink(entry.item.clipId, { onPicker: () => { entry.note = t('ret.pickerOpen'); this.render(entry); } });
    } catch (err) {
      entry.state = 'ready';
      entry.note = isAbort(err) ? '' : errorText(err);
      this.render(entry);
      return;
    }
    try {
      const r = await openClip({
        clipId: entry.item.clipId, secret: entry.secret, sink, saveText: true, // Save means a file, whatever the kind
        onProgress: (p) => {
          if (p.phase !== 'download' || !p.total) return;
          entry.note = t('rcv.saving', { p: Math.floor((p.received / p.total) * 100) });
          this.render(entry);
        },
      });
      if (r.kind === 'text') { entry.text = r.text; entry.state = 'ready'; entry.note = ''; this.render(entry); return; }
      if (sink.finish) await sink.finish(r.meta);
      entry.meta = r.meta;
      await this.remove(entry, true);
    } catch (err) {
      if (sink && !sink.closed) { try { await sink.abort(); } catch { /* already aborted */ } }
      entry.state = 'ready';
      entry.note = errorText(err);
      this.render(entry);
    }
  }

  /** Deletes the item from the box; `saved` says it was saved first. */
  async remove(entry, saved = false) {
    entry.state = 'busy';
    this.render(entry);
    try {
      const res = await fetch(`/api/dropbox/${this.box.id}/items/${encodeURIComponent(entry.item.clipId)}`, {
        method: 'DELETE', headers: { 'X-Qopy-Owner': this.box.ownerToken },
      });
      if (!res.ok && res.status !== 404) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
      entry.state = saved ? 'saved' : 'deleted';
      entry.note = '';
    } catch (err) {
      entry.state = saved ? 'savedKept' : 'ready';
      entry.note = errorText(err);
    }
    this.render(entry);
    if (entry.state === 'deleted') setTimeout(() => entry.row.remove(), 4000);
  }

  /** Fills an item's row from its state (also after a language change). */
  render(entry) {
    const { item, meta, state } = entry;
    const row = entry.row;
    row.dataset.state = state;
    row.textContent = '';
    const name = meta ? (meta.kind === 'text' ? t('rcv.textItem') : meta.name || t('rcv.unnamed')) : t('rcv.unnamed');
    const size = formatBytes(meta && Number.isSafeInteger(meta.size) ? meta.size : item.size);
    const head = el('div', { class: 'drop-item-head' },
      el('span', { class: 'file-name', testid: 'item-name' }, name),
      el('span', { class: 'hint', testid: 'item-details' }, t('rcv.itemDetails', { size, time: formatTime(item.createdAt) })));
    row.append(head);
    let status = entry.note;
    if (state === 'opening') status = t('rcv.opening');
    else if (state === 'locked') status = t('rcv.locked');
    else if (state === 'saved') status = t('rcv.saved');
    else if (state === 'savedKept') status = t('rcv.savedKept', { msg: entry.note });
    else if (state === 'deleted') status = t('rcv.deleted');
    if (status) row.append(el('p', { class: state === 'locked' ? 'hint warn' : 'hint', testid: 'item-status' }, status));
    if (entry.text !== null) row.append(el('pre', { class: 'drop-text', testid: 'item-text', tabindex: '0' }, entry.text));
    const actions = el('div', { class: 'result-actions' });
    const button = (key, testid, fn, primary = false) => {
      const b = el('button', { type: 'button', class: primary ? 'btn small primary' : 'btn ghost small', testid }, t(key));
      b.disabled = state === 'busy' || state === 'opening';
      b.addEventListener('click', fn);
      actions.append(b);
    };
    if (state === 'saved' || state === 'deleted') { row.append(actions); return; }
    if (entry.text !== null) {
      button('ret.copy', 'item-copy', async () => toast(t(await copyText(entry.text) ? 'toast.contentCopied' : 'toast.copyFailed'), 'info'), true);
    } else if (state !== 'locked' && state !== 'savedKept' && !inlineText(meta)) {
      button('rcv.save', 'item-save', () => this.save(entry), true);
    }
    button('rcv.delete', 'item-delete', () => this.remove(entry));
    row.append(actions);
  }

  /** Renders every row again (after a language change). */
  renderAll() { for (const e of this.items.values()) this.render(e); }
}
