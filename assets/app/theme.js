// theme.js — light and dark themes. Follows the system (prefers-color-scheme) until the
// user switches; the choice is remembered in localStorage. Sets html[data-theme] (the
// user's choice, if any) and html[data-theme-effective] (what is shown) for the CSS.
const KEY = 'qopy-theme';
const media = window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

function stored() {
  try { const v = localStorage.getItem(KEY); return v === 'light' || v === 'dark' ? v : null; } catch { return null; }
}

let choice = stored();

export function effectiveTheme() {
  return choice || (media && media.matches ? 'dark' : 'light');
}

function apply() {
  const root = document.documentElement;
  if (choice) root.dataset.theme = choice; else delete root.dataset.theme;
  root.dataset.themeEffective = effectiveTheme();
}

/** Applies the theme now and wires the toggle button (aria-pressed = dark). */
export function initTheme(button) {
  apply();
  const sync = () => { if (button) button.setAttribute('aria-pressed', String(effectiveTheme() === 'dark')); };
  sync();
  if (media && media.addEventListener) media.addEventListener('change', () => { apply(); sync(); });
  if (button) {
    button.addEventListener('click', () => {
      choice = effectiveTheme() === 'dark' ? 'light' : 'dark';
      try { localStorage.setItem(KEY, choice); } catch { /* private mode: this page only */ }
      apply();
      sync();
    });
  }
}
