// Benchmark of the browser crypto fallback (assets/js/crypto) against Node's WebCrypto.
// Usage: node benches/js-crypto.mjs [--runs N]   (N timed runs per row, best is shown; default 2)
// Times are wall-clock. Our code runs synchronously on this thread, so its process CPU time
// is also shown ("cpu"): on a busy machine that is the fairer number.
// Targets (issue): PBKDF2 600,000 iterations under ~3 s, AES-256-GCM >= 30 MiB/s.

import os from 'node:os';
import { sha256 } from '../assets/js/crypto/sha256.js';
import { sha512 } from '../assets/js/crypto/sha512.js';
import { pbkdf2 } from '../assets/js/crypto/pbkdf2.js';
import { AesGcm } from '../assets/js/crypto/gcm.js';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Math.max(1, Number(process.argv[runsArg + 1]) || 1) : 2;
const subtle = globalThis.crypto.subtle;
const MiB = 1 << 20;
const ITER = 600000;

function random(n) {
  const b = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(b.subarray(o, Math.min(n, o + 65536)));
  return b;
}

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
let lastCpu = 0; // CPU ms of the best run of the last best() call

async function best(fn) {
  let min = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const c = cpuMs();
    const t = performance.now();
    await fn();
    const wall = performance.now() - t;
    if (wall < min) { min = wall; lastCpu = cpuMs() - c; }
  }
  return min;
}

const row = (what, ours, oursCpu, web, unit, target) => {
  const f = (x) => (unit === 's' ? (x / 1000).toFixed(2) + ' s' : x.toFixed(1) + ' MiB/s');
  console.log(`${what.padEnd(30)} ours ${f(ours).padStart(11)} (cpu ${f(oursCpu).padStart(11)})` +
    `   webcrypto ${f(web).padStart(11)}   ${target}`);
};

console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu?'} x${os.cpus().length}, ` +
  `load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, best of ${RUNS} run(s)\n`);

const password = new TextEncoder().encode('correct horse battery staple');
const salt = random(32);

// Warm the JIT on small inputs first so the timed runs measure optimised code.
pbkdf2('SHA-256', password, salt, 20000, 32);
pbkdf2('SHA-512', password, salt, 20000, 64);
new AesGcm(random(32)).encrypt(random(12), random(MiB));
sha256(random(MiB));
sha512(random(MiB));

for (const [hash, len] of [['SHA-256', 32], ['SHA-512', 64]]) {
  const ours = await best(() => pbkdf2(hash, password, salt, ITER, len));
  const oursCpu = lastCpu;
  const key = await subtle.importKey('raw', password, 'PBKDF2', false, ['deriveBits']);
  const web = await best(() => subtle.deriveBits({ name: 'PBKDF2', hash, salt, iterations: ITER }, key, len * 8));
  const ok = ours < 3000 ? 'OK' : 'MISS';
  row(`PBKDF2-HMAC-${hash} ${ITER} it`, ours, oursCpu, web, 's', `target < 3 s: ${ok}`);
}

{
  const size = 16 * MiB;
  const keyBytes = random(32), iv = random(12), aad = random(64), data = random(size);
  const g = new AesGcm(keyBytes);
  const key = await subtle.importKey('raw', keyBytes, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const params = { name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 };
  let sealed;
  const encOurs = await best(() => { sealed = g.encrypt(iv, data, aad); });
  const encCpu = lastCpu;
  const encWeb = await best(() => subtle.encrypt(params, key, data));
  const rate = (ms) => (size / MiB) / (ms / 1000);
  row('AES-256-GCM encrypt 16 MiB', rate(encOurs), rate(encCpu), rate(encWeb), 'MiB/s', `target >= 30 MiB/s: ${rate(encOurs) >= 30 ? 'OK' : 'MISS'}`);
  const decOurs = await best(() => g.decrypt(iv, sealed, aad));
  const decCpu = lastCpu;
  const decWeb = await best(() => subtle.decrypt(params, key, sealed));
  row('AES-256-GCM decrypt 16 MiB', rate(decOurs), rate(decCpu), rate(decWeb), 'MiB/s', `target >= 30 MiB/s: ${rate(decOurs) >= 30 ? 'OK' : 'MISS'}`);

  const shaOurs = await best(() => sha256(data));
  const shaCpu = lastCpu;
  const shaWeb = await best(() => subtle.digest('SHA-256', data));
  row('SHA-256 16 MiB', rate(shaOurs), rate(shaCpu), rate(shaWeb), 'MiB/s', '');
  const sha5Ours = await best(() => sha512(data));
  const sha5Cpu = lastCpu;
  const sha5Web = await best(() => subtle.digest('SHA-512', data));
  row('SHA-512 16 MiB', rate(sha5Ours), rate(sha5Cpu), rate(sha5Web), 'MiB/s', '');
}
