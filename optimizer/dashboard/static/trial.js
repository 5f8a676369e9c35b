// Omega V2 dashboard: one trial. Params, seed, hash, metrics, the replay command, and the
// equity curve, drawdown and trades of a replay that the server runs on demand.
"use strict";

(function () {
  const O = window.Omega;
  const { el, clear, getJSON, api, fmt, fmtTime, fmtSeconds, kvRows, badge, showError } = O;
  const C = O.charts;

  const name = document.body.dataset.study;
  const number = Number(document.body.dataset.number);
  const TRADE_COLUMNS = [
    ["id", "#"],
    ["direction", "side"],
    ["order_type", "order"],
    ["entry_time_ms", "entry time"],
    ["entry_price", "entry"],
    ["exit_time_ms", "exit time"],
    ["exit_price", "exit"],
    ["lots", "lots"],
    ["sl", "sl"],
    ["tp", "tp"],
    ["reason", "reason"],
    ["pnl_gross", "pnl gross"],
    ["fees", "fees"],
    ["result", "result"],
    ["r_multiple", "R"],
  ];
  const TRADES_PER_PAGE = 50;
  const state = { trades: [], page: 1, replayed: false };

  function stateBadge(t) {
    const kinds = { COMPLETE: "good", FAIL: "bad", RUNNING: "run", WAITING: "warn" };
    return badge(t.state, kinds[t.state] || "");
  }

  function render(t) {
    const summary = document.getElementById("trial-summary");
    const rank = t.rank === null ? "not ranked" : `rank ${t.rank}${t.feasible ? "" : " (infeasible)"}`;
    clear(summary).append(
      el("div", { class: "item" }, el("span", { class: "label" }, "state"), el("span", { class: "value" }, stateBadge(t))),
      el("div", { class: "item" }, el("span", { class: "label" }, "leaderboard"), el("span", { class: "value" }, rank)),
      el("div", { class: "item" }, el("span", { class: "label" }, t.objective.name), el("span", { class: "value" }, fmt(t.objective.value)))
    );
    document.getElementById("replay-command").textContent = t.replay_command;
    if (t.state === "FAIL") {
      document.getElementById("replay-hint").textContent =
        "replay refuses a failed trial (exit code 2) and prints the stored reason below.";
    }
    const failed = t.error !== null;
    document.getElementById("error-card").hidden = !failed;
    if (failed) {
      document.getElementById("error-category").textContent = t.error.category || "?";
      document.getElementById("error-message").textContent = t.error.message || "";
    }
    kvRows(document.querySelector("#params tbody"), t.params.map((p) => [p.name, p.value]));
    for (const row of document.querySelectorAll("#params tbody th")) {
      const p = t.params.find((q) => q.name === row.textContent);
      if (p) row.title = p.path;
    }
    kvRows(document.querySelector("#info tbody"), [
      ["trial", String(t.number)],
      ["batch", String(t.batch)],
      ["seed", el("span", { class: "mono" }, t.seed)],
      ["config_hash", el("span", { class: "mono wrap" }, t.config_hash || "–")],
      ["duration", fmtSeconds(t.duration_s)],
      ["inside run_backtest", fmtSeconds(t.engine_s)],
      ["worker pid", t.worker_pid === null ? "–" : String(t.worker_pid)],
      ["created", fmtTime(t.created_at) + " UTC"],
      ["finished", t.finished_at ? fmtTime(t.finished_at) + " UTC" : "–"],
    ]);
    if (t.metrics) {
      kvRows(document.querySelector("#metrics tbody"), t.metrics);
      const constraints = Object.entries(t.constraints || {});
      if (constraints.length) {
        const text = constraints.map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
        document.querySelector("#metrics tbody").appendChild(el("tr", null, el("th", null, "constraints"), el("td", null, text)));
      }
    } else {
      const why = t.state === "FAIL" ? "none: the trial failed" : "none yet: the trial has not finished";
      kvRows(document.querySelector("#metrics tbody"), [["metrics", why]]);
    }
    document.getElementById("config-json").textContent = t.config_json || "–";
    document.getElementById("stats-json").textContent = t.stats_json || "–";
    const complete = t.state === "COMPLETE";
    document.getElementById("equity-card").hidden = !complete;
    document.getElementById("trades-card").hidden = !complete;
  }

  function renderTrades() {
    const thead = document.querySelector("#trades thead");
    const tbody = document.querySelector("#trades tbody");
    clear(thead).appendChild(el("tr", null, TRADE_COLUMNS.map(([, label]) => el("th", null, label))));
    clear(tbody);
    const pages = Math.max(1, Math.ceil(state.trades.length / TRADES_PER_PAGE));
    state.page = Math.min(Math.max(1, state.page), pages);
    const start = (state.page - 1) * TRADES_PER_PAGE;
    for (const trade of state.trades.slice(start, start + TRADES_PER_PAGE)) {
      const cells = TRADE_COLUMNS.map(([key]) => {
        const v = trade[key];
        if (key.endsWith("_time_ms")) return el("td", null, v === null || v === undefined ? "–" : fmtTime(v, false));
        const cls = key === "result" && typeof v === "number" ? (v >= 0 ? "num good-text" : "num bad-text") : typeof v === "number" ? "num" : null;
        return el("td", { class: cls }, fmt(v, key.endsWith("price") || key === "sl" || key === "tp" ? 5 : 2));
      });
      tbody.appendChild(el("tr", null, cells));
    }
    if (state.trades.length === 0) {
      tbody.appendChild(el("tr", null, el("td", { colspan: String(TRADE_COLUMNS.length), class: "muted" }, "no trades")));
    }
    document.getElementById("tr-page").textContent = `page ${state.page} of ${pages}`;
    document.getElementById("tr-prev").disabled = state.page <= 1;
    document.getElementById("tr-next").disabled = state.page >= pages;
  }

  async function loadReplay() {
    const note = document.getElementById("replay-note");
    const equityBox = document.getElementById("equity-chart");
    C.empty(equityBox, "replaying the trial…");
    let r;
    try {
      r = await getJSON(api("study", name, "trial", number, "replay"));
    } catch (error) {
      showError(equityBox, "Replay failed: " + error.message);
      C.empty(document.getElementById("drawdown-chart"), "–");
      return;
    }
    state.replayed = true;
    const match = r.metrics_match
      ? "replayed metrics match the stored ones"
      : "replayed metrics differ: " + r.differences.map((d) => `${d.metric} stored ${fmt(d.stored)} replayed ${fmt(d.replayed)}`).join("; ");
    note.textContent = `${r.points} bars, replayed in ${fmtSeconds(r.seconds)}; ${match}`;
    note.className = r.metrics_match ? "muted" : "bad-text";
    if (r.equity.t.length === 0) {
      C.empty(equityBox, "the replay returned no equity curve");
    } else {
      const series = [{ kind: "line", x: r.equity.t, y: r.equity.equity, color: C.COLORS.equity, label: "equity" }];
      if (r.equity.balance.length) series.push({ kind: "line", x: r.equity.t, y: r.equity.balance, color: C.COLORS.balance, label: "balance", width: 1.2 });
      C.xy(equityBox, {
        title: "equity",
        height: 320,
        x: { type: "time", label: "time (UTC)" },
        y: { label: "account value" },
        series,
        legend: [{ label: "equity", color: C.COLORS.equity }, { label: "balance", color: C.COLORS.balance }],
        hover: true,
      });
      C.xy(document.getElementById("drawdown-chart"), {
        title: "drawdown",
        height: 200,
        x: { type: "time", label: "time (UTC)" },
        y: { label: "drawdown %" },
        series: [{ kind: "area", x: r.drawdown.t, y: r.drawdown.pct, color: C.COLORS.drawdown, label: "drawdown %" }],
        hover: true,
      });
    }
    state.trades = r.trades;
    const shown = r.trades_total > r.trades.length ? ` (the first ${r.trades.length} shown)` : "";
    document.getElementById("trades-count").textContent = `${r.trades_total} trades${shown}`;
    renderTrades();
  }

  function setupControls() {
    document.getElementById("copy-command").addEventListener("click", async (event) => {
      const text = document.getElementById("replay-command").textContent;
      const button = event.target;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "copied";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(document.getElementById("replay-command"));
        window.getSelection().removeAllRanges();
        window.getSelection().addRange(range);
        button.textContent = "selected: press Ctrl+C";
      }
      setTimeout(() => (button.textContent = "copy"), 2000);
    });
    document.getElementById("tr-prev").addEventListener("click", () => {
      state.page -= 1;
      renderTrades();
    });
    document.getElementById("tr-next").addEventListener("click", () => {
      state.page += 1;
      renderTrades();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    setupControls();
    let finished = false;
    // Poll until the trial has finished (it may be running in a sweep), then replay it once.
    O.poll(async () => {
      if (finished) return;
      const t = await getJSON(api("study", name, "trial", number));
      render(t);
      if (t.state === "COMPLETE" || t.state === "FAIL") {
        finished = true;
        if (t.state === "COMPLETE" && !state.replayed) await loadReplay();
      }
    }, 2000);
  });
})();
