"""Databento DBN reader: ``trades``, ``tbbo``, ``mbp-1`` and ``mbo`` files → trades with quotes.

Read with ``databento.DBNStore.from_file`` (``.dbn`` or ``.dbn.zst``) into a numpy record
array. Prices are fixed-point integers of 1e-9; ``UNDEF_PRICE`` (int64 max) means no price.
Trade time is ``ts_event`` (the matching-engine time, UTC ns).

* ``trades``: every record is a trade; no quotes.
* ``tbbo`` / ``mbp-1``: records with action ``T`` are trades; their ``bid_px_00`` /
  ``ask_px_00`` are the best bid/ask prevailing at the trade.
* ``mbo``: the order book is rebuilt from every add / cancel / modify / clear event (a numba
  kernel over the arrays); each ``T`` record gets the best bid/ask of the book at that moment.
  ``F`` (fill) records are the resting side of a trade already reported by ``T`` and are not
  imported again.

The dataset picks the calendar: ``GLBX.*`` (CME Globex) → ``CMES`` futures; equity datasets
(``XNAS``, ``XNYS``, ``DBEQ``, ``EQUS``, …) → ``XNYS``; anything else leaves the choice to the
importer. Trade files carry no instrument definitions; contract terms (ES: $50 per point) come
from :data:`core.instruments.FUTURES` by the symbol's root.

Integrity: a file that ends early is refused before anything is stored. For ``.zst`` the
zstd frames are walked header by header (no decompression) and a frame cut short is an error;
a record cut short (plain ``.dbn`` or a complete frame) is an error too (databento's
"incomplete record" warning). A file cut exactly between records or frames cannot be told
from a shorter file.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numba
import numpy as np

from tickdeck.core.errors import ImportFormatError
from tickdeck.core.sources.parsed import MAX_DEAD_LETTERS, ParsedTicks

UNDEF_PRICE = np.iinfo(np.int64).max  # databento's "no price" sentinel
PRICE_SCALE = 1e9  # DBN fixed-point prices: integer / 1e9 (division is exact for tick multiples)
SCHEMAS = ("trades", "tbbo", "mbp-1", "mbo")
_EQUITY_DATASETS = ("XNAS", "XNYS", "DBEQ", "EQUS", "XBOS", "XPSX", "BATS", "BATY", "EDGA", "EDGX", "IEXG",
                    "ARCX", "XCHI", "XCIS", "MEMX", "EPRL", "FINN", "FINY")
_A, _C, _M, _R, _T = (ord(c) for c in "ACMRT")
_BID = ord("B")
ZSTD_MAGIC = 0xFD2FB528  # little-endian magic number of a zstd frame
_SKIPPABLE = 0x184D2A50  # skippable frames: magic & 0xFFFFFFF0
_FCS_BYTES = (0, 2, 4, 8)  # Frame_Content_Size field size by its flag (flag 0 with single segment: 1)
_DICT_BYTES = (0, 1, 2, 4)


def zstd_truncation(path: str | Path) -> str | None:
    """Why the zstd file at ``path`` is incomplete, or None when every frame is whole.

    Walks frame and block headers (RFC 8878 §3.1) with seeks only, so a multi-GB file costs a
    few thousand small reads. Returns None for a file that does not start with the zstd magic.

    Raises
    ------
    ImportFormatError
        The data after a complete frame is not a zstd frame (corrupt file).
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        def read(n: int) -> bytes | None:
            b = f.read(n)
            return b if len(b) == n else None

        pos = 0
        while pos < size:
            head = read(4)
            if head is None:
                if pos == 0:
                    return None  # shorter than a magic number: not a zstd file
                return f"it ends {size - pos} byte(s) into a zstd frame header at offset {pos}"
            magic = int.from_bytes(head, "little")
            if magic & 0xFFFFFFF0 == _SKIPPABLE:
                n = read(4)
                if n is None or pos + 8 + int.from_bytes(n, "little") > size:
                    return f"the skippable zstd frame at offset {pos} is incomplete"
                pos += 8 + int.from_bytes(n, "little")
                f.seek(pos)
                continue
            if magic != ZSTD_MAGIC:
                if pos == 0:
                    return None
                raise ImportFormatError(f"{path}: corrupt: bytes at offset {pos} after a complete zstd frame "
                                        f"are not a zstd frame")
            fhd = read(1)
            if fhd is None:
                return f"the zstd frame at offset {pos} is incomplete (its header is cut)"
            d = fhd[0]
            single = (d >> 5) & 1
            fcs_flag = d >> 6
            header = 1 + (0 if single else 1) + _DICT_BYTES[d & 3] + (_FCS_BYTES[fcs_flag] or single)
            checksum = 4 if (d >> 2) & 1 else 0
            at = pos + 4 + header
            f.seek(at)
            while True:
                bh = read(3)
                if bh is None:
                    return f"the zstd frame at offset {pos} is incomplete (the file ends at {size} bytes inside it)"
                v = int.from_bytes(bh, "little")
                last, kind, n = v & 1, (v >> 1) & 3, v >> 3
                if kind == 3:
                    raise ImportFormatError(f"{path}: corrupt: reserved zstd block type at offset {at}")
                at += 3 + (1 if kind == 1 else n)
                if at > size:
                    return f"the zstd frame at offset {pos} is incomplete (the file ends at {size} bytes inside it)"
                f.seek(at)
                if last:
                    break
            at += checksum
            if at > size:
                return f"the zstd frame at offset {pos} is incomplete (its checksum is cut)"
            pos = at
            f.seek(pos)
    return None


def market_of_dataset(dataset: str) -> tuple[str | None, str | None]:
    """(calendar, asset_class) a Databento dataset code implies, or (None, None)."""
    head = dataset.split(".")[0].upper()
    if head == "GLBX":
        return "CMES", "futures"
    if head in _EQUITY_DATASETS:
        return "XNYS", "equity"
    return None, None


def _select_instruments(store, arr: np.ndarray, symbol: str, path: Path) -> np.ndarray:
    """Mask of records for ``symbol``; a single-instrument file is taken whole."""
    ids = np.unique(arr["instrument_id"])
    if ids.size <= 1:
        return np.ones(arr.shape[0], dtype=bool)
    mapping = {k.upper(): v for k, v in (store.mappings or {}).items()}
    if symbol.upper() not in mapping:
        raise ImportFormatError(f"{path}: holds {ids.size} instruments; --symbol must be one of "
                                f"{', '.join(sorted(mapping)) or '(no symbol mappings in the file)'}")
    wanted = np.array(sorted({int(iv["symbol"]) for iv in mapping[symbol.upper()]}), dtype=arr["instrument_id"].dtype)
    return np.isin(arr["instrument_id"], wanted)


@numba.njit(cache=True)
def _mbo_quotes(action, side, lvl, size, oid, n_levels, n_orders, level_px):  # pragma: no cover - compiled
    """Best bid/ask (price, NaN when a side is empty) prevailing at each record."""
    n = action.shape[0]
    bid_out = np.empty(n)
    ask_out = np.empty(n)
    bid_sz = np.zeros(n_levels, dtype=np.int64)
    ask_sz = np.zeros(n_levels, dtype=np.int64)
    o_lvl = np.full(n_orders, -1, dtype=np.int64)
    o_sz = np.zeros(n_orders, dtype=np.int64)
    o_bid = np.zeros(n_orders, dtype=np.bool_)
    best_bid = -1
    best_ask = n_levels
    for i in range(n):
        bid_out[i] = level_px[best_bid] if best_bid >= 0 else np.nan
        ask_out[i] = level_px[best_ask] if best_ask < n_levels else np.nan
        a = action[i]
        if a == _R:
            bid_sz[:] = 0
            ask_sz[:] = 0
            o_lvl[:] = -1
            o_sz[:] = 0
            best_bid = -1
            best_ask = n_levels
            continue
        if a != _A and a != _C and a != _M:
            continue
        o = oid[i]
        # remove what the order currently rests (cancel: only the cancelled quantity)
        if o_lvl[o] >= 0:
            take = o_sz[o] if a != _C else min(size[i], o_sz[o])
            if o_bid[o]:
                bid_sz[o_lvl[o]] -= take
            else:
                ask_sz[o_lvl[o]] -= take
            o_sz[o] -= take
            if o_sz[o] <= 0:
                o_lvl[o] = -1
                o_sz[o] = 0
        if (a == _A or a == _M) and lvl[i] >= 0 and size[i] > 0:
            o_lvl[o] = lvl[i]
            o_sz[o] = size[i]
            o_bid[o] = side[i] == _BID
            if o_bid[o]:
                bid_sz[lvl[i]] += size[i]
                if lvl[i] > best_bid:
                    best_bid = lvl[i]
            else:
                ask_sz[lvl[i]] += size[i]
                if lvl[i] < best_ask:
                    best_ask = lvl[i]
        while best_bid >= 0 and bid_sz[best_bid] <= 0:
            best_bid -= 1
        while best_ask < n_levels and ask_sz[best_ask] <= 0:
            best_ask += 1
    return bid_out, ask_out


def mbo_prevailing_quotes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best bid and ask prices (float, NaN when empty) prevailing before each MBO record."""
    px = arr["price"].astype(np.int64)
    valid = px != UNDEF_PRICE
    levels, inv = np.unique(np.where(valid, px, 0), return_inverse=True)
    lvl = np.where(valid, inv, -1).astype(np.int64)
    _, oid = np.unique(arr["order_id"], return_inverse=True)
    action = arr["action"].view(np.uint8)
    side = arr["side"].view(np.uint8)
    bid, ask = _mbo_quotes(action, side, lvl, arr["size"].astype(np.int64), oid.astype(np.int64),
                           levels.shape[0], int(oid.max()) + 1 if oid.size else 0, levels / PRICE_SCALE)
    return bid, ask


def read_dbn(path: str | Path, *, symbol: str) -> ParsedTicks:
    """Trades (with prevailing quotes where the schema has them) from a DBN file.

    Raises
    ------
    ImportFormatError
        Not a DBN file, an unsupported schema, or a symbol the file does not hold.
    """
    import databento

    from databento.common.error import BentoWarning

    path = Path(path)
    why = zstd_truncation(path)
    if why:
        raise ImportFormatError(f"{path}: truncated: {why}; nothing was imported (copy or download the file again)")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", BentoWarning)
            store = databento.DBNStore.from_file(path)
            schema = str(store.schema)
            arr = store.to_ndarray()
    except ImportFormatError:
        raise
    except Exception as e:  # noqa: BLE001 - databento raises several types for a bad file
        if "UnexpectedEof" in str(e):
            raise ImportFormatError(f"{path}: truncated: the file ends inside the DBN metadata header ({e})") from None
        raise ImportFormatError(f"{path}: not a readable DBN file ({e})") from None
    cut = [w for w in caught if issubclass(w.category, BentoWarning) and "truncated" in str(w.message)]
    if cut:
        raise ImportFormatError(f"{path}: truncated: the last DBN record is incomplete ({cut[0].message}); "
                                f"nothing was imported (copy or download the file again)")
    if schema not in SCHEMAS:
        raise ImportFormatError(f"{path}: DBN schema {schema!r} is not supported; use one of {', '.join(SCHEMAS)}")
    arr = arr[_select_instruments(store, arr, symbol, path)]
    record_no = np.arange(1, arr.shape[0] + 1, dtype=np.int64)  # position in the file: deterministic id
    if schema == "mbo":
        bid, ask = mbo_prevailing_quotes(arr)
    elif schema in ("mbp-1", "tbbo"):
        bpx, apx = arr["bid_px_00"].astype(np.int64), arr["ask_px_00"].astype(np.int64)
        bid = np.where(bpx == UNDEF_PRICE, np.nan, bpx / PRICE_SCALE)
        ask = np.where(apx == UNDEF_PRICE, np.nan, apx / PRICE_SCALE)
    else:
        bid = ask = np.full(arr.shape[0], np.nan)
    is_trade = arr["action"].view(np.uint8) == _T
    px = arr["price"].astype(np.int64)
    no_price = is_trade & (px == UNDEF_PRICE)
    t = is_trade & ~no_price
    bad = np.flatnonzero(no_price)
    rejects = tuple((f"record={int(record_no[i])} ts_event={int(arr['ts_event'][i])} size={int(arr['size'][i])}",
                     "DBN trade without a price (UNDEF_PRICE)") for i in bad[:MAX_DEAD_LETTERS])
    cal, asset = market_of_dataset(str(store.dataset))
    return ParsedTicks(
        name=f"dbn-{schema}", ns=arr["ts_event"][t].astype(np.int64), price=px[t] / PRICE_SCALE,
        size=arr["size"][t].astype(np.float64), bid=np.asarray(bid)[t], ask=np.asarray(ask)[t],
        tick_id=record_no[t], rejects=rejects, rejected=int(bad.size), calendar=cal, asset_class=asset,
        venue=str(store.dataset)[:32], description=f"Databento {store.dataset} {schema} ({path.name})")
