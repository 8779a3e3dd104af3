// Unit tests of assets/js/image-type.js (run: node --test tests/js/): a preview is made only
// for PNG, JPEG, GIF and WebP recognised by their first bytes, never from a declared type.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  rasterImageType, blobImageType, IMAGE_HEAD_BYTES, DOWNLOAD_TYPE,
} from '../../assets/js/image-type.js';

const bytes = (...parts) => new Uint8Array(parts.flatMap((p) => (typeof p === 'string' ? [...p].map((c) => c.charCodeAt(0)) : p)));

const PNG = bytes([0x89], 'PNG\r\n\x1a\n', [0, 0, 0, 13], 'IHDR');
const JPEG = bytes([0xff, 0xd8, 0xff, 0xe0, 0, 16], 'JFIF\0');
const GIF87 = bytes('GIF87a', [1, 0, 1, 0, 0, 0, 0]);
const GIF89 = bytes('GIF89a', [1, 0, 1, 0, 0, 0, 0]);
const WEBP = bytes('RIFF', [0x24, 0, 0, 0], 'WEBPVP8 ');

test('the four raster formats are recognised by their magic bytes', () => {
  assert.equal(rasterImageType(PNG), 'image/png');
  assert.equal(rasterImageType(JPEG), 'image/jpeg');
  assert.equal(rasterImageType(GIF87), 'image/gif');
  assert.equal(rasterImageType(GIF89), 'image/gif');
  assert.equal(rasterImageType(WEBP), 'image/webp');
  // Exactly the signature is enough (WebP needs its first 12 bytes).
  assert.equal(rasterImageType(PNG.slice(0, 8)), 'image/png');
  assert.equal(rasterImageType(JPEG.slice(0, 3)), 'image/jpeg');
  assert.equal(rasterImageType(WEBP.slice(0, IMAGE_HEAD_BYTES)), 'image/webp');
});

test('documents, scripts and other images are not previewable', () => {
  for (const s of [
    '<!DOCTYPE html><script>alert(1)</script>',
    '<html><body>',
    '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
    '<?xml version="1.0"?><svg/>',
    '%PDF-1.7',
    'BM\x36\x00\x00\x00', // BMP
    'II*\x00', // TIFF
    '\x00\x00\x01\x00', // ICO
    'RIFF\x24\x00\x00\x00WAVEfmt ', // a RIFF that is not WebP
    'GIF88a', // not a GIF version
    'plain text',
  ]) {
    assert.equal(rasterImageType(bytes(s)), '', JSON.stringify(s));
  }
  // An HTML file that merely begins with a text that looks like a type name.
  assert.equal(rasterImageType(bytes('image/png <script>')), '');
});

test('truncated signatures and non-byte input give no type', () => {
  assert.equal(rasterImageType(new Uint8Array()), '');
  assert.equal(rasterImageType(PNG.slice(0, 7)), '');
  assert.equal(rasterImageType(JPEG.slice(0, 2)), '');
  assert.equal(rasterImageType(GIF89.slice(0, 5)), '');
  assert.equal(rasterImageType(WEBP.slice(0, 11)), '');
  assert.equal(rasterImageType(null), '');
  assert.equal(rasterImageType('\x89PNG\r\n\x1a\n'), '');
  assert.equal(rasterImageType([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), '');
});

test('a Blob is judged by its bytes, not by the type it declares', async () => {
  assert.equal(await blobImageType(new Blob([PNG], { type: 'text/html' })), 'image/png');
  assert.equal(await blobImageType(new Blob([WEBP, bytes('rest of the file')], { type: '' })), 'image/webp');
  assert.equal(await blobImageType(new Blob(['<script>alert(1)</script>'], { type: 'image/png' })), '');
  assert.equal(await blobImageType(new Blob([], { type: 'image/gif' })), '');
  // Parts split inside the signature still count as one file.
  assert.equal(await blobImageType(new Blob([JPEG.slice(0, 1), JPEG.slice(1)])), 'image/jpeg');
  assert.equal(await blobImageType(null), '');
});

test('downloads are always application/octet-stream', () => {
  assert.equal(DOWNLOAD_TYPE, 'application/octet-stream');
});
