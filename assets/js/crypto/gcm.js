// gcm.js — AES-256-GCM (NIST SP 800-38D) with 128-bit tags.
// Owns: GHASH (Shoup's 8-bit table method on 32-bit words: a 256-entry table of
// multiples of H plus a 256-entry reduction table, built once per key), the CTR
// keystream, and the AesGcm class. Encryption and GHASH run fused in one pass over the
// data; decryption checks the tag in constant time and wipes the output on failure.

import { Aes256 } from './aes.js';
import { toBytes } from './util.js';

/**
 * Reduction table for multiplying by x^8: the 8 bits leaving the low end of the block
 * (byte 15) fold back into the top 16 bits via x^128 = 1 + x + x^2 + x^7 (0xE1...).
 */
const RED = new Int32Array(256);
for (let r = 0; r < 256; r++) {
  let v = 0;
  for (let k = 0; k < 8; k++) if (r & (1 << k)) v ^= 0xe1000000 >>> (7 - k);
  RED[r] = v;
}

const MAX_BYTES = 68719476704; // 2^36 - 32: the SP 800-38D plaintext limit

export class AesGcm {
  constructor(key) {
    this.aes = new Aes256(key);
    this.ks = new Int32Array(4); // keystream / scratch block
    this.Y = new Int32Array(4);  // GHASH accumulator
    this.aes.encryptWords(0, 0, 0, 0, this.ks); // H = E_K(0^128)
    // M[b] = (b as the first byte of a block) * H. Bit 0x80 of byte 0 is x^0, so
    // M[0x80] = H and each lower bit is one more multiplication by x (a right shift).
    const M = new Int32Array(1024);
    let h0 = this.ks[0], h1 = this.ks[1], h2 = this.ks[2], h3 = this.ks[3];
    for (let b = 0x80; b > 0; b >>>= 1) {
      M[4 * b] = h0; M[4 * b + 1] = h1; M[4 * b + 2] = h2; M[4 * b + 3] = h3;
      const carry = h3 & 1;
      h3 = (h3 >>> 1) | (h2 << 31);
      h2 = (h2 >>> 1) | (h1 << 31);
      h1 = (h1 >>> 1) | (h0 << 31);
      h0 = (h0 >>> 1) ^ (carry ? 0xe1000000 | 0 : 0);
    }
    for (let i = 2; i < 256; i <<= 1) {
      for (let j = 1; j < i; j++) {
        for (let w = 0; w < 4; w++) M[4 * (i + j) + w] = M[4 * i + w] ^ M[4 * j + w];
      }
    }
    this.M = M;
    this.ks.fill(0);
  }

  /**
   * Y = (Y ^ (x0..x3)) * H in GF(2^128), by Horner over the bytes from 15 down to 0:
   * Z = Z * x^8 + M[byte] (unrolled; the x^8 shift folds the dropped byte back via RED).
   */
  _ghash(x0, x1, x2, x3) {
    const M = this.M, Y = this.Y;
    const y0 = Y[0] ^ x0, y1 = Y[1] ^ x1, y2 = Y[2] ^ x2, y3 = Y[3] ^ x3;
    let m = (y3 & 255) << 2;
    let z0 = M[m], z1 = M[m + 1], z2 = M[m + 2], z3 = M[m + 3], r = 0;
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y3 >>> 8) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y3 >>> 16) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y3 >>> 24) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y2 & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y2 >>> 8) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y2 >>> 16) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y2 >>> 24) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y1 & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y1 >>> 8) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y1 >>> 16) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y1 >>> 24) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y0 & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y0 >>> 8) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = ((y0 >>> 16) & 255) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    r = z3 & 255; z3 = (z3 >>> 8) | (z2 << 24); z2 = (z2 >>> 8) | (z1 << 24); z1 = (z1 >>> 8) | (z0 << 24);
    m = (y0 >>> 24) << 2; z0 = (z0 >>> 8) ^ RED[r] ^ M[m]; z1 ^= M[m + 1]; z2 ^= M[m + 2]; z3 ^= M[m + 3];
    Y[0] = z0; Y[1] = z1; Y[2] = z2; Y[3] = z3;
  }

  /** GHASH over bytes, zero-padding the final partial block. */
  _ghashBytes(b) {
    const n = b.length;
    let o = 0;
    for (; o + 16 <= n; o += 16) {
      this._ghash(
        (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3],
        (b[o + 4] << 24) | (b[o + 5] << 16) | (b[o + 6] << 8) | b[o + 7],
        (b[o + 8] << 24) | (b[o + 9] << 16) | (b[o + 10] << 8) | b[o + 11],
        (b[o + 12] << 24) | (b[o + 13] << 16) | (b[o + 14] << 8) | b[o + 15]);
    }
    if (o < n) {
      const w = [0, 0, 0, 0];
      for (let k = 0; o < n; o++, k++) w[k >> 2] |= b[o] << (24 - 8 * (k & 3));
      this._ghash(w[0], w[1], w[2], w[3]);
    }
  }

  /** GHASH of the length block: bit lengths of A and C as two 64-bit big-endian words. */
  _ghashLengths(aBytes, cBytes) {
    this._ghash(Math.floor(aBytes / 0x20000000), (aBytes % 0x20000000) * 8,
      Math.floor(cBytes / 0x20000000), (cBytes % 0x20000000) * 8);
  }

  /** Pre-counter block J0 into j (Int32Array(4)). */
  _j0(iv, j) {
    if (iv.length === 12) {
      j[0] = (iv[0] << 24) | (iv[1] << 16) | (iv[2] << 8) | iv[3];
      j[1] = (iv[4] << 24) | (iv[5] << 16) | (iv[6] << 8) | iv[7];
      j[2] = (iv[8] << 24) | (iv[9] << 16) | (iv[10] << 8) | iv[11];
      j[3] = 1;
    } else {
      if (iv.length === 0) throw new RangeError('AES-GCM: empty nonce');
      this.Y.fill(0);
      this._ghashBytes(iv);
      this._ghashLengths(0, iv.length);
      j.set(this.Y);
    }
  }

  /**
   * Fused CTR + GHASH over src into dst (same length). GHASH is taken over the
   * ciphertext: dst when encrypting, src when decrypting. Y must hold GHASH(A).
   */
  _crypt(j, src, dst, encrypting) {
    const aes = this.aes, ks = this.ks, n = src.length;
    const j0 = j[0], j1 = j[1], j2 = j[2];
    let ctr = j[3];
    let o = 0;
    for (; o + 16 <= n; o += 16) {
      ctr = (ctr + 1) | 0;
      aes.encryptWords(j0, j1, j2, ctr, ks);
      const p0 = (src[o] << 24) | (src[o + 1] << 16) | (src[o + 2] << 8) | src[o + 3];
      const p1 = (src[o + 4] << 24) | (src[o + 5] << 16) | (src[o + 6] << 8) | src[o + 7];
      const p2 = (src[o + 8] << 24) | (src[o + 9] << 16) | (src[o + 10] << 8) | src[o + 11];
      const p3 = (src[o + 12] << 24) | (src[o + 13] << 16) | (src[o + 14] << 8) | src[o + 15];
      const c0 = p0 ^ ks[0], c1 = p1 ^ ks[1], c2 = p2 ^ ks[2], c3 = p3 ^ ks[3];
      dst[o] = c0 >>> 24; dst[o + 1] = c0 >>> 16; dst[o + 2] = c0 >>> 8; dst[o + 3] = c0;
      dst[o + 4] = c1 >>> 24; dst[o + 5] = c1 >>> 16; dst[o + 6] = c1 >>> 8; dst[o + 7] = c1;
      dst[o + 8] = c2 >>> 24; dst[o + 9] = c2 >>> 16; dst[o + 10] = c2 >>> 8; dst[o + 11] = c2;
      dst[o + 12] = c3 >>> 24; dst[o + 13] = c3 >>> 16; dst[o + 14] = c3 >>> 8; dst[o + 15] = c3;
      if (encrypting) this._ghash(c0, c1, c2, c3);
      else this._ghash(p0, p1, p2, p3);
    }
    if (o < n) {
      ctr = (ctr + 1) | 0;
      aes.encryptWords(j0, j1, j2, ctr, ks);
      const w = [0, 0, 0, 0];
      for (let k = 0; o < n; o++, k++) {
        const c = src[o] ^ ((ks[k >> 2] >>> (24 - 8 * (k & 3))) & 255);
        dst[o] = c;
        w[k >> 2] |= (encrypting ? c : src[o]) << (24 - 8 * (k & 3));
      }
      this._ghash(w[0], w[1], w[2], w[3]);
    }
  }

  /** Tag = E_K(J0) ^ GHASH, written as 16 bytes into out at offset. */
  _tag(j, out, offset) {
    this.aes.encryptWords(j[0], j[1], j[2], j[3], this.ks);
    for (let i = 0; i < 16; i++) {
      out[offset + i] = (this.ks[i >> 2] ^ this.Y[i >> 2]) >>> (24 - 8 * (i & 3));
    }
    this.ks.fill(0);
  }

  /** Encrypt: returns ciphertext || 16-byte tag. */
  encrypt(nonce, plaintext, aad) {
    const iv = toBytes(nonce), pt = toBytes(plaintext), a = toBytes(aad);
    if (pt.length > MAX_BYTES) throw new RangeError('AES-GCM: plaintext too long');
    const j = new Int32Array(4);
    this._j0(iv, j);
    const out = new Uint8Array(pt.length + 16);
    this.Y.fill(0);
    this._ghashBytes(a);
    this._crypt(j, pt, out.subarray(0, pt.length), true);
    this._ghashLengths(a.length, pt.length);
    this._tag(j, out, pt.length);
    this.Y.fill(0);
    return out;
  }

  /** Decrypt ciphertext || tag; throws if the tag does not verify. */
  decrypt(nonce, data, aad) {
    const iv = toBytes(nonce), d = toBytes(data), a = toBytes(aad);
    if (d.length < 16) throw new Error('AES-GCM: data shorter than the tag');
    const n = d.length - 16;
    const j = new Int32Array(4);
    this._j0(iv, j);
    const out = new Uint8Array(n);
    this.Y.fill(0);
    this._ghashBytes(a);
    this._crypt(j, d.subarray(0, n), out, false);
    this._ghashLengths(a.length, n);
    const expected = new Uint8Array(16);
    this._tag(j, expected, 0);
    this.Y.fill(0);
    let diff = 0;
    for (let i = 0; i < 16; i++) diff |= expected[i] ^ d[n + i];
    if (diff !== 0) {
      out.fill(0);
      throw new Error('AES-GCM: authentication failed');
    }
    return out;
  }

  /** Overwrite key material. */
  destroy() {
    this.aes.destroy();
    this.M.fill(0);
  }
}
