// share-file.js — the Share Files tab: drag and drop or choose one file, size limit from
// /api/config shown up front, expiry, how often it can be downloaded (limit.js), access code, upload through the engine's
// shareFile() with a progress bar (percent, speed, time left, aria-live), cancel, and a
// note when resumableUploads() knows the chosen file (the engine then resumes it).
import { shareFile, resumableUploads } from '/js/transfer.js';
import { t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { openShareModal } from './modal.js';
import { setBusy, errorText, formatBytes, formatDuration, isAbort } from './util.js';
import { initLimit, readLimit, renderLimit, resetLimit, setLimit, lockLimit } from './limit.js';

const $ = (id) => document.getElementById(id);
let config = null;
let file = null;
let controller = null;
let lastLive = -1;

function maxSize() { return config ? config.maxFileSize : Infinity; }

function renderSizeLimit() {
  $('file-limit').textContent = config ? t('file.limit', { size: formatBytes(config.maxFileSize) }) : '';
}

function renderFile() {
  $('file-info').hidden = !file;
  $('drop-zone').hidden = !!file;
  $('file-submit').disabled = !file || !!controller;
  if (!file) return;
  $('file-name').textContent = file.name;
  $('file-details').textContent = t('file.details', { size: formatBytes(file.size), type: file.type || t('file.unknownType') });
}

let resumeNeedsCode = false;

function renderResumeNote() {
  $('file-resume-note').textContent = t('file.resume') + (resumeNeedsCode ? ` ${t('file.resumeCode')}` : '');
}

async function checkResume(f) {
  const note = $('file-resume-note');
  note.hidden = true;
  resumeNeedsCode = false;
  try {
    const list = await resumableUploads();
    if (f !== file || !Array.isArray(list)) return;
    const match = list.find((u) => u && u.name === f.name && Number(u.size) === f.size &&
      (u.lastModified === undefined || Number(u.lastModified) === f.lastModified));
    if (!match) return;
    // The engine resumes only with the same options: restore them from the saved upload.
    const o = match.options || {};
    const sel = $('file-expiry');
    if (o.expiration && [...sel.options].some((x) => x.value === o.expiration)) sel.value = o.expiration;
    if (o.maxDownloads !== undefined || o.oneTime !== undefined) setLimit('file', o.maxDownloads ?? (o.oneTime ? 1 : null));
    resumeNeedsCode = !!(o.hasAccessCode || o.hasPassword);
    renderResumeNote();
    note.hidden = false;
  } catch { /* no resume information: a fresh upload */ }
}

function choose(f) {
  if (!f) return;
  if (f.size === 0) { toast(t('file.empty'), 'error'); return; }
  if (f.size > maxSize()) {
    toast(t('file.tooBig', { size: formatBytes(f.size), max: formatBytes(maxSize()) }), 'error');
    return;
  }
  file = f;
  renderFile();
  checkResume(f);
  $('file-submit').focus();
}

export function resetFileForm() {
  file = null;
  $('file-input').value = '';
  $('file-code').value = '';
  resetLimit('file');
  $('file-resume-note').hidden = true;
  if (config) $('file-expiry').value = config.defaultExpiry;
  renderFile();
  $('drop-zone').focus();
}

function showProgress(p) {
  const phase = p.phase || 'upload';
  $('file-progress-phase').textContent = t(`file.phase.${phase}`);
  const total = Number(p.total) || 0;
  const sent = Number(p.sent) || 0;
  const pct = phase === 'complete' ? 100 : total ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
  $('file-progress-fill').style.width = `${pct}%`;
  $('file-progress-percent').textContent = `${pct}%`;
  $('file-progress-bar').setAttribute('aria-valuenow', String(pct));
  let detail = '';
  if (phase === 'upload' && total) {
    detail = p.bytesPerSec > 0 && Number.isFinite(p.etaSeconds)
      ? t('file.speed', { done: formatBytes(sent), total: formatBytes(total), speed: formatBytes(p.bytesPerSec), eta: formatDuration(p.etaSeconds) })
      : t('file.speedNoEta', { done: formatBytes(sent), total: formatBytes(total) });
  }
  $('file-progress-detail').textContent = detail;
  // Announce every 10 % only, so a screen reader is not flooded.
  const step = Math.floor(pct / 10);
  if (step !== lastLive) { lastLive = step; $('file-progress-live').textContent = t('file.progressLive', { p: step * 10 }); }
}

/** The options cannot change while an upload runs. */
function lockOptions(on) {
  for (const id of ['file-expiry', 'file-code']) $(id).disabled = on;
  lockLimit('file', on);
}

async function submit() {
  if (controller) return;
  if (!file) { toast(t('file.none'), 'error'); return; }
  const code = $('file-code').value;
  if (code.length > 128) { toast(t('err.codeLong'), 'error'); $('file-code').focus(); return; }
  let limit;
  try { limit = readLimit('file'); } catch (err) { toast(err.message, 'error'); $(err.field).focus(); return; }
  const btn = $('file-submit');
  setBusy(btn, true);
  btn.querySelector('.btn-label').textContent = t('file.busy');
  controller = new AbortController();
  lastLive = -1;
  $('file-progress').hidden = false;
  $('file-reset').disabled = true;
  lockOptions(true);
  showProgress({ phase: 'key', sent: 0, total: file.size });
  $('file-cancel').focus();
  try {
    const opts = {
      expiration: $('file-expiry').value,
      ...limit,
      signal: controller.signal,
      onProgress: showProgress,
    };
    if (code) { opts.accessCode = code; opts.password = code; }
    const result = await shareFile(file, opts);
    showProgress({ phase: 'complete' });
    openShareModal(result, { returnFocus: $('file-submit'), onNew: resetFileForm });
    $('file-resume-note').hidden = true;
  } catch (err) {
    if (isAbort(err) || (controller && controller.signal.aborted)) toast(t('file.cancelled'), 'info');
    else toast(errorText(err), 'error');
  } finally {
    controller = null;
    $('file-progress').hidden = true;
    $('file-reset').disabled = false;
    lockOptions(false);
    btn.querySelector('.btn-label').textContent = t('file.submit');
    setBusy(btn, false);
    renderFile();
    if ($('share-modal').open === false) (file ? btn : $('drop-zone')).focus();
  }
}

export function initShareFile(cfg) {
  config = cfg;
  const zone = $('drop-zone');
  const input = $('file-input');
  zone.addEventListener('click', () => input.click());
  input.addEventListener('change', () => choose(input.files && input.files[0]));
  const panel = $('panel-file');
  panel.addEventListener('dragover', (e) => {
    if (controller) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    zone.classList.add('over');
  });
  panel.addEventListener('dragleave', (e) => { if (!panel.contains(e.relatedTarget)) zone.classList.remove('over'); });
  panel.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    if (controller) return;
    const files = e.dataTransfer && e.dataTransfer.files;
    if (!files || !files.length) return;
    if (files.length > 1) toast(t('file.dropped'), 'info');
    choose(files[0]);
  });
  $('file-reset').addEventListener('click', resetFileForm);
  $('file-cancel').addEventListener('click', () => { if (controller) controller.abort(); });
  $('file-form').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('file-code').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); submit(); }
  });
  initLimit('file');
  onLangChange(() => { renderSizeLimit(); renderLimit('file'); renderFile(); if (!$('file-resume-note').hidden) renderResumeNote(); });
  renderSizeLimit();
  renderFile();
}

/** Lets the page accept a file dropped anywhere (switches to this tab first). */
export function acceptDrop(f) { if (!controller) choose(f); }
