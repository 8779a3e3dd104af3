// util.js — helpers shared by the UI modules: formatting (sizes, durations, dates in the
// current language), clipboard copy with a fallback, busy buttons, clip-ID parsing and
// turning API/engine errors into one translated sentence.
import { t, lang } from './i18n.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** Number formats by language and digits: making one costs far more than using it, and
 * progress lines format sizes many times a second. */
const sizeFormats = new Map();

export function formatBytes(n) {
  n = Number(n) || 0;
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) { n /= 1024; i++; }
  const digits = i === 0 || n >= 100 ? 0 : n >= 10 ? 1 : 2;
  const key = `${lang()}|${digits}`;
  let format = sizeFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(lang(), { maximumFractionDigits: digits });
    sizeFormats.set(key, format);
  }
  return `${format.format(n)} ${UNITS[i]}`;
}

export function formatNumber(n) { return Number(n || 0).toLocaleString(lang()); }

/** A duration in seconds as "2 h 5 min", "4 min", "12 s". */
export function formatDuration(sec) {
  sec = Math.max(0, Math.round(Number(sec) || 0));
  const d = Math.floor(sec / 86400), h = Math.floor((sec % 86400) / 3600), m = Math.floor((sec % 3600) / 60);
  if (d > 0) return t('time.dh', { d, h });
  if (h > 0) return t('time.hm', { h, m });
  if (m > 0) return t('time.m', { m });
  return t('time.s', { s: sec });
}

/** Milliseconds since the epoch as a local date and time. */
export function formatTime(ms) {
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return '—';
  const sameDay = d.toDateString() === new Date().toDateString();
  const opts = sameDay ? { hour: '2-digit', minute: '2-digit' } : { dateStyle: 'medium', timeStyle: 'short' };
  return d.toLocaleString(lang() === 'de' ? 'de-DE' : 'en-GB', opts);
}

/** An expiry option ({name, ms}) as "30 minutes" / "1 Stunde". */
export function expiryLabel(ms, name) {
  const min = Math.round(Number(ms) / 60000);
  if (!min) return name;
  const [n, unit] = min % 1440 === 0 ? [min / 1440, 'day'] : min % 60 === 0 ? [min / 60, 'hour'] : [min, 'minute'];
  return t(`unit.${unit}${n === 1 ? '' : 's'}`, { n });
}

/** Copies text to the clipboard; falls back to a hidden textarea and execCommand. */
export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) { await navigator.clipboard.writeText(text); return true; }
  } catch { /* fall through */ }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'visually-hidden';
  document.body.append(ta);
  const active = document.activeElement;
  ta.select();
  let ok = false;
  try { ok = document.execCommand('copy'); } catch { ok = false; }
  ta.remove();
  if (active && active.focus) active.focus();
  return ok;
}

/** Marks a button busy (spinner, disabled, aria-busy). */
export function setBusy(btn, busy) {
  btn.classList.toggle('busy', busy);
  btn.disabled = busy;
  btn.setAttribute('aria-busy', String(busy));
}

/**
 * Reads what the user typed or pasted into the ID field: a bare ID, a link
 * (…/clip/ID#secret or …/file/ID#secret) or a verbal code "ID · SECRET".
 * Returns { id, secret } (secret may be '').
 */
export function parseClipInput(raw) {
  const s = String(raw || '').trim();
  const link = s.match(/\/(?:clip|file)\/([A-Za-z0-9]{6}|[A-Za-z0-9]{10})\/?(?:#(.*))?$/);
  if (link) return { id: link[1].toUpperCase(), secret: link[2] ? decodeURIComponent(link[2]) : '' };
  const verbal = s.match(/^([A-Za-z0-9]{6})\s*[·•.:\-\s]\s*([A-Za-z0-9]{6})$/);
  if (verbal) return { id: verbal[1].toUpperCase(), secret: verbal[2].toUpperCase() };
  return { id: s.replace(/\s+/g, '').toUpperCase(), secret: '' };
}

/** '' when valid, else the translated problem with an ID. */
export function idProblem(id) {
  if (!id) return t('err.idEmpty');
  if (!/^[A-Z0-9]*$/.test(id)) return t('err.idChars');
  if (id.length !== 6 && id.length !== 10) return t('err.idLength', { n: id.length });
  return '';
}

/** One sentence for an error thrown by the API or the engine. */
export function errorText(err) {
  if (!err) return t('err.generic', { msg: '?' });
  if (isAbort(err)) return t('ret.cancelled');
  if (err.kind && err.name !== 'ApiError') {
    if (err.kind === 'missing_secret') return t('err.noSecret');
    if (err.kind === 'password_required') return t('err.codeNeeded');
    if (err.kind === 'too_long' || err.kind === 'too_large') return t('err.tooLarge');
    if (err.kind === 'dropped') return t('err.network');
    if (err.kind === 'resume_refused') return t('err.resumeRefused');
    if (err.kind === 'download_cancelled') return t('err.downloadStopped');
    return t('err.decrypt');
  }
  const st = err.status;
  if (st === 0) return t('err.network');
  if (st === 404) return t('err.notFound');
  if (st === 401 || st === 403) return t('err.denied');
  if (st === 410) return t('err.gone');
  if (st === 413) return t('err.tooLarge');
  if (st === 429) return t('err.rate');
  if (st === 507) return t('err.storage');
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) return t('err.network');
  return t('err.generic', { msg: err.message || err.error || String(err) });
}

export function isAbort(err) {
  return err && (err.name === 'AbortError' || err.code === 20);
}

/**
 * A new element: `attrs` are attributes (`class` sets the class name, `testid` the
 * data-testid), `kids` are appended (nodes, or strings as text, never as HTML).
 */
export function el(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'testid') e.dataset.testid = v;
    else e.setAttribute(k, v);
  }
  e.append(...kids);
  return e;
}
