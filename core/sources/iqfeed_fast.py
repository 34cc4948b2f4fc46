"""Single-pass parsing of IQFeed history ``LH`` lines with a numba kernel, fed block by block.

:class:`LHStreamParser` takes blocks of complete lines as they arrive from the socket
(:meth:`LHStreamParser.feed`) and turns each block into the raw tick columns in one compiled
pass over the bytes: fields are split, checked and converted together (integers, timestamps by
digit arithmetic, prices as ``mantissa / 10**decimals``, which is exactly the correctly rounded
value a decimal parser gives because a price has at most :data:`PRICE_DIGITS` digits). Nothing
is kept per tick in Python.

The kernel decides every line itself: it implements the rule set written down in
:mod:`core.sources.iqfeed_parse` (what each field accepts, checked in field order; the first
field that breaks its rule is the reason of the bad line, :data:`RULES`), and so does the
pyarrow path :func:`core.sources.iqfeed_parse.parse_ticks_pyarrow`; a property test holds the
two to equal results. A line's verdict never depends on the other lines of the reply.
"""

from __future__ import annotations

import numba
import numpy as np

from tickdeck.core.schema import empty_raw

FIELD_NAMES = ("kind", "ts", "last", "last_sz", "tot_vlm", "bid", "ask", "tick_id", "basis", "mkt_ctr", "conds")
N_FIELDS = 13  # LH line fields without the request id (the last two, aggressor and day code, are not read)
OK, BAD_COUNT, BAD_RID, BAD_LAST_ZERO = 0, 1, 2, 14  # 3..13: FIELD_NAMES[code - 3] breaks its rule
INT_DIGITS = 18  # sizes, volumes and tick ids: 1-18 digits, so every accepted value fits int64
PRICE_DIGITS = 15  # prices: at most 15 digits, so mantissa (< 2**53) / 10**k is the correctly rounded double
MKT_CTR_DIGITS = 4  # market centre: 1-4 digits (int16)
YEAR_MIN, YEAR_MAX = 1900, 2200  # accepted timestamp years: well inside the nanosecond timestamp range
_POW10 = np.array([10.0 ** k for k in range(23)])  # exact in binary64 up to 10**22

# What each field accepts; the reason of a bad line is "<field>: expected <rule>".
RULES = {
    "kind": "LH",
    "ts": f"a real date and time YYYY-MM-DD HH:MM:SS[.ffffff] in years {YEAR_MIN}-{YEAR_MAX}",
    "last": f"a price: 1-{PRICE_DIGITS} digits with an optional decimal point between digits",
    "last_sz": f"1-{INT_DIGITS} digits",
    "tot_vlm": f"1-{INT_DIGITS} digits",
    "bid": f"empty or a price: 1-{PRICE_DIGITS} digits with an optional decimal point between digits",
    "ask": f"empty or a price: 1-{PRICE_DIGITS} digits with an optional decimal point between digits",
    "tick_id": f"1-{INT_DIGITS} digits",
    "basis": "empty or one ASCII letter",
    "mkt_ctr": f"1-{MKT_CTR_DIGITS} digits",
    "conds": "empty or pairs of hex digits",
}


def reason(code: int, fields: int, expected: int, request_id: str | None) -> str:
    """The dead-letter reason of a kernel code (the pyarrow path words it the same)."""
    if code == BAD_COUNT:
        return f"expected {expected} fields, got {fields}"
    if code == BAD_RID:
        return f"request id is not {request_id!r}"
    if code == BAD_LAST_ZERO:
        return "last: price must be > 0"
    name = FIELD_NAMES[code - 3]
    return f"{name}: expected {RULES[name]}"


@numba.njit(cache=True, nogil=True)
def _int(buf, a, b):  # pragma: no cover - compiled
    """Digits in buf[a:b] → value; -1 when empty, not all digits or more than INT_DIGITS."""
    if b <= a or b - a > INT_DIGITS:
        return -1
    v = 0
    for i in range(a, b):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@numba.njit(cache=True, nogil=True)
def _price(buf, a, b, pow10):  # pragma: no cover - compiled
    """A price (``\\d+(\\.\\d+)?``, at most PRICE_DIGITS digits) in buf[a:b] → (valid, value)."""
    m = 0
    digits = 0
    frac = -1
    for i in range(a, b):
        c = buf[i]
        if c == 46:
            if frac >= 0 or digits == 0:
                return False, 0.0
            frac = 0
            continue
        if c < 48 or c > 57:
            return False, 0.0
        m = m * 10 + (c - 48)
        digits += 1
        if frac >= 0:
            frac += 1
        if digits > PRICE_DIGITS:
            return False, 0.0
    if digits == 0 or frac == 0:
        return False, 0.0
    if frac <= 0:
        return True, float(m)
    return True, m / pow10[frac]


@numba.njit(cache=True, nogil=True)
def _timestamp(buf, a, b):  # pragma: no cover - compiled
    """``YYYY-MM-DD HH:MM:SS(.f{1,6})?`` naming a real date and time → (date YYYYMMDD, µs); -1 if not."""
    ln = b - a
    if not (ln == 19 or (21 <= ln <= 26 and buf[a + 19] == 46)):
        return -1, -1
    if buf[a + 4] != 45 or buf[a + 7] != 45 or buf[a + 10] != 32 or buf[a + 13] != 58 or buf[a + 16] != 58:
        return -1, -1
    y, mo, d = _int(buf, a, a + 4), _int(buf, a + 5, a + 7), _int(buf, a + 8, a + 10)
    hh, mi, ss = _int(buf, a + 11, a + 13), _int(buf, a + 14, a + 16), _int(buf, a + 17, a + 19)
    fr = _int(buf, a + 20, b) if ln > 19 else 0
    if y < YEAR_MIN or y > YEAR_MAX or mo < 1 or mo > 12 or d < 1 or hh < 0 or hh > 23 or mi < 0 or mi > 59 \
            or ss < 0 or ss > 59 or fr < 0:
        return -1, -1
    if mo == 2:
        dim = 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    elif mo == 4 or mo == 6 or mo == 9 or mo == 11:
        dim = 30
    else:
        dim = 31
    if d > dim:
        return -1, -1
    for _ in range(26 - ln if ln > 19 else 6):
        fr *= 10
    return y * 10000 + mo * 100 + d, ((hh * 60 + mi) * 60 + ss) * 1_000_000 + fr


@numba.njit(cache=True, nogil=True)
def _lh_kernel(buf, with_id, rid, pow10, date, time_us, last, last_sz, tot_vlm, bid, ask, tick_id, last_type,
               mkt_ctr, conds, bad_start, bad_end, bad_code, bad_fields):  # pragma: no cover - compiled
    """Parse every line of ``buf`` (complete lines); returns (good rows, bad lines, with_id).

    ``with_id`` is -1 until the first non-empty line decides it (1: a request-id column).
    """
    n = buf.shape[0]
    nrid = rid.shape[0]
    starts = np.empty(N_FIELDS + 2, dtype=np.int64)
    expected = N_FIELDS + (1 if with_id == 1 else 0)
    off = 1 if with_id == 1 else 0
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
        if e == s:  # empty line: skipped
            s = nxt
            continue
        if with_id < 0:
            with_id = 0 if (e - s >= 3 and buf[s] == 76 and buf[s + 1] == 72 and buf[s + 2] == 44) else 1
            expected = N_FIELDS + with_id
            off = with_id
        # split into fields (starts[k] = first byte of field k, starts[nf] = e + 1)
        nf = 0
        starts[0] = s
        for i in range(s, e):
            if buf[i] == 44:
                nf += 1
                if nf < expected:
                    starts[nf] = i + 1
        nf += 1
        code = OK
        if nf != expected:
            code = BAD_COUNT
        else:
            starts[expected] = e + 1
        if code == OK and off == 1 and nrid > 0:
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
        if code == OK:
            dv, tv = _timestamp(buf, starts[off + 1], starts[off + 2] - 1)
            if dv < 0:
                code = 4
            date[row] = dv
            time_us[row] = tv
        if code == OK:
            good, v = _price(buf, starts[off + 2], starts[off + 3] - 1, pow10)
            if not good:
                code = 5
            elif not v > 0:
                code = BAD_LAST_ZERO
            last[row] = v
        if code == OK:
            for k in range(2):
                v = _int(buf, starts[off + 3 + k], starts[off + 4 + k] - 1)
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
                    good, v = _price(buf, a, b, pow10)
                    if not good:
                        code = 8 + k
                        break
                if k == 0:
                    bid[row] = v
                else:
                    ask[row] = v
        if code == OK:
            v = _int(buf, starts[off + 7], starts[off + 8] - 1)
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
            v = _int(buf, a, b) if b - a <= MKT_CTR_DIGITS else -1
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
        if code == OK:
            row += 1
        else:
            bad_start[nbad] = s
            bad_end[nbad] = e  # the whole line, without its line end
            bad_code[nbad] = code
            bad_fields[nbad] = nf
            nbad += 1
        s = nxt
    return row, nbad, with_id


class LHStreamParser:
    """Parse a history reply block by block (each block: complete lines) into raw columns.

    ``feed`` may run in a worker thread while the socket keeps receiving (the kernel releases
    the GIL); blocks must be fed in reply order. ``finish`` returns ``(raw, bad)``.

    Warnings
    --------
    Keeps every block until :meth:`finish` (bad lines are cut from them then): memory is about
    the reply size plus the columns.
    """

    def __init__(self, request_id: str | None = None):
        self.request_id = request_id or None
        self._rid = np.frombuffer((request_id or "").encode(), dtype=np.uint8)
        self.with_id: bool | None = None
        self.blocks: list = []  # the fed blocks, in order
        self._parts: list[dict] = []
        self._bad: list[tuple[int, int, int, int, int]] = []  # (block, start, end, code, fields)

    def feed(self, block) -> None:
        """Parse one block of complete lines (bytes, bytearray or memoryview; kept, not copied)."""
        self.blocks.append(block)
        if not len(block):
            return
        buf = np.frombuffer(block, dtype=np.uint8)
        cap = int(np.count_nonzero(buf == 10)) + 1
        raw = empty_raw(cap)
        conds = np.zeros((cap, 4), dtype=np.uint8)
        bs, be = np.empty(cap, np.int64), np.empty(cap, np.int64)
        bc, bf = np.empty(cap, np.int16), np.empty(cap, np.int64)
        with_id = -1 if self.with_id is None else int(self.with_id)
        rows, nbad, with_id = _lh_kernel(
            buf, with_id, self._rid, _POW10, raw["date"], raw["time"], raw["last"], raw["last_sz"],
            raw["tot_vlm"], raw["bid"], raw["ask"], raw["tick_id"], raw["last_type"], raw["mkt_ctr"], conds,
            bs, be, bc, bf)
        if with_id >= 0:
            self.with_id = bool(with_id)
        for k in range(4):
            raw[f"cond{k + 1}"] = conds[:rows, k]
        self._parts.append({k: v[:rows] for k, v in raw.items()})
        ib = len(self.blocks) - 1
        self._bad += [(ib, int(bs[i]), int(be[i]), int(bc[i]), int(bf[i])) for i in range(nbad)]  # bad lines only

    def finish(self) -> tuple[dict, tuple]:
        """(raw columns of the good lines in received order, bad lines ``(text, reason)`` in received order)."""
        parts = self._parts
        if not parts:
            raw = empty_raw(0)
        elif len(parts) == 1:
            raw = {k: np.ascontiguousarray(v) for k, v in parts[0].items()}
        else:
            raw = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        expected = N_FIELDS + (1 if self.with_id else 0)
        out = tuple((bytes(self.blocks[ib][s:e]).decode("utf-8", "replace"),
                     reason(code, nf, expected, self.request_id)) for ib, s, e, code, nf in self._bad)
        return raw, out
