r"""Ingest rules (run on every collected/imported day) and the thresholds all validators share.

``make_ingest_rules(config)`` returns ``rules(df) -> (kept_df, rejects)`` for
``ctx.extras["ingest_rules"]``; :func:`tickdeck.core.validation.after_write.install` wires it and the
after-write hook.

* **Reject** (row removed, sent to the dead-letter table with the reason): missing required
  columns (the whole day is refused with :class:`~core.errors.SchemaError`), non-finite or
  non-positive trade price, negative size or cumulative volume, negative/infinite quote, raw time
  outside 0–24 h.
* **Flag** (row kept; bit set in a per-tick mask):

  ===== ============== ===================================================================
  bit   name           condition
  ===== ============== ===================================================================
  1     crossed        bid > ask
  2     locked         bid == ask
  4     outside_quote  last above ask (below bid) by more than ``outside_quote_tolerance_bps``
  8     price_jump     \|log return\| > max(``jump_sigma`` · σ of the previous ``window`` returns,
                       ``jump_min_bps``), the
                       trade's size is below ``jump_volume_confirm`` × the recent mean size (no
                       volume confirmation), and either the next trade reverts it (an isolated
                       print) or it came within ``jump_max_pause_s`` of the previous trade (a jump
                       after a halt or gap is news); the reverting trade itself is not flagged
  16    volume_spike   size > ``volume_spike_multiple`` × mean size of the previous ``window`` trades
  32    stale_quote    regular session, valid quote unchanged for more than ``stale_quote_s``
  ===== ============== ===================================================================

The ``rules`` validator also reports **exact duplicate rows** — ticks that repeat an earlier
tick of the day in timestamp, price, size, bid and ask (``DUPLICATE_ROWS``; tick ids are not
compared, since a file without trade ids gets row numbers). Ingest drops repeated tick ids, so
these are copies the ids cannot reveal: a file imported twice in one, a replayed feed. A few
are real — several fills of one aggressive order print at one timestamp (1.5% of the ESH4 MBO
trades, 0.6% of the BTCUSDT trades, each with its own trade id) — so the issue is MEDIUM
(WARN) up to ``duplicate_fail_share`` of the day's rows and HIGH (FAIL) above it.

Flags are stored for flagged rows only, in ArcticDB library ``flags`` under the tick day's
symbol ``<SYM>/<YYYY-MM-DD>`` (index = trade time, columns ``tick_id``, ``flags``);
:func:`flagged_ticks` lists them for the validation page. The ``rules`` validator recomputes the
same flags on the stored day, so faults are reported even for days ingested without rules.

Thresholds live in :class:`ValidationConfig` (documented defaults); any field can be
overridden with ``ctx.catalog.set_config("validation.<field>", value)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from tickdeck.core import naming
from tickdeck.core.errors import SchemaError
from tickdeck.core.schema import BY_NAME, INDEX, RAW_COLUMNS, TZ
from tickdeck.core.validation.result import HIGH, LOW, MEDIUM, DayData, Issue, ValidationResult, ts_iso

FLAGS_LIBRARY = naming.FLAGS_LIBRARY  # the flagged ticks of each day (symbol: the tick day's)
CROSSED, LOCKED, OUTSIDE_QUOTE, PRICE_JUMP, VOLUME_SPIKE, STALE_QUOTE = 1, 2, 4, 8, 16, 32
FLAG_NAMES = {CROSSED: "crossed", LOCKED: "locked", OUTSIDE_QUOTE: "outside_quote", PRICE_JUMP: "price_jump",
              VOLUME_SPIKE: "volume_spike", STALE_QUOTE: "stale_quote"}
NAME = "rules"
CHECKS = ("rejected_rows", "crossed_quotes", "locked_quotes", "outside_quote", "price_jumps", "volume_spikes",
          "stale_quotes", "duplicate_rows")
ROBUST_SAMPLE = 100_000  # returns sampled for the day's robust σ floor (median is O(n))
PENDING_LIMIT = 64  # flag frames held between the rules and the after-write hook (one per day in flight)
_US_PER_DAY = 86_400 * 10**6


@dataclass(frozen=True)
class ValidationConfig:
    """Every validation threshold, with its default and why.

    Override one with ``ctx.catalog.set_config("validation.<field>", value)``.
    """

    window: int = 500  # trades in the rolling window for σ of returns and mean size (~a few minutes of a liquid name)
    min_window: int = 30  # fewer prior trades than this: too little history to judge jumps or spikes
    jump_sigma: float = 10.0  # a print 10σ from the last trade is not noise
    jump_min_bps: float = 50.0  # and at least 0.5%: in a quiet tape 10σ can be a few bps, which is no bad print
    jump_volume_confirm: float = 2.0  # a jump on ≥ 2× the recent mean size is a real move
    jump_max_pause_s: float = 60.0  # a non-reverting jump is only suspect if it follows the last trade within 60 s
    volume_spike_multiple: float = 100.0  # size beyond 100× the recent average
    outside_quote_tolerance_bps: float = 50.0  # trades may print slightly off a stale quote; 0.5% is not slight
    stale_quote_s: float = 300.0  # a regular-session quote unchanged for 5 min while trades print
    open_tolerance_s: float = 300.0  # first regular trade within 5 min of the open
    close_tolerance_s: float = 300.0  # last regular trade within 5 min of the close
    gap_low_s: float = 120.0  # regular-session gap scale (see continuity.py)
    gap_medium_s: float = 300.0
    gap_high_s: float = 900.0
    gap_critical_s: float = 3600.0
    ext_gap_low_s: float = 1800.0  # pre/after-hours gaps: thin sessions, at most MEDIUM
    ext_gap_medium_s: float = 3600.0
    anomaly_z: float = 3.0  # |z| beyond 3 over a symbol's history is an anomaly
    # Exact duplicate rows beyond 10% of a day are copies (a file concatenated twice, a replay), not
    # same-timestamp fills (1.5% of ESH4 MBO trades, 0.6% of BTCUSDT trades): FAIL above, WARN below.
    duplicate_fail_share: float = 0.10
    cache_hours: float = 24.0  # cached validation results are reused for this long unless the data changed

    def with_(self, **changes) -> "ValidationConfig":
        return dataclasses.replace(self, **changes)


def load_config(catalog) -> ValidationConfig:
    """Defaults overridden by ``validation.<field>`` rows of the system config (one query)."""
    from sqlalchemy import select

    from tickdeck.core import db

    with catalog.engine.connect() as c:
        rows = c.execute(select(db.SystemConfig.key, db.SystemConfig.value)
                         .where(db.SystemConfig.key.like("validation.%"))).all()
    fields = {f.name: f for f in dataclasses.fields(ValidationConfig)}
    changes = {}
    for key, value in rows:
        name = key.split(".", 1)[1]
        if name in fields and isinstance(value, dict) and "v" in value:
            default = getattr(ValidationConfig, name)
            try:
                changes[name] = type(default)(value["v"])
            except (TypeError, ValueError):
                from tickdeck.core.errors import ConfigError

                raise ConfigError(key, f"expected {type(default).__name__}, got {value['v']!r}") from None
    return ValidationConfig(**changes)


@numba.njit(cache=True, nogil=True)
def _flags_kernel(ns, last, size, bid, ask, session, floor, w, min_window, k, min_jump, confirm, spike_mult,
                  pause_ns, tol, stale_ns):  # pragma: no cover - compiled
    n = last.shape[0]
    flags = np.zeros(n, dtype=np.uint8)
    r = np.zeros(n)
    ok = np.zeros(n, dtype=np.bool_)
    jump = np.zeros(n, dtype=np.bool_)
    unconf = np.zeros(n, dtype=np.bool_)
    ssum = 0.0  # sizes of the previous w trades
    s1 = 0.0  # returns of the previous w positions (valid ones)
    s2 = 0.0
    c = 0
    last_change = 0
    for i in range(n):
        b, a, p = bid[i], ask[i], last[i]
        have_q = np.isfinite(b) and np.isfinite(a) and b > 0 and a > 0
        if have_q:
            if b > a:
                flags[i] |= 1
            elif b == a:
                flags[i] |= 2
            if b <= a and (p > a * (1 + tol) or p < b * (1 - tol)):
                flags[i] |= 4
        if i > 0 and (bid[i] != bid[i - 1] or ask[i] != ask[i - 1]):
            last_change = i
        if have_q and session[i] == 1 and ns[i] - ns[last_change] > stale_ns:
            flags[i] |= 32
        cnt = min(i, w)
        mean = ssum / cnt if cnt > 0 else np.inf
        sz = float(size[i])
        if cnt >= min_window and sz > spike_mult * mean:
            flags[i] |= 16
        if i > 0 and p > 0 and last[i - 1] > 0 and np.isfinite(p) and np.isfinite(last[i - 1]):
            r[i] = np.log(p / last[i - 1])
            ok[i] = True
        if ok[i] and c >= min_window:
            var = s2 / c - (s1 / c) ** 2
            sig = np.sqrt(var) if var > 0 else 0.0
            if sig < floor:
                sig = floor
            lim = k * sig
            if lim < min_jump:
                lim = min_jump
            if abs(r[i]) > lim:
                jump[i] = True
                unconf[i] = not (sz >= confirm * mean)
        # slide the windows to cover [i-w+1, i] for the next trade
        ssum += sz
        if ok[i]:
            s1 += r[i]
            s2 += r[i] * r[i]
            c += 1
        j = i - w
        if j >= 0:
            ssum -= float(size[j])
            if ok[j]:
                s1 -= r[j]
                s2 -= r[j] * r[j]
                c -= 1
    prev_spike = False
    for i in range(n):
        spike = jump[i] and i + 1 < n and jump[i + 1] and r[i + 1] * r[i] < 0
        quick = i > 0 and ns[i] - ns[i - 1] < pause_ns
        if unconf[i] and (spike or quick) and not prev_spike:
            flags[i] |= 8
        prev_spike = spike
    return flags


def compute_flags(ns: np.ndarray, last: np.ndarray, size: np.ndarray, bid: np.ndarray, ask: np.ndarray,
                  session: np.ndarray | None, config: ValidationConfig) -> np.ndarray:
    """Flag bitmask (uint8) per tick; one compiled pass (see the module docstring for the rules)."""
    n = last.size
    if n == 0:
        return np.zeros(0, dtype=np.uint8)
    last = np.ascontiguousarray(last, dtype=np.float64)
    step = max(1, n // ROBUST_SAMPLE)
    with np.errstate(divide="ignore", invalid="ignore"):
        sample = np.abs(np.log(last[step::step] / last[step - 1:-1:step][: last[step::step].size]))
    sample = sample[np.isfinite(sample) & (sample > 0)]
    floor = max(1.4826 * float(np.median(sample)) if sample.size else 0.0, 1e-6)
    sess = np.ones(n, np.int8) if session is None else np.ascontiguousarray(session, dtype=np.int8)
    if session is None:
        sess[:] = 0  # no session labels: no stale-quote verdict
    return _flags_kernel(np.ascontiguousarray(ns, dtype=np.int64), last, np.ascontiguousarray(size, dtype=np.int64),
                         np.ascontiguousarray(bid, dtype=np.float64), np.ascontiguousarray(ask, dtype=np.float64),
                         sess, floor, int(config.window), int(config.min_window), float(config.jump_sigma),
                         config.jump_min_bps * 1e-4, float(config.jump_volume_confirm),
                         float(config.volume_spike_multiple), int(config.jump_max_pause_s * 1e9),
                         config.outside_quote_tolerance_bps * 1e-4, int(config.stale_quote_s * 1e9))


def flag_names(mask: int) -> list[str]:
    return [name for bit, name in FLAG_NAMES.items() if mask & bit]


def _reject_mask(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows to reject and a reason code per row (0 = keep)."""
    last = df["last"].to_numpy(np.float64)
    bid = df["bid"].to_numpy(np.float64)
    ask = df["ask"].to_numpy(np.float64)
    t = df["time"].to_numpy(np.int64)
    reason = np.zeros(len(df), dtype=np.int8)
    reason[(t < 0) | (t >= _US_PER_DAY)] = 5
    reason[(bid < 0) | np.isinf(bid) | (ask < 0) | np.isinf(ask)] = 4
    reason[df["tot_vlm"].to_numpy(np.int64) < 0] = 3
    reason[df["last_sz"].to_numpy(np.int64) < 0] = 2
    reason[~(np.isfinite(last) & (last > 0))] = 1
    return reason > 0, reason


_REASONS = {1: "price is not finite and positive", 2: "negative trade size", 3: "negative cumulative volume",
            4: "negative or infinite quote", 5: "time outside 00:00–24:00"}


def check_contract(df: pd.DataFrame) -> None:
    """Schema contract: every raw column present with a compatible dtype, plus the index.

    Raises
    ------
    SchemaError
        Names the missing or mistyped column; the whole day is refused.
    """
    if not isinstance(df.index, pd.DatetimeIndex) or df.index.tz is None:
        raise SchemaError("timestamp", "ingest rules need a tz-aware DatetimeIndex")
    for name in RAW_COLUMNS + ["session"]:
        if name not in df.columns:
            raise SchemaError(name, "required column is missing")
        want = np.dtype(BY_NAME[name].dtype).kind
        got = df[name].dtype.kind
        if (want in "iu" and got not in "iu") or (want == "f" and got not in "fiu"):
            raise SchemaError(name, f"expected {BY_NAME[name].dtype}, got {df[name].dtype}")


def make_ingest_rules(config: ValidationConfig | None = None, sink: dict | None = None):
    """The ``rules(df) -> (kept_df, rejects)`` callable for ``ctx.extras["ingest_rules"]``.

    ``sink``, when given, receives the flagged rows as ``sink[(symbol, ingest_id)] = frame``
    (tick_id, flags) for the after-write hook to store.

    The callable also offers its two parts, so the ingest path can run them on a day it
    enriches and writes in slices (:func:`core.ingest.ingest_day`) with the same result:
    ``rules.reject_rows(df) -> (kept_df, rejects)`` judges each row alone (any slice of a day
    may be passed), ``rules.flag_day(symbol, ingest_id, ns, tick_id, last, size, bid, ask,
    session)`` flags the day's kept rows as a whole (arrays in time order) into the sink.
    """
    cfg = config or ValidationConfig()

    def reject_rows(df: pd.DataFrame):
        check_contract(df)
        if len(df) == 0:
            return df, []
        bad, reason = _reject_mask(df)
        rejects = []
        if bad.any():
            idx = np.flatnonzero(bad)
            sub = df.iloc[idx]
            for j, (ts, row) in enumerate(zip(sub.index, sub[["tick_id", "date", "time", "last", "last_sz", "tot_vlm",
                                                              "bid", "ask"]].itertuples(index=False))):
                rejects.append((f"{ts.isoformat()} tick_id={row[0]} date={row[1]} time={row[2]} last={row[3]} "
                                f"last_sz={row[4]} tot_vlm={row[5]} bid={row[6]} ask={row[7]}",
                                _REASONS[int(reason[idx[j]])]))
            df = df.iloc[np.flatnonzero(~bad)]
        return df, rejects

    def flag_day(symbol, ingest_id, ns, tick_id, last, size, bid, ask, session, index=None) -> None:
        if sink is None or not len(ns):
            return
        flags = compute_flags(ns, last, size, bid, ask, session, cfg)
        at = np.flatnonzero(flags)
        if index is None:
            index = pd.DatetimeIndex(np.asarray(ns, dtype=np.int64)[at].view("datetime64[ns]"),
                                     name=INDEX).tz_localize("UTC").tz_convert(TZ)
        else:
            index = index[at]
        frame = pd.DataFrame({"tick_id": np.asarray(tick_id)[at], "flags": flags[at]}, index=index)
        if len(sink) >= PENDING_LIMIT:
            sink.pop(next(iter(sink)))
        sink[(str(symbol), str(ingest_id))] = frame

    def rules(df: pd.DataFrame):
        df, rejects = reject_rows(df)
        if sink is not None and len(df):
            flag_day(df["symbol"].iat[0], df["ingest_id"].iat[0], df.index.asi8, df["tick_id"].to_numpy(),
                     df["last"].to_numpy(np.float64), df["last_sz"].to_numpy(np.int64), df["bid"].to_numpy(np.float64),
                     df["ask"].to_numpy(np.float64), df["session"].to_numpy(), index=df.index)
        return df, rejects

    rules.config = cfg
    rules.reject_rows = reject_rows
    rules.flag_day = flag_day
    return rules


def store_flags(ctx, symbol: str, day, frame: pd.DataFrame | None) -> int:
    """Replace the stored flags of a day with ``frame`` (deleted when empty); returns rows stored."""
    sym = naming.tick_symbol(symbol, day)
    if frame is None or frame.empty:
        if ctx.store.has_series(FLAGS_LIBRARY, sym):
            ctx.store.delete_series(FLAGS_LIBRARY, sym)
        return 0
    ctx.store.write_series(FLAGS_LIBRARY, sym, frame, metadata={"ingest_id": ctx.store.day_info(symbol, day).ingest_id})
    return len(frame)


def stored_day_flags(ctx, symbol: str, day, config: ValidationConfig) -> pd.DataFrame:
    """The flag frame (``tick_id``, ``flags`` of flagged rows) of a stored day, recomputed."""
    df = ctx.store.read_day(symbol, day, columns=["tick_id", "last", "last_sz", "bid", "ask", "session"])
    flags = compute_flags(df.index.asi8, df["last"].to_numpy(np.float64), df["last_sz"].to_numpy(np.int64),
                          df["bid"].to_numpy(np.float64), df["ask"].to_numpy(np.float64), df["session"].to_numpy(),
                          config)
    at = np.flatnonzero(flags)
    return pd.DataFrame({"tick_id": df["tick_id"].to_numpy()[at], "flags": flags[at]}, index=df.index[at])


def flagged_ticks(ctx, symbol: str, day) -> pd.DataFrame:
    """Flagged ticks of a stored day: index time, ``tick_id``, ``flags`` (bitmask), ``names``.

    Empty frame when the day was ingested without flags.
    """
    sym = naming.tick_symbol(symbol, day)
    if sym not in ctx.store.list_series(FLAGS_LIBRARY, sym):
        return pd.DataFrame({"tick_id": np.empty(0, np.int64), "flags": np.empty(0, np.uint8),
                             "names": np.empty(0, object)})
    df, _ = ctx.store.read_series(FLAGS_LIBRARY, sym)
    uniq = {int(m): ",".join(flag_names(int(m))) for m in np.unique(df["flags"].to_numpy())}
    return df.assign(names=df["flags"].map(lambda m: uniq[int(m)]))


_FLAG_ISSUES = (
    (PRICE_JUMP, HIGH, "BAD_PRINTS", "trades jump beyond {k:g}σ of recent returns without volume confirmation "
     "(isolated prints that revert); they distort highs/lows and bars — exclude them or correct the prints"),
    (CROSSED, MEDIUM, "CROSSED_QUOTES", "ticks carry a crossed quote (bid > ask); spreads and trade signs are "
     "undefined there — check the quote source"),
    (OUTSIDE_QUOTE, MEDIUM, "OUTSIDE_QUOTE", "trades print outside the quote by more than {tol:g} bps; check "
     "for bad prints or stale quotes"),
    (LOCKED, LOW, "LOCKED_QUOTES", "ticks carry a locked quote (bid == ask)"),
    (VOLUME_SPIKE, LOW, "VOLUME_SPIKE", "trades are larger than {m:g}× the recent average size; verify they are "
     "real blocks"),
    (STALE_QUOTE, LOW, "STALE_QUOTE", "regular-session ticks carry a quote unchanged for more than {s:g} s; "
     "the quote feed may have stalled"),
)


def _float_key(x) -> np.ndarray:
    # bit pattern of each double with -0.0 → 0.0 and every NaN → one NaN, so equal values (NaN
    # quotes included) compare equal as integers
    x = np.asarray(x, dtype=np.float64) + 0.0
    return np.where(np.isnan(x), np.nan, x).view(np.int64)


def duplicate_rows(ns, last, size, bid, ask) -> np.ndarray:
    """Positions of rows that repeat an earlier row exactly: same timestamp, price, size, bid and ask.

    The first occurrence is not counted; NaN quotes equal NaN. Vectorised: only rows sharing
    their timestamp with another row are sorted by the five keys.
    """
    ns = np.asarray(ns, dtype=np.int64)
    n = ns.size
    if n < 2:
        return np.empty(0, dtype=np.int64)
    d = np.diff(ns)
    if (d > 0).all():  # strictly increasing (the usual stored day): no two rows share a timestamp
        return np.empty(0, dtype=np.int64)
    order = np.arange(n) if (d >= 0).all() else np.argsort(ns, kind="stable")
    ns_sorted = ns[order]
    same = ns_sorted[1:] == ns_sorted[:-1]
    cand = np.zeros(n, dtype=bool)
    cand[1:] |= same
    cand[:-1] |= same
    idx = order[cand]
    keys = np.column_stack([ns[idx], _float_key(np.asarray(last)[idx]), np.asarray(size, dtype=np.int64)[idx],
                            _float_key(np.asarray(bid)[idx]), _float_key(np.asarray(ask)[idx])])
    o = np.lexsort(keys.T[::-1])  # by time, then price, size, bid, ask; stable: first occurrence first
    k = keys[o]
    repeat = (k[1:] == k[:-1]).all(axis=1)
    return np.sort(idx[o][1:][repeat])


def validate_rules(data: DayData, config: ValidationConfig) -> ValidationResult:
    """The ingest flags recomputed on the stored day, as issues, plus the rows rejected at ingest."""
    flags = compute_flags(data.ns, data.last, data.size, data.bid, data.ask, data.session, config)
    issues: list[Issue] = []
    metrics: dict = {"flagged": int(np.count_nonzero(flags))}
    fmt = dict(k=config.jump_sigma, tol=config.outside_quote_tolerance_bps, m=config.volume_spike_multiple,
               s=config.stale_quote_s)
    for bit, sev, code, text in _FLAG_ISSUES:
        at = np.flatnonzero(flags & bit)
        metrics[FLAG_NAMES[bit]] = int(at.size)
        if at.size:
            issues.append(Issue(NAME, sev, code, f"{at.size:,} {text.format(**fmt)}.", ts_iso(data.ns[at[0]]),
                                ts_iso(data.ns[at[-1]]), int(at.size), data.example_rows(at)))
    dup = duplicate_rows(data.ns, data.last, data.size, data.bid, data.ask)
    metrics["duplicate_rows"] = int(dup.size)
    if dup.size:
        share = dup.size / max(data.n, 1)
        sev = HIGH if share > config.duplicate_fail_share else MEDIUM
        issues.append(Issue(NAME, sev, "DUPLICATE_ROWS",
                            f"{dup.size:,} rows ({share:.1%} of the day) repeat an earlier row exactly (same time, "
                            "price, size, bid and ask); a file imported with its rows twice or a replayed feed "
                            "leaves such copies, several fills at one timestamp can look the same — compare "
                            "with the source and re-import without the copies if they are not separate trades.",
                            ts_iso(data.ns[dup[0]]), ts_iso(data.ns[dup[-1]]), int(dup.size), data.example_rows(dup)))
    rejected = int((getattr(data.info, "extra", None) or {}).get("rejected", 0) or 0)
    metrics["rejected"] = rejected
    if rejected:
        issues.append(Issue(NAME, MEDIUM, "REJECTED_ROWS", f"{rejected:,} rows were rejected at ingest (bad price, "
                            "size or quote); review them in the dead-letter queue and replay after fixing.",
                            rows=rejected))
    return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)
