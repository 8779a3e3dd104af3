// stream-hash.js — the streaming half of a Merkle–Damgård hash (FIPS 180-4 §5.1, §6):
// buffering input into blocks, the final padding with the bit length, the big-endian
// output and clone(). SHA-256 and SHA-512 differ only in their compression function,
// block size, schedule size and the width of the length field, which they declare as the
// `spec` of a subclass of StreamHash.
// Owns: the class StreamHash.

import { toBytes } from './util.js';

/**
 * Incremental hasher over 32-bit big-endian words. A subclass only declares its
 * `static spec`: { name, iv, scheduleWords, blockLength, outputLength, lengthFieldBytes,
 * compress(out, init, W) }, where compress folds the block loaded into W[0 .. blockLength/4)
 * into the state. HMAC, HKDF and PBKDF2 read blockLength and outputLength from the class.
 */
export class StreamHash {
  static get blockLength() { return this.spec.blockLength; }
  static get outputLength() { return this.spec.outputLength; }

  constructor() {
    const spec = this.constructor.spec;
    this.name = spec.name;
    this.compress = spec.compress;
    this.state = Int32Array.from(spec.iv);
    this.W = new Int32Array(spec.scheduleWords);
    this.buffer = new Uint8Array(spec.blockLength);
    this.bufferLength = 0;
    this.length = 0; // total bytes hashed
    this.finished = false;
    this.blockLength = spec.blockLength;
    this.outputLength = spec.outputLength;
    /** Padding must leave room for the length field: the last byte 0x80 may stand at most here. */
    this.padLimit = spec.blockLength - spec.lengthFieldBytes;
  }

  /** Loads the block at src[off ..] as big-endian words into W and compresses it. */
  _block(src, off) {
    const W = this.W;
    const words = this.blockLength >>> 2;
    for (let j = 0; j < words; j++, off += 4) {
      W[j] = (src[off] << 24) | (src[off + 1] << 16) | (src[off + 2] << 8) | src[off + 3];
    }
    this.compress(this.state, this.state, W);
  }

  update(data) {
    if (this.finished) throw new Error(`${this.name}: update after digest`);
    data = toBytes(data);
    const bl = this.blockLength;
    const n = data.length;
    let pos = 0;
    this.length += n;
    if (this.bufferLength > 0) {
      const take = Math.min(bl - this.bufferLength, n);
      this.buffer.set(data.subarray(0, take), this.bufferLength);
      this.bufferLength += take;
      pos = take;
      if (this.bufferLength < bl) return this;
      this._block(this.buffer, 0);
      this.bufferLength = 0;
    }
    for (; pos + bl <= n; pos += bl) this._block(data, pos);
    if (pos < n) {
      this.buffer.set(data.subarray(pos), 0);
      this.bufferLength = n - pos;
    }
    return this;
  }

  digest() {
    if (this.finished) throw new Error(`${this.name}: digest called twice`);
    this.finished = true;
    const buf = this.buffer;
    const bl = this.blockLength;
    let n = this.bufferLength;
    buf[n++] = 0x80;
    if (n > this.padLimit) {
      buf.fill(0, n);
      this._block(buf, 0);
      n = 0;
    }
    // The bit length in the last 8 bytes; any wider length field (SHA-512 has 16 bytes)
    // has its upper bytes zero, as no message here reaches 2^53 bytes.
    const end = bl - 8;
    buf.fill(0, n, end);
    const hi = Math.floor(this.length / 0x20000000); // bit length high word
    const lo = (this.length % 0x20000000) * 8;
    buf[end] = hi >>> 24; buf[end + 1] = hi >>> 16; buf[end + 2] = hi >>> 8; buf[end + 3] = hi;
    buf[end + 4] = lo >>> 24; buf[end + 5] = lo >>> 16; buf[end + 6] = lo >>> 8; buf[end + 7] = lo;
    this._block(buf, 0);
    const out = new Uint8Array(this.outputLength);
    for (let i = 0; i < out.length >>> 2; i++) {
      const w = this.state[i];
      out[4 * i] = w >>> 24; out[4 * i + 1] = w >>> 16; out[4 * i + 2] = w >>> 8; out[4 * i + 3] = w;
    }
    this.buffer.fill(0);
    this.W.fill(0);
    return out;
  }

  /** Independent copy of the current state (used by HMAC to reuse padded-key states). */
  clone() {
    const c = new this.constructor();
    c.state.set(this.state);
    c.buffer.set(this.buffer);
    c.bufferLength = this.bufferLength;
    c.length = this.length;
    c.finished = this.finished;
    return c;
  }
}
