// Runs inside the page: random inputs through WebCrypto and through our fallback, which must
// agree byte for byte (and each must open what the other sealed). Returns a list of failures.
const { nativeCrypto, fallbackCrypto, randomBytes } = await import('/js/crypto/index.js');
const { toHex } = await import('/js/crypto/util.js');
if (!globalThis.crypto || !globalThis.crypto.subtle) throw new Error('no crypto.subtle in this page');
const n = nativeCrypto();
const f = fallbackCrypto();
const rint = (lo, hi) => lo + Math.floor(Math.random() * (hi - lo + 1));
const failures = [];
let checked = 0;
const same = async (what, a, b) => {
  checked++;
  const [x, y] = [toHex(await a), toHex(await b)];
  if (x !== y) failures.push(`${what}: webcrypto ${x.slice(0, 64)}... fallback ${y.slice(0, 64)}...`);
};
for (let i = 0; i < 40; i++) {
  const data = randomBytes(rint(0, 70000));
  await same(`sha256 len ${data.length}`, n.sha256(data), f.sha256(data));
  await same(`sha512 len ${data.length}`, n.sha512(data), f.sha512(data));
  const key = randomBytes(rint(1, 200));
  for (const h of ['SHA-256', 'SHA-512']) await same(`hmac ${h}`, n.hmac(h, key, data), f.hmac(h, key, data));
  const [ikm, salt, info, len] = [randomBytes(rint(1, 80)), randomBytes(rint(0, 80)), randomBytes(rint(0, 80)), rint(1, 255 * 32)];
  await same(`hkdf len ${len}`, n.hkdf(ikm, salt, info, len), f.hkdf(ikm, salt, info, len));
  const gk = randomBytes(32), iv = randomBytes(12), aad = randomBytes(rint(0, 64));
  const sealedN = await n.aesGcmEncrypt(gk, iv, data, aad);
  await same(`gcm encrypt len ${data.length}`, sealedN, f.aesGcmEncrypt(gk, iv, data, aad));
  await same(`gcm fallback opens webcrypto len ${data.length}`, f.aesGcmDecrypt(gk, iv, sealedN, aad), data);
  await same(`gcm webcrypto opens fallback len ${data.length}`, n.aesGcmDecrypt(gk, iv, await f.aesGcmEncrypt(gk, iv, data, aad), aad), data);
}
for (let i = 0; i < 6; i++) {
  const h = i % 2 ? 'SHA-512' : 'SHA-256';
  const [pw, salt, it, len] = [randomBytes(rint(1, 100)), randomBytes(rint(0, 64)), rint(1, 3000), rint(1, 130)];
  await same(`pbkdf2 ${h} it ${it} len ${len}`, n.pbkdf2(h, pw, salt, it, len), f.pbkdf2(h, pw, salt, it, len));
}
// The V4 key derivation's real cost: PBKDF2-HMAC-SHA256 at 600,000 iterations, both ways.
const pw = new TextEncoder().encode('secret-from-the-url:password');
const salt = randomBytes(32);
const t0 = performance.now();
await same('pbkdf2 600000', n.pbkdf2('SHA-256', pw, salt, 600000, 32), f.pbkdf2('SHA-256', pw, salt, 600000, 32));
return { checked, failures, ms600k: Math.round(performance.now() - t0) };
