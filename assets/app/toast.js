// toast.js — small notifications in the corner, announced by the aria-live container
// (#toasts). Errors stay 6 s, others 3.5 s; each has a close button.
import { t, onLangChange } from './i18n.js';

onLangChange(() => {
  for (const b of document.querySelectorAll('.toast-close')) b.setAttribute('aria-label', t('toast.close'));
});

/** Shows a toast. type: 'info' | 'success' | 'error' | 'warn'. Returns the element. */
export function toast(message, type = 'info', ms) {
  const box = document.getElementById('toasts');
  if (!box) return null;
  const el = document.createElement('div');
  el.className = `toast ${type}`;
  if (type === 'error') el.setAttribute('role', 'alert');
  el.dataset.testid = 'toast';
  el.dataset.type = type;
  const msg = document.createElement('div');
  msg.className = 'toast-msg';
  msg.textContent = message;
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'toast-close';
  close.setAttribute('aria-label', t('toast.close'));
  close.textContent = '×';
  el.append(msg, close);
  box.append(el);
  while (box.children.length > 4) box.firstElementChild.remove();
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  setTimeout(remove, ms ?? (type === 'error' ? 6000 : 3500));
  return el;
}
