//! Browser tests: a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs) driven through WebDriver against the real server. They fail, never
//! skip, when the browser is missing.
//!
//! - `driver`: the harness (chromedriver process, session options, waits, screenshots, logs).
//! - `vectors`: the crypto fallback and WebCrypto on the published vectors, inside the page;
//!   the V4 vectors through the browser's V4 code.
//! - `pages`: every page loads without console errors or CSP violations; screenshots.
//! - `qr`: the browser's QR encoder decoded back by zbarimg from a screenshot.

mod driver;
mod interop;
mod pages;
mod qr;
mod tls_page;
mod ui;
mod ui_file;
mod ui_text;
mod vectors;
