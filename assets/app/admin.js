// admin.js — the admin dashboard (/admin). Login posts {password} to /api/admin/auth; the
// token is then kept in a variable only (never stored) and sent as a Bearer token to
// /api/admin/stats and /api/admin/system. Tiles refresh on demand and every 30 s; a 401
// signs the user out. Logout forgets the token.
import { initTheme } from './theme.js';
import { initI18n, t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { formatBytes, formatNumber, formatTime, formatDuration, setBusy } from './util.js';

const $ = (id) => document.getElementById(id);
let token = null;
let timer = 0;
let last = null; // { stats, system, at }

initTheme($('theme-toggle'));
initI18n($('lang-toggle'));

async function api(path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { ...opts, headers, cache: 'no-store', credentials: 'same-origin' });
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) {
    const err = new Error((body && body.message) || res.statusText);
    err.status = res.status;
    throw err;
  }
  return body;
}

function tile(key, value, sub) {
  const el = document.createElement('div');
  el.className = 'tile';
  el.dataset.testid = `tile-${key}`;
  el.id = `tile-${key}`;
  const l = document.createElement('div');
  l.className = 'tile-label';
  l.textContent = t(`admin.t.${key}`);
  const v = document.createElement('div');
  v.className = 'tile-value';
  v.textContent = value;
  el.append(l, v);
  if (sub) {
    const s = document.createElement('div');
    s.className = 'tile-sub';
    s.textContent = sub;
    el.append(s);
  }
  return el;
}

function render() {
  if (!last) return;
  const { stats: s, system: y, at } = last;
  const n = formatNumber;
  const tiles = [
    tile('totalClips', n(s.totalClips)),
    tile('activeClips', n(s.activeClips)),
    tile('totalAccesses', n(s.totalAccesses)),
    tile('passwordClips', n(s.passwordClips), t('admin.pct', { p: s.passwordPercentage ?? 0 })),
    tile('quickShareClips', n(s.quickShareClips), t('admin.pct', { p: s.quickSharePercentage ?? 0 })),
    tile('oneTimeClips', n(s.oneTimeClips)),
    tile('normalClips', n(s.normalClips)),
  ];
  if (s.activeUploads !== undefined) tiles.push(tile('activeUploads', n(s.activeUploads)));
  if (s.storedBytes !== undefined) tiles.push(tile('storedBytes', formatBytes(s.storedBytes)));
  if (s.cacheHits !== undefined) {
    const total = Number(s.cacheHits) + Number(s.cacheMisses || 0);
    tiles.push(tile('cache', total ? `${Math.round((100 * s.cacheHits) / total)}%` : '—', `${n(s.cacheHits)} / ${n(total)}`));
  }
  $('admin-tiles').replaceChildren(...tiles);

  const rows = [
    ['status', y.status],
    ['version', y.version],
    ['lastCleanup', y.lastCleanup ? formatTime(y.lastCleanup) : t('admin.never')],
    ['sweeps', y.sweeps !== undefined ? n(y.sweeps) : undefined],
    ['currentTime', y.currentTime ? formatTime(y.currentTime) : undefined],
    ['uptime', y.uptime !== undefined ? formatDuration(y.uptime) : undefined],
    ['databaseBytes', y.databaseBytes !== undefined ? formatBytes(y.databaseBytes) : undefined],
    ['freeDiskBytes', y.freeDiskBytes != null ? formatBytes(y.freeDiskBytes) : undefined],
    ['minFreeDisk', y.minFreeDisk !== undefined ? formatBytes(y.minFreeDisk) : undefined],
    ['maxStorage', y.maxStorage !== undefined ? (y.maxStorage ? formatBytes(y.maxStorage) : t('admin.none')) : undefined],
  ];
  const out = [];
  for (const [k, v] of rows) {
    if (v === undefined || v === null) continue;
    const dt = document.createElement('dt');
    dt.textContent = t(`admin.s.${k}`);
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dd.dataset.testid = `sys-${k}`;
    out.push(dt, dd);
  }
  $('admin-system').replaceChildren(...out);
  $('admin-updated').textContent = t('admin.updated', { time: formatTime(at) });
}

async function refresh(manual = false) {
  if (!token) return;
  const btn = $('admin-refresh');
  if (manual) setBusy(btn, true);
  try {
    const [stats, system] = await Promise.all([api('/api/admin/stats'), api('/api/admin/system')]);
    last = { stats, system, at: Date.now() };
    $('admin-error').hidden = true;
    render();
    if (manual) toast(t('admin.refreshed'), 'success');
  } catch (err) {
    if (err.status === 401) { logout(); toast(t('admin.expired'), 'error'); return; }
    $('admin-error').textContent = t('err.generic', { msg: err.message });
    $('admin-error').hidden = false;
  } finally {
    if (manual) setBusy(btn, false);
  }
}

function showDashboard(on) {
  $('admin-login').hidden = on;
  $('admin-dashboard').hidden = !on;
}

function logout(announce = false) {
  token = null;
  last = null;
  clearInterval(timer);
  $('admin-tiles').replaceChildren();
  $('admin-system').replaceChildren();
  $('admin-token').value = '';
  showDashboard(false);
  $('admin-token').focus();
  if (announce) toast(t('admin.loggedOut'), 'info');
}

async function login(e) {
  e.preventDefault();
  const pw = $('admin-token').value;
  const errEl = $('admin-login-error');
  errEl.hidden = true;
  if (!pw) { $('admin-token').focus(); return; }
  const btn = $('admin-login-submit');
  setBusy(btn, true);
  try {
    await api('/api/admin/auth', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ password: pw }) });
    token = pw;
    $('admin-token').value = '';
    showDashboard(true);
    await refresh();
    $('admin-stats-title').tabIndex = -1;
    $('admin-stats-title').focus();
    clearInterval(timer);
    timer = setInterval(() => refresh(false), 30000);
  } catch (err) {
    errEl.textContent = err.status === 401 ? t('admin.bad') : err.status === 429 ? t('err.rate') : t('err.generic', { msg: err.message });
    errEl.hidden = false;
    $('admin-token').select();
  } finally {
    setBusy(btn, false);
  }
}

$('admin-login-form').addEventListener('submit', login);
$('admin-refresh').addEventListener('click', () => refresh(true));
$('admin-logout').addEventListener('click', () => logout(true));
onLangChange(render);
$('admin-token').focus();
