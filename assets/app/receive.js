// receive.js — the Receive tab. "Open a drop box" makes a key pair in this browser
// (crypto.ecdhGenerate: a non-extractable CryptoKey under WebCrypto, 32 bytes under the
// fallback), POSTs only the public key to /api/dropbox with the chosen expiry, and keeps the
// box with its private key in IndexedDB (dropbox-store.js). Each box shows a QR code of its
// link with the key's fingerprint (`url#FP`), the short code (ABCD-EFGH), the fingerprint to
// compare with the sender's screen, the expiry, and its arrivals (arrivals.js). On page load
// the stored boxes that have not expired are shown again (newest first) and their arrivals
// fetched; expired ones are forgotten. "Close box" deletes the box and forgets its keys. The
// tab also has "Send to a drop box": a code or link, which opens the sender page /drop/ID,
// with links to the boxes this browser recently sent into.
import { getCrypto } from '/js/crypto/index.js';
import { fingerprint } from '/js/dropbox-crypto.js';
import { base64url } from '/js/v4.js';
import { encodeQr, qrToSvg } from '/js/qr.js';
import { formatBoxId, parseDropInput } from '/js/dropbox-link.js';
import { t, onLangChange } from './i18n.js';
import { saveBox, listBoxes, forgetBox, recentDropboxes } from './dropbox-store.js';
import { Arrivals } from './arrivals.js';
import { setBusy, errorText, formatTime, formatDuration, copyText, el } from './util.js';
import { toast } from './toast.js';

const $ = (id) => document.getElementById(id);
/** Boxes past this many are asked every few seconds instead of holding a waiting request
 * (a browser opens about six connections to one server). */
const LONG_POLLS = 2;
const views = new Map(); // box id → { box, card, arrivals, fp, gone }
let crypto = null;

function showError(msg) {
  const e = $('receive-error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

/** The texts of a box's card (again after a language change or as time passes). */
function renderCard(v) {
  const { box, card } = v;
  const q = (id) => card.querySelector(`[data-testid=${id}]`);
  q('box-title').textContent = t('rcv.boxTitle', { code: formatBoxId(box.id) });
  q('box-code-label').textContent = t('rcv.code');
  q('box-fp-label').textContent = t('rcv.fingerprint');
  q('box-fp-hint').textContent = t('rcv.fpHint');
  q('box-qr').alt = t('rcv.qrAlt');
  q('box-copy').textContent = t('copy');
  q('box-close').textContent = t('rcv.close');
  const left = Math.max(0, (box.expiresAt - Date.now()) / 1000);
  q('box-expiry').textContent = v.gone ? t('rcv.expired') : t('rcv.expiry', { time: formatTime(box.expiresAt), left: formatDuration(left) });
  q('box-expiry').classList.toggle('gone', !!v.gone);
  q('box-status').textContent = v.gone ? '' : t(v.status === 'retrying' ? 'rcv.retrying' : 'rcv.waiting');
}

/** The card of one box; its fingerprint and QR code are filled in once computed. */
async function showBox(box, longPoll) {
  const link = el('input', { type: 'text', readonly: '', class: 'mono', testid: 'box-link', 'aria-labelledby': `box-code-label-${box.id}` });
  const card = el('article', { class: 'dropbox-card', testid: 'dropbox', 'data-box': box.id },
    el('div', { class: 'result-head' },
      el('h2', { testid: 'box-title' }),
      el('button', { type: 'button', class: 'btn ghost small', testid: 'box-close' })),
    el('div', { class: 'dropbox-grid' },
      el('div', { class: 'qr-wrap' }, el('img', { testid: 'box-qr', width: '200', height: '200', alt: '' })),
      el('div', { class: 'dropbox-facts' },
        el('p', { class: 'hint', testid: 'box-code-label', id: `box-code-label-${box.id}` }),
        el('p', { class: 'dropbox-code mono', testid: 'box-code' }, formatBoxId(box.id)),
        el('div', { class: 'copy-row' }, link, el('button', { type: 'button', class: 'btn small', testid: 'box-copy' })),
        el('p', { class: 'hint', testid: 'box-fp-label' }),
        el('p', { class: 'fingerprint mono', testid: 'box-fp' }),
        el('p', { class: 'hint', testid: 'box-fp-hint' }),
        el('p', { class: 'expiry', testid: 'box-expiry' }),
        el('p', { class: 'hint', testid: 'box-status', 'aria-live': 'polite' }))),
    el('ul', { class: 'drop-items', testid: 'box-items', 'aria-live': 'polite' }));
  const v = { box, card, arrivals: null, fp: null, gone: false, status: 'waiting' };
  views.set(box.id, v);
  $('receive-boxes').append(card);
  renderCard(v);

  card.querySelector('[data-testid=box-close]').addEventListener('click', () => closeBox(v));
  card.querySelector('[data-testid=box-copy]').addEventListener('click', async () => {
    toast(t(await copyText(link.value) ? 'toast.urlCopied' : 'toast.copyFailed'), 'info');
  });
  try {
    v.fp = await fingerprint(crypto, box.publicKey);
    link.value = `${box.url}#${v.fp.link}`;
    card.querySelector('[data-testid=box-fp]').textContent = v.fp.display;
    const svg = qrToSvg(encodeQr(link.value, { ecc: 'M' }), { margin: 4, scale: 4 });
    card.querySelector('[data-testid=box-qr]').src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  } catch (err) {
    showError(errorText(err));
  }
  v.arrivals = new Arrivals({
    box, crypto, list: card.querySelector('[data-testid=box-items]'), longPoll,
    onGone: () => { v.gone = true; renderCard(v); forgetBox(box.id).catch(() => {}); },
    onStatus: (s) => { if (s !== v.status) { v.status = s; renderCard(v); } },
  });
  v.arrivals.run();
  return v;
}

async function closeBox(v) {
  if (!v.gone && !confirm(t('rcv.closeConfirm'))) return;
  try {
    const res = await fetch(`/api/dropbox/${v.box.id}`, { method: 'DELETE', headers: { 'X-Qopy-Owner': v.box.ownerToken } });
    if (!res.ok && res.status !== 404 && res.status !== 410) throw Object.assign(new Error(`HTTP ${res.status}`), { status: res.status });
  } catch (err) {
    toast(errorText(err), 'error'); // still open: it keeps listening
    return;
  }
  v.arrivals.stop();
  await forgetBox(v.box.id).catch(() => {});
  v.card.remove();
  views.delete(v.box.id);
  toast(t('rcv.closed'), 'info');
}

async function openBox() {
  const btn = $('receive-open');
  setBusy(btn, true);
  showError('');
  try {
    const pair = await crypto.ecdhGenerate();
    const res = await fetch('/api/dropbox', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ publicKey: base64url(pair.publicKey), expiration: $('receive-expiry').value }),
    });
    const made = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(made.message || `HTTP ${res.status}`), { status: res.status });
    const box = {
      id: made.id, ownerToken: made.ownerToken, privateKey: pair.privateKey, publicKey: pair.publicKey,
      expiresAt: made.expiresAt, url: made.url, createdAt: Date.now(),
    };
    try {
      await saveBox(box);
    } catch {
      toast(t('rcv.notStored'), 'error', 15000); // it works while this page stays open
    }
    const v = await showBox(box, true);
    $('receive-boxes').prepend(v.card);
    v.card.querySelector('[data-testid=box-close]').focus();
  } catch (err) {
    showError(errorText(err));
  } finally {
    setBusy(btn, false);
  }
}

/** Shows the stored boxes again (newest first) and forgets the expired ones. */
async function reopenBoxes() {
  let boxes = [];
  try { boxes = await listBoxes(); } catch { return; }
  let polls = 0;
  for (const box of boxes) {
    if (!(box.expiresAt > Date.now())) { forgetBox(box.id).catch(() => {}); continue; }
    if (views.has(box.id)) continue;
    await showBox(box, polls++ < LONG_POLLS);
  }
}

/** Links to the boxes recently sent into (with their fingerprints, so the key is checked). */
function renderRecent() {
  let recent = [];
  try { recent = recentDropboxes(); } catch { /* no storage here */ }
  const list = $('recent-list');
  list.textContent = '';
  for (const r of recent) {
    const id = parseDropInput(r.id);
    if (!id) continue;
    const a = el('a', { href: `/drop/${id.id}${r.fpLink ? `#${encodeURIComponent(r.fpLink)}` : ''}`, class: 'mono' }, formatBoxId(id.id));
    list.append(el('li', {}, a, ` · ${formatTime(r.usedAt)}`));
  }
  $('recent-boxes').hidden = !list.childElementCount;
}

function goSend() {
  const drop = parseDropInput($('send-code').value);
  if (!drop) { toast(t('rcv.badCode'), 'error'); $('send-code').focus(); return; }
  location.assign(`/drop/${drop.id}${drop.fp ? `#${drop.fp}` : ''}`);
}

export async function initReceive() {
  crypto = await getCrypto();
  $('receive-form').addEventListener('submit', (e) => { e.preventDefault(); openBox(); });
  $('send-code-form').addEventListener('submit', (e) => { e.preventDefault(); goSend(); });
  renderRecent();
  onLangChange(() => {
    renderRecent();
    for (const v of views.values()) {
      renderCard(v);
      if (v.arrivals) v.arrivals.renderAll();
    }
  });
  setInterval(() => { for (const v of views.values()) renderCard(v); }, 30000);
  await reopenBoxes();
}
