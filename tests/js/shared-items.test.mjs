// Unit tests of assets/app/shared-items.js (run: node --test tests/js/) that need no
// IndexedDB: the text of a share made of its title, text and URL, and the record IDs. The
// IndexedDB records themselves are tested in Chromium (tests/it/browser/share_target.rs).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { sharedText, isShareId } from '../../assets/app/shared-items.js';

test('title, text and URL each once, in that order', () => {
  assert.equal(sharedText({ title: 'A note', text: 'Look', url: 'https://x.invalid/a' }), 'A note\nLook\nhttps://x.invalid/a');
  // Apps that put the URL into the text as well.
  assert.equal(sharedText({ title: '', text: 'See https://x.invalid/a', url: 'https://x.invalid/a' }), 'See https://x.invalid/a');
  // A title repeated inside the text is replaced by the text.
  assert.equal(sharedText({ title: 'Page', text: 'Page: some words', url: '' }), 'Page: some words');
  assert.equal(sharedText({ title: 'Only a title' }), 'Only a title');
  assert.equal(sharedText({ text: '  padded \n' }), 'padded');
  assert.equal(sharedText({ title: '', text: '', url: '' }), '');
  assert.equal(sharedText({ title: 5, text: null, url: ['x'] }), '');
});

test('record IDs are 32 lowercase hex digits', () => {
  assert.ok(isShareId('0123456789abcdef0123456789abcdef'));
  for (const bad of ['', 'none', '0123456789ABCDEF0123456789ABCDEF', '0123456789abcdef0123456789abcde', '../0123456789abcdef0123456789abc', null, 12]) {
    assert.ok(!isShareId(bad), String(bad));
  }
});
