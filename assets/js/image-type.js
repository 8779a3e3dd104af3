// image-type.js — which raster image, if any, a file's first bytes say it is. The page
// shows a downloaded file as an image only when its own bytes are PNG, JPEG, GIF or WebP:
// the type in the clip's metadata is whatever the sender wrote, and a blob: URL of a type
// the browser renders as a document (text/html, image/svg+xml, ...) would run script in our
// origin. Nothing else is ever given a type other than application/octet-stream.

/** How many leading bytes rasterImageType() needs to decide. */
export const IMAGE_HEAD_BYTES = 12;

/** The type every downloaded blob gets, whatever the clip's metadata says. */
export const DOWNLOAD_TYPE = 'application/octet-stream';

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]; // \x89PNG\r\n\x1a\n
const JPEG = [0xff, 0xd8, 0xff]; // SOI, then the first marker's 0xFF
const GIF87 = [0x47, 0x49, 0x46, 0x38, 0x37, 0x61]; // GIF87a
const GIF89 = [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]; // GIF89a
const RIFF = [0x52, 0x49, 0x46, 0x46]; // RIFF, then a 4-byte length
const WEBP = [0x57, 0x45, 0x42, 0x50]; // WEBP at offset 8

function startsWith(bytes, sig, offset = 0) {
  if (bytes.length < offset + sig.length) return false;
  for (let i = 0; i < sig.length; i++) if (bytes[offset + i] !== sig[i]) return false;
  return true;
}

/**
 * The MIME type of a PNG, JPEG, GIF or WebP image from its first bytes (a Uint8Array,
 * at least IMAGE_HEAD_BYTES long to recognise WebP), or '' for anything else.
 */
export function rasterImageType(bytes) {
  if (!(bytes instanceof Uint8Array)) return '';
  if (startsWith(bytes, PNG)) return 'image/png';
  if (startsWith(bytes, JPEG)) return 'image/jpeg';
  if (startsWith(bytes, GIF87) || startsWith(bytes, GIF89)) return 'image/gif';
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return 'image/webp';
  return '';
}

/** rasterImageType() of a Blob's first bytes (resolves to '' for anything else). */
export async function blobImageType(blob) {
  if (!blob || typeof blob.slice !== 'function') return '';
  const head = new Uint8Array(await blob.slice(0, IMAGE_HEAD_BYTES).arrayBuffer());
  return rasterImageType(head);
}
