// Drop boxes in headless Chromium on loopback: a receiver page opens a box (the Receive tab),
// a sender page opens the box's link (as after scanning its QR code), sends a text and then a
// file; prints the time from opening the sender page to the text being listed on the
// receiver's page, the send MiB/s of the file (click to "Delivered") and its receive MiB/s
// (Save to the saved file, through the service-worker path), beside an ordinary share of the
// same file in the same browser (Share Files, then its link's Download).
//
//   NODE_PATH=/path/to/node_modules node benches/dropbox-browser.mjs [MiB]   (default 1024)
//
// Needs playwright-core (npm, test tooling only), Debian's chromium at /usr/bin/chromium and
// a qopy binary ($QOPY_BIN, default target/release/qopy). Only 127.0.0.1 is contacted.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, statSync, openSync, writeSync, closeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), 'x.js'));
const { chromium } = require('playwright-core');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIB = 1024 * 1024;
const mib = Number(process.argv[2]) || 1024;
const LONG = 60000 + mib * 40;

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

const dir = mkdtempSync(join(tmpdir(), 'qopy-dropbench-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(process.env.QOPY_BIN || join(ROOT, 'target/release/qopy'), [
  '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'), '--rate-limits', 'off',
  '--max-file-size', '8GiB', '--dropbox-max-bytes', '8GiB',
], {
  stdio: ['ignore', 'ignore', 'inherit'],
  // The server refuses QOPY_* variables it does not know (QOPY_BIN is this script's).
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QOPY_'))),
});
const file = join(dir, 'big.bin');
const fd = openSync(file, 'w');
for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(MIB));
closeSync(fd);
for (let i = 0; i < 100; i++) { try { if ((await fetch(`${base}/health`)).ok) break; } catch { /* not yet */ } await new Promise((r) => setTimeout(r, 100)); }

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const rows = [];
const secs = (t0) => (performance.now() - t0) / 1000;
const noPicker = () => { window.showSaveFilePicker = undefined; };
try {
  // Ordinary share and download of the same file.
  {
    const ctx = await browser.newContext({ acceptDownloads: true });
    const page = await ctx.newPage();
    await page.addInitScript(noPicker);
    await page.goto(`${base}/`);
    await page.click('[data-testid=tab-file]');
    await page.setInputFiles('[data-testid=file-input]', file);
    let t0 = performance.now();
    await page.click('[data-testid=file-submit]');
    await page.waitForFunction(() => document.getElementById('share-modal').open, null, { timeout: LONG });
    rows.push(['ordinary upload, MiB/s', (mib / secs(t0)).toFixed(0)]);
    const url = await page.inputValue('[data-testid=share-url]');
    await page.goto(url);
    await page.waitForSelector('[data-testid=retrieve-reveal]', { state: 'visible' });
    t0 = performance.now();
    const dl = page.waitForEvent('download', { timeout: LONG });
    await page.click('[data-testid=retrieve-reveal]');
    const path = await (await dl).path();
    rows.push(['ordinary download (service worker), MiB/s', (mib / secs(t0)).toFixed(0)]);
    if (statSync(path).size !== mib * MIB) throw new Error('ordinary download: wrong size');
    await ctx.close();
  }
  // The receiver opens a box.
  const rctx = await browser.newContext({ acceptDownloads: true });
  const rx = await rctx.newPage();
  await rx.addInitScript(noPicker);
  await rx.goto(`${base}/`);
  await rx.click('[data-testid=tab-receive]');
  await rx.click('[data-testid=receive-open]');
  const link = await (await rx.waitForFunction(() => {
    const v = document.querySelector('[data-testid=box-link]');
    return v && v.value.includes('#') ? v.value : null;
  })).jsonValue();
  const listed = (n) => rx.waitForFunction((k) => {
    const rows = [...document.querySelectorAll('[data-testid=drop-item]')];
    return rows.length >= k && rows.every((r) => r.dataset.state !== 'opening');
  }, n, { timeout: LONG, polling: 20 });
  // The sender "scans the code": opens the link, sends a text.
  const tctx = await browser.newContext();
  const tx = await tctx.newPage();
  let t0 = performance.now();
  await tx.goto(link);
  await tx.waitForFunction(() => document.getElementById('drop-key').dataset.state === 'checked');
  await tx.fill('[data-testid=drop-text]', 'hello from the phone');
  await tx.click('[data-testid=drop-submit]');
  await listed(1);
  rows.push(['sender page opened -> text listed on the receiver, ms', (secs(t0) * 1000).toFixed(0)]);
  // The file.
  await tx.setInputFiles('[data-testid=drop-files]', file);
  t0 = performance.now();
  await tx.click('[data-testid=drop-submit]');
  await tx.waitForFunction(() => {
    const r = [...document.querySelectorAll('[data-testid=sent-item]')];
    return r.length >= 2 && r.every((e) => e.dataset.state === 'delivered');
  }, null, { timeout: LONG, polling: 50 });
  rows.push(['drop box: send, MiB/s', (mib / secs(t0)).toFixed(0)]);
  await listed(2);
  const clip = await rx.evaluate(() => [...document.querySelectorAll('[data-testid=drop-item]')]
    .find((r) => r.querySelector('[data-testid=item-name]').textContent === 'big.bin').dataset.clip);
  t0 = performance.now();
  const dl = rx.waitForEvent('download', { timeout: LONG });
  await rx.click(`[data-clip="${clip}"] [data-testid=item-save]`);
  const path = await (await dl).path();
  rows.push(['drop box: receive (service worker), MiB/s', (mib / secs(t0)).toFixed(0)]);
  if (statSync(path).size !== mib * MIB) throw new Error('drop-box download: wrong size');
} finally {
  await browser.close();
  server.kill();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`headless Chromium, loopback, ${mib} MiB`);
for (const [what, v] of rows) console.log(`${what.padEnd(56)} ${v}`);
