//! The event loop of execution variant v2 (ENGINE §5): open, pending, SL/TP, close.

use omega_execution::{BarQuote, SlippageModel, TradeLeg, pending_fill, pending_level, sl_tp_exit};
use omega_metrics::EquityStats;
use omega_portfolio::{Portfolio, Position, risk_lots};
use omega_strategy::{EntrySignal, Sizing, Strategy};
use omega_types::{Direction, ExitReason, OhlcView, OrderType, Tick, Trade, minute_of_day};

use crate::config::RunConfig;

/// The inputs of one loop over the primary bars in range.
pub struct LoopInput<'a> {
    /// Bar open times.
    pub timestamps: &'a [i64],
    /// BID prices.
    pub bid: OhlcView<'a>,
    /// ASK prices.
    pub ask: OhlcView<'a>,
    /// Per bar: entries forbidden by news (empty: none).
    pub news_blocked: &'a [bool],
    /// Keep the per-bar equity rows.
    pub keep_equity: bool,
}

/// One row of `equity.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EquityRow {
    /// Bar open time (epoch ns).
    pub timestamp_ns: i64,
    /// Cash balance at the bar's close.
    pub balance: f64,
    /// Equity at the bar's close.
    pub equity: f64,
}

/// Counters reported in the result's `stats` (never in `meta.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Bars processed.
    pub bars: usize,
    /// Entry signals the strategy raised.
    pub signals: usize,
    /// Entry orders created.
    pub orders: usize,
    /// Fills (entries and exits).
    pub fills: usize,
}

/// What the loop produces.
pub struct LoopOutput {
    /// Closed trades in closing order.
    pub trades: Vec<Trade>,
    /// Per-bar equity rows, when asked for.
    pub equity_rows: Vec<EquityRow>,
    /// Drawdown and daily-close statistics.
    pub equity_stats: EquityStats,
    /// Counters.
    pub counters: Counters,
}

/// An entry order: who it is, which way, and the distances and size it fills with.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    id: u64,
    direction: Direction,
    order_type: OrderType,
    sl_distance: f64,
    tp_distance: f64,
    lots: f64,
}

/// A live limit or stop order.
#[derive(Debug, Clone, Copy)]
struct PendingOrder {
    ticket: Ticket,
    level: f64,
    last_live_bar: usize,
}

/// The mutable state of the loop.
struct Book<'a> {
    config: &'a RunConfig,
    tick: Tick,
    slippage: SlippageModel,
    portfolio: Portfolio,
    queued_exits: Vec<u64>,
    queued_entries: Vec<Ticket>,
    pending: Vec<PendingOrder>,
    trades: Vec<Trade>,
    next_id: u64,
    counters: Counters,
}

impl Book<'_> {
    fn slip(&self, id: u64, leg: TradeLeg) -> f64 {
        self.slippage.slip(id, leg)
    }

    /// Opens a position at a rounded fill; SL/TP from the fill (ENGINE §5.3, §10).
    fn fill(&mut self, ticket: &Ticket, raw_price: f64, time: i64, pending_fill_bar: Option<usize>) {
        let entry_price = self.tick.round(raw_price);
        let s = ticket.direction.sign();
        let position = Position {
            id: ticket.id,
            direction: ticket.direction,
            order_type: ticket.order_type,
            entry_time_ns: time,
            entry_price,
            sl: self.tick.round(entry_price - s * ticket.sl_distance),
            tp: self.tick.round(entry_price + s * ticket.tp_distance),
            lots: ticket.lots,
            entry_fee: self.portfolio.commission(ticket.lots),
            pending_fill_bar,
            exit_queued: false,
        };
        self.portfolio.open(position);
        self.counters.fills += 1;
    }

    fn close(
        &mut self,
        index: usize,
        raw_price: f64,
        time: i64,
        reason: ExitReason,
        scenario: Option<omega_types::Scenario>,
    ) {
        let price = self.tick.round(raw_price);
        let trade = self.portfolio.close(index, price, time, reason, scenario);
        self.trades.push(trade);
        self.counters.fills += 1;
    }

    /// Step 1: queued market exits, then queued market entries, each in creation order.
    fn open_step(&mut self, q: &BarQuote, time: i64) {
        if self.queued_exits.is_empty() && self.queued_entries.is_empty() {
            return;
        }
        for i in 0..self.queued_exits.len() {
            let id = self.queued_exits[i];
            let Some(index) = self.portfolio.positions().iter().position(|p| p.id == id) else { continue };
            let slip = self.slip(id, TradeLeg::Exit);
            let raw = match self.portfolio.positions()[index].direction {
                Direction::Long => q.bid_open - slip,
                Direction::Short => q.ask_open + slip,
            };
            self.close(index, raw, time, ExitReason::Signal, None);
        }
        self.queued_exits.clear();
        let entries = std::mem::take(&mut self.queued_entries);
        for ticket in &entries {
            let slip = self.slip(ticket.id, TradeLeg::Entry);
            let raw = match ticket.direction {
                Direction::Long => q.ask_open + slip,
                Direction::Short => q.bid_open - slip,
            };
            self.fill(ticket, raw, time, None);
        }
        // Hand the buffer back so the loop allocates nothing per bar.
        self.queued_entries = entries;
        self.queued_entries.clear();
    }

    /// Step 2: pending orders fill or expire, in creation order.
    fn pending_step(&mut self, q: &BarQuote, time: i64, k: usize) {
        let mut i = 0;
        while i < self.pending.len() {
            let PendingOrder { ticket, level, last_live_bar } = self.pending[i];
            let slippage = self.slippage;
            let slip = || slippage.slip(ticket.id, TradeLeg::Entry);
            if let Some(raw) = pending_fill(ticket.direction, ticket.order_type, level, q, slip) {
                self.pending.remove(i);
                self.fill(&ticket, raw, time, Some(k));
            } else if k >= last_live_bar {
                // ENGINE §10: cancelled at the end of step 2 of its last live bar.
                self.pending.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Step 3: SL/TP for every open position, in fill order.
    fn sl_tp_step(&mut self, q: &BarQuote, time: i64, k: usize) {
        let mut index = 0;
        while index < self.portfolio.positions().len() {
            let p = &self.portfolio.positions()[index];
            let (id, in_entry_candle) = (p.id, p.pending_fill_bar == Some(k));
            let slippage = self.slippage;
            match sl_tp_exit(p.direction, p.sl, p.tp, q, in_entry_candle, || {
                slippage.slip(id, TradeLeg::Exit)
            }) {
                Some(exit) => self.close(index, exit.price, time, exit.reason, exit.scenario),
                None => index += 1,
            }
        }
    }

    /// The last bar: every position closes at the close, unslipped; pending orders go.
    fn end_of_data(&mut self, q: &BarQuote, time: i64) {
        while let Some(p) = self.portfolio.positions().first() {
            let raw = match p.direction {
                Direction::Long => q.bid_close,
                Direction::Short => q.ask_close,
            };
            self.close(0, raw, time, ExitReason::EndOfData, None);
        }
        self.pending.clear();
    }

    /// Queues a market exit for every position whose exit signal fires.
    fn signal_exits(&mut self, strategy: &dyn Strategy, k: usize) {
        for p in self.portfolio.positions_mut() {
            if !p.exit_queued && strategy.exit_signal(k, p.direction) {
                p.exit_queued = true;
                self.queued_exits.push(p.id);
            }
        }
    }

    fn in_session(&self, time: i64) -> bool {
        let sessions = &self.config.sessions;
        sessions.is_empty() || {
            let minute = minute_of_day(time);
            sessions.iter().any(|s| s.contains(minute))
        }
    }

    /// Creates at most one entry order from the strategy's signal, after the gates.
    fn entry(&mut self, signal: EntrySignal, q: &BarQuote, equity: f64, k: usize) {
        let open = self.portfolio.positions().len() + self.pending.len() + self.queued_entries.len();
        if open >= self.config.strategy.max_positions() {
            return;
        }
        let lots = match self.config.strategy.sizing() {
            Sizing::FixedLots(lots) => lots,
            Sizing::RiskPct(pct) => match risk_lots(equity, pct, signal.sl_distance, &self.config.spec) {
                Some(lots) => lots,
                None => return,
            },
        };
        let ticket = Ticket {
            id: self.next_id,
            direction: signal.direction,
            order_type: signal.order_type,
            sl_distance: signal.sl_distance,
            tp_distance: signal.tp_distance,
            lots,
        };
        self.next_id += 1;
        self.counters.orders += 1;
        if ticket.order_type == OrderType::Market {
            self.queued_entries.push(ticket);
        } else {
            let level = pending_level(ticket.direction, ticket.order_type, q, signal.offset);
            self.pending.push(PendingOrder {
                ticket,
                level: self.tick.round(level),
                last_live_bar: k + signal.ttl_bars,
            });
        }
    }
}

/// The eight price columns cut to the same length, so that indexing them with a bar
/// index below that length needs no bounds check in the hot loop.
struct Quotes<'a> {
    columns: [&'a [f64]; 8],
}

impl<'a> Quotes<'a> {
    fn new(bid: &OhlcView<'a>, ask: &OhlcView<'a>, bars: usize) -> Self {
        Self {
            columns: [
                &bid.open[..bars],
                &bid.high[..bars],
                &bid.low[..bars],
                &bid.close[..bars],
                &ask.open[..bars],
                &ask.high[..bars],
                &ask.low[..bars],
                &ask.close[..bars],
            ],
        }
    }

    fn at(&self, k: usize) -> BarQuote {
        let [bo, bh, bl, bc, ao, ah, al, ac] = self.columns;
        BarQuote {
            bid_open: bo[k],
            bid_high: bh[k],
            bid_low: bl[k],
            bid_close: bc[k],
            ask_open: ao[k],
            ask_high: ah[k],
            ask_low: al[k],
            ask_close: ac[k],
        }
    }
}

/// Runs the loop over every bar of `input` and returns trades, equity and counters.
#[must_use]
pub fn run_loop(config: &RunConfig, strategy: &dyn Strategy, input: &LoopInput<'_>) -> LoopOutput {
    let _span = tracing::info_span!("loop", bars = input.timestamps.len()).entered();
    let spec = &config.spec;
    let mut book = Book {
        config,
        tick: Tick::new(spec.tick_size),
        slippage: SlippageModel::new(config.rng_seed, config.costs.slippage, spec.pip_size),
        portfolio: Portfolio::new(
            config.initial_balance,
            spec.contract_size,
            config.costs.commission_per_lot_side,
        ),
        queued_exits: Vec::new(),
        queued_entries: Vec::new(),
        pending: Vec::new(),
        trades: Vec::new(),
        next_id: 1,
        counters: Counters::default(),
    };
    let mut equity_stats = EquityStats::new(config.initial_balance);
    let mut equity_rows = Vec::with_capacity(if input.keep_equity { input.timestamps.len() } else { 0 });
    let last = input.timestamps.len().saturating_sub(1);
    let quotes = Quotes::new(&input.bid, &input.ask, input.timestamps.len());
    for (k, &time) in input.timestamps.iter().enumerate() {
        let q = quotes.at(k);
        book.open_step(&q, time);
        book.pending_step(&q, time, k);
        book.sl_tp_step(&q, time, k);
        let equity = if k == last {
            book.end_of_data(&q, time);
            book.portfolio.balance()
        } else {
            book.portfolio.equity(q.bid_close, q.ask_close)
        };
        equity_stats.record(time, equity);
        if input.keep_equity {
            equity_rows.push(EquityRow { timestamp_ns: time, balance: book.portfolio.balance(), equity });
        }
        if k == last {
            break;
        }
        book.signal_exits(strategy, k);
        if let Some(signal) = strategy.entry_signal(k) {
            book.counters.signals += 1;
            let gated = !book.in_session(time) || input.news_blocked.get(k).copied().unwrap_or(false);
            if !gated {
                book.entry(signal, &q, equity, k);
            }
        }
    }
    book.counters.bars = input.timestamps.len();
    LoopOutput { trades: book.trades, equity_rows, equity_stats, counters: book.counters }
}
