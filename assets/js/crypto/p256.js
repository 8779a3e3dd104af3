// p256.js — NIST P-256 (secp256r1) for ECDH, in BigInt: field arithmetic mod p, Jacobian point
// doubling and addition, scalar multiplication, decoding and validation of uncompressed SEC1
// points, public keys from private scalars, and the ECDH shared x coordinate.
//
// This is the plain-HTTP fallback only. WebCrypto is used wherever it exists (index.js picks
// it by feature detection); this code runs on origins that are not secure contexts, where
// crypto.subtle is missing. BigInt arithmetic is NOT constant-time: multiplication and `%`
// take time that depends on the operands, and the window loop reads a table at a
// secret-dependent index. A local attacker able to time many operations of this page could in
// principle learn something about a private key. That is acceptable here because on a
// plain-HTTP origin an attacker on the network can already replace the page itself, which is
// a far stronger attack; nothing better is available there without a build step or WASM.
// Private keys are fresh per drop box (and per wrap for ephemeral keys), which also limits
// how many operations any one key takes part in.

import { toBytes, toHex, fromHex } from './util.js';

/** The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1. */
export const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
/** The order n of the base point (the curve's cofactor is 1). */
export const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
/** The curve is y^2 = x^3 - 3x + B. */
export const B = 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

/** Length of an uncompressed SEC1 point: 0x04 || X (32) || Y (32). */
export const PUBLIC_KEY_LENGTH = 65;
/** Length of a private scalar and of the ECDH shared secret. */
export const SCALAR_LENGTH = 32;

// ---- field arithmetic mod p ---------------------------------------------------------------

const mod = (a) => {
  const r = a % P;
  return r < 0n ? r + P : r;
};
const mul = (a, b) => (a * b) % P; // operands are already in [0, p)
const sqr = (a) => (a * a) % P;

/** a^e mod p by square-and-multiply (e >= 0). */
function powMod(a, e) {
  let r = 1n;
  let b = a;
  while (e > 0n) {
    if (e & 1n) r = mul(r, b);
    b = sqr(b);
    e >>= 1n;
  }
  return r;
}

/** 1/a mod p by Fermat's little theorem (a must not be 0). */
const inv = (a) => powMod(a, P - 2n);

/** Is (x, y) on the curve? Both coordinates must already be in [0, p). */
function onCurve(x, y) {
  return sqr(y) === mod(x * sqr(x) - 3n * x + B);
}

// ---- points in Jacobian coordinates: (X, Y, Z) stands for (X/Z^2, Y/Z^3); Z = 0 is infinity ---

const INFINITY = Object.freeze({ x: 1n, y: 1n, z: 0n });
const G = Object.freeze({ x: GX, y: GY, z: 1n });

/** 2P, with the a = -3 shortcut (Bernstein–Lange "dbl-2001-b"). */
function double(p) {
  if (p.z === 0n || p.y === 0n) return INFINITY;
  const delta = sqr(p.z);
  const gamma = sqr(p.y);
  const beta = mul(p.x, gamma);
  const alpha = mul(3n * mod(p.x - delta) % P, (p.x + delta) % P);
  const x = mod(sqr(alpha) - 8n * beta);
  const z = mod(sqr(p.y + p.z) - gamma - delta);
  const y = mod(alpha * mod(4n * beta - x) - 8n * sqr(gamma));
  return { x, y, z };
}

/** P + Q for any two points, including equal, opposite and infinite ones ("add-2007-bl"). */
function add(p, q) {
  if (p.z === 0n) return q;
  if (q.z === 0n) return p;
  const z1z1 = sqr(p.z);
  const z2z2 = sqr(q.z);
  const u1 = mul(p.x, z2z2);
  const u2 = mul(q.x, z1z1);
  const s1 = mul(mul(p.y, q.z), z2z2);
  const s2 = mul(mul(q.y, p.z), z1z1);
  const h = mod(u2 - u1);
  const r = mod(2n * (s2 - s1));
  if (h === 0n) return r === 0n ? double(p) : INFINITY;
  const i = sqr(2n * h);
  const j = mul(h, i);
  const v = mul(u1, i);
  const x = mod(sqr(r) - j - 2n * v);
  const y = mod(r * mod(v - x) - 2n * mul(s1, j));
  const z = mul(mod(sqr(p.z + q.z) - z1z1 - z2z2), h);
  return { x, y, z };
}

/** The affine coordinates of a finite point. */
function toAffine(p) {
  const zi = inv(p.z);
  const zi2 = sqr(zi);
  return { x: mul(p.x, zi2), y: mul(p.y, mul(zi2, zi)) };
}

/** [0, P, 2P, ..., 15P]: the table of the 4-bit window. */
function windowTable(p) {
  const t = [INFINITY, p];
  for (let i = 2; i < 16; i++) t.push(i % 2 === 0 ? double(t[i / 2]) : add(t[i - 1], p));
  return t;
}

let baseTable = null; // the base point's table, made on first use

/** k·P for a scalar 0 < k < n, by a fixed 4-bit window from the most significant end. */
function multiply(k, table) {
  let r = INFINITY;
  for (let shift = 252n; shift >= 0n; shift -= 4n) {
    r = double(double(double(double(r))));
    r = add(r, table[Number((k >> shift) & 15n)]);
  }
  return r;
}

// ---- encodings -----------------------------------------------------------------------------

const toBig = (bytes) => BigInt('0x' + (toHex(bytes) || '0'));
const to32 = (v) => fromHex(v.toString(16).padStart(64, '0'));

/** Why a public key was refused. */
export class InvalidPointError extends Error {
  constructor(reason) {
    super('P-256: invalid public key (' + reason + ')');
    this.name = 'InvalidPointError';
  }
}

/**
 * Decode and validate an uncompressed SEC1 point: exactly 65 bytes, prefix 0x04, both
 * coordinates below p, and on the curve (which also excludes the point at infinity, which
 * has no 65-byte encoding; the cofactor is 1, so every such point has order n).
 * Returns { x, y } as BigInts; throws InvalidPointError otherwise.
 */
export function decodePoint(bytes) {
  const b = toBytes(bytes);
  if (b.length === 1 && b[0] === 0) throw new InvalidPointError('the point at infinity');
  if (b.length !== PUBLIC_KEY_LENGTH) throw new InvalidPointError('not 65 bytes');
  if (b[0] !== 0x04) throw new InvalidPointError('not an uncompressed point');
  const x = toBig(b.subarray(1, 33));
  const y = toBig(b.subarray(33, 65));
  if (x >= P || y >= P) throw new InvalidPointError('coordinate not below p');
  if (!onCurve(x, y)) throw new InvalidPointError('not on the curve');
  return { x, y };
}

/** Encode affine { x, y } as 0x04 || X || Y. */
export function encodePoint({ x, y }) {
  const out = new Uint8Array(PUBLIC_KEY_LENGTH);
  out[0] = 0x04;
  out.set(to32(x), 1);
  out.set(to32(y), 33);
  return out;
}

/** A private scalar from 32 big-endian bytes, which must encode a value in [1, n-1]. */
function scalarOf(privateKey) {
  const b = toBytes(privateKey);
  if (b.length !== SCALAR_LENGTH) throw new RangeError('P-256: a private key is 32 bytes');
  const k = toBig(b);
  if (k === 0n || k >= N) throw new RangeError('P-256: private key out of range [1, n-1]');
  return k;
}

/** Is `bytes` a valid private key (32 bytes, big-endian, in [1, n-1])? */
export function isValidPrivateKey(bytes) {
  try {
    scalarOf(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * A fresh private key: 32 bytes from `randomBytes(n)`, drawn again until they encode a value in
 * [1, n-1] (rejection, so the key is uniform; a retry happens with probability about 2^-32).
 */
export function generatePrivateKey(randomBytes) {
  for (;;) {
    const b = randomBytes(SCALAR_LENGTH);
    if (isValidPrivateKey(b)) return b;
  }
}

/** The 65-byte uncompressed public key of a 32-byte private key: d·G. */
export function publicKeyFromPrivate(privateKey) {
  const k = scalarOf(privateKey);
  if (!baseTable) baseTable = windowTable(G);
  return encodePoint(toAffine(multiply(k, baseTable)));
}

/**
 * ECDH: the x coordinate (32 bytes) of d·Q for our private key d and the peer's 65-byte public
 * key Q, which is validated first (see decodePoint).
 */
export function ecdh(privateKey, peerPublicKey) {
  const k = scalarOf(privateKey);
  const q = decodePoint(peerPublicKey);
  const r = multiply(k, windowTable({ x: q.x, y: q.y, z: 1n }));
  // Unreachable for a valid point of prime order n and 0 < k < n; kept as a guard.
  if (r.z === 0n) throw new Error('P-256: ECDH result is the point at infinity');
  return to32(toAffine(r).x);
}
