#!/usr/bin/env python3
"""Checks the screenshots scripts/html_check.sh takes of the HTML report.

Standard library only (zlib decodes the PNG). Usage:

    png_check.py FULL.png NAME=MASK.png... [--docs OUT.png]

FULL.png is the page; each MASK.png is the same page with everything but
one plot hidden (white), which locates that plot's rows. A plot fails when
its mask is blank (nothing drawn) or when its rows in FULL.png hold too few
distinct colours (a flat area: the plot did not render). --docs writes FULL.png
trimmed of its empty bottom, as a palette PNG, for docs/html-report.png.
"""

import struct
import sys
import zlib

WHITE = (255, 255, 255)


def read_png(path):
    """(width, height, rows): rows are lists of (r, g, b) tuples."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"{path}: not a PNG")
    pos, idat, palette = 8, [], []
    width = height = depth = ctype = None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 3, 6) or interlace:
                raise SystemExit(f"{path}: unsupported PNG (depth {depth}, colour type {ctype})")
        elif kind == b"PLTE":
            palette = [tuple(body[i : i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    bpp = {2: 3, 3: 1, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1 : i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pred) & 0xFF
        if ctype == 3:
            rows.append([palette[i] for i in line])
        else:
            rows.append([tuple(line[x : x + 3]) for x in range(0, stride, bpp)])
        prev = line
    return width, height, rows


def write_png(path, width, rows):
    """An 8-bit palette PNG: the 256 most frequent colours, every other
    colour drawn with its nearest one (anti-aliased text loses nothing
    visible, the file a good half)."""
    counts = {}
    for row in rows:
        for px in row:
            counts[px] = counts.get(px, 0) + 1
    palette = sorted(counts, key=lambda c: -counts[c])[:256]
    index = {c: i for i, c in enumerate(palette)}

    def nearest(c):
        return min(range(len(palette)), key=lambda i: sum((a - b) ** 2 for a, b in zip(c, palette[i])))

    for c in counts:
        if c not in index:
            index[c] = nearest(c)
    raw = bytearray()
    for row in rows:
        raw.append(0)
        raw.extend(index[px] for px in row)

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, len(rows), 8, 3, 0, 0, 0)
    plte = bytes(v for c in palette for v in c)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", ihdr) + chunk(b"PLTE", plte))
        f.write(chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b""))


def drawn_rows(rows):
    """Indices of the rows with a non-white pixel."""
    return [y for y, row in enumerate(rows) if any(px != WHITE for px in row)]


def main(argv):
    docs = None
    if "--docs" in argv:
        i = argv.index("--docs")
        docs = argv[i + 1]
        del argv[i : i + 2]
    if len(argv) < 2:
        raise SystemExit(__doc__)
    width, height, full = read_png(argv[0])
    failures = []
    for arg in argv[1:]:
        name, _, mask_path = arg.partition("=")
        mw, mh, mask = read_png(mask_path)
        if (mw, mh) != (width, height):
            failures.append(f"{name}: mask size {mw}x{mh} differs from the page's {width}x{height}")
            continue
        ys = drawn_rows(mask)
        if len(ys) < 10:
            failures.append(f"{name}: blank (nothing drawn where the plot is)")
            continue
        top, bottom = ys[0], ys[-1]
        xs = [x for y in ys for x, px in enumerate(mask[y]) if px != WHITE]
        left, right = min(xs), max(xs)
        # Horizontal bands of 20 px across the plot's box: in the page they
        # must not be one flat colour, and most must hold several.
        bands = []
        for y0 in range(top, bottom + 1, 20):
            colours = set()
            for row in full[y0 : min(y0 + 20, bottom + 1)]:
                colours.update(row[left : right + 1])
            bands.append(len(colours))
        flat = sum(1 for n in bands if n < 3)
        total = len(set(px for row in full[top : bottom + 1] for px in row[left : right + 1]))
        print(
            f"{name}: x {left}..{right}, y {top}..{bottom}: {total} distinct colours, "
            f"{len(bands)} bands of 20 px ({flat} flat)"
        )
        if total < 8 or flat > len(bands) // 2:
            failures.append(f"{name}: rows {top}..{bottom} are (almost) one flat colour")
    if docs:
        last = max(drawn_rows([[px if px != (243, 244, 246) else WHITE for px in row] for row in full]) or [height - 1])
        write_png(docs, width, full[: min(height, last + 24)])
        print(f"wrote {docs}")
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
