"""A 64-bit perceptual hash (pHash) of a photo, so a re-encoded or resized copy is found.

The image is reduced to 32x32 grey, its 2-D DCT taken, and the 8x8 lowest frequencies
(the first one, the mean, left out of the median) compared with their median: one bit
each. It is imagehash's `phash` computed with a fixed DCT matrix in numpy, so no SciPy
is needed. Re-encoding and rescaling move few bits; a different photo moves about 32.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image

SIZE = 32
LOW = 8
BITS = LOW * LOW
MASK = (1 << BITS) - 1


@functools.cache
def _dct_matrix(n: int) -> np.ndarray:
    """The orthonormal DCT-II matrix: `m @ x` is the DCT of the column x."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


def phash(image: Image.Image) -> int:
    """The 64-bit pHash of an image (any mode, any size) as an unsigned int."""
    grey = image.convert("L").resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    m = _dct_matrix(SIZE)
    low = (m @ pixels @ m.T)[:LOW, :LOW]
    median = np.median(low.ravel()[1:])
    value = 0
    for bit in (low > median).ravel():
        value = (value << 1) | int(bit)
    return value


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as the signed BIGINT both databases store."""
    return value - (1 << BITS) if value >> (BITS - 1) else value


def to_unsigned(value: int) -> int:
    return value & MASK
