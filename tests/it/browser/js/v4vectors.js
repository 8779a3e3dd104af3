// Runs inside the page: every case of tests/vectors/v4.json through assets/js/v4.js.
// args[0]: the vectors; args[1]: 'native' or 'fallback'.
// WebCrypto derives every key; the fallback derives two (each is a 600,000-iteration PBKDF2)
// and uses the vectors' content keys for the rest. Returns { checked, failures }.
const [V, which] = args;
const { nativeCrypto, fallbackCrypto } = await import('/js/crypto/index.js');
const { toHex, fromHex } = await import('/js/crypto/util.js');
const { deriveContentKey, V4Writer, V4Reader, ciphertextLength } = await import('/js/v4.js');
const crypto = which === 'native' ? nativeCrypto() : fallbackCrypto();
const failures = [];
let checked = 0;
const eq = (what, got, want) => {
  checked++;
  if (got !== want) failures.push(`${what}: got ${String(got).slice(0, 80)}, want ${String(want).slice(0, 80)}`);
};
const plaintextOf = (c) => {
  if (c.plaintext_utf8 !== undefined) return new TextEncoder().encode(c.plaintext_utf8);
  if (c.plaintext_hex !== undefined) return fromHex(c.plaintext_hex);
  const p = new Uint8Array(c.plaintext_pattern.length);
  for (let i = 0; i < p.length; i++) p[i] = i % 251;
  return p;
};
const readAll = async (reader, ct, piece) => {
  const parts = [];
  for (let o = 0; o < ct.length; o += piece) parts.push(...await reader.push(ct.subarray(o, o + piece)));
  const meta = await reader.finish();
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return { meta, data: out };
};
const derive = new Set(which === 'native' ? V.cases.map((c) => c.name) : ['unicode_text', 'password']);
const keys = new Map();
for (const c of V.cases) {
  let key = fromHex(c.content_key_hex);
  if (derive.has(c.name)) {
    key = await deriveContentKey(crypto, c.secret, c.password, fromHex(c.salt_hex));
    eq(`${c.name} content key`, toHex(key), c.content_key_hex);
  }
  keys.set(c.name, key);
  const pt = plaintextOf(c);
  const w = await V4Writer.create({
    crypto, secret: c.secret, password: c.password, meta: c.metadata, key,
    recordSize: c.data_record_size, metaSize: c.metadata_record_size,
    salt: fromHex(c.salt_hex), noncePrefix: fromHex(c.nonce_prefix_hex),
  });
  eq(`${c.name} header`, toHex(w.header), c.header_hex);
  eq(`${c.name} length`, ciphertextLength(c.metadata.size, { recordSize: c.data_record_size, metaSize: c.metadata_record_size }), c.ciphertext_len);
  // Encrypt from a Blob, as the app does with a File.
  eq(`${c.name} ciphertext`, toHex(await w.read(0, w.totalLength, new Blob([pt]))), c.ciphertext_hex);
  const r = new V4Reader({ crypto, secret: c.secret, password: c.password, key });
  const { meta, data } = await readAll(r, fromHex(c.ciphertext_hex), 777);
  // Key order differs between the vectors (as parsed in Rust) and the reader: compare sorted.
  const canon = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  eq(`${c.name} metadata`, canon(meta), canon(c.metadata));
  eq(`${c.name} plaintext`, toHex(data), toHex(pt));
}
for (const n of V.negative) {
  const base = V.cases.find((c) => c.name === n.base);
  const sameKey = base && base.secret === n.secret && base.password === n.password;
  // Without the base's key the reader derives one itself: only WebCrypto does that here.
  if (!sameKey && which !== 'native' && !['bad_header', 'truncated', 'password_required'].includes(n.error)) continue;
  const r = new V4Reader({ crypto, secret: n.secret, password: n.password, key: sameKey ? keys.get(n.base) : null });
  let kind = 'no error';
  try { await readAll(r, fromHex(n.ciphertext_hex), 1000); } catch (e) { kind = e.kind || String(e); }
  const ok = kind === n.error || (n.error === 'reordered' && kind === 'tampered');
  checked++;
  if (!ok) failures.push(`negative ${n.name}: got ${kind}, want ${n.error}`);
}
return { checked, failures };
