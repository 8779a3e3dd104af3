// i18n.js — English and German for every page. The language follows the browser
// (navigator.languages) unless the user picked one, which is remembered in localStorage.
// Markup: data-i18n="key" sets textContent; data-i18n-attr="attr:key;attr2:key2" sets attributes.
import en from '/i18n/en.js';
import de from '/i18n/de.js';

const DICTS = { en, de };
const KEY = 'qopy-lang';
const listeners = [];
let current = 'en';

function stored() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

/** The language to use: the remembered choice, else the browser's first en/de preference. */
export function detectLang() {
  const s = stored();
  if (s && DICTS[s]) return s;
  const prefs = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en'];
  for (const l of prefs) {
    const p = String(l).toLowerCase().slice(0, 2);
    if (DICTS[p]) return p;
  }
  return 'en';
}

export function lang() { return current; }

/** Looks up a string and fills {placeholders}; falls back to English, then to the key. */
export function t(key, params) {
  let s = DICTS[current][key] ?? en[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  return s;
}

/** Applies the current language to the marked elements under root. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      if (attr && key) el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}

/** Sets the language (remembered when `remember`), updates the page and tells listeners. */
export function setLang(l, remember = false) {
  current = DICTS[l] ? l : 'en';
  document.documentElement.lang = current;
  if (remember) { try { localStorage.setItem(KEY, current); } catch { /* private mode */ } }
  applyI18n();
  for (const fn of listeners) fn(current);
}

export function onLangChange(fn) { listeners.push(fn); }

/** Wires a toggle button (EN <-> DE) and applies the detected language. */
export function initI18n(button) {
  setLang(detectLang());
  if (button) {
    const label = button.querySelector('[aria-hidden]') || button;
    const sync = () => { label.textContent = t('lang.label'); };
    sync();
    onLangChange(sync);
    button.addEventListener('click', () => setLang(current === 'de' ? 'en' : 'de', true));
  }
}
