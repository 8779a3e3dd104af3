// dropbox-reference.mjs — "drop-box key wrap v1" and the key fingerprint computed with
// node:crypto (OpenSSL) only: the independent reference that the shared vectors come from and
// that dropbox.test.mjs checks our browser code against. Not a test file itself.

import { createECDH, createHash, hkdfSync, createCipheriv } from 'node:crypto';

const INFO = 'qopy drop-box key wrap v1';

/** The 65-byte public key of a 32-byte private key. */
export function referencePublicKey(privateKey) {
  const e = createECDH('prime256v1');
  e.setPrivateKey(Buffer.from(privateKey));
  return new Uint8Array(e.getPublicKey(null, 'uncompressed'));
}

/** The whole wrap, with the ephemeral private key and the nonce given. */
export function referenceWrap(secret, receiverPublic, boxId, ephemeralPrivate, nonce) {
  const e = createECDH('prime256v1');
  e.setPrivateKey(Buffer.from(ephemeralPrivate));
  const ePub = e.getPublicKey(null, 'uncompressed');
  const z = e.computeSecret(Buffer.from(receiverPublic));
  const salt = Buffer.concat([ePub, Buffer.from(receiverPublic)]);
  const k = Buffer.from(hkdfSync('sha256', z, salt, Buffer.from(INFO), 32));
  const c = createCipheriv('aes-256-gcm', k, Buffer.from(nonce));
  c.setAAD(Buffer.from(boxId, 'utf8'));
  const body = Buffer.concat([c.update(Buffer.from(secret)), c.final(), c.getAuthTag()]);
  return new Uint8Array(Buffer.concat([Buffer.from([1]), ePub, Buffer.from(nonce), body]));
}

/** The fingerprint, by arithmetic on one BigInt (a different method from the browser code's). */
export function referenceFingerprint(publicKey) {
  const h = createHash('sha256').update(Buffer.from(publicKey)).digest();
  let v = BigInt('0x' + h.subarray(0, 13).toString('hex')) >> 4n; // the first 100 bits
  let s = '';
  for (let i = 0; i < 20; i++) {
    s = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'[Number(v & 31n)] + s;
    v >>= 5n;
  }
  return { display: s.match(/.{4}/g).join('-'), link: h.subarray(0, 16).toString('base64url') };
}
