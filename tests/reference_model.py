"""A plain-Python reference model of the engine contract (ENGINE.md, docs/engine-choices.md).

Strategy ``mean_reversion_z_score``, execution variant ``v2``, fixed slippage only
(``random_pips`` must be 0, so no ChaCha8 draws are needed). Written for clarity, not
speed: every rule cites the section of ENGINE.md ("§5.3") or of engine-choices.md
("choices: <topic>") that it implements.

Inputs are the primary bars already clipped to ``[data.start, data.end)``, the whole D1
series (§10 Range: HTF files are not clipped), the news events, the symbol spec, the
costs and the strategy params (the same dict the engine config carries). The output
mirrors the engine's result: trades shaped like ``trades.json``, one equity row per bar
and the metrics of §7, all with the output rounding of §10 applied.
"""

from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass
from typing import Any

NS_PER_MINUTE = 60_000_000_000
NS_PER_DAY = 86_400_000_000_000
TF_NS = {
    name: minutes * NS_PER_MINUTE
    for name, minutes in {
        "M1": 1, "M5": 5, "M15": 15, "M30": 30, "H1": 60, "H4": 240, "D1": 1440,
    }.items()
}  # fmt: skip
IMPACT_RANK = {"low": 0, "medium": 1, "high": 2}
#: choices (Floating-point ties): a z this close to a threshold is on it, and meets it.
Z_TIE = 1e-9


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class SymbolSpec:
    pip_size: float
    tick_size: float
    contract_size: float
    min_lot: float
    lot_step: float
    max_lot: float
    base_currency: str
    quote_currency: str


@dataclass(frozen=True)
class Costs:
    commission_per_lot_side: float
    fixed_pips: float
    random_pips: float = 0.0


@dataclass(frozen=True)
class Bars:
    """Aligned BID and ASK OHLC series (§1); ``timestamp`` is the bar open time in ns."""

    timestamp: list[int]
    bid_open: list[float]
    bid_high: list[float]
    bid_low: list[float]
    bid_close: list[float]
    ask_open: list[float]
    ask_high: list[float]
    ask_low: list[float]
    ask_close: list[float]

    def __len__(self) -> int:
        return len(self.timestamp)

    def mid(self, field_name: str) -> list[float]:
        """§1: ``mid_x = (bid_x + ask_x) / 2``."""
        bid = getattr(self, f"bid_{field_name}")
        ask = getattr(self, f"ask_{field_name}")
        return [(b + a) / 2 for b, a in zip(bid, ask, strict=True)]


@dataclass(frozen=True)
class NewsEvent:
    timestamp_ns: int
    currency: str
    impact: str


@dataclass(frozen=True)
class NewsFilter:
    events: list[NewsEvent]
    minutes_before: int
    minutes_after: int
    min_impact: str


# ------------------------------------------------------------------------- rounding


def seq_sum(values: Any) -> float:
    """Left-to-right float sum (as a Rust iterator sums; Python 3.12's sum() compensates)."""
    total = 0.0
    for v in values:
        total += v
    return total


def round_half_away(x: float) -> float:
    """Round to the nearest integer, ties away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def round_tick(price: float, tick_size: float) -> float:
    """§10 Rounding: ``n = round(price * q)``, level ``n / q`` with ``q = round(1 / tick)``."""
    q = round_half_away(1.0 / tick_size)
    return round_half_away(price * q) / q


def round_out(x: float | None, decimals: int) -> float | None:
    """§10 output rounding ``sign(x) * floor(|x| * 10^d + 0.5) / 10^d``; ``-0.0`` is ``0.0``."""
    if x is None:
        return None
    scale = 10.0**decimals
    return math.copysign(math.floor(abs(x) * scale + 0.5) / scale, x) + 0.0


def tick_decimals(tick_size: float) -> int | None:
    """Decimals that write every price of the tick grid exactly (0.00001 -> 5, 0.25 -> 2),
    None when no form of at most 15 places does (1/3): prices carry them (§10)."""
    rest = int(round_half_away(1.0 / tick_size))
    counts = {2: 0, 5: 0}
    for factor in counts:
        while rest % factor == 0:
            rest //= factor
            counts[factor] += 1
    decimals = max(counts.values())
    return decimals if rest == 1 and decimals <= 15 else None


# ----------------------------------------------------------------------- indicators


def zscores(mid_close: list[float], window: int, resolution: float = 0.0) -> list[float | None]:
    """§3: z of ``mid_close`` over the last ``window`` bars, population std, two passes.

    choices (z-score): std == 0 exactly when every value in the window is equal, two
    neighbours counting as equal within ``resolution`` (a quarter tick: one mid price
    from two bid/ask splits can be two neighbouring doubles); z is then undefined (None),
    as it is before ``k = window - 1``.
    """
    out: list[float | None] = [None] * len(mid_close)
    for k in range(window - 1, len(mid_close)):
        values = mid_close[k - window + 1 : k + 1]
        if all(abs(b - a) <= resolution for a, b in itertools.pairwise(values)):
            continue
        mean = seq_sum(values) / window
        std = math.sqrt(seq_sum((v - mean) * (v - mean) for v in values) / window)
        out[k] = (mid_close[k] - mean) / std
    return out


def wilder_atr(
    high: list[float], low: list[float], close: list[float], length: int, resolution: float = 0.0
) -> list[float | None]:
    """§3: Wilder ATR on mid OHLC, defined from ``k = length - 1``; a true range of at
    most ``resolution`` is 0 (a bar that did not move, whatever residue its mids carry)."""
    true_ranges = [high[0] - low[0]]
    for k in range(1, len(high)):
        prev = close[k - 1]
        true_ranges.append(max(high[k] - low[k], abs(high[k] - prev), abs(low[k] - prev)))
    true_ranges = [tr if tr > resolution else 0.0 for tr in true_ranges]
    out: list[float | None] = [None] * len(high)
    if len(high) < length:
        return out
    atr = seq_sum(true_ranges[:length]) / length
    out[length - 1] = atr
    for k in range(length, len(high)):
        atr = (atr * (length - 1) + true_ranges[k]) / length
        out[k] = atr
    return out


def ema(values: list[float], length: int) -> list[float | None]:
    """§3: EMA seeded with the SMA of the first ``length`` values, ``alpha = 2/(n+1)``."""
    out: list[float | None] = [None] * len(values)
    if len(values) < length:
        return out
    current = seq_sum(values[:length]) / length
    out[length - 1] = current
    alpha = 2.0 / (length + 1)
    for j in range(length, len(values)):
        current = alpha * values[j] + (1.0 - alpha) * current
        out[j] = current
    return out


# -------------------------------------------------------------------------- helpers


def last_complete_bar(open_times: list[int], duration_ns: int, decision_ns: int) -> int:
    """§2: the last HTF bar with ``open + dur <= decision time`` (-1 when none)."""
    return bisect.bisect_right(open_times, decision_ns - duration_ns) - 1


def parse_hhmm(text: str) -> int:
    """§10 Sessions: ``HH:MM`` in minutes; ``24:00`` (1440) is allowed as an end."""
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def in_sessions(open_time_ns: int, sessions: list[dict[str, str]] | None) -> bool:
    """§4 Sessions: ``t_k``'s time of day in some ``[start, end)``; none means always open."""
    if not sessions:
        return True  # choices (Sessions): absent, null or [] mean always open
    tod = open_time_ns % NS_PER_DAY
    for window in sessions:
        start = parse_hhmm(window["start"]) * NS_PER_MINUTE
        end = parse_hhmm(window["end"]) * NS_PER_MINUTE
        if start == end:  # §10: start == end means the whole day
            return True
        if start < end and start <= tod < end:
            return True
        if start > end and (tod >= start or tod < end):  # crosses midnight
            return True
    return False


def news_blocks(decision_ns: int, news: NewsFilter | None, spec: SymbolSpec) -> bool:
    """§4 News: ``event - before <= decision_time <= event + after`` blocks an entry."""
    if news is None:
        return False
    currencies = {spec.base_currency, spec.quote_currency}
    for event in news.events:
        if event.currency not in currencies:
            continue
        if IMPACT_RANK[event.impact] < IMPACT_RANK[news.min_impact]:
            continue
        before = event.timestamp_ns - news.minutes_before * NS_PER_MINUTE
        after = event.timestamp_ns + news.minutes_after * NS_PER_MINUTE
        if before <= decision_ns <= after:
            return True
    return False


def with_defaults(params: dict[str, Any]) -> dict[str, Any]:
    """§10 Defaults for the optional strategy params."""
    defaults = {
        "z_exit": None, "entry_order": "market", "entry_offset_atr": 0.0,
        "order_ttl_bars": 1, "direction": "both", "max_positions": 1,
        "htf_filter": "none", "htf_ema_length": None, "max_spread_pips": None,
        "warmup_bars": 0,
    }  # fmt: skip
    return {**defaults, **params}


# ------------------------------------------------------------------- orders, trades


@dataclass
class Order:
    """An entry order: queued market order or pending limit/stop order (§5)."""

    id: int
    direction: str  # "long" | "short"
    order_type: str  # "market" | "limit" | "stop"
    created_bar: int
    sl_dist: float  # §4: sl_atr * ATR at the signal bar
    tp_dist: float
    lots: float
    price: float | None = None  # rounded limit/stop level (§10: rounded at creation)


@dataclass
class Position:
    order: Order
    entry_bar: int
    entry_time_ns: int
    entry_price: float
    sl: float
    tp: float
    entry_fee: float
    pending_fill: bool  # filled by a pending order (in_entry_candle on its fill bar)


@dataclass
class ModelResult:
    trades: list[dict[str, Any]]
    equity: dict[str, list[Any]]  # timestamp_ns, balance, equity (2 decimals)
    metrics: dict[str, Any]


# ---------------------------------------------------------------------------- engine


def run_model(
    bars: Bars,
    primary_tf: str,
    spec: SymbolSpec,
    costs: Costs,
    params: dict[str, Any],
    *,
    initial_balance: float,
    d1: Bars | None = None,
    sessions: list[dict[str, str]] | None = None,
    news: NewsFilter | None = None,
) -> ModelResult:
    assert costs.random_pips == 0, "the reference model supports fixed slippage only"
    p = with_defaults(params)
    n = len(bars)
    assert n > 0
    tf_ns = TF_NS[primary_tf]
    cs = spec.contract_size
    commission = costs.commission_per_lot_side
    slip = (costs.fixed_pips + 0.0 * costs.random_pips) * spec.pip_size  # §5 Slippage, u*0

    def tick(price: float) -> float:
        return round_tick(price, spec.tick_size)

    # §3 indicators on mid prices, over all bars in range (choices: Range).
    mid_close = bars.mid("close")
    resolution = spec.tick_size / 4  # mids lie on a half-tick grid
    z = zscores(mid_close, p["z_window"], resolution)
    atr = wilder_atr(bars.mid("high"), bars.mid("low"), mid_close, p["atr_length"], resolution)

    # §3 HTF EMA on the whole D1 mid_close; §2 completeness: open + 1 day <= decision time.
    use_htf = p["htf_filter"] == "trend"
    if use_htf:
        assert d1 is not None
        d1_close = d1.mid("close")
        d1_ema = ema(d1_close, p["htf_ema_length"])

    def htf_allows(direction: str, decision_ns: int) -> bool | None:
        """None while no complete D1 bar has a defined EMA (warm-up, §4)."""
        j = last_complete_bar(d1.timestamp, TF_NS["D1"], decision_ns)
        if j < 0 or d1_ema[j] is None:
            return None
        # §10 Metrics: the D1 close is compared with the EMA at that same D1 bar.
        if direction == "long":
            return d1_close[j] > d1_ema[j]
        return d1_close[j] < d1_ema[j]

    warmup_k = max(p["z_window"] - 1, p["atr_length"] - 1, p["warmup_bars"])  # §4 warmup_bars

    balance = initial_balance
    positions: list[Position] = []  # open positions in fill order
    pending: list[Order] = []  # live pending orders in creation order
    queued_entries: list[Order] = []  # market entries for the next open
    queued_exits: list[Position] = []  # signal exits for the next open
    next_id = 1  # choices (Order ids): only entry orders take ids
    trades: list[dict[str, Any]] = []
    rows: list[tuple[int, float, float]] = []

    def open_position(order: Order, k: int, fill: float, pending_fill: bool) -> None:
        nonlocal balance
        fill = tick(fill)  # §10: fills are rounded when they happen
        sign = 1 if order.direction == "long" else -1
        sl = tick(fill - sign * order.sl_dist)  # §5.3 / §10: SL = round(fill - sl_dist)
        tp = tick(fill + sign * order.tp_dist)
        fee = commission * order.lots  # §6 Fees: entry side
        balance -= fee
        positions.append(Position(order, k, bars.timestamp[k], fill, sl, tp, fee, pending_fill))

    def close_position(
        pos: Position, k: int, price: float, reason: str, scenario: str | None
    ) -> None:
        nonlocal balance
        price = tick(price)  # choices (Prices rounded): every fill, end_of_data included
        lots = pos.order.lots
        if pos.order.direction == "long":  # §6 pnl_gross
            pnl = (price - pos.entry_price) * lots * cs
        else:
            pnl = (pos.entry_price - price) * lots * cs
        exit_fee = commission * lots
        balance += pnl - exit_fee  # §6 Balance
        fees = pos.entry_fee + exit_fee
        result = pnl - fees
        risk = abs(pos.entry_price - pos.sl) * lots * cs  # choices (r_multiple)
        trades.append(
            {
                "id": pos.order.id,
                "direction": pos.order.direction,
                "order_type": pos.order.order_type,
                "entry_time_ns": pos.entry_time_ns,
                "exit_time_ns": bars.timestamp[k],
                "entry_price": pos.entry_price,
                "exit_price": price,
                "sl": pos.sl,
                "tp": pos.tp,
                "lots": lots,
                "reason": reason,
                "scenario": scenario,
                "pnl_gross": pnl,
                "fees": fees,
                "result": result,
                "r_multiple": result / risk if risk != 0 else 0.0,
            }
        )
        positions.remove(pos)

    def check_sl_tp(pos: Position, k: int) -> None:
        """§5.3 plus §10 Scenarios."""
        long = pos.order.direction == "long"
        # Long positions are checked on BID prices, short ones on ASK prices.
        if long:
            o, h, lo, c = bars.bid_open[k], bars.bid_high[k], bars.bid_low[k], bars.bid_close[k]
            sl_hit, tp_hit = lo <= pos.sl, h >= pos.tp
            open_beyond_sl, open_beyond_tp = o < pos.sl, o > pos.tp
            close_beyond_tp = c >= pos.tp
        else:
            o, h, lo, c = bars.ask_open[k], bars.ask_high[k], bars.ask_low[k], bars.ask_close[k]
            sl_hit, tp_hit = h >= pos.sl, lo <= pos.tp
            open_beyond_sl, open_beyond_tp = o > pos.sl, o < pos.tp
            close_beyond_tp = c <= pos.tp
        slip_out = -slip if long else slip  # an SL exit sells a long, buys back a short

        if pos.pending_fill and pos.entry_bar == k:
            # in_entry_candle: SL over the whole bar at SL - slip (no gap rule); TP only
            # if the bar closes beyond it, at TP. SL still wins.
            if sl_hit:
                close_position(pos, k, pos.sl + slip_out, "stop_loss", "in_entry_candle")
            elif close_beyond_tp:
                close_position(pos, k, pos.tp, "take_profit", "in_entry_candle")
            return

        if sl_hit:  # SL priority
            if open_beyond_sl:  # a gap through SL fills at the open ("gap" beats a tie)
                close_position(pos, k, o + slip_out, "stop_loss", "gap")
            else:
                scenario = "sl_tp_same_bar" if tp_hit else None
                close_position(pos, k, pos.sl + slip_out, "stop_loss", scenario)
        elif tp_hit:  # TP exits take max(TP, open) for a long, no slippage
            if open_beyond_tp:
                close_position(pos, k, o, "take_profit", "gap")
            else:
                close_position(pos, k, pos.tp, "take_profit", None)

    for k in range(n):
        t_k = bars.timestamp[k]
        last = k == n - 1

        # §5.1 Open: queued exits, then queued entries, each in creation order.
        for pos in queued_exits:
            if pos.order.direction == "long":
                close_position(pos, k, bars.bid_open[k] - slip, "signal", None)
            else:
                close_position(pos, k, bars.ask_open[k] + slip, "signal", None)
        queued_exits = []
        for order in queued_entries:
            if order.direction == "long":
                open_position(order, k, bars.ask_open[k] + slip, pending_fill=False)
            else:
                open_position(order, k, bars.bid_open[k] - slip, pending_fill=False)
        queued_entries = []

        # §5.2 Pending orders, in creation order; live on bars i+1 ..= i+ttl.
        still_live: list[Order] = []
        for order in pending:
            level = order.price
            assert level is not None
            fill: float | None = None
            if order.order_type == "limit" and order.direction == "long":
                if bars.ask_low[k] <= level:
                    fill = min(level, bars.ask_open[k])
            elif order.order_type == "limit":
                if bars.bid_high[k] >= level:
                    fill = max(level, bars.bid_open[k])
            elif order.direction == "long":
                if bars.ask_high[k] >= level:
                    fill = max(level, bars.ask_open[k]) + slip
            elif bars.bid_low[k] <= level:
                fill = min(level, bars.bid_open[k]) - slip
            if fill is not None:
                open_position(order, k, fill, pending_fill=True)
            elif k < order.created_bar + p["order_ttl_bars"]:
                still_live.append(order)
            # else: cancelled at the end of step 2 of its last live bar (§10 Orders)
        pending = still_live

        # §5.3 SL/TP for every open position, in fill order.
        for pos in list(positions):
            check_sl_tp(pos, k)

        # §5.4 Close.
        if last:
            # end_of_data: close at the close, no slippage; cancel pending; record equity.
            for pos in list(positions):
                if pos.order.direction == "long":
                    close_position(pos, k, bars.bid_close[k], "end_of_data", None)
                else:
                    close_position(pos, k, bars.ask_close[k], "end_of_data", None)
            pending = []
            equity = balance
            rows.append((t_k, balance, equity))
            break

        # §6: equity = balance + (open positions marked at the raw close).
        marks = 0.0
        for pos in positions:
            lots = pos.order.lots
            if pos.order.direction == "long":
                marks += (bars.bid_close[k] - pos.entry_price) * lots * cs
            else:
                marks += (pos.entry_price - bars.ask_close[k]) * lots * cs
        equity = balance + marks
        rows.append((t_k, balance, equity))

        # Signal exits (§4 z_exit; choices: Signal exits), queued for k+1; a z within
        # Z_TIE of a threshold is on it (choices: Floating-point ties).
        if p["z_exit"] is not None and z[k] is not None:
            for pos in positions:
                long = pos.order.direction == "long"
                if (long and z[k] >= -p["z_exit"] - Z_TIE) or (
                    not long and z[k] <= p["z_exit"] + Z_TIE
                ):
                    queued_exits.append(pos)

        # Entries: at most one new order per bar (§4); z gives at most one direction.
        signal = None
        if z[k] is not None:
            if z[k] <= -p["z_entry"] + Z_TIE:
                signal = "long"
            elif z[k] >= p["z_entry"] - Z_TIE:
                signal = "short"
        if signal is None or k < warmup_k:
            continue
        if p["direction"] not in ("both", signal):
            continue
        decision_ns = t_k + tf_ns  # §2: decision time is the bar's close
        if use_htf and not htf_allows(signal, decision_ns):
            continue  # warm-up (EMA undefined) or trend against the signal
        if not in_sessions(t_k, sessions):
            continue
        if news_blocks(decision_ns, news, spec):
            continue
        if p["max_spread_pips"] is not None:
            spread_pips = (bars.ask_close[k] - bars.bid_close[k]) / spec.pip_size
            if spread_pips > p["max_spread_pips"] + 1e-9:  # choices (Spread gate)
                continue
        atr_k = atr[k]
        assert atr_k is not None
        if atr_k == 0:  # §10 Orders: ATR_k == 0 skips the signal
            continue
        # §4 max_positions: open positions + live pending + queued entries.
        if len(positions) + len(pending) + len(queued_entries) >= p["max_positions"]:
            continue
        sl_dist = p["sl_atr"] * atr_k
        tp_dist = p["tp_atr"] * atr_k
        sizing = p["sizing"]
        if sizing["mode"] == "fixed_lots":
            lots = sizing["lots"]
        else:  # §6 / choices (Sizing equity): equity marked at this bar's close
            x = equity * sizing["risk_pct"] / 100 / (sl_dist * cs)
            steps = math.floor(x / spec.lot_step + 1e-9)
            lots = min(steps / round_half_away(1.0 / spec.lot_step), spec.max_lot)
            if lots < spec.min_lot:
                continue
        order = Order(next_id, signal, p["entry_order"], k, sl_dist, tp_dist, lots)
        next_id += 1
        offset = p["entry_offset_atr"] * atr_k
        if order.order_type == "market":
            queued_entries.append(order)
            continue
        # §5.2 pending levels, rounded at creation (§10).
        if order.order_type == "limit":
            raw = bars.ask_close[k] - offset if signal == "long" else bars.bid_close[k] + offset
        else:
            raw = bars.ask_close[k] + offset if signal == "long" else bars.bid_close[k] - offset
        order.price = tick(raw)
        pending.append(order)

    trades.sort(key=lambda t: (t["entry_time_ns"], t["id"]))  # §8
    metrics = compute_metrics(trades, rows, initial_balance)
    return ModelResult(
        trades=[round_trade(t, spec.tick_size) for t in trades],
        equity={
            "timestamp_ns": [r[0] for r in rows],
            "balance": [round_out(r[1], 2) for r in rows],
            "equity": [round_out(r[2], 2) for r in rows],
        },
        metrics=metrics,
    )


# ------------------------------------------------------------------- output, metrics


def round_trade(trade: dict[str, Any], tick_size: float) -> dict[str, Any]:
    """§10: prices carry the tick's decimals, money 2 decimals, lots 2, r_multiple 4."""
    out = dict(trade)
    price_decimals = tick_decimals(tick_size)
    for key in ("entry_price", "exit_price", "sl", "tp"):
        out[key] = trade[key] if price_decimals is None else round_out(trade[key], price_decimals)
    for key in ("lots", "pnl_gross", "fees", "result"):
        out[key] = round_out(trade[key], 2)
    out["r_multiple"] = round_out(trade["r_multiple"], 4)
    return out


def sharpe_ratio(rows: list[tuple[int, float, float]], initial_balance: float) -> float | None:
    """§7 sharpe: daily closes of the equity series, simple returns, sqrt(252)."""
    day_close: dict[int, float] = {}
    for t, _, equity in rows:  # a bar belongs to the UTC day of its open time (§10)
        day_close[t // NS_PER_DAY] = equity
    returns = []
    previous = initial_balance
    for day in sorted(day_close):
        returns.append(day_close[day] / previous - 1.0)
        previous = day_close[day]
    if len(returns) < 2:
        return None
    mean = seq_sum(returns) / len(returns)
    std = math.sqrt(seq_sum((r - mean) * (r - mean) for r in returns) / (len(returns) - 1))
    if std == 0:
        return None
    return mean / std * math.sqrt(252)


def compute_metrics(
    trades: list[dict[str, Any]], rows: list[tuple[int, float, float]], initial_balance: float
) -> dict[str, Any]:
    """§7 with the §10 Metrics rules, from unrounded values, rounded once at the end."""
    results = [t["result"] for t in trades]
    count = len(trades)
    wins = sum(1 for r in results if round_out(r, 2) > 0)  # §10: win on the rounded result

    peak = initial_balance
    max_dd = 0.0
    max_dd_pct = 0.0
    for _, _, equity in rows:
        peak = max(peak, equity)
        max_dd = max(max_dd, peak - equity)
        max_dd_pct = max(max_dd_pct, (peak - equity) / peak * 100)

    profit_net = seq_sum(results)
    # Wins and losses by the cent-rounded result (§10), so a break-even residue such as
    # -1e-13 counts on neither side of the profit factor (docs/engine-choices.md).
    positive = seq_sum(r for r in results if round_out(r, 2) > 0)
    negative = seq_sum(r for r in results if round_out(r, 2) < 0)
    metrics = {
        "trades": count,
        "wins": wins,
        "losses": count - wins,
        "winrate": round_out(wins / count if count else 0.0, 4),
        "profit_gross": round_out(seq_sum(t["pnl_gross"] for t in trades), 2),
        "fees_total": round_out(seq_sum(t["fees"] for t in trades), 2),
        "profit_net": round_out(profit_net, 2),
        "max_drawdown": round_out(max_dd, 2),
        "max_drawdown_pct": round_out(max_dd_pct, 2),
        "max_drawdown_initial_pct": round_out(max_dd / initial_balance * 100, 2),
        "avg_r_multiple": round_out(
            seq_sum(t["r_multiple"] for t in trades) / count if count else 0.0, 4
        ),
        "total_lots": round_out(seq_sum(t["lots"] for t in trades), 2),
        "profit_factor": round_out(positive / abs(negative), 4) if negative != 0 else None,
        "sharpe": round_out(sharpe_ratio(rows, initial_balance), 4),
        "score": round_out(profit_net / max(max_dd, 0.01 * initial_balance) if count else 0.0, 4),
    }
    return dict(sorted(metrics.items()))
