// progress.js — drawing a transfer's progress without taking the page's time: a transfer
// reports every piece it moves, hundreds a second, and drawing each report (formatting sizes,
// touching the page) took a tenth of a download's main-thread time (a profile of the
// 1 GiB download in benches/browser-memory.mjs).

/**
 * `render` for progress reports at most every `ms`, except that a report whose phase
 * changed, or the last one (everything done), is always shown: a transfer reports every
 * piece, hundreds a second, and drawing each one takes the page's time from the transfer.
 */
export function throttleProgress(render, ms = 100) {
  let last = -Infinity, phase;
  return (p) => {
    const now = performance.now();
    const total = Number(p.total) || 0;
    const done = Number(p.sent ?? p.received ?? p.done) || 0;
    if (p.phase !== phase || (total > 0 && done >= total) || now - last >= ms) {
      phase = p.phase;
      last = now;
      render(p);
    }
  };
}

/**
 * Sets a progress bar's fill (a `.progress-fill`) to `pct` percent. The fill is scaled, not
 * resized: a scale is drawn by the compositor, while a width (and its transition) lays out
 * and repaints the page on every frame, which a 1 GiB upload paid for in CPU time.
 */
export function setFill(el, pct) {
  el.style.transform = `scaleX(${Math.max(0, Math.min(100, pct)) / 100})`;
}
