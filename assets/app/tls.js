// tls.js — the start page's certificate box. With tls = "self-signed" the server reports
// the SHA-256 fingerprint of its certificate (GET /api/tls); it is shown with a QR code so a
// phone can check the certificate its browser warns about against the one the server printed
// at start-up. Nothing is shown for tls = "off" or "files" (a certificate a browser trusts).
import { encodeQr, qrToSvg } from '/js/qr.js';

const $ = (id) => document.getElementById(id);

/** Shows the box where it applies; resolves with the server's TLS mode (null if unknown). */
export async function initTls() {
  let info;
  try {
    const r = await fetch('/api/tls', { cache: 'no-store' });
    if (!r.ok) return null;
    info = await r.json();
  } catch {
    return null;
  }
  const mode = info && typeof info.mode === 'string' ? info.mode : null;
  const box = $('tls-info');
  const fp = info && info.fingerprintSha256;
  if (!box || mode !== 'self-signed' || typeof fp !== 'string' || !fp) return mode;
  $('tls-fingerprint').textContent = fp;
  const img = $('tls-qr');
  try {
    const svg = qrToSvg(encodeQr(fp, { ecc: 'M' }), { margin: 4, scale: 4 });
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
    img.hidden = false;
  } catch {
    img.hidden = true; // the fingerprint text alone still serves
  }
  box.hidden = false;
  return mode;
}
