// retrieve.js — the Retrieve tab and deep links. The ID field accepts an ID, a whole link
// or a verbal code. clipInfo() (never consumes) decides what to ask for: the Quick Share
// secret (6-char ID without secret), the access code (hasPassword), and whether the clip is
// one-time or has a download limit. Nothing is consumed until the user clicks Reveal /
// Download (a reusable text without a limit opens at once), which calls openClip(). Files go
// to a sink (sink.js): the save picker, else a service worker's streamed download, else a
// Blob download named after the decrypted metadata; the progress says while the picker is
// open and while a dropped download reconnects (openClip resumes it), and the result says
// only what is known (saved, streamed, or handed to the browser). A failed decryption saves
// nothing.
// Image previews (#retrieve-preview): an unencrypted, reusable image clip shows the server's
// JPEG preview (GET /api/clip/:id/preview never consumes); a downloaded file whose decrypted
// bytes begin as a PNG, JPEG, GIF or WebP is shown from a Blob of the type those bytes say
// (never SVG or anything else: they can hold scripts), once the download is complete (not
// after the save picker, which streams to disk). The declared type decides nothing.
// What the recipient sees before downloading a file: its size (the stored size of an
// encrypted clip is the ciphertext's; plaintextSize() gives the file's, exactly above 64 KiB),
// that the name is inside the encrypted content, and how many downloads are left.
import { clipInfo, openClip } from '/js/transfer.js';
import { blobImageType } from '/js/image-type.js';
import { plaintextSize } from '/js/v4.js';
import { TAR_TYPE } from '/js/tar.js';
import { t, onLangChange } from './i18n.js';
import { toast } from './toast.js';
import { makeSink, BLOB_COMFORT_BYTES } from './sink.js';
import {
  setBusy, errorText, formatBytes, formatTime, formatDuration, formatNumber,
  parseClipInput, idProblem, isAbort, copyText,
} from './util.js';
import { countChars } from './share-text.js';
import { throttleProgress, setFill } from './progress.js';

const $ = (id) => document.getElementById(id);
const state = {
  id: '', secret: '', fromLink: false, info: null, infoFor: '', lookup: null, controller: null, busy: false, shownOnce: false,
  sinkKind: '',
};
let lookupTimer = 0;
/** The preview shown: for which clip ID, its blob: URL (revoked on reset), a pending look-up. */
const preview = { for: '', url: '', pending: '' };

function hidePreview() {
  const img = $('retrieve-preview');
  img.hidden = true;
  img.removeAttribute('src');
  if (preview.url) { URL.revokeObjectURL(preview.url); preview.url = ''; }
  preview.for = '';
}

function showPreview(src, id) {
  const img = $('retrieve-preview');
  preview.for = id;
  img.src = src;
  img.hidden = false;
}

/**
 * The server's preview of an unencrypted image clip. One-time clips have none (415), and the
 * descriptor (GET /api/clip/:id, which never consumes) gives the type only without an access code.
 */
async function serverPreview(id, info) {
  if (info.encrypted !== false || info.oneTime || info.hasPassword || info.contentType !== 'file') return;
  if (preview.for === id || preview.pending === id) return;
  preview.pending = id;
  let desc = null;
  try {
    const res = await fetch(`/api/clip/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' } });
    if (res.ok) desc = await res.json();
  } catch { /* no preview */ } finally {
    if (preview.pending === id) preview.pending = '';
  }
  if (state.id !== id || !desc || !/^image\//i.test(String(desc.mimeType || ''))) return;
  hidePreview();
  showPreview(`/api/clip/${encodeURIComponent(id)}/preview`, id);
}

/**
 * After a completed Blob download: preview a decrypted PNG, JPEG, GIF or WebP from its Blob,
 * recognised by its first bytes, under the type they say (the download's Blob is
 * application/octet-stream). Anything else gets no preview.
 */
async function localPreview(sink, id) {
  const blob = sink && sink.kind === 'blob' ? sink.blob : null;
  if (sink) sink.blob = null;
  if (!blob) return;
  let type = '';
  try { type = await blobImageType(blob); } catch { /* unreadable: no preview */ }
  if (!type || state.id !== id) return;
  if (preview.for === id && !preview.url) return; // the server's preview is already shown
  hidePreview();
  preview.url = URL.createObjectURL(new Blob([blob], { type }));
  showPreview(preview.url, id);
}

/** Shows the explicit Reveal/Download button instead of Retrieve (or the other way round). */
function setReveal(on) {
  $('retrieve-reveal').hidden = !on;
  $('retrieve-submit').hidden = on;
}

/** The Retrieve / Reveal buttons: hidden while a text is shown (they would fetch it again). */
function setActions(on) {
  $('retrieve-actions').hidden = !on;
}

function clearResult() {
  $('retrieve-error').hidden = true;
  setActions(true);
  $('retrieve-result-text').hidden = true;
  $('retrieve-result-file').hidden = true;
  setReveal(false);
}

function showError(msg) {
  const el = $('retrieve-error');
  el.textContent = msg;
  el.hidden = false;
}

/** A clip with a download limit (one-time or N): opening it uses up a download. */
function limited(info) {
  return !!info.oneTime || info.maxDownloads != null || Number.isInteger(info.downloadsRemaining);
}

function needsSecretField() {
  return state.id.length === 6 && !state.secret && !(state.info && state.info.encrypted === false);
}

function renderInfo() {
  const info = state.info && state.infoFor === state.id ? state.info : null;
  if (preview.for && preview.for !== state.id) hidePreview();
  $('retrieve-secret-field').hidden = !needsSecretField();
  $('retrieve-code-field').hidden = !(info && info.hasPassword);
  const box = $('retrieve-info');
  box.hidden = !info;
  if (!info) return;
  const parts = [t('ret.info', {
    kind: info.contentType === 'file' ? t('ret.kindFile') : t('ret.kindText'),
    time: formatTime(info.expiresAt),
    left: formatDuration((Number(info.expiresAt) - Date.now()) / 1000),
  })];
  if (info.quickShare) parts.push(t('ret.infoQuick'));
  if (info.hasPassword) parts.push(t('ret.infoCode'));
  const left = info.oneTime ? null : info.downloadsRemaining;
  if (Number.isInteger(left)) {
    const key = info.contentType === 'file' ? (left === 1 ? 'ret.downloadLeft' : 'ret.downloadsLeft')
      : (left === 1 ? 'ret.openLeft' : 'ret.opensLeft');
    parts.push(t(key, { n: formatNumber(left) }));
  }
  $('retrieve-info-text').textContent = parts.join(' · ');
  const file = info.contentType === 'file';
  const size = file ? sizeText(info) : '';
  $('retrieve-size').textContent = size;
  $('retrieve-size').hidden = !size;
  $('retrieve-name-note').hidden = !(file && info.encrypted !== false);
  $('retrieve-unencrypted').hidden = info.encrypted !== false;
  $('retrieve-onetime').hidden = !info.oneTime;
  renderRevealLabel();
  serverPreview(state.id, info);
}

function renderRevealLabel() {
  const info = state.info;
  if (!info) return;
  const file = info.contentType === 'file';
  const key = file ? (info.oneTime ? 'ret.downloadOnce' : 'ret.download') : (info.oneTime ? 'ret.revealOnce' : 'ret.reveal');
  $('retrieve-reveal-label').textContent = t(key);
}

/**
 * Adds `filesize` (stored bytes) to a file clip's info from GET /api/file/:id/info, which
 * never consumes. Without it (an error, an older server) the size is simply not shown.
 */
async function withFileSize(info) {
  if (!info || info.contentType !== 'file' || !info.clipId) return info;
  try {
    const res = await fetch(`/api/file/${encodeURIComponent(info.clipId)}/info`, { headers: { Accept: 'application/json' } });
    if (res.ok) {
      const f = await res.json();
      if (Number.isSafeInteger(f.filesize)) return { ...info, filesize: f.filesize };
    }
  } catch { /* no size */ }
  return info;
}

/** The size line of a file clip: exact, "up to" (small padded files) or "about". */
function sizeText(info) {
  if (!Number.isSafeInteger(info.filesize)) return '';
  if (info.encrypted === false) return t('ret.size', { size: formatBytes(info.filesize) });
  const p = plaintextSize(info.filesize);
  if (!p) return t('ret.sizeAbout', { size: formatBytes(info.filesize) });
  return p.exact ? t('ret.size', { size: formatBytes(p.max) }) : t('ret.sizeUpTo', { size: formatBytes(p.max) });
}

/** Fetches the clip's info (cached per ID). Returns the info or throws. */
async function lookup(id) {
  if (state.infoFor === id && state.info) return state.info;
  if (state.lookup && state.lookup.id === id) return state.lookup.promise;
  const promise = clipInfo(id).then(withFileSize).then((info) => {
    if (state.id === id) { state.info = info; state.infoFor = id; renderInfo(); }
    return info;
  }).finally(() => { if (state.lookup && state.lookup.id === id) state.lookup = null; });
  state.lookup = { id, promise };
  return promise;
}

function onIdInput() {
  const input = $('retrieve-id');
  const parsed = parseClipInput(input.value);
  const linkLike = parsed.secret || /[/#·]/.test(input.value);
  if (linkLike && !idProblem(parsed.id)) {
    input.value = parsed.id;
    if (parsed.id.length === 6 && parsed.secret.length === 6 && !/[/#]/.test(parsed.secret)) {
      // verbal code: the secret goes into its field, visible and editable
      state.secret = '';
      $('retrieve-secret').value = parsed.secret;
    } else {
      state.secret = parsed.secret;
    }
    state.fromLink = !!parsed.secret;
  } else {
    const up = input.value.toUpperCase();
    if (up !== input.value) {
      const pos = input.selectionStart;
      input.value = up;
      input.setSelectionRange(pos, pos);
    }
    if (parsed.id !== state.id) { state.secret = ''; state.fromLink = false; }
  }
  state.id = parseClipInput(input.value).id;
  if (state.infoFor !== state.id) state.info = null;
  clearResult();
  renderInfo();
  clearTimeout(lookupTimer);
  if (!idProblem(state.id)) {
    lookupTimer = setTimeout(() => {
      lookup(state.id).catch((err) => { if (err.status === 404) showError(t('err.notFound')); });
    }, 300);
  }
}

/** The Retrieve button: validate, look up, then open (text) or offer the Reveal/Download click. */
async function submit() {
  if (state.busy) return;
  state.id = parseClipInput($('retrieve-id').value).id;
  const problem = idProblem(state.id);
  clearResult();
  if (problem) { showError(problem); $('retrieve-id').focus(); return; }
  const btn = $('retrieve-submit');
  setBusy(btn, true);
  let info;
  try {
    info = await lookup(state.id);
  } catch (err) {
    setBusy(btn, false);
    showError(errorText(err));
    return;
  }
  setBusy(btn, false);
  if (!checkInputs(info)) return;
  if (limited(info) || info.contentType === 'file') {
    setReveal(true);
    $('retrieve-reveal').focus();
  } else {
    await open();
  }
}

/** Checks that we have what this clip needs; shows what is missing. */
function checkInputs(info) {
  if (info.encrypted !== false && !secretFor()) {
    if (state.id.length === 6) {
      $('retrieve-secret-field').hidden = false;
      showError(t(($('retrieve-secret').value.trim() ? 'err.secretBad' : 'err.secretMissing')));
      $('retrieve-secret').focus();
    } else {
      showError(t('err.noSecret'));
    }
    return false;
  }
  if (info.hasPassword && !$('retrieve-code').value) {
    $('retrieve-code-field').hidden = false;
    showError(t('err.codeNeeded'));
    $('retrieve-code').focus();
    return false;
  }
  return true;
}

function secretFor() {
  if (state.secret) return state.secret;
  if (state.id.length === 6) {
    const s = $('retrieve-secret').value.trim().toUpperCase();
    return /^[A-Z0-9]{6}$/.test(s) ? s : '';
  }
  return '';
}

/** The phase line of a download: the key, the save picker, downloading, reconnecting. */
function phaseText(p) {
  if (p.phase === 'key') return t('file.phase.key');
  if (p.phase === 'picker') return t('ret.pickerOpen');
  if (p.phase === 'reconnecting') return t('ret.reconnecting', { n: p.attempt });
  return t('file.phase.download');
}

function showProgress(p) {
  const total = Number(p.total) || 0;
  const done = Number(p.sent ?? p.received ?? p.done) || 0;
  const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : 0;
  const box = $('retrieve-progress');
  box.dataset.phase = p.phase || '';
  $('retrieve-progress-phase').textContent = phaseText(p);
  setFill($('retrieve-progress-fill'), pct);
  $('retrieve-progress-percent').textContent = total ? `${pct}%` : '';
  $('retrieve-progress-bar').setAttribute('aria-valuenow', String(pct));
  if (state.sinkKind === 'blob' && total > BLOB_COMFORT_BYTES) $('retrieve-big-note').hidden = false;
  $('retrieve-progress-detail').textContent = p.phase === 'reconnecting' && total
    ? t('ret.reconnectingDetail', { done: formatBytes(done), total: formatBytes(total) })
    : total ? (p.bytesPerSec > 0 && Number.isFinite(p.etaSeconds)
      ? t('file.speed', { done: formatBytes(done), total: formatBytes(total), speed: formatBytes(p.bytesPerSec), eta: formatDuration(p.etaSeconds) })
      : t('file.speedNoEta', { done: formatBytes(done), total: formatBytes(total) }))
    : '';
}

/** The explicit Reveal / Download click (and the plain open of a reusable text clip). */
async function open() {
  if (state.busy) return;
  const info = state.info;
  if (!info || !checkInputs(info)) return;
  const isFile = info.contentType === 'file';
  let sink = null;
  if (isFile) {
    // Must run before any await: the save picker needs the click's user activation.
    const onPicker = () => { $('retrieve-progress').hidden = false; showProgress({ phase: 'picker' }); };
    try { sink = await makeSink(state.id, { onPicker }); } catch (err) {
      $('retrieve-progress').hidden = true;
      if (isAbort(err)) toast(t('toast.pickCancelled'), 'info'); else showError(errorText(err));
      return;
    }
  }
  state.sinkKind = sink ? sink.kind : '';
  $('retrieve-big-note').hidden = true;
  state.busy = true;
  if (isFile && preview.url) hidePreview(); // a new download replaces the previous local preview
  const reveal = $('retrieve-reveal');
  setBusy(reveal, true);
  setBusy($('retrieve-submit'), true);
  $('retrieve-error').hidden = true;
  state.controller = new AbortController();
  $('retrieve-progress').hidden = !isFile;
  showProgress({ phase: 'key' });
  const code = $('retrieve-code').value;
  try {
    const opts = {
      clipId: state.id, secret: secretFor(), onProgress: throttleProgress(showProgress),
      signal: state.controller.signal,
    };
    if (code) { opts.password = code; opts.accessCode = code; }
    if (sink) opts.sink = sink;
    const res = await openClip(opts);
    setReveal(false);
    if (res.kind === 'text') showText(res, info);
    else {
      if (sink && sink.finish) await sink.finish(res.meta);
      showFile(res.meta, info, sink && sink.kind);
      await localPreview(sink, state.id);
    }
    if (limited(info)) { state.info = null; state.infoFor = ''; } // what is left has changed
  } catch (err) {
    if (sink && !sink.closed) { try { await sink.abort(); } catch { /* already aborted */ } }
    if (isAbort(err)) toast(t('ret.cancelled'), 'info');
    else {
      showError(errorText(err));
      if (err.status === 404 || err.status === 410) { setReveal(false); $('retrieve-submit').focus(); }
    }
  } finally {
    state.busy = false;
    state.controller = null;
    setBusy(reveal, false);
    setBusy($('retrieve-submit'), false);
    $('retrieve-progress').hidden = true;
  }
}

function showText(res, info) {
  $('retrieve-text').textContent = res.text;
  state.shownOnce = !!info.oneTime;
  const meta = [t('ret.textMeta', { n: formatNumber(countChars(res.text)), time: formatTime(info.expiresAt) })];
  if (info.oneTime) meta.push(t('ret.destroyed'));
  $('retrieve-text-meta').textContent = meta.join(' · ');
  $('retrieve-result-text').hidden = false;
  $('retrieve-info').hidden = true;
  setActions(false);
  $('retrieve-text').focus();
}

/**
 * Says what is known: saved (the picker's file), streamed to the downloads, or handed over;
 * an application/x-tar file is said to be an archive (how many files it holds is not known
 * without reading it).
 */
function showFile(meta, info, kind) {
  meta = meta || {};
  $('retrieve-file-name').textContent = meta.name || state.id;
  const key = kind === 'stream' ? 'ret.fileStreamed' : kind === 'blob' ? 'ret.fileHanded' : 'ret.fileSaved';
  const archive = meta.type === TAR_TYPE;
  const type = archive ? t('ret.archiveType') : meta.type || t('file.unknownType');
  const details = [t(key, { size: formatBytes(meta.size), type })];
  if (archive) details.push(t('ret.archiveNote'));
  if (info.oneTime) details.push(t('ret.destroyed'));
  $('retrieve-file-details').textContent = details.join(' · ');
  $('retrieve-result-file').hidden = false;
  $('retrieve-info').hidden = true;
}

function newPaste() {
  // A one-time clip cannot be fetched again: confirm before its content leaves the screen.
  if (state.shownOnce && !window.confirm(t('ret.newConfirm'))) return;
  state.shownOnce = false;
  $('retrieve-id').value = '';
  $('retrieve-secret').value = '';
  $('retrieve-code').value = '';
  Object.assign(state, { id: '', secret: '', fromLink: false, info: null, infoFor: '' });
  hidePreview();
  clearResult();
  renderInfo();
  document.dispatchEvent(new CustomEvent('qopy:tab', { detail: 'text' }));
}

/**
 * A deep link /clip/ID#secret or /file/ID#secret (or a 6-char ID without a fragment):
 * fill the form, look the clip up, and offer Reveal/Download. Nothing is consumed here.
 */
export async function openDeepLink(id, secret) {
  $('retrieve-id').value = id;
  Object.assign(state, { id, secret: secret || '', fromLink: !!secret, info: null, infoFor: '' });
  clearResult();
  renderInfo();
  let info;
  try { info = await lookup(id); } catch (err) { showError(errorText(err)); return; }
  if (info.encrypted !== false && !secret && id.length === 10) { showError(t('err.noSecret')); return; }
  // The code field (with the info line's "access code required") is the one prompt; no toast.
  const explicit = limited(info) || info.contentType === 'file';
  setReveal(explicit);
  if (needsSecretField()) { $('retrieve-secret').focus(); return; }
  if (info.hasPassword) { $('retrieve-code').focus(); return; }
  if (explicit) {
    $('retrieve-reveal').focus();
  } else {
    await open(); // a reusable text clip: reading it consumes nothing
  }
}

export function initRetrieve() {
  $('retrieve-id').addEventListener('input', onIdInput);
  // A preview the server cannot make (e.g. 422 over the decoding limits) is simply not shown.
  $('retrieve-preview').addEventListener('error', () => { $('retrieve-preview').hidden = true; });
  $('retrieve-form').addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  $('retrieve-secret').addEventListener('input', (e) => {
    const v = e.target.value.toUpperCase().replace(/[^A-Z0-9]/g, '');
    if (v !== e.target.value) e.target.value = v;
  });
  $('retrieve-reveal').addEventListener('click', open);
  $('retrieve-cancel').addEventListener('click', () => { if (state.controller) state.controller.abort(); });
  $('retrieve-copy').addEventListener('click', async () => {
    const ok = await copyText($('retrieve-text').textContent);
    toast(ok ? t('toast.contentCopied') : t('toast.copyFailed'), ok ? 'success' : 'error');
  });
  $('retrieve-new').addEventListener('click', newPaste);
  onLangChange(() => { renderInfo(); });
}
