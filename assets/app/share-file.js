// share-file.js — the Share Files tab: drag and drop, choose files (several at once) or a
// folder, or paste them (main.js); size limit from /api/config shown up front, expiry, how
// often it can be downloaded (limit.js), access code, upload through the engine's
// shareFile() with a progress bar (percent, speed, time left, aria-live), cancel, and a
// note when resumableUploads() knows the chosen file (the engine then resumes it).
// One file is sent as itself. Several files, or a folder, are sent as one clip: a tar
// archive made by /js/tar.js as a File of parts that references the chosen Files without
// copying them (its size is known at once, and the upload reads it at any offset like any
// file); its name is FOLDER.tar or qopy-N-files.tar, and it resumes by the names, sizes and
// times in it. Each choice adds to what is already chosen; Remove empties the list. The
// size limit applies to what is sent (the archive).
import { shareFile, resumableUploads, uploadKey } from '/js/transfer.js';
import { buildArchive } from '/js/tar.js';
import { collectTransfer, collectInput, MAX_ITEMS } from './folder-walk.js';
import { t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { openShareModal } from './modal.js';
import { setBusy, errorText, formatBytes, formatDuration, formatNumber, isAbort } from './util.js';
import { throttleProgress, setFill } from './progress.js';
import { initLimit, readLimit, renderLimit, resetLimit, setLimit, lockLimit } from './limit.js';

const $ = (id) => document.getElementById(id);
let config = null;
/** What the user chose: folder-walk.js items ({ path, file | dir, group }). */
let items = [];
/** The next group number (what is chosen together shares one). */
let groups = 0;
/** What is sent: the one File chosen, or the archive as a File. */
let file = null;
/** buildArchive()'s answer when several files or a folder were chosen, else null. */
let archive = null;
let controller = null;
/** How many chosen files or folders the list shows by name. */
const LIST_MAX = 50;
let lastLive = -1;

function maxSize() { return config ? config.maxFileSize : Infinity; }

function renderSizeLimit() {
  $('file-limit').textContent = config ? t('file.limit', { size: formatBytes(config.maxFileSize) }) : '';
}

/** The chosen files and folders, one line per group (a file, or a folder with its count). */
function renderList() {
  const ul = $('file-list');
  ul.textContent = '';
  ul.hidden = !archive;
  if (!archive) return;
  const byGroup = new Map();
  for (const it of items) {
    let g = byGroup.get(it.group);
    if (!g) {
      g = { name: it.path.split('/').filter(Boolean)[0] || it.path, folder: false, files: 0, size: 0 };
      byGroup.set(it.group, g);
    }
    if (it.dir || it.path.includes('/')) g.folder = true;
    if (!it.dir) { g.files++; g.size += it.file.size; }
  }
  const all = [...byGroup.values()];
  for (const g of all.slice(0, LIST_MAX)) {
    const li = document.createElement('li');
    li.textContent = !g.folder ? t('file.listFile', { name: g.name, size: formatBytes(g.size) })
      : t(g.files === 1 ? 'file.listFolderOne' : 'file.listFolder', { name: g.name, n: formatNumber(g.files), size: formatBytes(g.size) });
    ul.append(li);
  }
  if (all.length > LIST_MAX) {
    const li = document.createElement('li');
    li.textContent = t('file.listMore', { n: formatNumber(all.length - LIST_MAX) });
    ul.append(li);
  }
}

function renderFile() {
  $('file-info').hidden = !file;
  $('drop-zone').hidden = !!file;
  $('file-submit').disabled = !file || !!controller;
  $('file-add').hidden = !file;
  $('folder-pick').querySelector('.btn-label').textContent = t(file ? 'file.addFolder' : 'file.folder');
  renderList();
  if (!file) return;
  $('file-name').textContent = file.name;
  $('file-details').textContent = archive
    ? t(archive.files === 1 ? 'file.archiveOne' : 'file.archive', { n: formatNumber(archive.files), size: formatBytes(file.size) })
    : t('file.details', { size: formatBytes(file.size), type: file.type || t('file.unknownType') });
}

let resumeNeedsCode = false;

function renderResumeNote() {
  $('file-resume-note').textContent = t(archive ? 'file.resumeArchive' : 'file.resume') + (resumeNeedsCode ? ` ${t('file.resumeCode')}` : '');
}

/** The engine's options that name this upload for resuming. */
const resumeOptions = () => (archive ? { resumeId: archive.identity } : {});

async function checkResume(f) {
  const note = $('file-resume-note');
  note.hidden = true;
  resumeNeedsCode = false;
  try {
    // The same key the engine saves the upload under (name, size and time of a file; the
    // names, sizes and times inside an archive).
    const [list, key] = await Promise.all([resumableUploads(), uploadKey(f, resumeOptions())]);
    if (f !== file || !Array.isArray(list)) return;
    const match = list.find((u) => u && u.key === key);
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

/** What is sent for `list`: the one file as itself, else an archive of them all. */
function prepare(list) {
  if (list.length === 1 && !list[0].dir && !list[0].path.includes('/')) return { file: list[0].file, archive: null };
  const a = buildArchive(list);
  return { file: new File(a.parts, a.name, { type: a.type, lastModified: a.mtime }), archive: a };
}

/** Adds chosen items (their groups numbered after the ones already chosen). */
function add(newItems) {
  if (controller || !newItems || !newItems.length) return;
  const renumber = new Map();
  for (const it of newItems) if (!renumber.has(it.group)) renumber.set(it.group, groups + renumber.size);
  const next = items.concat(newItems.map((it) => ({ ...it, group: renumber.get(it.group) })));
  if (next.length > MAX_ITEMS) { toast(t('file.tooMany', { max: formatNumber(MAX_ITEMS) }), 'error'); return; }
  let p;
  try { p = prepare(next); } catch (err) { toast(errorText(err), 'error'); return; }
  if (!p.archive && p.file.size === 0) { toast(t('file.empty'), 'error'); return; }
  if (p.file.size > maxSize()) {
    toast(t(p.archive ? 'file.archiveTooBig' : 'file.tooBig', { size: formatBytes(p.file.size), max: formatBytes(maxSize()) }), 'error');
    return;
  }
  items = next;
  groups += renumber.size;
  file = p.file;
  archive = p.archive;
  renderFile();
  checkResume(file);
  $('file-submit').focus();
}

/** Takes the files of a drop or paste (call inside the event: see folder-walk.js). */
export function acceptTransfer(dt) {
  if (controller) return;
  collectTransfer(dt).then(add, (err) => {
    toast(err && err.kind === 'too_many' ? t('file.tooMany', { max: formatNumber(MAX_ITEMS) }) : errorText(err), 'error');
  });
}

/** True while an upload runs (nothing can be added then). */
export function uploading() { return !!controller; }

export function resetFileForm() {
  items = [];
  groups = 0;
  file = null;
  archive = null;
  $('file-input').value = '';
  $('folder-input').value = '';
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
  setFill($('file-progress-fill'), pct);
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

/** The options (and what is chosen) cannot change while an upload runs. */
function lockOptions(on) {
  for (const id of ['file-expiry', 'file-code', 'file-add', 'folder-pick']) $(id).disabled = on;
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
  const resume = resumeOptions();
  $('file-cancel').focus();
  try {
    const opts = {
      expiration: $('file-expiry').value,
      ...limit,
      signal: controller.signal,
      onProgress: throttleProgress(showProgress),
      ...resume,
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
  const folder = $('folder-input');
  zone.addEventListener('click', () => input.click());
  $('file-add').addEventListener('click', () => input.click());
  $('folder-pick').addEventListener('click', () => folder.click());
  // The inputs are emptied after each choice, so choosing the same file again adds it again.
  for (const el of [input, folder]) {
    el.addEventListener('change', () => {
      try { add(collectInput(el.files)); } catch (err) { toast(t('file.tooMany', { max: formatNumber(MAX_ITEMS) }), 'error'); }
      el.value = '';
    });
  }
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
    if (controller || !e.dataTransfer) return;
    acceptTransfer(e.dataTransfer);
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
