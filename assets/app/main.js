// main.js — entry point of the app page (/, the deep links /clip/:id, /file/:id, and the
// drop-box sender page /drop/:id).
// Theme and language first (so they work even if the rest fails to load), then the
// server config (/api/config via the engine), the three tabs, keyboard shortcuts, the
// insecure-context line, files dropped anywhere, paste to share and deep links. The UI modules are loaded with import() so a
// missing engine shows a clear message instead of a dead page.
import { initTheme } from './theme.js';
import { initI18n, t } from './i18n.js';
import { toast } from './toast.js';

const $ = (id) => document.getElementById(id);
const TABS = ['text', 'file', 'retrieve', 'receive'];

initTheme($('theme-toggle'));
initI18n($('lang-toggle'));

/** Selects a tab; focus moves to the tab when `focusTab`, else stays. */
function selectTab(name, focusTab = false) {
  if ($('tabs').hidden) return; // the drop-box sender page has no tabs
  for (const n of TABS) {
    const tab = $(`tab-${n}`);
    const on = n === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`panel-${n}`).hidden = !on;
    if (on && focusTab) tab.focus();
  }
}

function initTabs() {
  const list = $('tabs');
  for (const n of TABS) $(`tab-${n}`).addEventListener('click', () => selectTab(n));
  list.addEventListener('keydown', (e) => {
    const i = TABS.findIndex((n) => $(`tab-${n}`) === document.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % TABS.length;
    else if (e.key === 'ArrowLeft') j = (i + TABS.length - 1) % TABS.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = TABS.length - 1;
    if (j >= 0) { e.preventDefault(); selectTab(TABS[j], true); }
  });
  document.addEventListener('qopy:tab', (e) => selectTab(e.detail, true));
  // Alt+Shift+1/2/3/4 (by physical key, so any keyboard layout works).
  document.addEventListener('keydown', (e) => {
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey) return;
    const k = { Digit1: 'text', Digit2: 'file', Digit3: 'retrieve', Digit4: 'receive' }[e.code];
    if (!k || $('share-modal').open) return;
    e.preventDefault();
    selectTab(k, true);
  });
}

/** A field that takes a paste itself (text inputs, text areas, editable content). */
function editable(el) {
  if (!el || el.nodeType !== 1) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA') return true;
  if (el.tagName !== 'INPUT') return false;
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'file', 'range', 'color', 'image'].includes(el.type);
}

function fillExpiry(select, config, expiryLabel) {
  select.textContent = '';
  for (const opt of config.expiryOptions || []) {
    const o = document.createElement('option');
    o.value = opt.name;
    o.textContent = expiryLabel(opt.ms, opt.name);
    o.dataset.ms = String(opt.ms);
    select.append(o);
  }
  select.value = config.defaultExpiry;
}

/** /clip/ID or /file/ID (any case) → { id, secret }; else null. */
function deepLink() {
  const m = location.pathname.match(/^\/(?:clip|file)\/([A-Za-z0-9]{6}|[A-Za-z0-9]{10})\/?$/);
  if (!m) return null;
  let secret = location.hash.slice(1);
  try { secret = decodeURIComponent(secret); } catch { /* keep as is */ }
  return { id: m[1].toUpperCase(), secret };
}

async function start() {
  initTabs();
  // The certificate box (tls = "self-signed") needs nothing else from the page; its answer
  // (the server's TLS mode) also tells whether a service worker can be registered here.
  const tlsMode = import('./tls.js').then((m) => m.initTls()).catch((err) => { console.error(err); return null; });
  let mods;
  try {
    const [transfer, util, modal, text, file, retrieve, crypto, i18n, receive, sendDrop, link] = await Promise.all([
      import('/js/transfer.js'), import('./util.js'), import('./modal.js'), import('./share-text.js'),
      import('./share-file.js'), import('./retrieve.js'), import('/js/crypto/index.js'),
      import('./i18n.js'), import('./receive.js'), import('./send-drop.js'), import('/js/dropbox-link.js'),
    ]);
    mods = { transfer, util, modal, text, file, retrieve, crypto, i18n, receive, sendDrop, link };
  } catch (err) {
    console.error(err);
    toast(t('err.engine'), 'error', 60000);
    return;
  }
  try {
    const c = await mods.crypto.getCrypto();
    if (c && c.native === false) $('insecure-notice').hidden = false;
  } catch { $('insecure-notice').hidden = false; }

  let config;
  try {
    config = await mods.transfer.getServerConfig();
  } catch (err) {
    console.error(err);
    toast(t('err.config'), 'error', 60000);
    return;
  }
  for (const id of ['text-expiry', 'file-expiry', 'receive-expiry']) {
    fillExpiry($(id), config, mods.util.expiryLabel);
  }
  mods.i18n.onLangChange(() => {
    for (const id of ['text-expiry', 'file-expiry', 'receive-expiry']) {
      for (const o of $(id).options) if (o.dataset.ms) o.textContent = mods.util.expiryLabel(Number(o.dataset.ms), o.value);
    }
  });
  mods.modal.initModal();
  mods.text.initShareText(config);
  mods.file.initShareFile(config);
  mods.retrieve.initRetrieve();

  // The sender page of a drop box replaces the tabs; elsewhere the Receive tab lists this
  // browser's drop boxes.
  const dropId = mods.link.boxIdOfPath(location.pathname);
  if (dropId) {
    await mods.sendDrop.initSendDrop(dropId);
    document.documentElement.dataset.ready = 'true';
    return;
  }
  try {
    await mods.receive.initReceive();
  } catch (err) {
    console.error(err);
  }

  // Files and folders dropped anywhere on the page go to Share Files.
  const hasFiles = (dt) => !!dt && ([...(dt.types || [])].includes('Files') || (dt.files && dt.files.length > 0));
  document.addEventListener('dragover', (e) => { if (hasFiles(e.dataTransfer)) e.preventDefault(); });
  document.addEventListener('drop', (e) => {
    if (e.defaultPrevented || !hasFiles(e.dataTransfer)) return;
    e.preventDefault();
    selectTab('file');
    mods.file.acceptTransfer(e.dataTransfer);
  });

  // Paste to share: outside a text field, pasted files or an image go to Share Files (added
  // to what is chosen), pasted text into Share Text. Nothing is sent until the user clicks.
  document.addEventListener('paste', (e) => {
    const dt = e.clipboardData;
    if (e.defaultPrevented || !dt || $('share-modal').open) return;
    if (editable(e.target) || editable(document.activeElement)) return;
    if ([...(dt.items || [])].some((it) => it.kind === 'file') || (dt.files && dt.files.length > 0)) {
      e.preventDefault();
      if (mods.file.uploading()) { toast(t('paste.busy'), 'info'); return; }
      selectTab('file');
      mods.file.acceptTransfer(dt);
      return;
    }
    const text = dt.getData('text/plain');
    if (!text) return;
    e.preventDefault();
    selectTab('text');
    mods.text.pasteText(text);
  });

  // Share → Qopy: the share target's worker, and what it left for this page (?share=ID).
  try {
    const shareIn = await import('./share-in.js');
    // A browser refuses a worker script behind a certificate it does not trust (and says so
    // in the console), so none is registered behind the self-signed one.
    if ((await tlsMode) !== 'self-signed') shareIn.registerShareWorker();
    await shareIn.initShareIn({ selectTab, file: mods.file });
  } catch (err) { console.error(err); }

  const follow = async () => {
    const link = deepLink();
    if (!link) return;
    selectTab('retrieve');
    await mods.retrieve.openDeepLink(link.id, link.secret);
  };
  window.addEventListener('hashchange', follow);
  await follow();
  document.documentElement.dataset.ready = 'true';
}

start();
