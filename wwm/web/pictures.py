"""Pictures drawn by the server: score charts as SVG coordinates, avatars as PNG."""
from __future__ import annotations

import hashlib
import struct
import zlib

__all__ = ["chart", "avatar_png", "PALETTE"]

PALETTE = ("#1b6ca8", "#c0392b", "#27864a", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b")


def chart(series: dict[str, list[tuple[float, float]]], width: int = 640, height: int = 240, pad: int = 36) -> dict:
    """Polylines for ``{label: [(x, y), …]}`` scaled into one box, with axis labels.

    Returns ``{"width", "height", "lines": [{"label", "color", "points": "x,y …", "dots": [(x, y)]}],
    "x": (min, max), "y": (min, max)}`` for the template to draw.
    """
    xs = [x for pts in series.values() for x, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    out = {"width": width, "height": height, "pad": pad, "lines": [], "x": (0, 0), "y": (0, 0)}
    if not xs:
        return out
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    sx = lambda x: pad + (x - x0) * (width - 2 * pad) / (x1 - x0)  # noqa: E731
    sy = lambda y: height - pad - (y - y0) * (height - 2 * pad) / (y1 - y0)  # noqa: E731
    for i, (label, pts) in enumerate(series.items()):
        dots = [(round(sx(x), 1), round(sy(y), 1)) for x, y in sorted(pts)]
        out["lines"].append({"label": label, "color": PALETTE[i % len(PALETTE)],
                             "points": " ".join(f"{x},{y}" for x, y in dots), "dots": dots})
    out["x"], out["y"] = (x0, x1), (y0, y1)
    return out


def avatar_png(name: str, size: int = 120) -> bytes:
    """A symmetric 5x5 identicon for ``name`` as a PNG (Mastodon shows PNG avatars, not SVG)."""
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    color = PALETTE[digest[0] % len(PALETTE)]
    fg = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    bg = (245, 245, 240)
    cells = [[digest[1 + r * 3 + min(c, 4 - c)] & 1 for c in range(5)] for r in range(5)]
    cell = size // 6
    margin = (size - 5 * cell) // 2
    rows = []
    for y in range(size):
        r = (y - margin) // cell
        line = bytearray(b"\x00")  # filter byte: none
        for x in range(size):
            c = (x - margin) // cell
            on = 0 <= r < 5 and 0 <= c < 5 and cells[r][c]
            line += bytes(fg if on else bg)
        rows.append(bytes(line))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
            + chunk(b"IEND", b""))
