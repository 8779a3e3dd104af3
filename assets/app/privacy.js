// privacy.js — the privacy page: theme and language only (both language versions are in
// the HTML; CSS shows the one matching html[lang]).
import { initTheme } from './theme.js';
import { initI18n } from './i18n.js';

initTheme(document.getElementById('theme-toggle'));
initI18n(document.getElementById('lang-toggle'));
