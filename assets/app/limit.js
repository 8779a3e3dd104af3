// limit.js — the "Can be opened / downloaded" choice of both share forms: unlimited, once
// (a one-time clip), a few common numbers, or any other number from 1 to MAX_DOWNLOADS in a
// number field. readLimit() gives what the engine sends in the initiate JSON: `maxDownloads`
// (null = unlimited) and `oneTime` (true exactly for 1, which older servers understand).
import { t } from './i18n.js';

/** The largest limit the server accepts. */
export const MAX_DOWNLOADS = 1000;
const PRESETS = [2, 3, 5, 10];
const $ = (id) => document.getElementById(id);

/** (Re)fills the choice of `prefix` ('text' or 'file') in the current language, keeping its value. */
export function renderLimit(prefix) {
  const sel = $(`${prefix}-downloads`);
  const keep = sel.value;
  sel.textContent = '';
  const add = (value, label) => {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    sel.append(o);
  };
  add('', t('opt.limitNone'));
  add('1', t('opt.limitOnce'));
  for (const n of PRESETS) add(String(n), t('opt.limitTimes', { n }));
  add('other', t('opt.limitOther'));
  sel.value = [...sel.options].some((o) => o.value === keep) ? keep : '';
}

function showNumber(prefix) {
  const other = $(`${prefix}-downloads`).value === 'other';
  const n = $(`${prefix}-downloads-n`);
  const wasHidden = n.hidden;
  n.hidden = !other;
  if (other && wasHidden) { if (!n.value) n.value = '20'; n.focus(); n.select(); }
}

export function initLimit(prefix) {
  renderLimit(prefix);
  $(`${prefix}-downloads`).addEventListener('change', () => showNumber(prefix));
}

/**
 * The chosen limit as engine options: { maxDownloads: null | 1..1000, oneTime }. Throws an
 * Error with `field` (the element to focus) when the number field holds no valid number.
 */
export function readLimit(prefix) {
  const v = $(`${prefix}-downloads`).value;
  let n = null;
  if (v === 'other') {
    const raw = $(`${prefix}-downloads-n`).value.trim();
    n = /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= MAX_DOWNLOADS)) {
      throw Object.assign(new Error(t('err.limit', { max: MAX_DOWNLOADS })), { field: `${prefix}-downloads-n` });
    }
  } else if (v) {
    n = Number(v);
  }
  return { maxDownloads: n, oneTime: n === 1 };
}

/** Sets the choice to `n` (null = unlimited), e.g. from a saved upload being resumed. */
export function setLimit(prefix, n) {
  const sel = $(`${prefix}-downloads`);
  const value = n ? String(n) : '';
  if ([...sel.options].some((o) => o.value === value)) {
    sel.value = value;
  } else {
    sel.value = 'other';
    $(`${prefix}-downloads-n`).value = String(n);
  }
  $(`${prefix}-downloads-n`).hidden = sel.value !== 'other';
}

/** Back to unlimited. */
export function resetLimit(prefix) {
  setLimit(prefix, null);
  $(`${prefix}-downloads-n`).value = '';
}

/** Locks or unlocks the choice (while an upload runs). */
export function lockLimit(prefix, on) {
  $(`${prefix}-downloads`).disabled = on;
  $(`${prefix}-downloads-n`).disabled = on;
}
