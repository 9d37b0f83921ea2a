"""A tiny PNG decoder (8-bit RGB/RGBA, non-interlaced) to check screenshots are not blank."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def decode(path: Path) -> np.ndarray:
    """The image as a (height, width, channels) uint8 array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            channels = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if f == 0:
            cur = line
        elif f == 1:  # sub: running sum per channel
            cur = np.cumsum(line.reshape(width, channels), axis=0).reshape(-1) % 256
        elif f == 2:  # up
            cur = (line + prev) % 256
        else:  # average / paeth: sequential along the row
            cur = np.zeros(stride, dtype=np.int32)
            lb, pb = line.tolist(), prev.tolist()
            c = [0] * stride
            for i in range(stride):
                a = c[i - channels] if i >= channels else 0
                b = pb[i]
                if f == 3:
                    c[i] = (lb[i] + (a + b) // 2) & 255
                else:
                    cc = pb[i - channels] if i >= channels else 0
                    p = a + b - cc
                    pa, pbb, pc = abs(p - a), abs(p - b), abs(p - cc)
                    pred = a if pa <= pbb and pa <= pc else (b if pbb <= pc else cc)
                    c[i] = (lb[i] + pred) & 255
            cur = np.array(c, dtype=np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)[:, :, :3]


def colour_stats(img: np.ndarray) -> tuple[int, float]:
    """(distinct colours, fraction of non-white pixels)."""
    flat = img.reshape(-1, 3).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    distinct = int(np.unique(packed).size)
    non_white = float((packed != 0xFFFFFF).mean())
    return distinct, non_white
