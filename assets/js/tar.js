// tar.js — several files and folders as one POSIX tar archive, made in the page without
// reading or copying the files: the archive is a list of parts (header bytes, the Files
// themselves, zero padding, two zero blocks at the end) that the caller turns into one Blob
// (`new Blob(parts)` references the Files, it does not copy them).
//
// Why tar and not zip: the upload reads its source at random offsets (parallel chunks, a
// resume after a reload that re-reads and hashes the chunks the server already has), so
// every byte of the archive must be known before any file is read. A tar header holds only
// the name, size, mode and time, all known up front, so the archive's size and any byte range
// follow from the file list alone. A zip's headers and central directory hold each file's
// CRC-32, which is known only after reading the whole file: the archive could not be sliced
// at will or resumed without reading everything first. A .tar opens with a double click on
// Windows 11, macOS and Linux.
//
// Format: ustar headers (mode 0755 for directories, 0644 for files, uid and gid 0, empty
// user and group names, the File's lastModified in whole seconds), written field by field as
// GNU tar writes them with --format=ustar --numeric-owner, so the bytes can be compared with
// GNU tar's. A name that ustar cannot hold (longer than its 100-byte name plus 155-byte prefix
// fields allow, or not plain ASCII) and a size of 8 GiB or more go into a PAX extended header
// before the member, again as GNU tar --format=pax writes it (header named
// "DIR/PaxHeaders/NAME", the member's own name field cut to 100 bytes for old readers).
//
// Paths inside the archive are relative with "/" separators: leading "/", empty, "." and ".."
// components are dropped, so nothing can land outside the folder it is unpacked into. Names
// that would clash (several dropped files named the same, or names equal but for case or
// Unicode normalisation, which clash on Windows and macOS) get " (2)", " (3)", ... before the
// extension. Every directory gets its own entry before its contents. Pure code (no DOM), so
// Node's test runner checks it against the system's tar (tests/js/tar.test.mjs).

export const BLOCK = 512;
/** The largest number an 11-digit octal field holds (8 GiB - 1, or the year 2242 in seconds). */
export const OCTAL_MAX = 8 ** 11 - 1;
export const TAR_TYPE = 'application/x-tar';
const NAME_MAX = 100;
const PREFIX_MAX = 155;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

const utf8 = new TextEncoder();

/**
 * A path as it may appear in the archive: control characters become "_", "\" and "/" both
 * separate components, and empty, "." and ".." components are dropped ("../x" -> "x",
 * "/abs" -> "abs", "a/../../b" -> "a/b"). Returns "" when nothing is left.
 */
export function sanitizePath(raw) {
  return String(raw ?? '')
    .replace(/[\u0000-\u001f\u007f]/g, '_')
    .split(/[\\/]+/)
    .filter((c) => c !== '' && c !== '.' && c !== '..')
    .join('/');
}

/** `n` as `width - 1` octal digits and a NUL (the numeric fields of a ustar header). */
function octal(n, width) {
  return `${Math.floor(n).toString(8).padStart(width - 1, '0')}\0`;
}

function putAscii(h, offset, s) {
  for (let i = 0; i < s.length; i++) h[offset + i] = s.charCodeAt(i);
}

/**
 * Splits a name that does not fit the 100-byte name field at a "/" into prefix and name,
 * with the longest prefix that fits (as GNU tar does); null when no split fits.
 */
export function ustarSplit(bytes) {
  const len = bytes.length;
  if (len <= NAME_MAX) return { prefix: bytes.subarray(0, 0), name: bytes };
  if (len > PREFIX_MAX + 1 + NAME_MAX) return null;
  // The slash that ends the prefix is at most at index 155, never the trailing one of a
  // directory name.
  let end = len;
  if (end > PREFIX_MAX + 1) end = PREFIX_MAX + 1;
  else if (bytes[end - 1] === 0x2f) end--;
  let i = end - 1;
  while (i > 0 && bytes[i] !== 0x2f) i--;
  const rest = len - i - 1;
  if (i === 0 || rest === 0 || rest > NAME_MAX) return null;
  return { prefix: bytes.subarray(0, i), name: bytes.subarray(i + 1) };
}

/** One 512-byte header block with its checksum. */
function headerBlock({ name, prefix, mode, size, mtime, type, devices }) {
  const h = new Uint8Array(BLOCK);
  h.set(name.subarray(0, NAME_MAX), 0);
  putAscii(h, 100, octal(mode, 8));
  putAscii(h, 108, octal(0, 8)); // uid
  putAscii(h, 116, octal(0, 8)); // gid
  putAscii(h, 124, octal(size, 12));
  putAscii(h, 136, octal(mtime, 12));
  putAscii(h, 148, '        '); // the checksum counts its own field as spaces
  putAscii(h, 156, type);
  putAscii(h, 257, 'ustar\u000000');
  if (devices) {
    putAscii(h, 329, octal(0, 8));
    putAscii(h, 337, octal(0, 8));
  }
  if (prefix) h.set(prefix, 345);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i];
  putAscii(h, 148, `${sum.toString(8).padStart(6, '0')}\0 `);
  return h;
}

/** One PAX record, "LEN key=value\n", where LEN counts the whole record with its own digits. */
export function paxRecord(key, value) {
  const body = utf8.encode(` ${key}=${value}\n`);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return concat([utf8.encode(String(len)), body]);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Zero bytes that pad `size` up to a whole block. */
export const padding = (size) => (BLOCK - (size % BLOCK)) % BLOCK;

/** The name GNU tar gives a member's PAX header: DIR/PaxHeaders/BASE ("." for no DIR). */
function paxHeaderName(path) {
  const cut = path.lastIndexOf('/');
  return cut < 0 ? `./PaxHeaders/${path}` : `${path.slice(0, cut)}/PaxHeaders/${path.slice(cut + 1)}`;
}

/**
 * The header bytes of one entry { path, dir, size, mtime } (mtime in seconds): one ustar
 * block, preceded by a PAX header and its records when the name or size needs them.
 */
export function entryHeader({ path, dir = false, size = 0, mtime = 0 }) {
  const fullName = dir ? `${path}/` : path;
  const bytes = utf8.encode(fullName);
  const split = /^[\x20-\x7e]*$/.test(fullName) ? ustarSplit(bytes) : null;
  const big = size > OCTAL_MAX;
  const records = [];
  if (!split) records.push(paxRecord('path', fullName));
  if (big) records.push(paxRecord('size', String(size)));
  const time = Math.min(OCTAL_MAX, Math.max(0, Math.floor(mtime)));
  const member = headerBlock({
    name: split ? split.name : bytes, prefix: split ? split.prefix : null, mode: dir ? DIR_MODE : FILE_MODE,
    size: big ? 0 : size, mtime: time, type: dir ? '5' : '0', devices: true,
  });
  if (!records.length) return member;
  const data = concat(records);
  const pax = headerBlock({
    name: utf8.encode(paxHeaderName(path)), prefix: null, mode: FILE_MODE, size: data.length, mtime: time, type: 'x', devices: false,
  });
  return concat([pax, data, new Uint8Array(padding(data.length)), member]);
}

/** Compares two paths component by component (so "a/b" sorts before "a b"). */
function comparePaths(a, b) {
  const x = a.split('/'), y = b.split('/');
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

/** "name.ext" -> "name (n).ext" for a file, "name (n)" for a directory; a leading dot is
 * not an extension. */
function withSuffix(name, n, dir) {
  const dot = dir ? -1 : name.lastIndexOf('.');
  return dot <= 0 ? `${name} (${n})` : `${name.slice(0, dot)} (${n})${name.slice(dot)}`;
}

/** The key under which names clash on case-insensitive, normalising file systems. */
const clashKey = (path) => path.normalize('NFC').toLowerCase();

/**
 * The entries of an archive from what the user chose. `items` are { path, file } (file: a
 * Blob with size and lastModified in ms) or { path, dir: true, lastModified? } for a
 * directory (an empty one is kept); `group` numbers what was chosen together (one dropped
 * folder, one file): two groups never share a directory, so a second dropped folder with the
 * same name becomes "name (2)". Items are sorted by path within their group, so the archive
 * does not depend on the order in which a folder was listed.
 * Returns [{ path, dir, size, mtime, file }] in archive order, parents before children.
 */
export function planEntries(items) {
  const indexed = items.map((it, i) => ({ it, i, group: it.group ?? i, path: sanitizePath(it.path) }));
  indexed.sort((a, b) => (a.group - b.group) || comparePaths(a.path, b.path) || (a.i - b.i));
  const taken = new Set();
  const dirs = new Map(); // group + "\0" + sanitised path -> the entry of that directory
  const entries = [];
  const unique = (parent, leaf, dir) => {
    const base = leaf || 'file';
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : withSuffix(base, n, dir);
      const path = parent ? `${parent}/${name}` : name;
      if (!taken.has(clashKey(path))) { taken.add(clashKey(path)); return path; }
    }
  };
  const dirFor = (group, comps, count, lastModified) => {
    let parent = '';
    let entry = null;
    for (let k = 0; k < count; k++) {
      const key = `${group}\0${comps.slice(0, k + 1).join('/')}`;
      entry = dirs.get(key);
      if (!entry) {
        entry = { path: unique(parent, comps[k], true), dir: true, size: 0, mtime: null, file: null };
        dirs.set(key, entry);
        entries.push(entry);
      }
      parent = entry.path;
    }
    if (entry && lastModified !== undefined && entry.mtime === null) entry.mtime = Math.floor(Number(lastModified) / 1000) || 0;
    return parent;
  };
  for (const { it, group, path } of indexed) {
    const comps = path ? path.split('/') : [];
    if (it.dir) {
      if (comps.length) dirFor(group, comps, comps.length, it.lastModified);
      continue;
    }
    const parent = dirFor(group, comps, Math.max(0, comps.length - 1));
    const file = it.file;
    entries.push({
      path: unique(parent, comps[comps.length - 1], false), dir: false, size: file.size,
      mtime: Math.floor(Number(file.lastModified) / 1000) || 0, file,
    });
  }
  // A directory's time is the newest of the files below it (or its own, when known and it
  // holds no files; else the newest in the archive), so the same choice makes the same bytes.
  const byPath = new Map(entries.filter((e) => e.dir).map((e) => [e.path, { entry: e, below: null }]));
  let newest = 0;
  for (const e of entries) {
    if (e.dir) continue;
    newest = Math.max(newest, e.mtime);
    for (let cut = e.path.lastIndexOf('/'); cut > 0; cut = e.path.lastIndexOf('/', cut - 1)) {
      const d = byPath.get(e.path.slice(0, cut));
      d.below = Math.max(d.below ?? 0, e.mtime);
    }
  }
  for (const { entry, below } of byPath.values()) entry.mtime = below ?? entry.mtime ?? newest;
  return entries;
}

/**
 * The archive's parts: header bytes (with the previous member's padding) and Files, then
 * two zero blocks. Byte arrays next to each other are merged, so a Blob of them has about
 * one part per file.
 */
export function archiveParts(entries) {
  const parts = [];
  let pending = [];
  const flush = () => { if (pending.length) parts.push(concat(pending)); pending = []; };
  for (const e of entries) {
    pending.push(entryHeader(e));
    if (!e.dir && e.size > 0) {
      flush();
      parts.push(e.file);
      const pad = padding(e.size);
      if (pad) pending.push(new Uint8Array(pad));
    }
  }
  pending.push(new Uint8Array(2 * BLOCK));
  flush();
  return parts;
}

/** The name of the archive: "FOLDER.tar" when everything is in one folder, else qopy-N-files.tar. */
export function archiveName(entries) {
  const files = entries.filter((e) => !e.dir).length;
  const top = entries.length && entries[0].dir ? entries[0].path : null;
  if (top && entries.every((e) => e.path === top || e.path.startsWith(`${top}/`))) return `${top}.tar`;
  return `qopy-${files}-files.tar`;
}

/**
 * Everything the page needs to send several files as one clip: { entries, parts, size,
 * files, dirs, name, type, mtime (ms), identity }. `identity` is made from the names, sizes
 * and times of the entries, so an interrupted upload of the same choice can be resumed.
 */
export function buildArchive(items) {
  const entries = planEntries(items);
  const parts = archiveParts(entries);
  const size = parts.reduce((n, p) => n + (p.byteLength ?? p.size), 0);
  const files = entries.filter((e) => !e.dir).length;
  return {
    entries, parts, size, files, dirs: entries.length - files, name: archiveName(entries), type: TAR_TYPE,
    mtime: entries.reduce((m, e) => Math.max(m, e.mtime), 0) * 1000,
    identity: JSON.stringify(['tar', entries.map((e) => [e.path, e.dir ? -1 : e.size, e.mtime])]),
  };
}
