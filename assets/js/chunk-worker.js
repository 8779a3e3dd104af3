// chunk-worker.js — a dedicated worker that uploads chunks of one V4 upload for the page
// (see upload-workers.js): it reads the chunk's plaintext from the File, seals its records,
// makes a Blob of them and PUTs it, then answers with the server's status and body. The
// page's thread did all of this before and was the limit of upload speed. The worker holds
// the content key of one upload; the page ends it after a number of chunks, which also
// frees the Blobs it made (a Blob's bytes live until its object is collected, and a worker
// that made little garbage of its own is seldom collected).

import { V4Writer } from './v4.js';
import { getCrypto } from './crypto/index.js';

let writer = null, source = null;
const running = new Map(); // request id -> AbortController

async function put({ id, url, offset, length, timeoutMs }) {
  const ctl = new AbortController();
  running.set(id, ctl);
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const body = new Blob(await writer.readParts(offset, length, source));
    const res = await fetch(url, {
      method: 'PUT', signal: ctl.signal, headers: { 'Content-Type': 'application/octet-stream' }, body,
    });
    const text = await res.text(); // read to its end: an unread answer keeps the request alive
    return { status: res.status, statusText: res.statusText, retryAfter: res.headers.get('retry-after'), text, size: body.size };
  } catch (err) {
    return { error: String((err && err.message) || err) };
  } finally {
    clearTimeout(timer);
    running.delete(id);
  }
}

self.onmessage = async (e) => {
  const d = e.data || {};
  if (d.type === 'init') {
    const crypto = await getCrypto({ forceFallback: !d.native });
    writer = new V4Writer(crypto, d.key, d.header, d.noncePrefix, d.salt, d.layout, d.prefix);
    source = d.source;
    self.postMessage({ type: 'ready' });
  } else if (d.type === 'put') {
    self.postMessage({ type: 'done', id: d.id, ...(await put(d)) });
  } else if (d.type === 'abort') {
    const ctl = running.get(d.id);
    if (ctl) ctl.abort();
  }
};
