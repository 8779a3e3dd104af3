// folder-walk.js — the files and folders of a drop or a paste, and of the file inputs, as
// items for /js/tar.js: { path, file, group } for a file, { path, dir: true, group } for a
// folder (so an empty folder is kept). `group` numbers what was chosen together: one dropped
// folder and everything in it, or one file.
// A dropped folder is walked with DataTransferItem.webkitGetAsEntry() (Chromium, Firefox,
// Safari), else getAsFileSystemHandle() (Chromium); without either, only the transfer's
// top-level files are taken. The items of a DataTransfer are readable only during its event,
// so collectTransfer() takes what it needs before returning its promise.

/** More than this many files and folders in one choice is refused (the page would crawl). */
export const MAX_ITEMS = 100000;

class TooManyError extends Error {
  constructor() { super('too many files'); this.kind = 'too_many'; }
}

const entryFile = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));
const readBatch = (reader) => new Promise((resolve, reject) => reader.readEntries(resolve, reject));

/** Adds a FileSystemEntry and, for a directory, everything below it. */
async function walkEntry(entry, path, group, out) {
  if (out.length >= MAX_ITEMS) throw new TooManyError();
  if (entry.isFile) {
    out.push({ path, file: await entryFile(entry), group });
  } else if (entry.isDirectory) {
    out.push({ path, dir: true, group });
    const reader = entry.createReader();
    // readEntries() answers in batches (100 in Chromium) until it answers with none.
    for (let batch = await readBatch(reader); batch.length; batch = await readBatch(reader)) {
      for (const child of batch) await walkEntry(child, `${path}/${child.name}`, group, out);
    }
  }
}

/** Adds a FileSystemHandle and, for a directory, everything below it. */
async function walkHandle(handle, path, group, out) {
  if (out.length >= MAX_ITEMS) throw new TooManyError();
  if (handle.kind === 'file') {
    out.push({ path, file: await handle.getFile(), group });
  } else if (handle.kind === 'directory') {
    out.push({ path, dir: true, group });
    for await (const [name, child] of handle.entries()) await walkHandle(child, `${path}/${name}`, group, out);
  }
}

/**
 * What a drop or paste carries. Call it inside the event handler; the promise gives the
 * items, numbered from `firstGroup`. Rejects with kind 'too_many' above MAX_ITEMS.
 */
export function collectTransfer(dt, firstGroup = 0) {
  const roots = [];
  const list = dt && dt.items ? [...dt.items].filter((it) => it.kind === 'file') : [];
  // Outside a drag (a paste, a DataTransfer made by a script) these may give nothing, or
  // throw: the item's File is kept as the fallback.
  const attempt = (fn) => { try { return fn(); } catch { return null; } };
  for (const it of list) {
    const entry = typeof it.webkitGetAsEntry === 'function' ? attempt(() => it.webkitGetAsEntry()) : null;
    const file = attempt(() => it.getAsFile());
    if (entry) roots.push({ entry, file });
    else if (typeof it.getAsFileSystemHandle === 'function') roots.push({ handle: attempt(() => it.getAsFileSystemHandle()), file });
    else if (file) roots.push({ file });
  }
  if (!roots.length && dt && dt.files) for (const file of dt.files) roots.push({ file });
  return (async () => {
    const out = [];
    let group = firstGroup;
    for (const r of roots) {
      const handle = r.handle ? await Promise.resolve(r.handle).catch(() => null) : null;
      if (r.entry && r.entry.isDirectory) await walkEntry(r.entry, r.entry.name, group, out);
      else if (handle && handle.kind === 'directory') await walkHandle(handle, handle.name, group, out);
      else if (r.file) out.push({ path: r.file.name, file: r.file, group });
      else if (r.entry && r.entry.isFile) await walkEntry(r.entry, r.entry.name, group, out);
      else continue;
      group++;
    }
    return out;
  })();
}

/**
 * The files of a file input: each its own group, or, from a folder input (webkitdirectory),
 * all in one group under their relative paths ("folder/sub/name").
 */
export function collectInput(files, firstGroup = 0) {
  const list = [...(files || [])];
  if (list.length > MAX_ITEMS) throw new TooManyError();
  const folder = list.some((f) => f.webkitRelativePath);
  return list.map((file, i) => ({
    path: file.webkitRelativePath || file.name, file, group: folder ? firstGroup : firstGroup + i,
  }));
}
