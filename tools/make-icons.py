#!/usr/bin/env python3
"""Draws Qopy's app icons as PNG files, with the standard library only (zlib and struct).

The mark is the one of assets/img/icon.svg (a 32x32 drawing): a rounded square in the
accent colour #360f5a with a white magnifier, a ring centred at (16, 15) with radii 8 and
4.8 and a handle along the diagonal towards the lower right. Each pixel is sampled 4x4
times against those shapes, so the edges are smooth.

Writes, under assets/img/ (run from the repository root, or pass the directory):
- icon-192.png and icon-512.png: the rounded square on a transparent background
  (manifest purpose "any", and the apple-touch-icon);
- icon-maskable-512.png: the accent colour to every edge and the mark shrunk into the
  central circle of 40% radius that every mask keeps (manifest purpose "maskable").

    python3 tools/make-icons.py [assets/img]
"""

import math
import os
import struct
import sys
import zlib

ACCENT = (0x36, 0x0F, 0x5A)
WHITE = (0xFF, 0xFF, 0xFF)
SAMPLES = 4  # per axis, per pixel

# The magnifier in the SVG's 32-unit space.
RING_CX, RING_CY = 16.0, 15.0
RING_OUTER, RING_INNER = 8.0, 4.8
# The handle: a bar along the direction (1, 1) from the ring's centre, from inside the
# ring to the SVG's end points (23.3, 24.1) and (25.3, 22.1), 2.83 units wide.
HANDLE_FROM, HANDLE_TO = 6.0, 11.6
HANDLE_HALF_WIDTH = 1.414


def in_rounded_square(x, y, size, radius):
    """True when (x, y) is inside a size x size square with corners of `radius`."""
    if x < 0 or y < 0 or x > size or y > size:
        return False
    cx = min(max(x, radius), size - radius)
    cy = min(max(y, radius), size - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius * radius


def in_mark(x, y):
    """True when (x, y), in the SVG's units, is on the white magnifier."""
    dx, dy = x - RING_CX, y - RING_CY
    d2 = dx * dx + dy * dy
    if RING_INNER ** 2 <= d2 <= RING_OUTER ** 2:
        return True
    along = (dx + dy) / math.sqrt(2)
    across = (dx - dy) / math.sqrt(2)
    return HANDLE_FROM <= along <= HANDLE_TO and abs(across) <= HANDLE_HALF_WIDTH


def render(size, maskable):
    """The icon as rows of RGBA bytes."""
    rows = []
    # Full icon: 32 units fill the image. Maskable: the mark (about 17 units across, centred
    # near (16.6, 15.6)) is scaled so it stays well inside the safe circle of 40% radius.
    if maskable:
        scale = size * 0.5 / 17.5
        ox, oy = size / 2 - 16.6 * scale, size / 2 - 15.6 * scale
    else:
        scale = size / 32.0
        ox = oy = 0.0
    step = 1.0 / SAMPLES
    for py in range(size):
        row = bytearray()
        for px in range(size):
            bg = white = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = px + (sx + 0.5) * step
                    y = py + (sy + 0.5) * step
                    u, v = (x - ox) / scale, (y - oy) / scale
                    inside = maskable or in_rounded_square(u, v, 32.0, 8.0)
                    if not inside:
                        continue
                    bg += 1
                    if in_mark(u, v):
                        white += 1
            total = SAMPLES * SAMPLES
            if bg == 0:
                row += b"\x00\x00\x00\x00"
                continue
            # Colour: the mix of white and accent over the covered samples; alpha: coverage.
            f = white / bg
            rgb = [round(a + (w - a) * f) for a, w in zip(ACCENT, WHITE)]
            row += bytes(rgb + [round(255 * bg / total)])
        rows.append(bytes(row))
    return rows


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def png(size, rows):
    """A PNG (RGBA, 8 bits per channel, no filtering) of `rows`."""
    raw = b"".join(b"\x00" + r for r in rows)
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("assets", "img")
    for name, size, maskable in (
        ("icon-192.png", 192, False),
        ("icon-512.png", 512, False),
        ("icon-maskable-512.png", 512, True),
    ):
        path = os.path.join(out, name)
        with open(path, "wb") as f:
            f.write(png(size, render(size, maskable)))
        print(f"{path}: {size}x{size}")


if __name__ == "__main__":
    main()
