// qr.js — a small, dependency-free QR Code encoder (ISO/IEC 18004 model 2), written for Qopy.
//
// Scope: byte mode only (the text is encoded as UTF-8), error-correction levels
// L/M/Q/H, automatic choice of the smallest version 1–40 that fits, Reed–Solomon codes over
// GF(256) (polynomial x^8+x^4+x^3+x^2+1), block interleaving, all function patterns, format and
// version information, and the choice of the best of the 8 masks by the standard penalty rules.
//
//   encodeQr(text, { ecc = 'M', minVersion = 1, mask, eci }) -> { size, modules, version, ecc, mask }
//     modules: Uint8Array of size*size, row-major (modules[y * size + x]), 1 = dark, 0 = light.
//     `mask` (0–7) forces a mask instead of choosing one; `minVersion` forces a larger symbol.
//     `eci` (default: only when the text is not pure ASCII) prefixes an ECI 26 (UTF-8) header,
//     so decoders do not guess Shift-JIS/Latin-1 for the bytes; ASCII links never carry it.
//   qrToSvg(qr, { margin = 4, scale = 1 }) -> SVG string: a white <rect> and one dark <path>,
//     attributes only (no style attribute, so it is fine under a strict CSP).
//   drawQr(canvasOrContext, qr, { margin = 4, scale }) draws onto a 2D canvas.
//
// Runs unchanged in browsers and in Node (no imports, no globals beyond TextEncoder).

const LEVELS = { L: 0, M: 1, Q: 2, H: 3 };
// Two format-information bits for each level, in the order L, M, Q, H.
const LEVEL_BITS = [1, 0, 3, 2];

// Error-correction codewords per block, indexed [level][version - 1].
const EC_PER_BLOCK = [
  [7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28,
    28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  [10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
    26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
  [13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30,
    28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
  [17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28,
    30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
];
// Number of error-correction blocks, indexed [level][version - 1].
const BLOCKS = [
  [1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8,
    8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
  [1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
    17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
  [1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20,
    23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
  [1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25,
    25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
];

// ---- GF(256) arithmetic and Reed–Solomon -------------------------------------------------------

const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, v = 1; i < 255; i++) {
  EXP[i] = EXP[i + 255] = v;
  LOG[v] = i;
  v <<= 1;
  if (v & 0x100) v ^= 0x11d;
}

export function gfMul(a, b) {
  return a && b ? EXP[LOG[a] + LOG[b]] : 0;
}

// Generator polynomial (x - a^0)(x - a^1)...(x - a^(n-1)), coefficients highest degree first,
// leading 1 included (length n + 1).
export function rsGenerator(n) {
  let g = [1];
  for (let i = 0; i < n; i++) {
    const next = new Array(g.length + 1).fill(0);
    for (let j = 0; j < g.length; j++) {
      next[j] ^= g[j];
      next[j + 1] ^= gfMul(g[j], EXP[i]);
    }
    g = next;
  }
  return g;
}

// The n error-correction codewords of `data`: the remainder of data(x) * x^n divided by g(x).
export function rsEncode(data, n) {
  const g = rsGenerator(n);
  const rem = new Uint8Array(n);
  for (const byte of data) {
    const factor = byte ^ rem[0];
    rem.copyWithin(0, 1);
    rem[n - 1] = 0;
    for (let j = 0; j < n; j++) rem[j] ^= gfMul(g[j + 1], factor);
  }
  return rem;
}

// ---- symbol geometry ---------------------------------------------------------------------------

// Centre coordinates of alignment patterns: 6, then evenly spaced (even step) up to size - 7.
function alignmentCoords(version) {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const last = version * 4 + 10;
  const step = version === 32 ? 26 : Math.ceil((last - 6) / (count - 1) / 2) * 2;
  const coords = [6];
  for (let c = last - step * (count - 2); c <= last; c += step) coords.push(c);
  return coords;
}

// BCH remainder of `value` (already shifted left by the generator's degree) modulo `poly`.
function bchRemainder(value, poly) {
  const deg = 31 - Math.clz32(poly);
  for (let bit = 31 - Math.clz32(value); bit >= deg; bit--) {
    if (value & (1 << bit)) value ^= poly << (bit - deg);
  }
  return value;
}

function formatBits(level, mask) {
  const data = (LEVEL_BITS[level] << 3) | mask;
  return ((data << 10) | bchRemainder(data << 10, 0x537)) ^ 0x5412;
}

function versionBits(version) {
  return (version << 12) | bchRemainder(version << 12, 0x1f25);
}

// Builds the matrix with every function pattern drawn; `fn` marks function modules. Format
// information areas are reserved here and written later, once the mask is known.
function buildTemplate(version) {
  const size = version * 4 + 17;
  const m = new Uint8Array(size * size);
  const fn = new Uint8Array(size * size);
  const set = (x, y, dark) => {
    m[y * size + x] = dark ? 1 : 0;
    fn[y * size + x] = 1;
  };
  // Timing patterns (row 6 and column 6); finders and alignments overwrite their ends.
  for (let i = 0; i < size; i++) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  // Finder patterns with their separators (a 9x9 area clipped to the symbol).
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]]) {
    for (let dy = -4; dy <= 4; dy++) {
      for (let dx = -4; dx <= 4; dx++) {
        const x = cx + dx, y = cy + dy;
        if (x < 0 || y < 0 || x >= size || y >= size) continue;
        const d = Math.max(Math.abs(dx), Math.abs(dy));
        set(x, y, d !== 2 && d !== 4);
      }
    }
  }
  // Alignment patterns, except where they would overlap a finder.
  const coords = alignmentCoords(version);
  for (const cy of coords) {
    for (const cx of coords) {
      if ((cx === 6 && cy === 6) || (cx === 6 && cy === size - 7) || (cx === size - 7 && cy === 6)) continue;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }
  }
  // Reserve both copies of the format information, plus the dark module.
  for (let i = 0; i < 9; i++) {
    if (i === 6) continue; // timing pattern
    set(8, i, 0);
    set(i, 8, 0);
  }
  for (let i = 0; i < 8; i++) {
    set(size - 1 - i, 8, 0);
    set(8, size - 1 - i, 0);
  }
  set(8, size - 8, 1);
  // Version information (versions 7 and up): 6x3 above the bottom-left finder and its transpose.
  if (version >= 7) {
    const bits = versionBits(version);
    for (let i = 0; i < 18; i++) {
      const dark = (bits >> i) & 1;
      const a = Math.floor(i / 3), b = size - 11 + (i % 3);
      set(a, b, dark);
      set(b, a, dark);
    }
  }
  return { size, m, fn };
}

function drawFormat(m, size, level, mask) {
  const bits = formatBits(level, mask);
  const bit = (i) => (bits >> i) & 1;
  // First copy around the top-left finder: bits 0–7 up column 8 (skipping the timing row),
  // bits 8–14 leftwards along row 8 (skipping the timing column).
  for (let i = 0; i < 6; i++) m[i * size + 8] = bit(i);
  m[7 * size + 8] = bit(6);
  m[8 * size + 8] = bit(7);
  m[8 * size + 7] = bit(8);
  for (let i = 9; i < 15; i++) m[8 * size + (14 - i)] = bit(i);
  // Second copy: bits 0–7 along row 8 from the right edge, bits 8–14 down column 8.
  for (let i = 0; i < 8; i++) m[8 * size + (size - 1 - i)] = bit(i);
  for (let i = 8; i < 15; i++) m[(size - 15 + i) * size + 8] = bit(i);
}

// ---- data encoding -----------------------------------------------------------------------------

function dataCapacity(version, level) {
  const { fn } = buildTemplate(version); // free modules / 8 = total codewords
  let free = 0;
  for (let i = 0; i < fn.length; i++) free += fn[i] ? 0 : 1;
  const total = free >> 3;
  return { total, data: total - EC_PER_BLOCK[level][version - 1] * BLOCKS[level][version - 1] };
}

const capacityCache = new Map();
export function dataCodewords(version, ecc = 'M') {
  const level = LEVELS[ecc];
  const key = version * 4 + level;
  if (!capacityCache.has(key)) capacityCache.set(key, dataCapacity(version, level));
  return capacityCache.get(key);
}

// Bit stream: mode 0100, character count, bytes, terminator, padding to whole codewords.
function encodeData(bytes, version, capacity, eci) {
  const bits = [];
  const put = (value, len) => {
    for (let i = len - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  if (eci) put((0b0111 << 8) | 26, 12); // ECI designator 26 = UTF-8
  put(0b0100, 4);
  put(bytes.length, version < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  put(0, Math.min(4, capacity * 8 - bits.length));
  put(0, (8 - (bits.length % 8)) % 8);
  const out = new Uint8Array(capacity);
  for (let i = 0; i < bits.length; i += 8) {
    let v = 0;
    for (let j = 0; j < 8; j++) v = (v << 1) | bits[i + j];
    out[i >> 3] = v;
  }
  for (let i = bits.length >> 3, pad = 0xec; i < capacity; i++, pad ^= 0xec ^ 0x11) out[i] = pad;
  return out;
}

// Splits data into blocks, appends EC codewords, interleaves everything into the final sequence.
export function buildCodewords(data, version, ecc = 'M') {
  const level = LEVELS[ecc];
  const numBlocks = BLOCKS[level][version - 1];
  const ecLen = EC_PER_BLOCK[level][version - 1];
  const { total } = dataCodewords(version, ecc);
  const shortLen = Math.floor(total / numBlocks) - ecLen; // data codewords in a short block
  const numShort = numBlocks - (total % numBlocks);
  const blocks = [];
  for (let b = 0, pos = 0; b < numBlocks; b++) {
    const len = shortLen + (b < numShort ? 0 : 1);
    const d = data.subarray(pos, pos + len);
    blocks.push({ d, ec: rsEncode(d, ecLen) });
    pos += len;
  }
  const out = [];
  for (let i = 0; i <= shortLen; i++) for (const { d } of blocks) if (i < d.length) out.push(d[i]);
  for (let i = 0; i < ecLen; i++) for (const { ec } of blocks) out.push(ec[i]);
  return Uint8Array.from(out);
}

// Places codeword bits in the two-column zigzag, right to left, skipping function modules.
function placeCodewords(m, fn, size, codewords) {
  let bit = 0;
  const totalBits = codewords.length * 8;
  for (let right = size - 1, upward = true; right >= 1; right -= 2, upward = !upward) {
    if (right === 6) right = 5; // the vertical timing pattern is not part of any column pair
    for (let k = 0; k < size; k++) {
      const y = upward ? size - 1 - k : k;
      for (const x of [right, right - 1]) {
        const idx = y * size + x;
        if (fn[idx]) continue;
        m[idx] = bit < totalBits ? (codewords[bit >> 3] >> (7 - (bit & 7))) & 1 : 0;
        bit++;
      }
    }
  }
}

const MASKS = [
  (x, y) => (x + y) % 2 === 0,
  (x, y) => y % 2 === 0,
  (x, y) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(y / 2) + Math.floor(x / 3)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

function applyMask(m, fn, size, mask) {
  const f = MASKS[mask];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) if (!fn[y * size + x] && f(x, y)) m[y * size + x] ^= 1;
  }
}

// ---- mask penalty (rules N1–N4) ----------------------------------------------------------------

export function penalty(m, size) {
  let score = 0;
  const line = new Uint8Array(size + 8); // 4 light modules of quiet zone on either side
  // N1: runs of 5+ same-colour modules, 3 points + 1 per extra module. N3: 40 points for each
  // dark:light:dark:light:dark 1:1:3:1:1 pattern (1011101) with 4 light modules before or after
  // it, the quiet zone counting as light; found with a 15-module sliding window.
  for (let dir = 0; dir < 2; dir++) {
    for (let a = 0; a < size; a++) {
      for (let b = 0; b < size; b++) line[b + 4] = dir ? m[b * size + a] : m[a * size + b];
      let run = 1;
      for (let b = 5; b <= size + 4; b++) {
        if (b < size + 4 && line[b] === line[b - 1]) run++;
        else {
          if (run >= 5) score += run - 2;
          run = 1;
        }
      }
      for (let b = 0, w = 0; b < size + 8; b++) {
        w = ((w << 1) | line[b]) & 0x7fff;
        if (b >= 14 && ((w >> 4) & 0x7f) === 0x5d && ((w >> 11) === 0 || (w & 0xf) === 0)) score += 40;
      }
    }
  }
  // N2: 2x2 blocks of one colour.
  let dark = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x, v = m[i];
      dark += v;
      if (x + 1 < size && y + 1 < size && v === m[i + 1] && v === m[i + size] && v === m[i + size + 1]) score += 3;
    }
  }
  // N4: 10 points per full 5% step of the dark proportion away from 50%.
  const total = size * size;
  score += 10 * Math.floor(Math.abs(dark * 20 - total * 10) / total);
  return score;
}

// ---- public API --------------------------------------------------------------------------------

export function encodeQr(text, { ecc = 'M', minVersion = 1, mask, eci } = {}) {
  const level = LEVELS[ecc];
  if (level === undefined) throw new RangeError(`unknown error-correction level: ${ecc}`);
  if (mask !== undefined && !(mask >= 0 && mask <= 7)) throw new RangeError(`bad mask: ${mask}`);
  const bytes = new TextEncoder().encode(String(text));
  if (eci === undefined) eci = bytes.some((b) => b > 0x7f);
  let version = Math.max(1, minVersion | 0);
  for (; version <= 40; version++) {
    const need = (eci ? 12 : 0) + 4 + (version < 10 ? 8 : 16) + bytes.length * 8;
    if ((version >= 10 || bytes.length < 256) && need <= dataCodewords(version, ecc).data * 8) break;
  }
  if (version > 40) throw new RangeError(`text too long for a QR code (${bytes.length} bytes, level ${ecc})`);
  const { data } = dataCodewords(version, ecc);
  const codewords = buildCodewords(encodeData(bytes, version, data, eci), version, ecc);
  const { size, m, fn } = buildTemplate(version);
  placeCodewords(m, fn, size, codewords);
  let best = null;
  for (let k = 0; k < 8; k++) {
    if (mask !== undefined && k !== mask) continue;
    const candidate = m.slice();
    applyMask(candidate, fn, size, k);
    drawFormat(candidate, size, level, k);
    const score = mask === undefined ? penalty(candidate, size) : 0;
    if (!best || score < best.score) best = { score, modules: candidate, mask: k };
  }
  return { size, modules: best.modules, version, ecc, mask: best.mask };
}

// Horizontal runs of dark modules: [x, y, length] in module units, without the margin.
function darkRuns(qr) {
  const { size, modules } = qr;
  const dark = Array.isArray(modules) ? (x, y) => modules[y][x] : (x, y) => modules[y * size + x];
  const runs = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; ) {
      if (!dark(x, y)) { x++; continue; }
      const start = x;
      while (x < size && dark(x, y)) x++;
      runs.push([start, y, x - start]);
    }
  }
  return runs;
}

export function qrToSvg(qr, { margin = 4, scale = 1 } = {}) {
  const n = qr.size + 2 * margin;
  const px = n * scale;
  const d = darkRuns(qr).map(([x, y, len]) => `M${x + margin} ${y + margin}h${len}v1h-${len}z`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${n} ${n}" width="${px}" height="${px}" ` +
    `shape-rendering="crispEdges"><rect width="${n}" height="${n}" fill="#fff"/>` +
    `<path fill="#000" d="${d}"/></svg>`;
}

// Accepts a <canvas> (resized to fit) or a CanvasRenderingContext2D (drawn at its origin).
// Without `scale`, a canvas element keeps its current width if that allows >= 1 px per module.
export function drawQr(canvas, qr, { margin = 4, scale } = {}) {
  const isElement = typeof canvas.getContext === 'function';
  const ctx = isElement ? canvas.getContext('2d') : canvas;
  const n = qr.size + 2 * margin;
  if (scale === undefined) scale = isElement && canvas.width >= n ? Math.floor(canvas.width / n) : 4;
  if (isElement) canvas.width = canvas.height = n * scale;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, n * scale, n * scale);
  ctx.fillStyle = '#000';
  for (const [x, y, len] of darkRuns(qr)) ctx.fillRect((x + margin) * scale, (y + margin) * scale, len * scale, scale);
  return ctx;
}
