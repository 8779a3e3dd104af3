//! Browser tests: a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs) driven through WebDriver against the real server. They fail, never
//! skip, when the browser is missing. Screenshots of the main screens (light, dark, German,
//! phone width) go to `target/screenshots/`.
//!
//! - `bigfiles`: 256 MiB and 1 GiB through the upload and the three download paths (save
//!   picker, service worker, Blob parts) in bounded renderer memory; a download cut by a proxy
//!   resumes from a record boundary.
//! - `dropbox`: drop boxes between two sessions (the Receive tab and the sender page): text,
//!   three files, 100 MiB, a resumed upload, a receiver that comes back, fallback and
//!   WebCrypto both ways, a swapped key refused, and the command line both ways.
//! - `driver`: the harness (chromedriver process, session options, waits, screenshots, logs).
//! - `ui`: steps of the app page that several tests share.
//! - `vectors`: the crypto fallback and WebCrypto on the published vectors, inside the page;
//!   the V4 vectors through the browser's V4 code; the fallback on a non-secure origin.
//! - `pages`: every page loads without console errors or CSP violations; dark theme, German,
//!   phone width.
//! - `qr`: the browser's QR encoder decoded back by zbarimg from a screenshot.
//! - `ui_text`: text round trip, the dialog's QR code, Quick Share, access code, one-time,
//!   and the whole flow on a plain-HTTP LAN-like origin.
//! - `ui_file`: a 50 MiB file round trip; an upload interrupted by a server restart.
//! - `interop`: the Rust V4 code and the browser read each other's clips.
//! - `tls_page`: the start page over the built-in self-signed HTTPS.
//! - `lan`: text and 20 MiB files made on the fallback (a plain-HTTP LAN-like origin) open
//!   on WebCrypto (127.0.0.1) byte for byte, and the other way round.
//! - `multifile`: three files and a nested folder shared as one .tar (checked with GNU tar
//!   after a download in another session); a dropped folder walked with its empty folders;
//!   paste to share (an image, two images, text).
//! - `layout`: the share buttons on screen without scrolling (laptop and phone), no sideways
//!   shift when switching tabs.
//! - `retrieve_ui`: what the Retrieve tab shows before opening (a file's size, where its name
//!   is), no stale Retrieve button above a text, one access-code prompt, download limits.
//! - `crypto_bench`: PBKDF2 and AES-256-GCM timed in Chromium, fallback against WebCrypto
//!   (`cargo test --test it crypto_bench -- --nocapture`).
//! - `share_target`: "Share → Qopy": the manifest as Chromium reads it, the share worker, a
//!   shared file and text landing in the tabs (and the file sent encrypted), the recent drop
//!   boxes offered and the items handed to /drop/ID, and the server's 400 on plain HTTP.
//! - `preview`: image previews on the Retrieve tab (server JPEG for plaintext, decrypted Blob
//!   for encrypted PNGs); downloaded Blobs are application/octet-stream whatever the declared
//!   type, and only bytes that are a PNG, JPEG, GIF or WebP get a preview.

mod bigfiles;
mod crypto_bench;
mod driver;
mod dropbox;
mod interop;
mod lan;
mod layout;
mod multifile;
mod pages;
mod preview;
mod qr;
mod retrieve_ui;
mod share_target;
mod tls_page;
mod ui;
mod ui_file;
mod ui_text;
mod vectors;
