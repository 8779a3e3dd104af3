// share-worker.js — the service worker of the share target ("Share → Qopy" on a device where
// Qopy is installed; see /manifest.webmanifest). Scope /share-target only: it answers the
// share sheet's POST there and nothing else. What was shared (title, text, url and files) is
// kept in this browser's IndexedDB (/app/shared-items.js) and the browser is sent to
// /?share=ID, whose page takes it; the POST never reaches the server, so nothing is sent
// before the page has encrypted it. Registered as a module worker by /app/share-in.js in
// secure contexts only (service workers exist nowhere else).
import { keepShared } from '/app/shared-items.js';

const ACTION = '/share-target';

self.addEventListener('install', () => { self.skipWaiting(); });
self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

/** Keeps what the form carries and answers with the page that takes it. */
async function receive(request) {
  let to = '/?share=none';
  try {
    const form = await request.formData();
    const field = (name) => {
      const v = form.get(name);
      return typeof v === 'string' ? v : '';
    };
    const files = form.getAll('files').filter((f) => typeof f !== 'string');
    const id = await keepShared({ title: field('title'), text: field('text'), url: field('url'), files });
    to = `/?share=${id}`;
  } catch (err) {
    // The page says that nothing arrived (share=none is no record's ID).
    console.error('share-worker: the shared items could not be kept', err);
  }
  return Response.redirect(new URL(to, self.location.origin).href, 303);
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'POST' || url.origin !== self.location.origin || url.pathname !== ACTION) return;
  event.respondWith(receive(event.request));
});
