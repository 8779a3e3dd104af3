// Renderer memory and speed of browser uploads and downloads: starts qopy on a free loopback
// port with a temporary data directory, opens its page in headless Chromium, shares a file of
// each given size through the Share Files tab (as a user would), then downloads it from its
// link in each of the three download paths of assets/app/sink.js:
//   picker  the save picker (answered by the page's own origin-private file system, so the
//           page's real picker sink writes to a real file),
//   stream  no picker: the service worker streams to Chromium's downloads,
//   blob    no picker and no service worker (as on a plain-HTTP LAN address): Blob parts.
// The resident memory of Chromium's renderer processes (the page's and the worker's) is
// sampled every 100 ms. Prints, per size: upload and download MiB/s and the renderer's peak
// above its level after the page loaded; the saved size is checked.
//
//   NODE_PATH=/path/to/node_modules node benches/browser-memory.mjs [MiB ...]   (default 256 1024 2048)
//
// Needs playwright-core (npm, test tooling only: `npm install playwright-core` in any
// directory and point NODE_PATH at its node_modules), Debian's chromium at /usr/bin/chromium,
// and a qopy binary ($QOPY_BIN, default target/release/qopy). Only 127.0.0.1 is contacted.
// PATHS=picker,stream,blob chooses the download paths.
// BASELINES=1 adds rows of the same work without Qopy's client (see bareUpload below).
// FALLBACK=1 downloads without WebCrypto (the page then decrypts with assets/js/crypto, as on
// a plain-HTTP address).
// CPU=1 prints the CPU seconds the server and each kind of Chromium process spent on each step.
// PROFILE=1 prints the page's JavaScript CPU profile of each step. EXPOSE_GC=1 collects the
// download page's garbage every 300 ms, which tells garbage from memory the page holds.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, createWriteStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(process.env.NODE_PATH || process.cwd(), 'x.js'));
const { chromium } = require('playwright-core');
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MIB = 1024 * 1024;
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
if (!sizes.length) sizes.push(256, 1024, 2048);
const paths = (process.env.PATHS || 'picker,stream,blob').split(',').filter(Boolean);

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** The parent process id of `pid` (0 when it is gone). */
function parentOf(pid) {
  try { return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]); } catch { return 0; }
}

/** The browser process started with the argument `marker` (not one of its children). */
function browserPid(marker) {
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (args.includes(marker) && !args.some((a) => a.startsWith('--type='))) return Number(pid);
    } catch { /* gone */ }
  }
  throw new Error('the browser process was not found');
}

/**
 * Resident KiB of the renderer processes (`--type=renderer`) of the Chromium whose browser
 * process is `root` (other Chromiums on the machine are not counted).
 */
function rendererKiB(root) {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      let p = Number(pid);
      for (let i = 0; i < 8 && p > 1 && p !== root; i++) p = parentOf(p);
      if (p !== root) continue;
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
  }
  return total;
}

/** CPU seconds (user + system) of `pid` so far (0 when it is gone). */
function cpuSecs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch { return 0; }
}

/**
 * CPU seconds so far of the server (`server`) and of the Chromium whose browser process is
 * `root`, by process kind (browser, renderer, utility = the network service and storage, ...).
 */
function cpuByKind(root, server) {
  const out = { server: cpuSecs(server), browser: cpuSecs(root) };
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split(/[\0 ]/);
      const type = args.find((a) => a.startsWith('--type='));
      if (!type) continue;
      let p = Number(pid);
      for (let i = 0; i < 8 && p > 1 && p !== root; i++) p = parentOf(p);
      if (p !== root) continue;
      const sub = args.find((a) => a.startsWith('--utility-sub-type='));
      const kind = sub ? sub.slice(19).split('.')[0] : type.slice(7); // network, storage, ...
      out[kind] = (out[kind] || 0) + cpuSecs(pid);
    } catch { /* gone */ }
  }
  return out;
}

/** With PROFILE=1: the page's JavaScript CPU profile around `run`, printed as its top functions by self time. */
async function profiled(page, label, run) {
  if (!process.env.PROFILE) return run();
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Profiler.enable');
  await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
  await cdp.send('Profiler.start');
  try { return await run(); } finally {
    const { profile } = await cdp.send('Profiler.stop');
    const self = new Map();
    const dt = new Map();
    for (let i = 0; i < profile.samples.length; i++) dt.set(profile.samples[i], (dt.get(profile.samples[i]) || 0) + (profile.timeDeltas[i + 1] || 0));
    for (const n of profile.nodes) {
      const f = n.callFrame;
      const k = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber + 1}`;
      self.set(k, (self.get(k) || 0) + (dt.get(n.id) || 0));
    }
    console.error(`[profile ${label}]`);
    for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.error(`  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  }
}

async function writeFile(path, mib) {
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++) {
    if (!out.write(randomBytes(MIB))) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}

/**
 * With BASELINES=1, the same work without Qopy's client, on the same server and browser, so
 * that a row can be compared with what this browser can do at all on this machine:
 *   upload bare     three dedicated workers read the file 5 MiB at a time, seal it in 1 MiB
 *                   records with WebCrypto AES-GCM and PUT each chunk as a Blob to an upload
 *                   session (then cancelled): the work of any encrypted upload here;
 *   download bare   the page fetches the clip and opens its 1 MiB records with WebCrypto (with
 *                   a made-up key, so each fails its tag check after the same work), writing
 *                   nothing;
 *   picker sink     1 MiB pieces, made in the page, written through the page's picker sink:
 *   stream sink     and its service-worker sink (no network, no decryption): the browser's
 *                   own cost of saving the bytes.
 */
const BARE_UPLOAD_WORKER = `
onmessage = async (e) => {
  const { file, chunks, chunkSize, uploadId, origin } = e.data;
  const REC = 1 << 20, PLAIN = REC - 16, perChunk = chunkSize / REC;
  const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['encrypt']);
  for (const n of chunks) {
    const from = n * perChunk * PLAIN, to = Math.min(file.size, from + perChunk * PLAIN);
    const plain = new Uint8Array(await file.slice(from, to).arrayBuffer());
    const sealed = [];
    for (let o = 0; o < plain.length; o += PLAIN) {
      sealed.push(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, plain.subarray(o, Math.min(plain.length, o + PLAIN))));
    }
    const res = await fetch(origin + '/api/upload/chunk/' + uploadId + '/' + n, { method: 'PUT', body: new Blob(sealed) });
    await res.text();
    if (!res.ok) { postMessage('chunk ' + n + ': HTTP ' + res.status); return; }
  }
  postMessage('');
};`;

/** In a page whose Content-Security-Policy is bypassed (the worker comes from a blob: URL). */
async function bareUpload(page) {
  const error = await page.evaluate(async (source) => {
    const workerUrl = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    const file = document.getElementById('bench-file').files[0];
    const { chunkSize } = await (await fetch('/api/config')).json();
    const REC = 1 << 20, PLAIN = REC - 16, perChunk = chunkSize / REC;
    const totalChunks = Math.ceil(file.size / (perChunk * PLAIN));
    const filesize = file.size + 16 * Math.ceil(file.size / PLAIN);
    const init = await (await fetch('/api/upload/initiate', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ filename: 'bare', filesize, totalChunks, mimeType: 'application/octet-stream', contentType: 'file', isTextContent: false }) })).json();
    const lanes = [[], [], []];
    for (let n = 0; n < totalChunks; n++) lanes[Math.floor((n * 3) / totalChunks)].push(n);
    const answers = await Promise.all(lanes.map((chunks) => new Promise((resolve) => {
      const w = new Worker(workerUrl);
      w.onmessage = (e) => { w.terminate(); resolve(e.data); };
      w.onerror = (e) => { w.terminate(); resolve(`the worker failed: ${e.message}`); };
      w.postMessage({ file, chunks, chunkSize, uploadId: init.uploadId, origin: location.origin });
    })));
    await fetch('/api/upload/' + init.uploadId, { method: 'DELETE' });
    return answers.filter(Boolean).join('; ');
  }, BARE_UPLOAD_WORKER);
  if (error) throw new Error(`upload bare: ${error}`);
}

async function bareDownload(page, clipId) {
  await page.evaluate(async (id) => {
    const key = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(32)), 'AES-GCM', false, ['decrypt']);
    const res = await fetch('/api/file/' + id, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    const reader = res.body.getReader({ mode: 'byob' });
    let buf = new ArrayBuffer(256 * 1024), rec = new Uint8Array((1 << 20) + 16), fill = 0;
    const open = async (r) => { try { await crypto.subtle.decrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, key, r); } catch { /* made-up key */ } };
    for (;;) {
      const { done, value } = await reader.read(new Uint8Array(buf));
      if (done) break;
      buf = value.buffer;
      for (let v = value; v.length;) {
        const n = Math.min(v.length, rec.length - fill);
        rec.set(v.subarray(0, n), fill);
        fill += n;
        v = v.subarray(n);
        if (fill === rec.length) { await open(rec); fill = 0; }
      }
    }
    if (fill) await open(rec.subarray(0, fill));
  }, clipId);
}

async function bareSink(page, kind, mib) {
  await page.evaluate(async ([kind, mib]) => {
    window.showSaveFilePicker = kind === 'picker'
      ? async (o) => (await navigator.storage.getDirectory()).getFileHandle(o.suggestedName, { create: true }) : undefined;
    const { makeSink } = await import('/app/sink.js');
    const sink = await makeSink('BASELINE');
    if (sink.start) await sink.start({ name: 'baseline.bin', size: mib * (1 << 20) });
    for (let i = 0; i < mib; i++) { const a = new Uint8Array(1 << 20); a[0] = i; await sink.write(a); }
    await sink.close();
    if (kind === 'picker') {
      const root = await navigator.storage.getDirectory();
      for await (const [name] of root.entries()) await root.removeEntry(name);
    }
  }, [kind, mib]);
}

const dir = mkdtempSync(join(tmpdir(), 'qopy-browser-memory-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const bin = process.env.QOPY_BIN || join(ROOT, 'target/release/qopy');
const server = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'),
  '--rate-limits', 'off', '--max-file-size', '8GiB'], {
  stdio: ['ignore', process.env.BENCH_DEBUG ? 'inherit' : 'ignore', process.env.BENCH_DEBUG ? 'inherit' : 'ignore'],
  // qopy refuses QOPY_* variables that are not its keys (QOPY_BIN is this script's).
  env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QOPY_'))),
});
try {
  for (let i = 0; ; i++) {
    try { if ((await fetch(`${base}/api/health`)).ok) break; } catch { /* not yet */ }
    if (i > 100) throw new Error('qopy did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const rows = [];
  /** Samples the renderer's memory while `run` runs: { start, peak, secs } in MiB and s. */
  const measure = async (browser, run) => {
    const root = browserPid(browser.marker);
    const start = rendererKiB(root);
    let peak = start;
    const timer = setInterval(() => { peak = Math.max(peak, rendererKiB(root)); }, 100);
    const cpu0 = cpuByKind(root, server.pid);
    const t0 = Date.now();
    try { await run(); } finally { clearInterval(timer); }
    const secs = (Date.now() - t0) / 1000;
    const cpu1 = cpuByKind(root, server.pid);
    const cpu = Object.keys(cpu1).map((k) => `${k} ${(cpu1[k] - (cpu0[k] || 0)).toFixed(1)}`).join(', ');
    return { start: start / 1024, peak: Math.max(peak, rendererKiB(root)) / 1024, secs, cpu };
  };
  const chromiumArgs = (marker) => ['--no-sandbox', '--disable-gpu', ...(process.env.EXPOSE_GC ? ['--js-flags=--expose-gc'] : []),
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', marker];
  const newMarker = () => `--qopy-bench=${randomBytes(8).toString('hex')}`; // finds its browser process
  const launch = async () => {
    const marker = newMarker();
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromiumArgs(marker) });
    return Object.assign(browser, { marker });
  };
  /**
   * A browser with a profile on disk and downloads accepted: { context, marker, close }. The
   * downloads run in one, as a user's browser would: an off-the-record context keeps its
   * storage in memory, with a quota too small for the picker's stand-in file at 2 GiB.
   */
  const launchProfile = async () => {
    const marker = newMarker();
    const profile = mkdtempSync(join(dir, 'profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', args: chromiumArgs(marker), acceptDownloads: true,
    });
    return { context, marker, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
  };
  for (const mib of sizes) {
    const file = join(dir, `upload-${mib}.bin`);
    await writeFile(file, mib);
    let url;
    const browser = await launch();
    try {
      const page = await browser.newPage();
      if (process.env.BENCH_DEBUG) {
        page.on('console', (m) => console.error(`[upload page] ${m.type()}: ${m.text()}`));
        await page.addInitScript(() => {
          const real = window.fetch.bind(window);
          let n = 0;
          window.fetch = async (u, init) => {
            const i = ++n, t = Date.now();
            if (!/chunk/.test(String(u)) || i % 50 === 0 || i > 400) console.log(`fetch ${i} ${init && init.method} ${u}`);
            try {
              const r = await real(u, init);
              if (!/chunk/.test(String(u)) || i > 400) console.log(`answer ${i} ${r.status} after ${Date.now() - t} ms`);
              return r;
            } catch (e) { console.log(`failed ${i} ${e}`); throw e; }
          };
        });
      }
      await page.goto(`${base}/`);
      await page.click('[data-testid=tab-file]');
      await page.setInputFiles('[data-testid=file-input]', file);
      await page.waitForSelector('[data-testid=file-info]');
      await new Promise((r) => setTimeout(r, 500));
      const probe = process.env.BENCH_DEBUG ? setInterval(() => {
        page.evaluate(() => JSON.stringify({ modal: document.getElementById('share-modal').open,
          toasts: document.getElementById('toasts').textContent,
          progress: document.getElementById('file-progress').hidden ? null : document.getElementById('file-progress').textContent.replace(/\s+/g, ' ') }))
          .then((v) => console.error('[probe]', v), (e) => console.error('[probe failed]', e.message));
      }, 5000) : 0;
      const m = await measure(browser, () => profiled(page, 'upload', async () => {
        await page.click('[data-testid=file-submit]');
        // The share dialog, or an error the page shows (then the row says it).
        // A minute plus 25 ms per MiB (40 MiB/s) at most: an upload that stalls is a row too.
        await page.waitForFunction(() => document.getElementById('share-modal').open
          || document.querySelector('#toasts .toast.error'), null, { timeout: 60000 + mib * 25, polling: 200 });
        if (!await page.evaluate(() => document.getElementById('share-modal').open)) {
          throw new Error(`the upload failed: ${await page.textContent('#toasts .toast.error')}`);
        }
      }));
      url = await page.inputValue('[data-testid=share-url]');
      clearInterval(probe);
      rows.push({ mib, what: 'upload', ...m });
    } catch (e) {
      rows.push({ mib, what: 'upload', start: 0, peak: 0, secs: Infinity, note: `FAILED: ${String(e.message).split('\n')[0].slice(0, 80)}` });
      url = null;
    } finally {
      await browser.close();
    }
    if (process.env.BASELINES) {
      const b = await launch();
      try {
        const page = await (await b.newContext({ bypassCSP: true })).newPage();
        await page.goto(`${base}/`);
        await page.evaluate(() => { const i = document.createElement('input'); i.type = 'file'; i.id = 'bench-file'; document.body.append(i); });
        await page.setInputFiles('#bench-file', file);
        rows.push({ mib, what: 'upload bare', ...await measure(b, () => bareUpload(page)) });
        if (url) rows.push({ mib, what: 'download bare', ...await measure(b, () => bareDownload(page, new URL(url).pathname.split('/').pop())) });
      } catch (e) {
        rows.push({ mib, what: 'bare', start: 0, peak: 0, secs: Infinity, note: `FAILED: ${String(e.message).split('\n')[0].slice(0, 100)}` });
      } finally {
        await b.close();
      }
      for (const kind of ['picker', 'stream']) {
        const b2 = await launchProfile();
        try {
          const page = await b2.context.newPage();
          await page.goto(`${base}/`);
          const download = kind === 'stream' ? page.waitForEvent('download', { timeout: 60000 + mib * 25 }) : null;
          rows.push({ mib, what: `${kind} sink`, ...await measure(b2, async () => {
            await bareSink(page, kind, mib);
            if (download) rmSync(await (await download).path(), { force: true });
          }) });
        } catch (e) {
          rows.push({ mib, what: `${kind} sink`, start: 0, peak: 0, secs: Infinity, note: `FAILED: ${String(e.message).split('\n')[0].slice(0, 100)}` });
        } finally {
          await b2.close();
        }
      }
    }
    rmSync(file, { force: true });
    for (const path of url ? paths : []) {
      const b = await launchProfile();
      try {
        const { context } = b;
        const page = await context.newPage();
        if (process.env.BENCH_DEBUG) {
          page.on('console', (m) => console.error(`[page ${path}] ${m.type()}: ${m.text()}`));
          context.on('serviceworker', (w) => w.on('console', (m) => console.error(`[worker] ${m.text()}`)));
        }
        if (path === 'picker') {
          await page.addInitScript(() => {
            window.showSaveFilePicker = async (o) => (await navigator.storage.getDirectory()).getFileHandle(o.suggestedName, { create: true });
          });
        } else {
          await page.addInitScript((blob) => {
            window.showSaveFilePicker = undefined;
            if (blob) Object.defineProperty(Navigator.prototype, 'serviceWorker', { get: () => undefined });
          }, path === 'blob');
        }
        if (process.env.FALLBACK) { // as on a plain-HTTP address: no WebCrypto, our own AES-GCM
          await page.addInitScript(() => Object.defineProperty(Crypto.prototype, 'subtle', { get: () => undefined }));
        }
        if (process.env.EXPOSE_GC) await page.addInitScript(() => setInterval(() => window.gc && window.gc(), 300));
        await page.goto(url);
        await page.waitForSelector('[data-testid=retrieve-reveal]', { state: 'visible' });
        await new Promise((r) => setTimeout(r, 500));
        let size = -1, failed = null;
        const m = await measure(b, () => profiled(page, `download ${path}`, async () => {
          const download = path === 'picker' ? null : page.waitForEvent('download', { timeout: 60000 + mib * 25 });
          await page.click('[data-testid=retrieve-reveal]');
          await page.waitForSelector('[data-testid=retrieve-result-file]', { state: 'visible', timeout: 60000 + mib * 25 });
          if (download) {
            const d = await download;
            const p = await d.path().catch(async (e) => {
              if (path === 'blob') return null; // Chromium cancels big Blob downloads (see sink.js)
              const shown = await page.evaluate(() => ['retrieve-error', 'retrieve-result-file', 'retrieve-progress']
                .map((id) => `${id}: ${document.getElementById(id).hidden ? '(hidden)' : document.getElementById(id).textContent.trim()}`).join(' | '));
              throw new Error(`${path} download of ${mib} MiB: ${e.message}; the page: ${shown}`);
            });
            if (p === null) {
              size = null;
              failed = await d.failure();
            } else {
              size = statSync(p).size;
              rmSync(p, { force: true });
            }
          } else {
            size = await page.evaluate(async () => {
              const root = await navigator.storage.getDirectory();
              let n = -1;
              for await (const [name, h] of root.entries()) { n = (await h.getFile()).size; await root.removeEntry(name); }
              return n;
            });
          }
        }));
        if (size !== null && size !== mib * MIB) throw new Error(`${path}: saved ${size} bytes, want ${mib * MIB}`);
        const warned = await page.isVisible('[data-testid=retrieve-big-note]');
        rows.push({ mib, what: `download ${path}`, ...m, note: [failed ? `the browser failed the download (${failed})` : '', warned ? 'page warned about the size' : ''].filter(Boolean).join('; ') });
      } catch (e) {
        rows.push({ mib, what: `download ${path}`, start: 0, peak: 0, secs: Infinity, note: `FAILED: ${String(e.message).split('\n')[0].slice(0, 100)}` });
      } finally {
        await b.close();
      }
    }
  }
  console.log('file MiB | what            | MiB/s | renderer MiB at start | peak | above start | seconds | note');
  for (const r of rows) {
    console.log(`${String(r.mib).padStart(8)} | ${r.what.padEnd(15)} | ${(r.mib / r.secs).toFixed(0).padStart(5)} | ${r.start.toFixed(0).padStart(21)} | ${r.peak.toFixed(0).padStart(4)} | ${(r.peak - r.start).toFixed(0).padStart(11)} | ${r.secs.toFixed(1).padStart(7)} | ${r.note || ''}`);
  }
  if (process.env.CPU) {
    console.log('CPU seconds (user + system) by process during each step:');
    for (const r of rows) if (r.cpu) console.log(`${String(r.mib).padStart(8)} | ${r.what.padEnd(15)} | ${r.cpu}`);
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
