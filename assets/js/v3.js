// v3.js — reads the original Qopy's V3 payloads (reference §5; the Rust twin is src/v4/v3.rs).
//   payload = 0x03 | salt (32) | IV (12) | AES-256-GCM ciphertext || tag (16), no AAD,
//   key = PBKDF2-HMAC-SHA256(utf8(secret) [":" password], salt, 600000, 32).
//   text: payload(text || random(10240 - n) || u32be(n)) when n < 10240, else payload(text).
//   file: payload(u32le(len(env)) || env || padded file), env = payload(metadata JSON), both
//         keyed from the secret alone (the original's access code never entered the key).
// The payload does not say text or file: a file is recognised by an envelope that opens.
// Returns V4-style metadata { kind, name, type, size } and the data without padding.
// Errors are V4Error: not_v3 (not a V3 payload), wrong_key (it does not authenticate).

import { V4Error } from './v4.js';

export const V3_MIN_LEN = 61;
const utf8 = new TextEncoder();

/** The V3 AES key. `password` null/undefined means none. */
export async function deriveKeyV3(crypto, secret, password, salt, onProgress) {
  const input = password === null || password === undefined ? secret : secret + ':' + password;
  return crypto.pbkdf2('SHA-256', utf8.encode(input), salt, 600000, 32, onProgress);
}

/** Opens one V3 payload; throws not_v3 or wrong_key. */
export async function openV3(crypto, secret, password, payload) {
  if (payload.length < V3_MIN_LEN || payload[0] !== 3) {
    throw new V4Error('not_v3', 'unsupported encryption format (not V4, and not V3)');
  }
  const key = await deriveKeyV3(crypto, secret, password, payload.subarray(1, 33));
  try {
    return await crypto.aesGcmDecrypt(key, payload.subarray(33, 45), payload.subarray(45), undefined);
  } catch (e) {
    throw new V4Error('wrong_key', 'wrong secret or password (V3 payload did not authenticate)');
  }
}

/** If `inner` is u32le(L) || envelope || data with an envelope that opens: { meta, data }. */
async function openFile(crypto, secret, inner) {
  if (inner.length < 4) return null;
  const len = (inner[0] | (inner[1] << 8) | (inner[2] << 16) | (inner[3] << 24)) >>> 0;
  if (len < V3_MIN_LEN || 4 + len > inner.length || inner[4] !== 3) return null;
  let v;
  try {
    const json = await openV3(crypto, secret, null, inner.subarray(4, 4 + len));
    v = JSON.parse(new TextDecoder().decode(json));
  } catch (e) {
    return null;
  }
  if (!v || typeof v !== 'object') return null;
  const str = (x) => (typeof x === 'string' ? x : '');
  let data = inner.subarray(4 + len);
  const size = Number(v.size);
  if (Number.isFinite(size) && size >= 0 && size < data.length) data = data.subarray(0, Math.floor(size));
  return { meta: { kind: 'file', name: str(v.filename), type: str(v.mimeType), size: data.length }, data };
}

/** The original's heuristic removal of text padding. */
function stripTextPadding(b) {
  const n = b.length;
  if (n >= 4) {
    const m = ((b[n - 4] << 24) | (b[n - 3] << 16) | (b[n - 2] << 8) | b[n - 1]) >>> 0;
    if (m > 0 && m < n - 4) return b.subarray(0, m);
  }
  return b;
}

/**
 * Decrypts a V3 payload of either kind. With a password, `secret:password` is tried first
 * (text clips mixed it in), then the secret alone (file clips never did).
 */
export async function decryptV3(crypto, secret, password, bytes) {
  let inner;
  if (password !== null && password !== undefined) {
    try {
      inner = await openV3(crypto, secret, password, bytes);
    } catch (e) {
      if (e.kind !== 'wrong_key') throw e;
      inner = await openV3(crypto, secret, null, bytes);
    }
  } else {
    inner = await openV3(crypto, secret, null, bytes);
  }
  const file = await openFile(crypto, secret, inner);
  if (file) return file;
  const data = stripTextPadding(inner);
  return { meta: { kind: 'text', name: '', type: 'text/plain; charset=utf-8', size: data.length }, data };
}
