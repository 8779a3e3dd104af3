// pbkdf2.js — PBKDF2 (RFC 8018 §5.2) with HMAC-SHA-256 or HMAC-SHA-512.
// Owns: the optimised iteration loop. The HMAC key's ipad/opad blocks are compressed
// once; every iteration is then exactly two compressions on 32-bit words with the
// padding words fixed in place, so nothing is allocated or re-encoded per iteration.
// Offers a synchronous pbkdf2() and a pbkdf2Async() that yields to the event loop.

import { Hmac, hashClass } from './hmac.js';
import { sha256Compress } from './sha256.js';
import { sha512Compress } from './sha512.js';
import { toBytes, hashName } from './util.js';

const now = () => (globalThis.performance ? globalThis.performance.now() : Date.now());

/** Resumable PBKDF2 computation; step(n) runs at most n iterations. */
class Pbkdf2Job {
  constructor(hash, password, salt, iterations, length) {
    const name = hashName(hash);
    if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('pbkdf2: iterations must be a positive integer');
    if (!Number.isInteger(length) || length < 1) throw new RangeError('pbkdf2: length must be a positive integer');
    this.is512 = name === 'SHA-512';
    const H = hashClass(name);
    this.hLen = H.outputLength;
    this.words = this.hLen / 4;                       // 8 or 16 state words
    this.mac = new Hmac(H, toBytes(password));
    this.salt = toBytes(salt);
    this.iterations = iterations;
    this.length = length;
    this.blocks = Math.ceil(length / this.hLen);
    this.out = new Uint8Array(length);
    this.total = this.blocks * iterations;
    this.done = 0;
    this.block = 0;                                   // 0-based index of the block in progress
    this.remaining = 0;                               // iterations left in the current block
    this.ist = this.mac.innerKeyed.state;             // state after (key ^ ipad)
    this.ost = this.mac.outerKeyed.state;             // state after (key ^ opad)
    this.U = new Int32Array(this.words);
    this.T = new Int32Array(this.words);
    this.S = new Int32Array(this.words);
    // Message block for both the inner and the outer hash: hLen bytes of data after one
    // key block, so both are blockLen + hLen bytes long and share the same padding.
    if (this.is512) {
      this.W = new Int32Array(160);
      this.W[16] = 0x80000000 | 0;
      this.W[31] = (128 + 64) * 8;
    } else {
      this.W = new Int32Array(64);
      this.W[8] = 0x80000000 | 0;
      this.W[15] = (64 + 32) * 8;
    }
  }

  _startBlock() {
    const i = this.block + 1;
    const u1 = this.mac.update(this.salt).update(Uint8Array.of(i >>> 24, i >>> 16, i >>> 8, i)).digest();
    for (let j = 0; j < this.words; j++) {
      const w = (u1[4 * j] << 24) | (u1[4 * j + 1] << 16) | (u1[4 * j + 2] << 8) | u1[4 * j + 3];
      this.U[j] = w;
      this.T[j] = w;
    }
    this.remaining = this.iterations - 1;
    this.done += 1;
  }

  _finishBlock() {
    const off = this.block * this.hLen;
    const n = Math.min(this.hLen, this.length - off);
    for (let k = 0; k < n; k++) this.out[off + k] = this.T[k >> 2] >>> (24 - 8 * (k & 3));
    this.block += 1;
  }

  /** Run up to n iterations; returns true when the derived key is complete. */
  step(n) {
    while (n > 0 && this.block < this.blocks) {
      if (this.remaining === 0) {
        this._startBlock();
        n -= 1;
      }
      const k = Math.min(n, this.remaining);
      if (this.is512) iterate512(this.ist, this.ost, this.U, this.T, this.S, this.W, k);
      else iterate256(this.ist, this.ost, this.U, this.T, this.S, this.W, k);
      this.remaining -= k;
      this.done += k;
      n -= k;
      if (this.remaining === 0) this._finishBlock();
    }
    return this.block >= this.blocks;
  }

  finish() {
    this.U.fill(0); this.T.fill(0); this.S.fill(0); this.W.fill(0);
    return this.out;
  }
}

function iterate256(ist, ost, U, T, S, W, n) {
  for (let k = 0; k < n; k++) {
    W[0] = U[0]; W[1] = U[1]; W[2] = U[2]; W[3] = U[3];
    W[4] = U[4]; W[5] = U[5]; W[6] = U[6]; W[7] = U[7];
    sha256Compress(S, ist, W);                                   // inner hash
    W[0] = S[0]; W[1] = S[1]; W[2] = S[2]; W[3] = S[3];
    W[4] = S[4]; W[5] = S[5]; W[6] = S[6]; W[7] = S[7];
    sha256Compress(U, ost, W);                                   // outer hash = U_j
    for (let j = 0; j < 8; j++) T[j] ^= U[j];
  }
}

function iterate512(ist, ost, U, T, S, W, n) {
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < 16; j++) W[j] = U[j];
    sha512Compress(S, ist, W);
    for (let j = 0; j < 16; j++) W[j] = S[j];
    sha512Compress(U, ost, W);
    for (let j = 0; j < 16; j++) T[j] ^= U[j];
  }
}

const CHUNK = 512;       // iterations between clock checks
const SLICE_MS = 50;     // progress / yield interval

/**
 * Synchronous PBKDF2. onProgress(fraction in [0, 1]) is called about every 50 ms and
 * once with 1 at the end.
 */
export function pbkdf2(hash, password, salt, iterations, lengthBytes, onProgress) {
  const job = new Pbkdf2Job(hash, password, salt, iterations, lengthBytes);
  let last = now();
  while (!job.step(CHUNK)) {
    if (onProgress && now() - last >= SLICE_MS) {
      onProgress(job.done / job.total);
      last = now();
    }
  }
  if (onProgress) onProgress(1);
  return job.finish();
}

function yieldToEventLoop() {
  const s = globalThis.scheduler;
  if (s && typeof s.yield === 'function') return s.yield();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * PBKDF2 that yields to the event loop every ~sliceMs (default 50 ms) of work, calling
 * onProgress(fraction) at each yield and onProgress(1) at the end. Resolves to the key.
 */
export async function pbkdf2Async(hash, password, salt, iterations, lengthBytes, onProgress, sliceMs = SLICE_MS) {
  const job = new Pbkdf2Job(hash, password, salt, iterations, lengthBytes);
  let sliceStart = now();
  while (!job.step(CHUNK)) {
    if (now() - sliceStart >= sliceMs) {
      if (onProgress) onProgress(job.done / job.total);
      await yieldToEventLoop();
      sliceStart = now();
    }
  }
  if (onProgress) onProgress(1);
  return job.finish();
}
