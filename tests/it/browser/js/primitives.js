// Runs inside the page as the body of an async function (see Browser::js_async).
// args[0]: tests/vectors/primitives.json; args[1]: true to force our fallback.
// Returns { native, checked, failures: [..] } and never throws on a mismatch, so the Rust side
// can report every failing vector at once.
const [V, forceFallback] = args;
const { getCrypto } = await import('/js/crypto/index.js');
const { toHex, fromHex } = await import('/js/crypto/util.js');
const c = await getCrypto({ forceFallback });
const failures = [];
let checked = 0;
const eq = (what, got, want) => {
  checked++;
  if (got !== want) failures.push(`${what}: got ${got}, want ${want}`);
};
const H = (s) => fromHex(s);
const repeat = (hex, n) => {
  const u = H(hex);
  const out = new Uint8Array(u.length * n);
  for (let i = 0; i < n; i++) out.set(u, i * u.length);
  return out;
};
for (const v of V.sha) {
  const msg = repeat(v.msg, v.repeat);
  eq(`sha256 ${v.name}`, toHex(await c.sha256(msg)), v.sha256);
  eq(`sha512 ${v.name}`, toHex(await c.sha512(msg)), v.sha512);
}
for (const v of V.hmac) {
  for (const [hash, want] of [['SHA-256', v.sha256], ['SHA-512', v.sha512]]) {
    const got = toHex(await c.hmac(hash, H(v.key), H(v.data))).slice(0, want.length);
    eq(`hmac ${hash} ${v.name}`, got, want);
  }
}
for (const v of V.hkdf) {
  eq(`hkdf ${v.name}`, toHex(await c.hkdf(H(v.ikm), H(v.salt), H(v.info), v.length)), v.okm);
}
for (const v of V.pbkdf2) {
  const got = await c.pbkdf2(v.hash, H(v.password), H(v.salt), v.iterations, v.length);
  eq(`pbkdf2 ${v.name}`, toHex(got), v.dk);
}
// GCM: WebCrypto in Chromium may refuse IVs shorter than 96 bits; that refusal is reported
// separately (`refusedShortIv`) instead of as a failure, and the fallback must accept them.
const refusedShortIv = [];
for (const v of V.gcm) {
  const [key, iv, aad, pt] = [H(v.key), H(v.iv), H(v.aad), H(v.pt)];
  let sealed;
  try {
    sealed = await c.aesGcmEncrypt(key, iv, pt, aad);
  } catch (e) {
    if (c.native && iv.length < 12) { refusedShortIv.push(v.name); continue; }
    failures.push(`gcm encrypt ${v.name} threw ${e}`);
    continue;
  }
  eq(`gcm encrypt ${v.name}`, toHex(sealed), v.ct + v.tag);
  eq(`gcm decrypt ${v.name}`, toHex(await c.aesGcmDecrypt(key, iv, sealed, aad)), v.pt);
  const bad = sealed.slice();
  bad[bad.length - 1] ^= 1;
  let refused = false;
  try { await c.aesGcmDecrypt(key, iv, bad, aad); } catch (e) { refused = /authentication failed/.test(String(e)); }
  checked++;
  if (!refused) failures.push(`gcm ${v.name}: a flipped tag bit was accepted or gave the wrong error`);
}
return { native: c.native, checked, failures, refusedShortIv };
