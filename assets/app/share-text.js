// share-text.js — the Share Text tab: textarea with a character counter (max from
// /api/config; the text is sent exactly as typed, never trimmed), expiry, how often it can
// be opened (limit.js: unlimited, once, N),
// Quick Share (forces 5 minutes and no access code), access code, and the submit that
// calls the engine's shareText() and opens the "link is ready" dialog.
import { shareText } from '/js/transfer.js';
import { t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { openShareModal } from './modal.js';
import { setBusy, errorText, formatNumber, expiryLabel } from './util.js';
import { initLimit, readLimit, renderLimit, resetLimit } from './limit.js';

const $ = (id) => document.getElementById(id);
let config = null;

/** Characters as the user sees them (code points, so an emoji counts once). */
export function countChars(s) {
  let n = 0;
  for (const _ of s) n++; // eslint-disable-line no-unused-vars
  return n;
}

function updateCounter() {
  const n = countChars($('text-input').value);
  const max = config ? config.maxTextChars : 400000;
  const el = $('text-counter');
  el.textContent = t('text.counter', { n: formatNumber(n), max: formatNumber(max) });
  el.classList.toggle('over', n > max);
}

function updateQuick() {
  const quick = $('text-quick').checked;
  const sel = $('text-expiry');
  sel.disabled = quick;
  if (quick) {
    if (!sel.querySelector('option[data-quick]')) {
      const o = document.createElement('option');
      o.dataset.quick = '1';
      o.value = '';
      sel.append(o);
    }
    const o = sel.querySelector('option[data-quick]');
    o.textContent = expiryLabel(config ? config.quickShareExpiryMs : 300000, '5min');
    if (sel.value) sel.dataset.before = sel.value;
    o.hidden = false;
    sel.value = '';
  } else {
    const o = sel.querySelector('option[data-quick]');
    if (o) o.remove();
    if (sel.dataset.before) sel.value = sel.dataset.before;
  }
  const code = $('text-code');
  code.disabled = quick;
  $('text-code-field').classList.toggle('disabled', quick);
}

/** Empties the form (after "Share something new"). */
export function resetTextForm() {
  $('text-input').value = '';
  $('text-code').value = '';
  resetLimit('text');
  $('text-quick').checked = false;
  updateQuick();
  if (config) $('text-expiry').value = config.defaultExpiry;
  updateCounter();
  $('text-input').focus();
}

async function submit() {
  const btn = $('text-submit');
  if (btn.disabled) return;
  const text = $('text-input').value; // exactly as typed: no trim
  const n = countChars(text);
  const max = config ? config.maxTextChars : 400000;
  if (n === 0) { toast(t('err.textEmpty'), 'error'); $('text-input').focus(); return; }
  if (n > max) { toast(t('err.textLong', { n: formatNumber(n), max: formatNumber(max) }), 'error'); $('text-input').focus(); return; }
  const quick = $('text-quick').checked;
  const code = quick ? '' : $('text-code').value;
  if (code.length > 128) { toast(t('err.codeLong'), 'error'); $('text-code').focus(); return; }
  let limit;
  try { limit = readLimit('text'); } catch (err) { toast(err.message, 'error'); $(err.field).focus(); return; }
  setBusy(btn, true);
  const label = btn.querySelector('.btn-label');
  label.textContent = t('text.busy');
  try {
    const opts = { ...limit, quickShare: quick };
    if (!quick) opts.expiration = $('text-expiry').value;
    if (code) { opts.accessCode = code; opts.password = code; }
    const result = await shareText(text, opts);
    openShareModal(result, { returnFocus: $('text-submit'), onNew: resetTextForm });
  } catch (err) {
    toast(errorText(err), 'error');
  } finally {
    label.textContent = t('text.submit');
    setBusy(btn, false);
  }
}

/** Pasted text (main.js, when no field had the focus): inserted where the cursor was. */
export function pasteText(text) {
  const ta = $('text-input');
  ta.focus();
  ta.setRangeText(text, ta.selectionStart, ta.selectionEnd, 'end');
  updateCounter();
}

export function initShareText(cfg) {
  config = cfg;
  $('text-input').addEventListener('input', updateCounter);
  $('text-quick').addEventListener('change', updateQuick);
  initLimit('text');
  $('text-form').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  for (const id of ['text-input', 'text-code']) {
    $(id).addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
    });
  }
  onLangChange(() => { updateCounter(); renderLimit('text'); if ($('text-quick').checked) updateQuick(); });
  updateCounter();
}
