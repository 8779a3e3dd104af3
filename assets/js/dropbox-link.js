// dropbox-link.js — the forms of a drop box's address, shared by the receiver's tab and the
// sender's page (and the same as the command line's): the link `BASE/drop/ID#FP`, where ID is
// 8 characters of Crockford base32 (0-9 and A-Z without I, L, O, U; any letter case) and FP
// the link form of the box key's fingerprint (22 base64url characters, dropbox-crypto.js);
// the short code shown to people, ID as ABCD-EFGH.

const ID_RE = /^[0-9A-HJKMNP-TV-Z]{8}$/;
const FP_RE = /^[A-Za-z0-9_-]{22}$/;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** An ID as people read it: ABCD-EFGH. */
export function formatBoxId(id) {
  const s = String(id || '').toUpperCase();
  return s.length === 8 ? `${s.slice(0, 4)}-${s.slice(4)}` : s;
}

/** A typed code (with or without the dash, spaces, any case) → the ID, or null. */
export function parseBoxCode(raw) {
  const s = String(raw || '').replace(/[\s-]+/g, '').toUpperCase();
  return ID_RE.test(s) ? s : null;
}

/**
 * What a person typed or pasted into "Send to a drop box": a whole link (…/drop/ID#FP, the
 * fragment optional) or a short code. → { id, fp } (fp '' when there is none), or null.
 */
export function parseDropInput(raw) {
  const s = String(raw || '').trim();
  const m = s.match(/\/drop\/([A-Za-z0-9]{8})\/?(?:#(.*))?$/);
  if (m) {
    const id = parseBoxCode(m[1]);
    return id ? { id, fp: m[2] || '' } : null;
  }
  const id = parseBoxCode(s);
  return id ? { id, fp: '' } : null;
}

/** The box ID of a page path `/drop/ID` (any case, a trailing slash allowed), or null. */
export function boxIdOfPath(pathname) {
  const m = String(pathname || '').match(/^\/drop\/([A-Za-z0-9]{8})\/?$/);
  return m ? parseBoxCode(m[1]) : null;
}

/** True for a fingerprint's link form (what follows # in a box link). */
export function isFingerprintLink(fp) { return FP_RE.test(String(fp || '')); }

/** base64url without padding → bytes (throws on any other character or a bad length). */
export function fromBase64url(s) {
  const str = String(s);
  if (str.length % 4 === 1) throw new RangeError('base64url: bad length');
  const out = new Uint8Array(Math.floor((str.length * 3) / 4));
  let bits = 0, acc = 0, o = 0;
  for (const ch of str) {
    const v = B64URL.indexOf(ch);
    if (v < 0) throw new RangeError('base64url: bad character');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}
