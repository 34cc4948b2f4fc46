"""Ingest rules (run on every collected/imported day) and the thresholds all validators share.

``make_ingest_rules(config)`` returns ``rules(df) -> (kept_df, rejects)`` for
``ctx.extras["ingest_rules"]``; :func:`install` wires it and the after-write hook.

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

import numpy as np
import pandas as pd

from core import naming
from core.errors import SchemaError
from core.schema import BY_NAME, RAW_COLUMNS
from core.validation.result import HIGH, LOW, MEDIUM, DayData, Issue, ValidationResult, ts_iso

FLAGS_LIBRARY = "flags"
CROSSED, LOCKED, OUTSIDE_QUOTE, PRICE_JUMP, VOLUME_SPIKE, STALE_QUOTE = 1, 2, 4, 8, 16, 32
FLAG_NAMES = {CROSSED: "crossed", LOCKED: "locked", OUTSIDE_QUOTE: "outside_quote", PRICE_JUMP: "price_jump",
              VOLUME_SPIKE: "volume_spike", STALE_QUOTE: "stale_quote"}
NAME = "rules"
CHECKS = ("rejected_rows", "crossed_quotes", "locked_quotes", "outside_quote", "price_jumps", "volume_spikes",
          "stale_quotes")
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
    cache_hours: float = 24.0  # cached validation results are reused for this long unless the data changed

    def with_(self, **changes) -> "ValidationConfig":
        return dataclasses.replace(self, **changes)


def load_config(catalog) -> ValidationConfig:
    """Defaults overridden by ``validation.<field>`` rows of the system config (one query)."""
    from sqlalchemy import select

    from core import db

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
                from core.errors import ConfigError

                raise ConfigError(key, f"expected {type(default).__name__}, got {value['v']!r}") from None
    return ValidationConfig(**changes)


def _rolling_prev(x: np.ndarray, valid: np.ndarray, w: int):
    """Sum, sum of squares and count of ``x`` over the ``w`` previous positions (excluding i)."""
    xv = np.where(valid, x, 0.0)
    s1 = np.concatenate(([0.0], np.cumsum(xv)))
    s2 = np.concatenate(([0.0], np.cumsum(xv * xv)))
    c = np.concatenate(([0], np.cumsum(valid, dtype=np.int64)))
    i = np.arange(x.size)
    lo = np.maximum(i - w, 0)
    return s1[i] - s1[lo], s2[i] - s2[lo], c[i] - c[lo]


def compute_flags(ns: np.ndarray, last: np.ndarray, size: np.ndarray, bid: np.ndarray, ask: np.ndarray,
                  session: np.ndarray, config: ValidationConfig) -> np.ndarray:
    """Flag bitmask (uint8) per tick; vectorised (see the module docstring for the rules)."""
    n = last.size
    flags = np.zeros(n, dtype=np.uint8)
    if n == 0:
        return flags
    have_q = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask > 0)
    flags[have_q & (bid > ask)] |= CROSSED
    flags[have_q & (bid == ask)] |= LOCKED
    tol = config.outside_quote_tolerance_bps * 1e-4
    flags[have_q & (bid <= ask) & ((last > ask * (1 + tol)) | (last < bid * (1 - tol)))] |= OUTSIDE_QUOTE

    size_f = size.astype(np.float64)
    w = config.window
    ssum, _, scnt = _rolling_prev(size_f, np.ones(n, dtype=bool), w)
    mean_size = np.where(scnt > 0, ssum / np.maximum(scnt, 1), np.nan)
    flags[(scnt >= config.min_window) & (size_f > config.volume_spike_multiple * mean_size)] |= VOLUME_SPIKE

    if n >= 3:
        r = np.empty(n)
        r[0] = np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            r[1:] = np.log(last[1:] / last[:-1])
        ok = np.isfinite(r)
        s1, s2, c = _rolling_prev(r, ok, w)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = s2 / c - (s1 / c) ** 2
        sample = np.abs(r[ok][:: max(1, int(ok.sum()) // ROBUST_SAMPLE)])
        nz = sample[sample > 0]
        floor = max(1.4826 * float(np.median(nz)) if nz.size else 0.0, 1e-6)
        sigma = np.where(c >= config.min_window, np.sqrt(np.maximum(var, 0.0)), np.nan)
        sigma = np.where(np.isfinite(sigma), np.maximum(sigma, floor), floor)
        lim = np.maximum(config.jump_sigma * sigma, config.jump_min_bps * 1e-4)
        jump = ok & (c >= config.min_window) & (np.abs(r) > lim)  # no verdict without a history
        nxt = np.zeros(n, dtype=bool)
        nxt[:-1] = jump[1:] & (np.sign(r[1:]) == -np.sign(r[:-1]))
        spike = jump & nxt  # the next trade comes straight back: an isolated print
        unconfirmed = jump & ~(size_f >= config.jump_volume_confirm * np.nan_to_num(mean_size, nan=np.inf))
        after_spike = np.zeros(n, dtype=bool)
        after_spike[1:] = spike[:-1]
        quick = np.zeros(n, dtype=bool)  # a jump after a long pause (a halt, a gap) is news, not a bad print
        quick[1:] = (ns[1:] - ns[:-1]) < config.jump_max_pause_s * 1e9
        flags[unconfirmed & (spike | quick) & ~after_spike] |= PRICE_JUMP

    if session is not None:
        qchange = np.ones(n, dtype=bool)
        qchange[1:] = (bid[1:] != bid[:-1]) | (ask[1:] != ask[:-1])
        last_change = np.maximum.accumulate(np.where(qchange, np.arange(n), 0))
        age = (ns - ns[last_change]) / 1e9
        flags[have_q & (session == 1) & (age > config.stale_quote_s)] |= STALE_QUOTE
    return flags


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
    """
    cfg = config or ValidationConfig()

    def rules(df: pd.DataFrame):
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
        if sink is not None and len(df):
            flags = compute_flags(df.index.asi8, df["last"].to_numpy(np.float64), df["last_sz"].to_numpy(np.int64),
                                  df["bid"].to_numpy(np.float64), df["ask"].to_numpy(np.float64),
                                  df["session"].to_numpy(), cfg)
            at = np.flatnonzero(flags)
            frame = pd.DataFrame({"tick_id": df["tick_id"].to_numpy()[at], "flags": flags[at]}, index=df.index[at])
            if len(sink) >= PENDING_LIMIT:
                sink.pop(next(iter(sink)))
            sink[(str(df["symbol"].iat[0]), str(df["ingest_id"].iat[0]))] = frame
        return df, rejects

    rules.config = cfg
    return rules


def store_flags(ctx, symbol: str, day, frame: pd.DataFrame | None) -> int:
    """Replace the stored flags of a day with ``frame`` (deleted when empty); returns rows stored."""
    sym = naming.tick_symbol(symbol, day)
    lib = ctx.store.library(FLAGS_LIBRARY)
    if frame is None or frame.empty:
        if lib.has_symbol(sym):
            lib.delete(sym)
        return 0
    ctx.store.write_series(FLAGS_LIBRARY, sym, frame, metadata={"ingest_id": ctx.store.day_info(symbol, day).ingest_id})
    return len(frame)


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
    rejected = int((getattr(data.info, "extra", None) or {}).get("rejected", 0) or 0)
    metrics["rejected"] = rejected
    if rejected:
        issues.append(Issue(NAME, MEDIUM, "REJECTED_ROWS", f"{rejected:,} rows were rejected at ingest (bad price, "
                            "size or quote); review them in the dead-letter queue and replay after fixing.",
                            rows=rejected))
    return ValidationResult.build(NAME, data.symbol, data.day, CHECKS, issues, metrics)


def install(ctx, config: ValidationConfig | None = None) -> None:
    """Turn on ingest rules and post-write validation + quality scoring for ``ctx``.

    Sets ``ctx.extras["ingest_rules"]`` and appends a hook to ``ctx.extras["after_write"]``
    that stores the day's flags, validates the written day and persists its quality score.
    Installing twice does not add a second hook.
    """
    cfg = config or load_config(ctx.catalog)
    pending: dict = {}
    ctx.extras["ingest_rules"] = make_ingest_rules(cfg, sink=pending)
    hooks = ctx.extras.setdefault("after_write", [])
    hooks[:] = [h for h in hooks if getattr(h, "__name__", "") != "validation_after_write"]

    def validation_after_write(ctx_, symbol: str, day) -> None:
        from core.validation.quality import quality_score
        from core.validation.service import validate_day

        info = ctx_.store.day_info(symbol, day)
        store_flags(ctx_, symbol, day, pending.pop((info.symbol, info.ingest_id), None))
        report = validate_day(ctx_, symbol, day, use_cache=False, config=cfg)
        quality_score(ctx_, symbol, day, report=report, persist=True)

    hooks.append(validation_after_write)
