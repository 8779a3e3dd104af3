// sha256.js — SHA-256 (FIPS 180-4) in plain JavaScript on 32-bit integers.
// Owns: the compression function (exported for the PBKDF2/HMAC fast paths), the
// incremental hasher class Sha256 and the one-shot sha256(bytes).

import { toBytes, primeRootFractions, words32 } from './util.js';

/** Round constants: cube roots of the first 64 primes. */
const K = words32(primeRootFractions(64, 3, 32));
/** Initial hash value: square roots of the first 8 primes. */
export const SHA256_IV = words32(primeRootFractions(8, 2, 32));

/**
 * One compression: out = init + F(init, block). W is an Int32Array(64) whose first 16
 * words hold the big-endian message block; W[16..63] are overwritten (W[0..15] are not),
 * so callers may leave fixed padding words in place across calls. out may equal init.
 */
export function sha256Compress(out, init, W) {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15], y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (((s1 + W[i - 7]) | 0) + ((s0 + W[i - 16]) | 0)) | 0;
  }
  let a = init[0], b = init[1], c = init[2], d = init[3];
  let e = init[4], f = init[5], g = init[6], h = init[7];
  for (let i = 0; i < 64; i += 2) {
    // Two rounds per iteration, the second with the variables renamed instead of moved.
    let S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    let t1 = (((h + S1) | 0) + ((((e & f) ^ (~e & g)) + ((K[i] + W[i]) | 0)) | 0)) | 0;
    let S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    let t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = (d + t1) | 0;          // new e
    d = (t1 + t2) | 0;         // new a
    // Now (d, a, b, c, h, e, f, g) play the roles of (a, b, c, d, e, f, g, h).
    S1 = ((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7));
    t1 = (((g + S1) | 0) + ((((h & e) ^ (~h & f)) + ((K[i + 1] + W[i + 1]) | 0)) | 0)) | 0;
    S0 = ((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10));
    t2 = (S0 + ((d & a) ^ (d & b) ^ (a & b))) | 0;
    g = (c + t1) | 0;          // new e
    c = (t1 + t2) | 0;         // new a
    // Roles are now (c, d, a, b, g, h, e, f); rotate the names back to (a..h).
    const ta = a, tb = b, te = e, tf = f;
    a = c; b = d; c = ta; d = tb;
    e = g; f = h; g = te; h = tf;
  }
  out[0] = (init[0] + a) | 0; out[1] = (init[1] + b) | 0;
  out[2] = (init[2] + c) | 0; out[3] = (init[3] + d) | 0;
  out[4] = (init[4] + e) | 0; out[5] = (init[5] + f) | 0;
  out[6] = (init[6] + g) | 0; out[7] = (init[7] + h) | 0;
}

/** Incremental SHA-256: new Sha256().update(bytes)...digest() → Uint8Array(32). */
export class Sha256 {
  constructor() {
    this.state = Int32Array.from(SHA256_IV);
    this.W = new Int32Array(64);
    this.buffer = new Uint8Array(64);
    this.bufferLength = 0;
    this.length = 0; // total bytes hashed
    this.finished = false;
  }

  static get blockLength() { return 64; }
  static get outputLength() { return 32; }
  get blockLength() { return 64; }
  get outputLength() { return 32; }

  _block(src, off) {
    const W = this.W;
    for (let j = 0; j < 16; j++, off += 4) {
      W[j] = (src[off] << 24) | (src[off + 1] << 16) | (src[off + 2] << 8) | src[off + 3];
    }
    sha256Compress(this.state, this.state, W);
  }

  update(data) {
    if (this.finished) throw new Error('Sha256: update after digest');
    data = toBytes(data);
    const n = data.length;
    let pos = 0;
    this.length += n;
    if (this.bufferLength > 0) {
      const take = Math.min(64 - this.bufferLength, n);
      this.buffer.set(data.subarray(0, take), this.bufferLength);
      this.bufferLength += take;
      pos = take;
      if (this.bufferLength < 64) return this;
      this._block(this.buffer, 0);
      this.bufferLength = 0;
    }
    for (; pos + 64 <= n; pos += 64) this._block(data, pos);
    if (pos < n) {
      this.buffer.set(data.subarray(pos), 0);
      this.bufferLength = n - pos;
    }
    return this;
  }

  digest() {
    if (this.finished) throw new Error('Sha256: digest called twice');
    this.finished = true;
    const buf = this.buffer;
    let n = this.bufferLength;
    buf[n++] = 0x80;
    if (n > 56) {
      buf.fill(0, n);
      this._block(buf, 0);
      n = 0;
    }
    buf.fill(0, n, 56);
    const hi = Math.floor(this.length / 0x20000000); // bit length high word
    const lo = (this.length % 0x20000000) * 8;
    buf[56] = hi >>> 24; buf[57] = hi >>> 16; buf[58] = hi >>> 8; buf[59] = hi;
    buf[60] = lo >>> 24; buf[61] = lo >>> 16; buf[62] = lo >>> 8; buf[63] = lo;
    this._block(buf, 0);
    const out = new Uint8Array(32);
    for (let i = 0; i < 8; i++) {
      const w = this.state[i];
      out[4 * i] = w >>> 24; out[4 * i + 1] = w >>> 16; out[4 * i + 2] = w >>> 8; out[4 * i + 3] = w;
    }
    this.buffer.fill(0);
    this.W.fill(0);
    return out;
  }

  /** Independent copy of the current state (used by HMAC to reuse padded-key states). */
  clone() {
    const c = new Sha256();
    c.state.set(this.state);
    c.buffer.set(this.buffer);
    c.bufferLength = this.bufferLength;
    c.length = this.length;
    c.finished = this.finished;
    return c;
  }
}

/** One-shot SHA-256. */
export function sha256(data) {
  return new Sha256().update(data).digest();
}
