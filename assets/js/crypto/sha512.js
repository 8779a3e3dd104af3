// sha512.js — SHA-512 (FIPS 180-4) in plain JavaScript. 64-bit words are kept as pairs
// of signed 32-bit integers [hi, lo]; no BigInt anywhere on the hashing path.
// Owns: the compression function (exported for the PBKDF2/HMAC fast paths), the
// incremental hasher class Sha512 (its buffering is StreamHash) and the one-shot sha512(bytes).

import { StreamHash } from './stream-hash.js';
import { primeRootFractions, words64 } from './util.js';

/** Round constants as [hi, lo] pairs: cube roots of the first 80 primes. */
const K = words64(primeRootFractions(80, 3, 64));
/** Initial hash value as [hi, lo] pairs: square roots of the first 8 primes. */
export const SHA512_IV = words64(primeRootFractions(8, 2, 64));

const TWO32 = 4294967296;

/**
 * One compression: out = init + F(init, block). State arrays are Int32Array(16) of
 * [hi, lo] pairs. W is an Int32Array(160) whose first 32 entries hold the block as
 * big-endian [hi, lo] pairs; W[32..159] are overwritten (W[0..31] are not).
 * out may equal init.
 */
export function sha512Compress(out, init, W) {
  for (let i = 32; i < 160; i += 2) {
    let xh = W[i - 30], xl = W[i - 29]; // W[t-15]: sigma0 = rotr1 ^ rotr8 ^ shr7
    const s0h = ((xh >>> 1) | (xl << 31)) ^ ((xh >>> 8) | (xl << 24)) ^ (xh >>> 7);
    const s0l = ((xl >>> 1) | (xh << 31)) ^ ((xl >>> 8) | (xh << 24)) ^ ((xl >>> 7) | (xh << 25));
    xh = W[i - 4]; xl = W[i - 3];       // W[t-2]: sigma1 = rotr19 ^ rotr61 ^ shr6
    const s1h = ((xh >>> 19) | (xl << 13)) ^ ((xl >>> 29) | (xh << 3)) ^ (xh >>> 6);
    const s1l = ((xl >>> 19) | (xh << 13)) ^ ((xh >>> 29) | (xl << 3)) ^ ((xl >>> 6) | (xh << 26));
    const l = (s1l >>> 0) + (W[i - 13] >>> 0) + (s0l >>> 0) + (W[i - 31] >>> 0);
    W[i] = (s1h + W[i - 14] + s0h + W[i - 32] + ((l / TWO32) | 0)) | 0;
    W[i + 1] = l | 0;
  }
  let ah = init[0], al = init[1], bh = init[2], bl = init[3];
  let ch = init[4], cl = init[5], dh = init[6], dl = init[7];
  let eh = init[8], el = init[9], fh = init[10], fl = init[11];
  let gh = init[12], gl = init[13], hh = init[14], hl = init[15];
  // Eight rounds per iteration; the names rotate instead of the values moving. A 64-bit
  // addition sums the low halves exactly as doubles (< 2^53) and takes the carry as
  // floor(sum / 2^32). This is branch-free: carries depend on the data, and a
  // compare-and-branch version measured about 2.5x slower on real (unpredictable) input.
  let S1h, S1l, S0h, S0l, t1h, t1l, l;
  for (let i = 0; i < 160; i += 16) {
    // round i + 0: (a..h)
    S1h = ((eh >>> 14) | (el << 18)) ^ ((eh >>> 18) | (el << 14)) ^ ((el >>> 9) | (eh << 23));
    S1l = ((el >>> 14) | (eh << 18)) ^ ((el >>> 18) | (eh << 14)) ^ ((eh >>> 9) | (el << 23));
    l = (hl >>> 0) + (S1l >>> 0) + (((el & fl) ^ (~el & gl)) >>> 0) + (K[i + 1] >>> 0) + (W[i + 1] >>> 0);
    t1h = (hh + S1h + ((eh & fh) ^ (~eh & gh)) + K[i + 0] + W[i + 0] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((ah >>> 28) | (al << 4)) ^ ((al >>> 2) | (ah << 30)) ^ ((al >>> 7) | (ah << 25));
    S0l = ((al >>> 28) | (ah << 4)) ^ ((ah >>> 2) | (al << 30)) ^ ((ah >>> 7) | (al << 25));
    l = (dl >>> 0) + t1l; dh = (dh + t1h + ((l / TWO32) | 0)) | 0; dl = l | 0;
    l = t1l + (S0l >>> 0) + (((al & bl) ^ (al & cl) ^ (bl & cl)) >>> 0);
    hh = (t1h + S0h + ((ah & bh) ^ (ah & ch) ^ (bh & ch)) + ((l / TWO32) | 0)) | 0; hl = l | 0;
    // round i + 1: (h..g)
    S1h = ((dh >>> 14) | (dl << 18)) ^ ((dh >>> 18) | (dl << 14)) ^ ((dl >>> 9) | (dh << 23));
    S1l = ((dl >>> 14) | (dh << 18)) ^ ((dl >>> 18) | (dh << 14)) ^ ((dh >>> 9) | (dl << 23));
    l = (gl >>> 0) + (S1l >>> 0) + (((dl & el) ^ (~dl & fl)) >>> 0) + (K[i + 3] >>> 0) + (W[i + 3] >>> 0);
    t1h = (gh + S1h + ((dh & eh) ^ (~dh & fh)) + K[i + 2] + W[i + 2] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((hh >>> 28) | (hl << 4)) ^ ((hl >>> 2) | (hh << 30)) ^ ((hl >>> 7) | (hh << 25));
    S0l = ((hl >>> 28) | (hh << 4)) ^ ((hh >>> 2) | (hl << 30)) ^ ((hh >>> 7) | (hl << 25));
    l = (cl >>> 0) + t1l; ch = (ch + t1h + ((l / TWO32) | 0)) | 0; cl = l | 0;
    l = t1l + (S0l >>> 0) + (((hl & al) ^ (hl & bl) ^ (al & bl)) >>> 0);
    gh = (t1h + S0h + ((hh & ah) ^ (hh & bh) ^ (ah & bh)) + ((l / TWO32) | 0)) | 0; gl = l | 0;
    // round i + 2: (g..f)
    S1h = ((ch >>> 14) | (cl << 18)) ^ ((ch >>> 18) | (cl << 14)) ^ ((cl >>> 9) | (ch << 23));
    S1l = ((cl >>> 14) | (ch << 18)) ^ ((cl >>> 18) | (ch << 14)) ^ ((ch >>> 9) | (cl << 23));
    l = (fl >>> 0) + (S1l >>> 0) + (((cl & dl) ^ (~cl & el)) >>> 0) + (K[i + 5] >>> 0) + (W[i + 5] >>> 0);
    t1h = (fh + S1h + ((ch & dh) ^ (~ch & eh)) + K[i + 4] + W[i + 4] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((gh >>> 28) | (gl << 4)) ^ ((gl >>> 2) | (gh << 30)) ^ ((gl >>> 7) | (gh << 25));
    S0l = ((gl >>> 28) | (gh << 4)) ^ ((gh >>> 2) | (gl << 30)) ^ ((gh >>> 7) | (gl << 25));
    l = (bl >>> 0) + t1l; bh = (bh + t1h + ((l / TWO32) | 0)) | 0; bl = l | 0;
    l = t1l + (S0l >>> 0) + (((gl & hl) ^ (gl & al) ^ (hl & al)) >>> 0);
    fh = (t1h + S0h + ((gh & hh) ^ (gh & ah) ^ (hh & ah)) + ((l / TWO32) | 0)) | 0; fl = l | 0;
    // round i + 3: (f..e)
    S1h = ((bh >>> 14) | (bl << 18)) ^ ((bh >>> 18) | (bl << 14)) ^ ((bl >>> 9) | (bh << 23));
    S1l = ((bl >>> 14) | (bh << 18)) ^ ((bl >>> 18) | (bh << 14)) ^ ((bh >>> 9) | (bl << 23));
    l = (el >>> 0) + (S1l >>> 0) + (((bl & cl) ^ (~bl & dl)) >>> 0) + (K[i + 7] >>> 0) + (W[i + 7] >>> 0);
    t1h = (eh + S1h + ((bh & ch) ^ (~bh & dh)) + K[i + 6] + W[i + 6] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((fh >>> 28) | (fl << 4)) ^ ((fl >>> 2) | (fh << 30)) ^ ((fl >>> 7) | (fh << 25));
    S0l = ((fl >>> 28) | (fh << 4)) ^ ((fh >>> 2) | (fl << 30)) ^ ((fh >>> 7) | (fl << 25));
    l = (al >>> 0) + t1l; ah = (ah + t1h + ((l / TWO32) | 0)) | 0; al = l | 0;
    l = t1l + (S0l >>> 0) + (((fl & gl) ^ (fl & hl) ^ (gl & hl)) >>> 0);
    eh = (t1h + S0h + ((fh & gh) ^ (fh & hh) ^ (gh & hh)) + ((l / TWO32) | 0)) | 0; el = l | 0;
    // round i + 4: (e..d)
    S1h = ((ah >>> 14) | (al << 18)) ^ ((ah >>> 18) | (al << 14)) ^ ((al >>> 9) | (ah << 23));
    S1l = ((al >>> 14) | (ah << 18)) ^ ((al >>> 18) | (ah << 14)) ^ ((ah >>> 9) | (al << 23));
    l = (dl >>> 0) + (S1l >>> 0) + (((al & bl) ^ (~al & cl)) >>> 0) + (K[i + 9] >>> 0) + (W[i + 9] >>> 0);
    t1h = (dh + S1h + ((ah & bh) ^ (~ah & ch)) + K[i + 8] + W[i + 8] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((eh >>> 28) | (el << 4)) ^ ((el >>> 2) | (eh << 30)) ^ ((el >>> 7) | (eh << 25));
    S0l = ((el >>> 28) | (eh << 4)) ^ ((eh >>> 2) | (el << 30)) ^ ((eh >>> 7) | (el << 25));
    l = (hl >>> 0) + t1l; hh = (hh + t1h + ((l / TWO32) | 0)) | 0; hl = l | 0;
    l = t1l + (S0l >>> 0) + (((el & fl) ^ (el & gl) ^ (fl & gl)) >>> 0);
    dh = (t1h + S0h + ((eh & fh) ^ (eh & gh) ^ (fh & gh)) + ((l / TWO32) | 0)) | 0; dl = l | 0;
    // round i + 5: (d..c)
    S1h = ((hh >>> 14) | (hl << 18)) ^ ((hh >>> 18) | (hl << 14)) ^ ((hl >>> 9) | (hh << 23));
    S1l = ((hl >>> 14) | (hh << 18)) ^ ((hl >>> 18) | (hh << 14)) ^ ((hh >>> 9) | (hl << 23));
    l = (cl >>> 0) + (S1l >>> 0) + (((hl & al) ^ (~hl & bl)) >>> 0) + (K[i + 11] >>> 0) + (W[i + 11] >>> 0);
    t1h = (ch + S1h + ((hh & ah) ^ (~hh & bh)) + K[i + 10] + W[i + 10] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((dh >>> 28) | (dl << 4)) ^ ((dl >>> 2) | (dh << 30)) ^ ((dl >>> 7) | (dh << 25));
    S0l = ((dl >>> 28) | (dh << 4)) ^ ((dh >>> 2) | (dl << 30)) ^ ((dh >>> 7) | (dl << 25));
    l = (gl >>> 0) + t1l; gh = (gh + t1h + ((l / TWO32) | 0)) | 0; gl = l | 0;
    l = t1l + (S0l >>> 0) + (((dl & el) ^ (dl & fl) ^ (el & fl)) >>> 0);
    ch = (t1h + S0h + ((dh & eh) ^ (dh & fh) ^ (eh & fh)) + ((l / TWO32) | 0)) | 0; cl = l | 0;
    // round i + 6: (c..b)
    S1h = ((gh >>> 14) | (gl << 18)) ^ ((gh >>> 18) | (gl << 14)) ^ ((gl >>> 9) | (gh << 23));
    S1l = ((gl >>> 14) | (gh << 18)) ^ ((gl >>> 18) | (gh << 14)) ^ ((gh >>> 9) | (gl << 23));
    l = (bl >>> 0) + (S1l >>> 0) + (((gl & hl) ^ (~gl & al)) >>> 0) + (K[i + 13] >>> 0) + (W[i + 13] >>> 0);
    t1h = (bh + S1h + ((gh & hh) ^ (~gh & ah)) + K[i + 12] + W[i + 12] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((ch >>> 28) | (cl << 4)) ^ ((cl >>> 2) | (ch << 30)) ^ ((cl >>> 7) | (ch << 25));
    S0l = ((cl >>> 28) | (ch << 4)) ^ ((ch >>> 2) | (cl << 30)) ^ ((ch >>> 7) | (cl << 25));
    l = (fl >>> 0) + t1l; fh = (fh + t1h + ((l / TWO32) | 0)) | 0; fl = l | 0;
    l = t1l + (S0l >>> 0) + (((cl & dl) ^ (cl & el) ^ (dl & el)) >>> 0);
    bh = (t1h + S0h + ((ch & dh) ^ (ch & eh) ^ (dh & eh)) + ((l / TWO32) | 0)) | 0; bl = l | 0;
    // round i + 7: (b..a)
    S1h = ((fh >>> 14) | (fl << 18)) ^ ((fh >>> 18) | (fl << 14)) ^ ((fl >>> 9) | (fh << 23));
    S1l = ((fl >>> 14) | (fh << 18)) ^ ((fl >>> 18) | (fh << 14)) ^ ((fh >>> 9) | (fl << 23));
    l = (al >>> 0) + (S1l >>> 0) + (((fl & gl) ^ (~fl & hl)) >>> 0) + (K[i + 15] >>> 0) + (W[i + 15] >>> 0);
    t1h = (ah + S1h + ((fh & gh) ^ (~fh & hh)) + K[i + 14] + W[i + 14] + ((l / TWO32) | 0)) | 0;
    t1l = l >>> 0;
    S0h = ((bh >>> 28) | (bl << 4)) ^ ((bl >>> 2) | (bh << 30)) ^ ((bl >>> 7) | (bh << 25));
    S0l = ((bl >>> 28) | (bh << 4)) ^ ((bh >>> 2) | (bl << 30)) ^ ((bh >>> 7) | (bl << 25));
    l = (el >>> 0) + t1l; eh = (eh + t1h + ((l / TWO32) | 0)) | 0; el = l | 0;
    l = t1l + (S0l >>> 0) + (((bl & cl) ^ (bl & dl) ^ (cl & dl)) >>> 0);
    ah = (t1h + S0h + ((bh & ch) ^ (bh & dh) ^ (ch & dh)) + ((l / TWO32) | 0)) | 0; al = l | 0;

  }
  l = (init[1] >>> 0) + (al >>> 0); out[0] = (init[0] + ah + ((l / TWO32) | 0)) | 0; out[1] = l | 0;
  l = (init[3] >>> 0) + (bl >>> 0); out[2] = (init[2] + bh + ((l / TWO32) | 0)) | 0; out[3] = l | 0;
  l = (init[5] >>> 0) + (cl >>> 0); out[4] = (init[4] + ch + ((l / TWO32) | 0)) | 0; out[5] = l | 0;
  l = (init[7] >>> 0) + (dl >>> 0); out[6] = (init[6] + dh + ((l / TWO32) | 0)) | 0; out[7] = l | 0;
  l = (init[9] >>> 0) + (el >>> 0); out[8] = (init[8] + eh + ((l / TWO32) | 0)) | 0; out[9] = l | 0;
  l = (init[11] >>> 0) + (fl >>> 0); out[10] = (init[10] + fh + ((l / TWO32) | 0)) | 0; out[11] = l | 0;
  l = (init[13] >>> 0) + (gl >>> 0); out[12] = (init[12] + gh + ((l / TWO32) | 0)) | 0; out[13] = l | 0;
  l = (init[15] >>> 0) + (hl >>> 0); out[14] = (init[14] + hh + ((l / TWO32) | 0)) | 0; out[15] = l | 0;
}

/** Incremental SHA-512: new Sha512().update(bytes)...digest() → Uint8Array(64). */
export class Sha512 extends StreamHash {
  static spec = { name: 'Sha512', iv: SHA512_IV, scheduleWords: 160, blockLength: 128,
    outputLength: 64, lengthFieldBytes: 16, compress: sha512Compress };
}

/** One-shot SHA-512. */
export const sha512 = (data) => new Sha512().update(data).digest();
