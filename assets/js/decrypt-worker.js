// decrypt-worker.js — a dedicated worker that opens V4 records for a download (see
// decrypt-workers.js): the page hands it whole sealed records, it answers with their
// plaintext and the record's buffer (to be filled again), or with the record alone when it
// fails authentication (the page then tells a reordered record from a tampered one). In Chromium 148 WebCrypto decrypts on the calling
// thread, about 2 ms per 1 MiB record: on the page's thread that was the largest part of a
// download's time, and the page could not read the network meanwhile.

import { getCrypto } from './crypto/index.js';

let provider = null;

self.onmessage = async (e) => {
  const d = e.data || {};
  if (d.type === 'init') {
    try {
      provider = await getCrypto({ forceFallback: !d.native });
      self.postMessage({ type: 'ready' });
    } catch (err) {
      self.postMessage({ type: 'failed' });
    }
    return;
  }
  if (d.type !== 'open') return;
  const rec = new Uint8Array(d.rec);
  let plain = null, error = null;
  try {
    plain = await provider.aesGcmDecrypt(d.key, d.nonce, rec, d.aad);
  } catch (err) {
    // A record that fails authentication goes back for the page's checks; any other
    // failure (memory) goes back too, to be opened on the page.
    if (!/authentication failed/.test(String(err && err.message))) error = String((err && err.message) || err);
  }
  // The record goes back every time: failed, for the page; opened, for the page to fill
  // again (fresh memory for every record cost the page more than copying into it).
  if (plain) {
    self.postMessage({ id: d.id, plain: plain.buffer, off: plain.byteOffset, len: plain.byteLength, rec: rec.buffer }, [plain.buffer, rec.buffer]);
  } else {
    self.postMessage({ id: d.id, rec: rec.buffer, error }, [rec.buffer]);
  }
};
