"""CRC-32 of large buffers on several cores, for checking checkpoints as fast as they are read.

zlib.crc32 runs at 1.5-2.5 GB/s on one core, slower than copying a file from the page cache, so
a checked load splits every tensor into pieces, hands them to threads (zlib releases the GIL) while
the next tensor is read, and joins the pieces' CRCs with zlib's crc32_combine, written out here in
Python because Python's zlib does not expose it.
"""
import os
import zlib

_CRC_PIECE = 8 << 20
_CRC_POLY = 0xEDB88320


def _crc_multmodp(a, b):
    """a * b modulo the CRC-32 polynomial (zlib's multmodp; bit-reflected)."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if (a & (m - 1)) == 0:
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


def _crc_x2n_table():
    table, p = [], 1 << 30          # x^1
    for _ in range(32):
        table.append(p)
        p = _crc_multmodp(p, p)
    return table


_CRC_X2N = _crc_x2n_table()


def _crc_shift(nbytes):
    """x^(8 * nbytes) modulo the polynomial (zlib's x2nmodp(nbytes, 3))."""
    p, k = 1 << 31, 3
    while nbytes:
        if nbytes & 1:
            p = _crc_multmodp(_CRC_X2N[k & 31], p)
        nbytes >>= 1
        k += 1
    return p


_CRC_PIECE_SHIFT = _crc_shift(_CRC_PIECE)


def crc32_combine(crc1, crc2, len2):
    """The CRC-32 of ``a + b`` from ``crc1 = crc32(a)``, ``crc2 = crc32(b)`` and ``len2 = len(b)``
    (zlib's ``crc32_combine``, which Python's zlib does not expose)."""
    shift = _CRC_PIECE_SHIFT if len2 == _CRC_PIECE else _crc_shift(len2)
    return _crc_multmodp(shift, crc1) ^ crc2


def _crc_workers():
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class _Crcs:
    """CRC-32s of named buffers, computed inline or by a pool of threads (``add``, then ``result``)."""

    def __init__(self, pool):
        self.pool = pool
        self.parts = {}

    def add(self, name, data):
        if self.pool is None or len(data) <= _CRC_PIECE:
            self.parts[name] = [(zlib.crc32(data), len(data))]
            return
        self.parts[name] = [(self.pool.submit(zlib.crc32, data[i:i + _CRC_PIECE]),
                             min(_CRC_PIECE, len(data) - i))
                            for i in range(0, len(data), _CRC_PIECE)]

    def result(self):
        out = {}
        for name, parts in self.parts.items():
            crc = 0
            for i, (part, size) in enumerate(parts):
                part = part if isinstance(part, int) else part.result()
                crc = part if i == 0 else crc32_combine(crc, part, size)
            out[name] = crc
        return out
