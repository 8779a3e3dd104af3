// sink.js — where a retrieved file's decrypted bytes go. With the File System Access API
// (showSaveFilePicker) the bytes stream to disk; otherwise they are collected as Blob parts
// and offered as a download named after the decrypted metadata once decryption succeeded.
// abort() (called by the engine on a decryption error) discards everything written. After
// finish(), a Blob sink's `blob` holds the decrypted file (retrieve.js previews images).
// The Blob is always application/octet-stream, whatever type the metadata declares: a blob:
// URL of type text/html (or SVG) opened in a tab would run the sender's script in our origin.
import { DOWNLOAD_TYPE } from '/js/image-type.js';

/** Keeps a decrypted file name harmless as a download name. */
export function safeName(name, fallback) {
  const s = String(name || '').replace(/[\u0000-\u001f\u007f/\\:*?"<>|]+/g, '_').replace(/^\.+/, '').trim().slice(0, 200);
  return s || fallback;
}

function pickerSink(handle, writable) {
  const sink = {
    closed: false,
    kind: 'picker',
    async write(chunk) { await writable.write(chunk); },
    async close() { sink.closed = true; await writable.close(); },
    async abort() {
      if (sink.closed) return;
      sink.closed = true;
      try { await writable.abort(); } catch { /* already closed */ }
      // The picker may have created an empty file: remove it (Chromium supports remove()).
      try { if (handle.remove) await handle.remove(); } catch { /* not supported */ }
    },
    /** Already on disk; give it the decrypted name where the browser can rename (move()). */
    async finish(meta) {
      const name = safeName(meta && meta.name, '');
      if (name && handle.name !== name && typeof handle.move === 'function' && /^qopy-[A-Z0-9]+$/.test(handle.name)) {
        try { await handle.move(name); } catch { /* renaming not supported here: keep the chosen name */ }
      }
    },
  };
  return sink;
}

function blobSink(fallbackName) {
  let parts = [];
  const sink = {
    closed: false,
    kind: 'blob',
    async write(chunk) { if (!sink.closed) parts.push(chunk.slice()); },
    async close() { sink.closed = true; },
    async abort() { sink.closed = true; parts = []; },
    /** After a successful decryption: download under the decrypted name. */
    async finish(meta) {
      if (!parts.length && !(meta && meta.size === 0)) return;
      const blob = new Blob(parts, { type: DOWNLOAD_TYPE });
      parts = [];
      sink.blob = blob; // the caller may preview it (and drops it then)
      const url = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url;
      a.download = safeName(meta && meta.name, fallbackName);
      a.rel = 'noopener';
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 120000);
    },
  };
  return sink;
}

/**
 * A sink for clip `clipId`. Call it directly from the click handler: the save picker
 * needs the click's user activation. Rejects with AbortError when the user closes the picker.
 */
export async function makeSink(clipId) {
  const fallback = `qopy-${clipId}`;
  if (typeof window.showSaveFilePicker === 'function') {
    const handle = await window.showSaveFilePicker({ suggestedName: fallback });
    const writable = await handle.createWritable();
    return pickerSink(handle, writable);
  }
  return blobSink(fallback);
}
