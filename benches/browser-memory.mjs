// Renderer memory of a browser upload: starts qopy on a free loopback port with a temporary
// data directory, opens its page in headless Chromium, shares a file of each given size
// through the Share Files tab (as a user would) and samples the resident memory of
// Chromium's renderer processes every 100 ms until the share dialog opens. Prints a table:
// the renderer's memory after the page loaded, its peak during the upload, and the growth.
//
//   NODE_PATH=/path/to/node_modules node benches/browser-memory.mjs [MiB ...]   (default 300)
//
// Needs playwright-core (npm, test tooling only: `npm install playwright-core` in any
// directory and point NODE_PATH at its node_modules), Debian's chromium at /usr/bin/chromium,
// and a qopy binary ($QOPY_BIN, default target/release/qopy). Only 127.0.0.1 is contacted.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, createWriteStream, readFileSync, readdirSync } from 'node:fs';
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
if (!sizes.length) sizes.push(300);

const freePort = () => new Promise((resolve, reject) => {
  const s = createServer();
  s.once('error', reject);
  s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
});

/** Resident KiB of every Chromium renderer process (`--type=renderer`). */
function rendererKiB() {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('--type=renderer')) continue;
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/);
      if (m) total += Number(m[1]);
    } catch { /* gone */ }
  }
  return total;
}

async function writeFile(path, mib) {
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++) {
    if (!out.write(randomBytes(MIB))) await new Promise((r) => out.once('drain', r));
  }
  await new Promise((r) => out.end(r));
}

const dir = mkdtempSync(join(tmpdir(), 'qopy-browser-memory-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const bin = process.env.QOPY_BIN || join(ROOT, 'target/release/qopy');
const server = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, 'data'),
  '--rate-limits', 'off', '--max-file-size', '8GiB'], {
  stdio: 'ignore',
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
  for (const mib of sizes) {
    const file = join(dir, `upload-${mib}.bin`);
    await writeFile(file, mib);
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${base}/`);
      await page.click('[data-testid=tab-file]');
      await page.setInputFiles('[data-testid=file-input]', file);
      await page.waitForSelector('[data-testid=file-info]');
      await new Promise((r) => setTimeout(r, 500));
      const start = rendererKiB();
      let peak = start;
      const timer = setInterval(() => { peak = Math.max(peak, rendererKiB()); }, 100);
      const t0 = Date.now();
      await page.click('[data-testid=file-submit]');
      await page.waitForFunction(() => document.getElementById('share-modal').open, null, { timeout: 600000 });
      clearInterval(timer);
      const secs = (Date.now() - t0) / 1000;
      rows.push({ mib, start: start / 1024, peak: peak / 1024, secs });
    } finally {
      await browser.close();
      rmSync(file, { force: true });
    }
  }
  console.log('file MiB | renderer MiB at start | peak during upload | growth | seconds');
  for (const r of rows) {
    console.log(`${String(r.mib).padStart(8)} | ${r.start.toFixed(0).padStart(21)} | ${r.peak.toFixed(0).padStart(18)} | ${(r.peak - r.start).toFixed(0).padStart(6)} | ${r.secs.toFixed(1)}`);
  }
} finally {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
