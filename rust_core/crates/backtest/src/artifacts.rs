//! The four artifacts (ENGINE §8): their JSON forms and their files.

use std::fmt::Write as _;
use std::path::Path;

use omega_types::{Direction, ExitReason, OrderType, Scenario, Tick, Trade, round_to_decimals};
use serde_json::{Value, json};

use crate::engine::EquityRow;
use crate::json::sorted;

fn direction(d: Direction) -> &'static str {
    match d {
        Direction::Long => "long",
        Direction::Short => "short",
    }
}

fn order_type(o: OrderType) -> &'static str {
    match o {
        OrderType::Market => "market",
        OrderType::Limit => "limit",
        OrderType::Stop => "stop",
    }
}

fn reason(r: ExitReason) -> &'static str {
    match r {
        ExitReason::StopLoss => "stop_loss",
        ExitReason::TakeProfit => "take_profit",
        ExitReason::Signal => "signal",
        ExitReason::EndOfData => "end_of_data",
    }
}

fn scenario(s: Scenario) -> &'static str {
    match s {
        Scenario::SlTpSameBar => "sl_tp_same_bar",
        Scenario::InEntryCandle => "in_entry_candle",
        Scenario::Gap => "gap",
    }
}

/// Sorts trades by entry time, then id (ENGINE §8).
pub fn sort_trades(trades: &mut [Trade]) {
    trades.sort_by_key(|t| (t.entry_time_ns, t.id));
}

/// Returns one trade as its `trades.json` object, rounded for output (ENGINE §10).
#[must_use]
pub fn trade_json(t: &Trade, tick: &Tick) -> Value {
    let price = |p: f64| tick.for_output(p);
    let money = |x: f64| round_to_decimals(x, 2);
    json!({
        "id": t.id,
        "direction": direction(t.direction),
        "order_type": order_type(t.order_type),
        "entry_time_ns": t.entry_time_ns,
        "exit_time_ns": t.exit_time_ns,
        "entry_price": price(t.entry_price),
        "exit_price": price(t.exit_price),
        "sl": price(t.sl),
        "tp": price(t.tp),
        "lots": money(t.lots),
        "reason": reason(t.reason),
        "scenario": t.scenario.map(scenario),
        "pnl_gross": money(t.pnl_gross),
        "fees": money(t.fees),
        "result": money(t.result),
        "r_multiple": round_to_decimals(t.r_multiple, 4),
    })
}

/// Returns the equity series in the result's column form.
#[must_use]
pub fn equity_json(rows: &[EquityRow]) -> Value {
    json!({
        "timestamp_ns": rows.iter().map(|r| r.timestamp_ns).collect::<Vec<_>>(),
        "balance": rows.iter().map(|r| round_to_decimals(r.balance, 2)).collect::<Vec<_>>(),
        "equity": rows.iter().map(|r| round_to_decimals(r.equity, 2)).collect::<Vec<_>>(),
    })
}

/// Returns `equity.csv`: header `timestamp_ns,balance,equity`, money with 2 decimals.
#[must_use]
pub fn equity_csv(rows: &[EquityRow]) -> String {
    let mut out = String::with_capacity(40 * (rows.len() + 1));
    out.push_str("timestamp_ns,balance,equity\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{:.2},{:.2}",
            r.timestamp_ns,
            round_to_decimals(r.balance, 2),
            round_to_decimals(r.equity, 2)
        );
    }
    out
}

/// Pretty JSON with sorted keys and a final newline.
fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `trades.json`, `equity.csv`, `metrics.json` and `meta.json` into `dir`.
///
/// # Errors
/// The I/O error of the first file that could not be written.
pub fn write_all(
    dir: &Path,
    trades: &Value,
    equity_csv: &str,
    metrics: &Value,
    meta: &Value,
) -> std::io::Result<()> {
    let _span = tracing::info_span!("output", dir = %dir.display()).entered();
    std::fs::create_dir_all(dir)?;
    let files = [
        ("trades.json", pretty(trades)),
        ("equity.csv", equity_csv.to_owned()),
        ("metrics.json", pretty(metrics)),
        ("meta.json", pretty(meta)),
    ];
    for (name, content) in files {
        // Write beside, then rename: a crash never leaves half a file under the real name.
        let tmp = dir.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, content)?;
        std::fs::rename(&tmp, dir.join(name))?;
    }
    Ok(())
}
