// download-worker.js — the service worker of the 'stream' download path (see app/sink.js).
// Scope /download-stream/ only: it answers nothing else. A page of this origin announces a
// download ({ type: 'download', token, name, size } and a MessagePort); the page's hidden
// frame then opens /download-stream/<token>, and this worker answers with a download whose
// body is what the page posts on the port, piece by piece, as the browser asks for more
// (a few pieces asked for ahead, a few MiB queued at most). The worker sees decrypted bytes only,
// never a key, and keeps nothing once the download ends. Each token serves one request.

const PREFIX = '/download-stream/';
const QUEUE_BYTES = 4 * 1024 * 1024;
/** Pieces asked of the page and not yet arrived, at most. */
const AHEAD = 4;
/** An announced download that no frame opened within this time is forgotten. */
const UNCLAIMED_MS = 60000;
const pending = new Map(); // token -> { port, name, size }

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('message', (event) => {
  const d = event.data || {};
  const port = event.ports && event.ports[0];
  if (d.type === 'ping' && port) { port.postMessage({ type: 'pong' }); return; }
  if (d.type !== 'download' || !port) return; // 'keepalive' only keeps the worker running
  if (typeof d.token !== 'string' || !/^[0-9a-f]{32}$/.test(d.token)) return;
  const size = Number.isSafeInteger(d.size) && d.size >= 0 ? d.size : null;
  pending.set(d.token, { port, name: String(d.name || 'download'), size });
  port.postMessage({ type: 'registered' });
  setTimeout(() => {
    const e = pending.get(d.token);
    if (e) { pending.delete(d.token); e.port.close(); }
  }, UNCLAIMED_MS);
});

/** `attachment` with an ASCII fallback name and the exact name (RFC 6266, RFC 8187). */
function disposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`;
}

function respond({ port, name, size }) {
  let wake = null, asked = 0;
  const stream = new ReadableStream({
    start(controller) {
      port.onmessage = (e) => {
        const d = e.data || {};
        if (d.type === 'data') { asked = Math.max(0, asked - 1); controller.enqueue(new Uint8Array(d.buf, d.off, d.len)); }
        else if (d.type === 'end') { controller.close(); port.postMessage({ type: 'ended' }); } else if (d.type === 'abort') { controller.error(new Error('the download was stopped')); port.close(); }
        if (wake) { const w = wake; wake = null; w(); }
      };
      port.postMessage({ type: 'started' });
    },
    pull() {
      // Up to AHEAD pieces are asked for before the first arrives, so the page never waits
      // for a round trip between pieces; then each arrival lets the stream ask for one more.
      port.postMessage({ type: 'pull' });
      asked++;
      if (asked < AHEAD) return undefined;
      return new Promise((resolve) => { wake = resolve; });
    },
    cancel() {
      try { port.postMessage({ type: 'cancelled' }); } catch { /* closed */ }
      port.close();
      if (wake) { const w = wake; wake = null; w(); }
    },
  }, new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }));
  const headers = {
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': disposition(name),
    'Content-Security-Policy': "default-src 'none'; sandbox",
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
  if (size !== null) headers['Content-Length'] = String(size);
  return new Response(stream, { status: 200, headers });
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== self.location.origin || !url.pathname.startsWith(PREFIX)) return;
  const token = url.pathname.slice(PREFIX.length);
  const entry = pending.get(token);
  if (!entry) {
    event.respondWith(new Response('This download has already been delivered or has expired.', {
      status: 404, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    }));
    return;
  }
  pending.delete(token);
  event.respondWith(respond(entry));
});
