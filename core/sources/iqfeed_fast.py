"""Single-pass parsing of IQFeed history ``LH`` lines with a numba kernel, fed block by block.

:class:`LHStreamParser` takes blocks of complete lines as they arrive from the socket
(:meth:`LHStreamParser.feed`) and turns each block into the raw tick columns in one compiled
pass over the bytes: fields are split, checked and converted together (integers, fixed
timestamps by digit arithmetic, prices as ``mantissa / 10**decimals``, which is exactly the
correctly rounded value a decimal parser gives). Nothing is kept per tick in Python.

The kernel applies the same rules, in the same order, as the string path of
:func:`core.sources.iqfeed_parse.parse_ticks` (field count, request id, kind, ts, last, ...,
conds, then ``last > 0``), so bad lines get the same reasons and texts. A line it cannot
decide exactly (more digits than a double holds, a calendar-invalid timestamp, a stray
``\\r``) makes :meth:`finish` re-parse the whole reply on the pyarrow path instead.
"""

from __future__ import annotations

import numba
import numpy as np

from core.schema import empty_raw

FIELD_NAMES = ("kind", "ts", "last", "last_sz", "tot_vlm", "bid", "ask", "tick_id", "basis", "mkt_ctr", "conds")
N_FIELDS = 13  # LH line fields without the request id
OK, BAD_COUNT, BAD_RID, BAD_LAST_ZERO, FALLBACK = 0, 1, 2, 14, 255  # 3..13: FIELD_NAMES[code - 3] invalid
MAX_INT_DIGITS = 18  # int64 holds every 18-digit number
MAX_FLOAT_DIGITS = 15  # mantissas below 2**53 are exact, so mantissa / 10**k is correctly rounded
_SPACE = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)
_POW10 = np.array([10.0 ** k for k in range(23)])  # exact in binary64 up to 10**22


@numba.njit(cache=True, nogil=True)
def _int(buf, a, b):  # pragma: no cover - compiled
    """Digits in buf[a:b] → value; -1 when empty or not all digits, -2 when too long."""
    if b <= a:
        return -1
    if b - a > MAX_INT_DIGITS:
        return -2
    v = 0
    for i in range(a, b):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@numba.njit(cache=True, nogil=True)
def _price(buf, a, b, pow10):  # pragma: no cover - compiled
    """``\\d+(\\.\\d+)?`` in buf[a:b] → (status, value); status 0 ok, 1 invalid, 2 too many digits."""
    m = 0
    digits = 0
    frac = -1
    for i in range(a, b):
        c = buf[i]
        if c == 46:
            if frac >= 0 or digits == 0:
                return 1, 0.0
            frac = 0
            continue
        if c < 48 or c > 57:
            return 1, 0.0
        m = m * 10 + (c - 48)
        digits += 1
        if frac >= 0:
            frac += 1
        if digits > MAX_FLOAT_DIGITS:
            return 2, 0.0
    if digits == 0 or frac == 0:
        return 1, 0.0
    if frac <= 0:
        return 0, float(m)
    return 0, m / pow10[frac]


@numba.njit(cache=True, nogil=True)
def _lh_kernel(buf, with_id, rid, pow10, date, time_us, last, last_sz, tot_vlm, bid, ask, tick_id, last_type,
               mkt_ctr, conds, bad_start, bad_end, bad_code, bad_fields):  # pragma: no cover - compiled
    """Parse every line of ``buf`` (complete lines); returns (good rows, bad lines, fallback)."""
    n = buf.shape[0]
    expected = N_FIELDS + (1 if with_id else 0)
    nrid = rid.shape[0]
    off = 1 if with_id else 0
    starts = np.empty(expected + 1, dtype=np.int64)
    row = 0
    nbad = 0
    s = 0
    while s < n:
        e = s
        while e < n and buf[e] != 10:
            e += 1
        nxt = e + 1
        if e > s and buf[e - 1] == 13:
            e -= 1
        if e == s:  # empty line: skipped, as the CSV reader does
            s = nxt
            continue
        # split into fields (starts[k] = first byte of field k, starts[nf] = e + 1)
        nf = 0
        starts[0] = s
        for i in range(s, e):
            c = buf[i]
            if c == 13:
                return row, nbad, True
            if c == 44:
                nf += 1
                if nf < expected:
                    starts[nf] = i + 1
        nf += 1
        code = OK
        if nf != expected:
            code = BAD_COUNT
        else:
            starts[expected] = e + 1
        if code == OK and with_id and nrid > 0:
            a, b = starts[0], starts[1] - 1
            if b - a != nrid:
                code = BAD_RID
            else:
                for i in range(nrid):
                    if buf[a + i] != rid[i]:
                        code = BAD_RID
                        break
        if code == OK:
            a, b = starts[off], starts[off + 1] - 1
            if not (b - a == 2 and buf[a] == 76 and buf[a + 1] == 72):
                code = 3
        if code == OK:  # ts: YYYY-MM-DD HH:MM:SS(.f{1,6})?
            a, b = starts[off + 1], starts[off + 2] - 1
            ln = b - a
            ok = ln == 19 or (21 <= ln <= 26 and buf[a + 19] == 46)
            if ok:
                if buf[a + 4] != 45 or buf[a + 7] != 45 or buf[a + 10] != 32 or buf[a + 13] != 58 \
                        or buf[a + 16] != 58:
                    ok = False
            if ok:
                y, mo, d = _int(buf, a, a + 4), _int(buf, a + 5, a + 7), _int(buf, a + 8, a + 10)
                hh, mi, ss = _int(buf, a + 11, a + 13), _int(buf, a + 14, a + 16), _int(buf, a + 17, a + 19)
                fr = _int(buf, a + 20, b) if ln > 19 else 0
                if y < 0 or mo < 0 or d < 0 or hh < 0 or mi < 0 or ss < 0 or fr < 0:
                    ok = False
                elif mo < 1 or mo > 12 or d < 1 or d > 31 or hh > 23 or mi > 59 or ss > 59:
                    return row, nbad, True  # the pyarrow path decides what such a date means
                else:
                    date[row] = y * 10000 + mo * 100 + d
                    us = fr
                    for _ in range(26 - ln if ln > 19 else 6):
                        us *= 10
                    time_us[row] = ((hh * 60 + mi) * 60 + ss) * 1_000_000 + us
            if not ok:
                code = 4
        if code == OK:
            st, v = _price(buf, starts[off + 2], starts[off + 3] - 1, pow10)
            if st == 2:
                return row, nbad, True
            if st:
                code = 5
            last[row] = v
        if code == OK:
            for k in range(2):
                v = _int(buf, starts[off + 3 + k], starts[off + 4 + k] - 1)
                if v == -2:
                    return row, nbad, True
                if v < 0:
                    code = 6 + k
                    break
                if k == 0:
                    last_sz[row] = v
                else:
                    tot_vlm[row] = v
        if code == OK:
            for k in range(2):
                a, b = starts[off + 5 + k], starts[off + 6 + k] - 1
                v = np.nan
                if b > a:
                    st, v = _price(buf, a, b, pow10)
                    if st == 2:
                        return row, nbad, True
                    if st:
                        code = 8 + k
                        break
                if k == 0:
                    bid[row] = v
                else:
                    ask[row] = v
        if code == OK:
            v = _int(buf, starts[off + 7], starts[off + 8] - 1)
            if v == -2:
                return row, nbad, True
            if v < 0:
                code = 10
            tick_id[row] = v
        if code == OK:
            a, b = starts[off + 8], starts[off + 9] - 1
            if b == a:
                last_type[row] = 0
            elif b - a == 1 and ((65 <= buf[a] <= 90) or (97 <= buf[a] <= 122)):
                last_type[row] = buf[a]
            else:
                code = 11
        if code == OK:
            a, b = starts[off + 9], starts[off + 10] - 1
            v = _int(buf, a, b) if b - a <= 4 else -1
            if v < 0:
                code = 12
            mkt_ctr[row] = v
        if code == OK:
            a, b = starts[off + 10], starts[off + 11] - 1
            if (b - a) % 2:
                code = 13
            else:
                for k in range(4):
                    conds[row, k] = 0
                for j in range((b - a) // 2):
                    v = 0
                    for c in (buf[a + 2 * j], buf[a + 2 * j + 1]):
                        if 48 <= c <= 57:
                            h = c - 48
                        elif 65 <= c <= 70:
                            h = c - 55
                        elif 97 <= c <= 102:
                            h = c - 87
                        else:
                            h = -1
                        if h < 0:
                            code = 13
                            break
                        v = v * 16 + h
                    if code != OK:
                        break
                    if j < 4:
                        conds[row, j] = v
        if code == OK and not last[row] > 0:
            code = BAD_LAST_ZERO
        if code == OK:
            row += 1
        else:
            bad_start[nbad] = s
            bad_end[nbad] = e  # the whole line, without its line end
            bad_code[nbad] = code
            bad_fields[nbad] = nf
            nbad += 1
        s = nxt
    return row, nbad, False


def reason(code: int, fields: int, expected: int, request_id: str | None) -> str:
    """The dead-letter reason of a kernel code (same wording as the pyarrow string path)."""
    if code == BAD_COUNT:
        return f"expected {expected} fields, got {fields}"
    if code == BAD_RID:
        return f"request id is not {request_id!r}"
    if code == BAD_LAST_ZERO:
        return "last: price must be > 0"
    return f"{FIELD_NAMES[code - 3]}: not a valid value"


class LHStreamParser:
    """Parse a history reply block by block (each block: complete lines) into raw columns.

    ``feed`` may run in a worker thread while the socket keeps receiving (the kernel releases
    the GIL). ``finish`` returns ``(raw, bad, fallback)``; with ``fallback`` the caller must
    parse the whole reply on the exact slow path (``blocks`` holds it).

    Warnings
    --------
    Keeps every block until :meth:`finish` (the reply must be all-or-nothing and the fallback
    needs it): memory is about the reply size plus the columns.
    """

    def __init__(self, request_id: str | None = None):
        self.request_id = request_id
        self._rid = np.frombuffer((request_id or "").encode(), dtype=np.uint8)
        self.with_id: bool | None = None
        self.blocks: list = []  # the fed blocks, in order
        self._parts: list[dict] = []
        self._bad: list[tuple[int, int, int, int, int]] = []  # (block, start, end, code, fields)
        self.fallback = False

    def feed(self, block) -> None:
        """Parse one block of complete lines (bytes, bytearray or memoryview; kept, not copied)."""
        self.blocks.append(block)
        if self.fallback or not len(block):
            return
        if self.with_id is None:
            if not bytes(block[:256]).strip() and np.isin(np.frombuffer(block, dtype=np.uint8), _SPACE).all():
                return  # only whitespace so far
            self.with_id = bytes(block[:3]) != b"LH,"
        buf = np.frombuffer(block, dtype=np.uint8)
        cap = int(np.count_nonzero(buf == 10)) + 1
        raw = empty_raw(cap)
        conds = np.zeros((cap, 4), dtype=np.uint8)
        bs, be = np.empty(cap, np.int64), np.empty(cap, np.int64)
        bc, bf = np.empty(cap, np.int16), np.empty(cap, np.int64)
        rows, nbad, fallback = _lh_kernel(
            buf, self.with_id, self._rid, _POW10, raw["date"], raw["time"], raw["last"], raw["last_sz"],
            raw["tot_vlm"], raw["bid"], raw["ask"], raw["tick_id"], raw["last_type"], raw["mkt_ctr"], conds,
            bs, be, bc, bf)
        if fallback:
            self.fallback = True
            return
        for k in range(4):
            raw[f"cond{k + 1}"] = conds[:rows, k]
        self._parts.append({k: v[:rows] for k, v in raw.items()})
        ib = len(self.blocks) - 1
        self._bad += [(ib, int(bs[i]), int(be[i]), int(bc[i]), int(bf[i])) for i in range(nbad)]  # bad lines only

    def finish(self) -> tuple[dict, tuple, bool]:
        """(raw columns of the good lines in received order, bad lines, fallback needed)."""
        if self.fallback:
            return empty_raw(0), (), True
        parts = self._parts
        if not parts:
            raw = empty_raw(0)
        elif len(parts) == 1:
            raw = {k: np.ascontiguousarray(v) for k, v in parts[0].items()}
        else:
            raw = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        expected = N_FIELDS + (1 if self.with_id else 0)
        bad = sorted(self._bad, key=lambda b: (b[3] != BAD_COUNT, b[0], b[1]))  # count errors first, as before
        out = tuple((bytes(self.blocks[ib][s:e]).decode("utf-8", "replace"), reason(code, nf, expected, self.request_id))
                    for ib, s, e, code, nf in bad)
        return raw, out, False
