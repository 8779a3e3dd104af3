// util.js — small shared helpers for the crypto fallback: byte/hex/UTF-8 conversion,
// concatenation, constant-time comparison, and exact derivation of the SHA-2 round
// constants from the primes (BigInt is used here once at module load, never per block).

const HEX = '0123456789abcdef';

/** Uint8Array → lowercase hex string. */
export function toHex(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i] >>> 4] + HEX[bytes[i] & 15];
  return s;
}

/** Hex string (even length, any case) → Uint8Array. */
export function fromHex(hex) {
  if (hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) throw new Error('invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

const encoder = new TextEncoder();

/**
 * Normalise an input to a Uint8Array view without copying where possible.
 * Accepts Uint8Array, any ArrayBufferView, ArrayBuffer, or a string (encoded as UTF-8).
 */
export function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === 'string') return encoder.encode(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TypeError('expected bytes (Uint8Array, ArrayBuffer, ArrayBufferView or string)');
}

/** Concatenate byte arrays into a new Uint8Array. */
export function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** Compare two byte arrays in time that depends only on their lengths. */
export function constantTimeEqual(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Normalise a hash name: 'SHA-256', 'sha256', {name:'SHA-256'} → 'SHA-256' | 'SHA-512'. */
export function hashName(name) {
  const n = String(typeof name === 'object' && name ? name.name : name).toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (n === 'SHA256') return 'SHA-256';
  if (n === 'SHA512') return 'SHA-512';
  throw new Error('unsupported hash: ' + String(name));
}

// ---- SHA-2 constant derivation -------------------------------------------------------

function firstPrimes(count) {
  const primes = [];
  for (let n = 2; primes.length < count; n++) {
    let prime = true;
    for (const p of primes) { if (p * p > n) break; if (n % p === 0) { prime = false; break; } }
    if (prime) primes.push(n);
  }
  return primes;
}

// floor(n^(1/k)) for a BigInt n >= 1 by Newton's method from an overestimate.
function iroot(n, k) {
  const K = BigInt(k);
  let x = 1n << BigInt(Math.ceil(n.toString(2).length / k) + 1);
  for (;;) {
    const y = ((K - 1n) * x + n / (x ** (K - 1n))) / K;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * First `bits` bits of the fractional part of the k-th root of each of the first
 * `count` primes, as BigInts (k = 2 for initial hash values, 3 for round constants).
 */
export function primeRootFractions(count, k, bits) {
  const B = BigInt(bits);
  const mask = (1n << B) - 1n;
  return firstPrimes(count).map((p) => iroot(BigInt(p) << (B * BigInt(k)), k) & mask);
}

/** The same as 32-bit words (for 32-bit constants) in an Int32Array. */
export function words32(fracs) {
  return Int32Array.from(fracs, (v) => Number(BigInt.asIntN(32, v)));
}

/** 64-bit constants split as [hi, lo, hi, lo, ...] signed 32-bit words. */
export function words64(fracs) {
  const out = new Int32Array(fracs.length * 2);
  fracs.forEach((v, i) => {
    out[2 * i] = Number(BigInt.asIntN(32, v >> 32n));
    out[2 * i + 1] = Number(BigInt.asIntN(32, v));
  });
  return out;
}
