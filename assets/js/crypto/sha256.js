// sha256.js — SHA-256 (FIPS 180-4) in plain JavaScript on 32-bit integers.
// Owns: the compression function (exported for the PBKDF2/HMAC fast paths), the
// incremental hasher class Sha256 (its buffering is StreamHash) and the one-shot sha256(bytes).

import { StreamHash } from './stream-hash.js';
import { primeRootFractions, words32 } from './util.js';

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
export class Sha256 extends StreamHash {
  static spec = { name: 'Sha256', iv: SHA256_IV, scheduleWords: 64, blockLength: 64,
    outputLength: 32, lengthFieldBytes: 8, compress: sha256Compress };
}

/** One-shot SHA-256. */
export const sha256 = (data) => new Sha256().update(data).digest();
