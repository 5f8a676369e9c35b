// Omega V2 dashboard: one study. Leaderboard (sorted and paged by the server), history,
// objective against each parameter, importances and a heatmap; refreshed while it runs.
"use strict";

(function () {
  const O = window.Omega;
  const { el, clear, getJSON, api, trialHref, fmt, fmtTime, isNum, badge, phaseBadge, showError } = O;
  const C = O.charts;

  const name = document.body.dataset.study;
  const TABLE_METRICS = ["score", "profit_net", "max_drawdown", "max_drawdown_pct", "trades", "winrate", "profit_factor", "sharpe"];
  const state = {
    sort: "rank",
    order: "asc",
    page: 1,
    size: 50,
    summary: null,
    version: null,
    ascendingFirst: [],
    points: null,
    phase: null,
    pointsAt: 0,
    pointsVersion: null,
    importanceAt: 0,
    importanceVersion: null,
    importanceTrials: null,
    heatX: null,
    heatY: null,
  };

  // --- summary ------------------------------------------------------------------------

  function item(label, value) {
    return el("div", { class: "item" }, el("span", { class: "label" }, label), el("span", { class: "value" }, value));
  }

  function renderSummary(s) {
    const box = document.getElementById("summary");
    const sampler = s.sampler && s.sampler.name ? String(s.sampler.name) : "–";
    const options = Object.entries(s.sampler || {})
      .filter(([k]) => k !== "name")
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(", ");
    const constraints = Object.entries(s.constraints || {}).map(([k, v]) => `${k} ${fmt(v)}`).join(", ") || "none";
    const best = s.best
      ? el(
          "a",
          { href: trialHref(name, s.best.number) },
          s.best.feasible
            ? `${fmt(s.best.score)} (trial ${s.best.number})`
            : `${fmt(s.best.score)}* (trial ${s.best.number}, infeasible: no trial meets the constraints)`
        )
      : "–";
    const bar = el("span", { class: "progress" }, el("span", { class: "progress-fill" }));
    bar.firstChild.style.width = `${Math.min(100, (100 * s.done) / Math.max(1, s.n_trials)).toFixed(1)}%`;
    clear(box).append(
      item("status", phaseBadge(s.phase)),
      item("trials", el("span", null, `${s.done}/${s.n_trials} `, bar)),
      item("failed", s.failed ? badge(String(s.failed), "bad") : "0"),
      item("pending", String(s.pending)),
      item("best score", best),
      item("mode", s.run_mode),
      item("sampler", options ? `${sampler} (${options})` : sampler),
      item("objective", `${s.objective} (${s.direction})`),
      item("constraints", constraints),
      item("seed", s.seed === null ? "–" : s.seed),
      item("batch size", String(s.batch_size)),
      item("started", fmtTime(s.created_at) + " UTC"),
      item("last change", s.last_activity ? fmtTime(s.last_activity) + " UTC" : "–"),
      item("engine", s.engine_version || "–")
    );
  }

  // --- leaderboard --------------------------------------------------------------------

  function columns() {
    const params = state.summary.params;
    return [
      { key: "rank", label: "rank" },
      { key: "number", label: "trial" },
      ...TABLE_METRICS.map((k) => ({ key: k, label: k })),
      ...params.map((p) => ({ key: "param:" + p.path, label: p.name, title: p.path })),
      { key: "duration_s", label: "time" },
      { key: null, label: "config_hash" },
    ];
  }

  function defaultOrder(key) {
    if (key === "rank" || key === "number" || key.startsWith("param:")) return "asc";
    return state.ascendingFirst.includes(key) ? "asc" : "desc";
  }

  function sortBy(key, order) {
    state.sort = key;
    state.order = order || defaultOrder(key);
    state.page = 1;
    document.getElementById("lb-sort").value = key;
    loadLeaderboard().catch(reportError);
  }

  function renderHead() {
    const thead = document.querySelector("#leaderboard thead");
    const tr = el("tr");
    for (const col of columns()) {
      if (col.key === null) {
        tr.appendChild(el("th", null, col.label));
        continue;
      }
      const active = state.sort === col.key;
      const arrow = active ? (state.order === "asc" ? " ▲" : " ▼") : "";
      const button = el(
        "button",
        {
          type: "button",
          class: active ? "sort active" : "sort",
          title: (col.title || col.label) + ": click to sort",
          "data-sort": col.key,
          onclick: () => (active ? sortBy(col.key, state.order === "asc" ? "desc" : "asc") : sortBy(col.key)),
        },
        col.label + arrow
      );
      tr.appendChild(el("th", { class: col.key.startsWith("param:") ? null : "num" }, button));
    }
    clear(thead).appendChild(tr);
    document.getElementById("lb-order").textContent = state.order === "asc" ? "ascending" : "descending";
  }

  function renderRows(data) {
    const tbody = document.querySelector("#leaderboard tbody");
    clear(tbody);
    const params = state.summary.params;
    for (const r of data.rows) {
      const href = trialHref(name, r.number);
      const cells = [
        el("td", { class: "num", title: r.feasible ? null : "infeasible: misses a constraint" }, r.feasible ? String(r.rank) : `${r.rank}*`),
        el("td", { class: "num" }, el("a", { href, class: "trial-link" }, String(r.number))),
        ...TABLE_METRICS.map((k) => el("td", { class: "num" }, fmt(r.metrics[k]))),
        ...params.map((p) => el("td", null, fmt(r.params[p.path]))),
        el("td", { class: "num" }, O.fmtSeconds(r.duration_s)),
        el("td", { class: "mono", title: r.config_hash || "" }, (r.config_hash || "").slice(0, 12)),
      ];
      const tr = el("tr", { "data-number": String(r.number), class: r.feasible ? null : "infeasible" }, cells);
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a")) return;
        window.location.assign(href);
      });
      tbody.appendChild(tr);
    }
    if (data.rows.length === 0) {
      tbody.appendChild(el("tr", null, el("td", { colspan: String(columns().length), class: "muted" }, "no completed trials yet")));
    }
    const infeasible = data.infeasible ? `, ${data.infeasible} infeasible` : "";
    document.getElementById("lb-page").textContent = `page ${data.page} of ${data.pages} · ${data.total} ranked trials${infeasible}`;
    document.getElementById("lb-prev").disabled = data.page <= 1;
    document.getElementById("lb-next").disabled = data.page >= data.pages;
  }

  async function loadLeaderboard() {
    const query = new URLSearchParams({ sort: state.sort, order: state.order, page: String(state.page), size: String(state.size) });
    const data = await getJSON(api("study", name, "leaderboard") + "?" + query.toString());
    state.page = data.page;
    state.ascendingFirst = data.ascending_first;
    renderHead();
    renderRows(data);
  }

  function setupControls() {
    const select = document.getElementById("lb-sort");
    const options = [["rank", "rank (leaderboard order)"], ["number", "trial number"]];
    for (const k of state.summary.metrics) options.push([k, k]);
    for (const p of state.summary.params) options.push(["param:" + p.path, p.path]);
    options.push(["duration_s", "trial time"]);
    for (const [value, label] of options) select.appendChild(el("option", { value }, label));
    select.value = state.sort;
    select.addEventListener("change", () => sortBy(select.value));
    document.getElementById("lb-order").addEventListener("click", () => sortBy(state.sort, state.order === "asc" ? "desc" : "asc"));
    document.getElementById("lb-size").addEventListener("change", (event) => {
      state.size = Number(event.target.value);
      state.page = 1;
      loadLeaderboard().catch(reportError);
    });
    document.getElementById("lb-prev").addEventListener("click", () => {
      state.page -= 1;
      loadLeaderboard().catch(reportError);
    });
    document.getElementById("lb-next").addEventListener("click", () => {
      state.page += 1;
      loadLeaderboard().catch(reportError);
    });
    const params = state.summary.params;
    const hx = document.getElementById("heat-x");
    const hy = document.getElementById("heat-y");
    for (const p of params) {
      hx.appendChild(el("option", { value: p.path }, p.name));
      hy.appendChild(el("option", { value: p.path }, p.name));
    }
    state.heatX = params.length ? params[0].path : null;
    state.heatY = params.length > 1 ? params[1].path : state.heatX;
    hx.value = state.heatX || "";
    hy.value = state.heatY || "";
    hx.addEventListener("change", () => {
      state.heatX = hx.value;
      renderHeatmap();
    });
    hy.addEventListener("change", () => {
      state.heatY = hy.value;
      renderHeatmap();
    });
  }

  // --- failed trials ------------------------------------------------------------------

  async function loadFailed() {
    const data = await getJSON(api("study", name, "failed"));
    document.getElementById("failed-card").hidden = data.total === 0;
    const tbody = document.querySelector("#failed tbody");
    clear(tbody);
    for (const r of data.rows) {
      const href = trialHref(name, r.number);
      const tr = el(
        "tr",
        { "data-number": String(r.number) },
        el("td", { class: "num" }, el("a", { href }, String(r.number))),
        el("td", { class: "mono" }, r.seed),
        el("td", null, badge(r.error_category || "?", "bad")),
        el("td", { class: "wrap" }, r.error_message || "")
      );
      tr.addEventListener("click", (event) => {
        if (!event.target.closest("a")) window.location.assign(href);
      });
      tbody.appendChild(tr);
    }
    const more = document.getElementById("failed-more");
    more.hidden = data.total <= data.rows.length;
    more.textContent = `showing the last ${data.rows.length} of ${data.total} failed trials`;
  }

  // --- charts -------------------------------------------------------------------------

  function jitter(number) {
    return (((number * 2654435761) % 1000) / 1000 - 0.5) * 0.55;
  }

  function pointColors(p) {
    return p.feasible.map((f) => (f ? C.COLORS.feasible : C.COLORS.infeasible));
  }

  const LEGEND = [
    { label: "feasible", color: "#2563eb" },
    { label: "infeasible", color: "#f59e0b" },
  ];

  function renderHistory(p) {
    const box = document.getElementById("history-chart");
    const note = document.getElementById("history-note");
    note.textContent = `${p.objective_name} of each completed trial (${p.direction}); the line is the best so far` +
      (p.failed.length ? `; × marks the ${p.failed.length} failed trials` : "") + ". Click a point to open its trial.";
    if (p.number.length === 0) {
      C.empty(box, p.failed.length ? `no completed trials yet (${p.failed.length} failed)` : "no completed trials yet");
      return;
    }
    const titles = p.number.map((n, i) => `trial ${n}: ${p.objective_name} ${fmt(p.objective[i])}`);
    C.xy(box, {
      title: "optimization history",
      height: 300,
      x: { type: "linear", label: "trial" },
      y: { label: p.objective_name },
      series: [
        { kind: "points", x: p.number, y: p.objective, colors: pointColors(p), titles, hrefs: p.number.map((n) => trialHref(name, n)) },
        { kind: "line", x: p.number, y: p.best, color: C.COLORS.best, step: true, width: 2, label: "best" },
        { kind: "marks", x: p.failed, y: [], color: C.COLORS.failed, titles: p.failed.map((n) => `trial ${n} failed`), hrefs: p.failed.map((n) => trialHref(name, n)) },
      ],
      legend: [...LEGEND, { label: "best so far", color: C.COLORS.best }, { label: "failed", color: C.COLORS.failed }],
    });
  }

  function renderParams(p) {
    const grid = document.getElementById("param-charts");
    clear(grid);
    for (const spec of state.summary.params) {
      const box = el("div", { class: "chart small", "data-param": spec.path });
      grid.appendChild(el("div", { class: "param-chart" }, el("h3", { title: spec.path }, spec.name), box));
      const values = p.params[spec.path] || [];
      if (p.number.length === 0) {
        C.empty(box, "no completed trials yet");
        continue;
      }
      const titles = p.number.map((n, i) => `trial ${n}: ${spec.name} ${fmt(values[i])}, ${p.objective_name} ${fmt(p.objective[i])}`);
      const hrefs = p.number.map((n) => trialHref(name, n));
      let series;
      let x;
      if (spec.type === "categorical") {
        const keys = spec.choices.map((c) => JSON.stringify(c));
        x = { type: "band", categories: spec.choices.map((c) => String(c)), label: spec.name };
        const xs = values.map((v) => keys.indexOf(JSON.stringify(v)));
        series = { kind: "points", x: xs, y: p.objective, jitter: p.number.map(jitter), colors: pointColors(p), titles, hrefs };
      } else {
        const logScale = spec.log && values.every((v) => isNum(v) && v > 0);
        x = { type: "linear", label: logScale ? `log10(${spec.name})` : spec.name };
        const xs = logScale ? values.map((v) => Math.log10(v)) : values;
        series = { kind: "points", x: xs, y: p.objective, colors: pointColors(p), titles, hrefs };
      }
      C.xy(box, { title: spec.name, width: 420, height: 260, x, y: { label: p.objective_name }, series: [series] });
    }
  }

  function binner(spec, values) {
    if (spec.type === "categorical") {
      const keys = spec.choices.map((c) => JSON.stringify(c));
      return { labels: spec.choices.map((c) => String(c)), index: (v) => keys.indexOf(JSON.stringify(v)) };
    }
    const distinct = [...new Set(values.filter(isNum))].sort((a, b) => a - b);
    if (distinct.length <= 16) {
      return { labels: distinct.map((v) => fmt(v)), index: (v) => distinct.indexOf(v) };
    }
    const logScale = spec.log && distinct[0] > 0;
    const tf = logScale ? Math.log10 : (v) => v;
    const lo = tf(isNum(spec.low) ? spec.low : distinct[0]);
    const hi = tf(isNum(spec.high) ? spec.high : distinct[distinct.length - 1]);
    const n = 10;
    const labels = [];
    for (let k = 0; k < n; k++) {
      const a = lo + ((hi - lo) * k) / n;
      const b = lo + ((hi - lo) * (k + 1)) / n;
      const back = logScale ? (v) => Math.pow(10, v) : (v) => v;
      labels.push(`${fmt(back(a), 2)}–${fmt(back(b), 2)}`);
    }
    return {
      labels,
      index: (v) => (isNum(v) ? Math.max(0, Math.min(n - 1, Math.floor(((tf(v) - lo) / (hi - lo || 1)) * n))) : -1),
    };
  }

  function renderHeatmap() {
    const box = document.getElementById("heatmap-chart");
    const note = document.getElementById("heat-note");
    const p = state.points;
    const specs = Object.fromEntries(state.summary.params.map((s) => [s.path, s]));
    if (state.summary.params.length < 2) {
      C.empty(box, "needs a search space of two or more parameters");
      return;
    }
    if (!p) return;
    if (state.heatX === state.heatY) {
      C.empty(box, "choose two different parameters");
      return;
    }
    if (p.number.length === 0) {
      C.empty(box, "no completed trials yet");
      return;
    }
    const sx = specs[state.heatX];
    const sy = specs[state.heatY];
    const bx = binner(sx, p.params[sx.path]);
    const by = binner(sy, p.params[sy.path]);
    const maximize = p.direction === "maximize";
    const values = by.labels.map(() => bx.labels.map(() => null));
    const counts = by.labels.map(() => bx.labels.map(() => 0));
    p.number.forEach((_, i) => {
      const xi = bx.index(p.params[sx.path][i]);
      const yi = by.index(p.params[sy.path][i]);
      const v = p.objective[i];
      if (xi < 0 || yi < 0 || !isNum(v)) return;
      counts[yi][xi] += 1;
      const cur = values[yi][xi];
      if (cur === null || (maximize ? v > cur : v < cur)) values[yi][xi] = v;
    });
    note.textContent = `best ${p.objective_name} per cell (${p.direction}); hover a cell for its value and trial count.`;
    C.heatmap(box, {
      xLabels: bx.labels,
      yLabels: by.labels,
      values,
      counts,
      xName: sx.name,
      yName: sy.name,
      valueName: p.objective_name,
      higherIsBetter: maximize,
    });
  }

  async function loadPoints(force, version) {
    const now = Date.now();
    const n = state.points ? state.points.number.length : 0;
    const every = n > 3000 ? 10000 : 3000; // redrawing many points costs the browser
    if (!force && now - state.pointsAt < every) return;
    state.pointsAt = now;
    state.pointsVersion = version;
    const p = await getJSON(api("study", name, "points"));
    state.points = p;
    renderHistory(p);
    renderParams(p);
    renderHeatmap();
  }

  async function loadImportance(force, version) {
    const now = Date.now();
    if (!force && now - state.importanceAt < 15000) return;
    state.importanceAt = now;
    state.importanceVersion = version;
    const box = document.getElementById("importance-chart");
    const note = document.getElementById("importance-note");
    const data = await getJSON(api("study", name, "importance"));
    state.importanceTrials = typeof data.trials === "number" ? data.trials : null;
    if (data.status !== "ok") {
      note.textContent = "";
      C.empty(box, "Not available yet: " + data.message + ".");
      return;
    }
    const specs = Object.fromEntries(state.summary.params.map((s) => [s.path, s]));
    note.textContent = `From ${data.trials} completed trials of the Optuna study, ${data.evaluator}; the values add up to 1.`;
    C.bars(box, {
      labels: data.importances.map((d) => (specs[d.path] ? specs[d.path].name : d.path)),
      values: data.importances.map((d) => d.value),
      titles: data.importances.map((d) => `${d.path}: ${fmt(d.value)}`),
    });
  }

  function reportError(error) {
    O.setLive(false, "error: " + error.message);
  }

  async function refresh(force) {
    const s = await getJSON(api("study", name, "summary"));
    state.summary = s;
    renderSummary(s);
    // A sweep that just ended: draw its final state at once, past the throttles.
    const ended = state.phase === "running" && s.phase !== "running";
    state.phase = s.phase;
    force = force || ended;
    const tasks = [];
    if (force || s.version !== state.version) {
      state.version = s.version;
      tasks.push(loadLeaderboard(), loadFailed());
    }
    // Charts and importances follow at their own, slower pace (see their loaders).
    if (force || s.version !== state.pointsVersion) tasks.push(loadPoints(force, s.version));
    // The Optuna study may lag the results by a batch: ask again until it caught up.
    const lagging = state.importanceTrials !== null && state.importanceTrials < (s.counts.COMPLETE || 0);
    if (force || lagging || s.version !== state.importanceVersion) tasks.push(loadImportance(force, s.version));
    await Promise.all(tasks);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    try {
      state.summary = await getJSON(api("study", name, "summary"));
    } catch (error) {
      showError(document.getElementById("summary"), "Cannot load the study: " + error.message);
      return;
    }
    setupControls();
    let first = true;
    O.poll(async () => {
      await refresh(first);
      first = false;
    }, 2000);
  });
})();
