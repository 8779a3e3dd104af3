// modal.js — the "link is ready" dialog shared by Share Text and Share Files. A native
// <dialog> opened with showModal(): focus moves in and stays in, Esc / × / Done / a click
// on the backdrop close it WITHOUT touching the share form (the original wiped the form on
// any Esc). Only "Share something new" resets the form. Focus returns to the opener.
import { encodeQr, qrToSvg } from '/js/qr.js';
import { t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { copyText, formatTime, formatDuration, formatNumber } from './util.js';

const $ = (id) => document.getElementById(id);
let current = null; // { result, onNew, opener }
let timer = 0;

function renderExpiry() {
  if (!current) return;
  const el = $('share-expiry');
  const at = Number(current.result.expiresAt);
  const left = at - Date.now();
  el.classList.toggle('expired', left <= 0);
  el.textContent = left > 0
    ? t('modal.expires', { time: formatTime(at), left: formatDuration(left / 1000) })
    : t('modal.expired', { time: formatTime(at) });
}

function close() {
  const d = $('share-modal');
  if (d.open) d.close();
}

/**
 * Shows the dialog for a share result ({ url, clipId, secret, expiresAt, quickShare, oneTime,
 * maxDownloads, verbalCode }).
 */
export function openShareModal(result, { onNew, returnFocus } = {}) {
  const d = $('share-modal');
  const active = document.activeElement;
  current = { result, onNew, opener: active && active !== document.body ? active : returnFocus };
  $('share-url').value = result.url;
  const quick = !!result.quickShare;
  $('share-quick').hidden = !quick;
  if (quick) {
    $('share-verbal').value = result.verbalCode || `${result.clipId} · ${result.secret}`;
    $('share-id').value = result.clipId;
  }
  $('share-onetime').hidden = !result.oneTime;
  const limit = !result.oneTime && Number(result.maxDownloads) > 1 ? Number(result.maxDownloads) : 0;
  $('share-limit').hidden = !limit;
  $('share-limit').textContent = limit ? t('modal.limit', { n: formatNumber(limit) }) : '';
  const img = $('share-qr');
  try {
    const svg = qrToSvg(encodeQr(result.url, { ecc: 'M' }), { margin: 4, scale: 4 });
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    img.hidden = false;
  } catch {
    img.hidden = true; // a URL too long for a QR code: the link alone still works
  }
  renderExpiry();
  clearInterval(timer);
  timer = setInterval(renderExpiry, 15000);
  if (!d.open) d.showModal();
  $('share-url').focus();
  $('share-url').select();
}

async function copyFrom(id, okKey) {
  const ok = await copyText($(id).value);
  toast(ok ? t(okKey) : t('toast.copyFailed'), ok ? 'success' : 'error');
}

export function initModal() {
  const d = $('share-modal');
  d.addEventListener('close', () => {
    clearInterval(timer);
    const opener = current && current.opener;
    if (opener && document.contains(opener) && !opener.disabled) opener.focus();
  });
  // Esc fires "cancel": let it close the dialog, nothing else.
  d.addEventListener('cancel', () => {});
  d.addEventListener('click', (e) => { if (e.target === d) close(); });
  $('modal-close').addEventListener('click', close);
  $('modal-done').addEventListener('click', close);
  $('modal-new').addEventListener('click', () => {
    const cb = current && current.onNew;
    if (current) current.opener = null;
    close();
    if (cb) cb();
  });
  $('copy-url').addEventListener('click', () => copyFrom('share-url', 'toast.urlCopied'));
  $('copy-id').addEventListener('click', () => copyFrom('share-id', 'toast.idCopied'));
  $('copy-verbal').addEventListener('click', () => copyFrom('share-verbal', 'toast.verbalCopied'));
  onLangChange(renderExpiry);
}
