// Omega V2 dashboard: small SVG charts (scatter, lines, areas, heatmap, bars).
// No library, no network: every label is set with textContent through Omega.svg.
"use strict";

(function () {
  const { svg, el, clear, fmt, fmtTime, isNum } = window.Omega;

  const COLORS = {
    feasible: "#2563eb",
    infeasible: "#f59e0b",
    best: "#16a34a",
    failed: "#dc2626",
    equity: "#2563eb",
    balance: "#64748b",
    drawdown: "#dc2626",
    grid: "#e5e7eb",
    axis: "#6b7280",
  };
  const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
  const DAY = 86400000;
  const TIME_STEPS = [
    60000, 300000, 900000, 3600000, 3 * 3600000, 6 * 3600000, 12 * 3600000,
    DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 91 * DAY, 182 * DAY, 365 * DAY,
  ];

  function extent(values) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of values) {
      if (!isNum(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo === Infinity) return [0, 1];
    if (lo === hi) {
      const pad = Math.abs(lo) * 0.05 || 1;
      return [lo - pad, hi + pad];
    }
    return [lo, hi];
  }

  function padded([lo, hi], fraction) {
    const pad = (hi - lo) * fraction;
    return [lo - pad, hi + pad];
  }

  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  }

  function numberTicks(lo, hi, count) {
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.round(v / step) * step);
    }
    return { values: out, step };
  }

  function timeTicks(lo, hi, count) {
    const raw = (hi - lo) / Math.max(1, count);
    const step = TIME_STEPS.find((s) => s >= raw) || 365 * DAY;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
    return { values: out, step };
  }

  function tickLabel(v, step) {
    const a = Math.abs(v);
    if (a >= 1e6 && step >= 1e5) return fmt(v / 1e6, 2) + "M";
    if (a >= 1e4 && step >= 1e3) return fmt(v / 1e3, 1) + "k";
    const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
    return v.toFixed(decimals);
  }

  function timeLabel(v, step, span) {
    const text = fmtTime(v, false);
    if (step >= DAY) return span > 365 * DAY ? text.slice(0, 10) : text.slice(5, 10);
    return text.slice(5);
  }

  function linear(domain, range) {
    const [d0, d1] = domain;
    const [r0, r1] = range;
    const k = d1 === d0 ? 0 : (r1 - r0) / (d1 - d0);
    return (v) => r0 + (v - d0) * k;
  }

  function frame(container, opts) {
    // Drawn at the container's width, so that text keeps its size on any screen.
    const width = Math.max(opts.minWidth || 300, Math.round(container.clientWidth) || opts.width || 860);
    const height = opts.height || 300;
    const top = opts.legend ? 30 : 14; // a legend sits above the plot area
    const m = { left: 68, right: 16, top, bottom: opts.x && opts.x.label ? 46 : 30 };
    const root = svg("svg", {
      viewBox: `0 0 ${width} ${height}`,
      class: "chart-svg",
      role: "img",
      "aria-label": opts.title || "chart",
    });
    clear(container).appendChild(root);
    return { root, width, height, m, pw: width - m.left - m.right, ph: height - m.top - m.bottom };
  }

  function yAxis(f, sy, domain, label) {
    const { root, m, width } = f;
    const ticks = numberTicks(domain[0], domain[1], Math.max(3, Math.floor(f.ph / 45)));
    for (const v of ticks.values) {
      const y = sy(v);
      root.appendChild(svg("line", { x1: m.left, x2: width - m.right, y1: y, y2: y, stroke: COLORS.grid }));
      root.appendChild(svg("text", { x: m.left - 6, y: y + 4, class: "tick", "text-anchor": "end" }, tickLabel(v, ticks.step)));
    }
    if (label) {
      const cx = 14;
      const cy = m.top + f.ph / 2;
      root.appendChild(svg("text", { x: cx, y: cy, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 ${cx} ${cy})` }, label));
    }
  }

  function xAxis(f, sx, x, domain) {
    const { root, m, height } = f;
    const base = m.top + f.ph;
    root.appendChild(svg("line", { x1: m.left, x2: m.left + f.pw, y1: base, y2: base, stroke: COLORS.axis }));
    if (x.type === "band") {
      x.categories.forEach((c, i) => {
        root.appendChild(svg("text", { x: sx(i), y: base + 16, class: "tick", "text-anchor": "middle" }, String(c)));
      });
    } else {
      const count = Math.max(2, Math.floor(f.pw / 110));
      const ticks = x.type === "time" ? timeTicks(domain[0], domain[1], count) : numberTicks(domain[0], domain[1], count);
      for (const v of ticks.values) {
        const px = sx(v);
        root.appendChild(svg("line", { x1: px, x2: px, y1: base, y2: base + 4, stroke: COLORS.axis }));
        const text = x.type === "time" ? timeLabel(v, ticks.step, domain[1] - domain[0]) : tickLabel(v, ticks.step);
        root.appendChild(svg("text", { x: px, y: base + 16, class: "tick", "text-anchor": "middle" }, text));
      }
    }
    if (x.label) {
      root.appendChild(svg("text", { x: m.left + f.pw / 2, y: height - 8, class: "axis-label", "text-anchor": "middle" }, x.label));
    }
  }

  function pathData(xs, ys, sx, sy, step) {
    let d = "";
    for (let i = 0; i < xs.length; i++) {
      if (!isNum(xs[i]) || !isNum(ys[i])) continue;
      const px = sx(xs[i]).toFixed(1);
      const py = sy(ys[i]).toFixed(1);
      if (d === "") d = `M${px},${py}`;
      else if (step) d += `H${px}V${py}`;
      else d += `L${px},${py}`;
    }
    return d;
  }

  function legend(f, items) {
    let x = f.m.left + 4;
    const y = 8;
    const g = svg("g", { class: "legend" });
    for (const item of items) {
      g.appendChild(svg("rect", { x, y, width: 10, height: 10, fill: item.color, rx: 2 }));
      const text = svg("text", { x: x + 14, y: y + 9, class: "legend-text" }, item.label);
      g.appendChild(text);
      x += 24 + 7 * item.label.length;
    }
    f.root.appendChild(g);
  }

  /**
   * An x/y chart. opts: {x: {type: "linear"|"time"|"band", label, categories}, y: {label},
   * series: [{kind: "points"|"line"|"area"|"marks", x, y, color, colors, titles, hrefs,
   * step, jitter}], legend: [{label, color}], hover: true (a crosshair on line charts)}.
   */
  function xy(container, opts) {
    const f = frame(container, opts);
    const x = opts.x || { type: "linear" };
    const allX = [];
    const allY = [];
    for (const s of opts.series) {
      if (s.kind !== "marks") allY.push(...s.y);
      if (x.type !== "band") allX.push(...s.x);
      if (s.kind === "area") allY.push(0);
    }
    const xDomain = x.type === "band" ? [0, x.categories.length] : x.type === "time" ? extent(allX) : padded(extent(allX), 0.02);
    const yDomain = opts.y && opts.y.domain ? opts.y.domain : padded(extent(allY), 0.06);
    const sx =
      x.type === "band"
        ? (i) => f.m.left + ((i + 0.5) * f.pw) / x.categories.length
        : linear(xDomain, [f.m.left, f.m.left + f.pw]);
    const sy = linear(yDomain, [f.m.top + f.ph, f.m.top]);
    yAxis(f, sy, yDomain, opts.y && opts.y.label);
    xAxis(f, sx, x, xDomain);
    const layer = svg("g", { class: "series" });
    f.root.appendChild(layer);
    for (const s of opts.series) {
      if (s.kind === "line" || s.kind === "area") {
        const d = pathData(s.x, s.y, sx, sy, s.step);
        if (!d) continue;
        if (s.kind === "area") {
          const first = s.x.find(isNum);
          const last = [...s.x].reverse().find(isNum);
          const zero = sy(0).toFixed(1);
          const area = `${d}L${sx(last).toFixed(1)},${zero}L${sx(first).toFixed(1)},${zero}Z`;
          layer.appendChild(svg("path", { d: area, fill: s.color, "fill-opacity": 0.25, stroke: "none", class: "series-area" }));
        }
        layer.appendChild(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.6, class: "series-line" }));
      } else if (s.kind === "points") {
        drawPoints(f, layer, s, x, sx, sy);
      } else if (s.kind === "marks") {
        const base = f.m.top + f.ph;
        for (let i = 0; i < s.x.length; i++) {
          const px = sx(s.x[i]);
          const mark = svg("path", {
            d: `M${(px - 3).toFixed(1)},${base - 9}l6,6m0,-6l-6,6`,
            stroke: s.color,
            "stroke-width": 1.6,
            class: s.hrefs ? "mark link" : "mark",
          });
          if (s.titles) mark.appendChild(svg("title", null, s.titles[i]));
          if (s.hrefs) {
            const href = s.hrefs[i];
            mark.addEventListener("click", () => window.location.assign(href));
          }
          layer.appendChild(mark);
        }
      }
    }
    if (opts.legend) legend(f, opts.legend);
    if (opts.hover) crosshair(f, opts, sx, x);
    container.dataset.drawn = "true";
    return f.root;
  }

  // Beyond this many points a chart draws one path per colour instead of one circle per
  // point (tens of thousands of SVG nodes would take the browser seconds); a click then
  // finds the nearest point itself and the hover shows it in a text line.
  const MANY_POINTS = 1500;

  function drawPoints(f, layer, s, x, sx, sy) {
    const band = x.type === "band" ? f.pw / x.categories.length : 0;
    const r = s.r || 3.2;
    const px = [];
    const py = [];
    const index = [];
    for (let i = 0; i < s.x.length; i++) {
      if (!isNum(s.y[i]) || !isNum(s.x[i])) continue;
      px.push(x.type === "band" ? sx(s.x[i]) + (s.jitter ? s.jitter[i] * band : 0) : sx(s.x[i]));
      py.push(sy(s.y[i]));
      index.push(i);
    }
    const colorOf = (i) => (s.colors ? s.colors[i] : s.color);
    if (index.length <= MANY_POINTS) {
      index.forEach((i, k) => {
        const dot = svg("circle", {
          cx: px[k].toFixed(1),
          cy: py[k].toFixed(1),
          r,
          fill: colorOf(i),
          "fill-opacity": 0.75,
          class: s.hrefs ? "point link" : "point",
        });
        if (s.titles) dot.appendChild(svg("title", null, s.titles[i]));
        if (s.hrefs) dot.addEventListener("click", () => window.location.assign(s.hrefs[i]));
        layer.appendChild(dot);
      });
      return;
    }
    const paths = new Map();
    index.forEach((i, k) => {
      const c = colorOf(i);
      paths.set(c, (paths.get(c) || "") + `M${px[k].toFixed(1)},${py[k].toFixed(1)}h0`);
    });
    for (const [c, d] of paths) {
      layer.appendChild(svg("path", { d, stroke: c, "stroke-width": 2 * r, "stroke-linecap": "round", "stroke-opacity": 0.6, fill: "none", class: "points" }));
    }
    const label = svg("text", { class: "hover-text", x: f.m.left + 4, y: f.height - 4, visibility: "hidden" });
    f.root.appendChild(label);
    const pick = (event) => {
      const box = f.root.getBoundingClientRect();
      const mx = ((event.clientX - box.left) / box.width) * f.width;
      const my = ((event.clientY - box.top) / box.height) * f.height;
      let best = -1;
      let dist = 64; // within 8 px
      for (let k = 0; k < px.length; k++) {
        const d = (px[k] - mx) ** 2 + (py[k] - my) ** 2;
        if (d < dist) {
          dist = d;
          best = k;
        }
      }
      return best < 0 ? null : index[best];
    };
    f.root.addEventListener("mousemove", (event) => {
      const i = pick(event);
      label.textContent = i === null || !s.titles ? "" : s.titles[i];
      label.setAttribute("visibility", i === null ? "hidden" : "visible");
      f.root.classList.toggle("pointing", i !== null && Boolean(s.hrefs));
    });
    if (s.hrefs) {
      f.root.addEventListener("click", (event) => {
        const i = pick(event);
        if (i !== null) window.location.assign(s.hrefs[i]);
      });
    }
  }

  function nearest(xs, value) {
    let lo = 0;
    let hi = xs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (xs[mid] < value) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(xs[lo - 1] - value) < Math.abs(xs[lo] - value)) return lo - 1;
    return lo;
  }

  function crosshair(f, opts, sx, x) {
    const first = opts.series[0];
    if (!first || first.x.length === 0) return;
    const line = svg("line", { y1: f.m.top, y2: f.m.top + f.ph, stroke: COLORS.axis, "stroke-dasharray": "3,3", visibility: "hidden" });
    const label = svg("text", { class: "hover-text", y: f.m.top + 12, visibility: "hidden" });
    const overlay = svg("rect", { x: f.m.left, y: f.m.top, width: f.pw, height: f.ph, fill: "transparent", class: "overlay" });
    f.root.append(line, label, overlay);
    const pixels = first.x.map((v) => sx(v)); // sorted, as the x values are
    overlay.addEventListener("mousemove", (event) => {
      const box = f.root.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * f.width;
      const at = first.x[nearest(pixels, px)];
      const parts = [x.type === "time" ? fmtTime(at) : fmt(at)];
      for (const s of opts.series) {
        if (s.kind === "line" || s.kind === "area") {
          parts.push(`${s.label || ""} ${fmt(s.y[nearest(s.x, at)], 2)}`.trim());
        }
      }
      const lx = sx(at);
      line.setAttribute("x1", lx);
      line.setAttribute("x2", lx);
      line.setAttribute("visibility", "visible");
      label.textContent = parts.join("   ");
      const right = lx > f.m.left + f.pw / 2;
      label.setAttribute("x", right ? lx - 6 : lx + 6);
      label.setAttribute("text-anchor", right ? "end" : "start");
      label.setAttribute("visibility", "visible");
    });
    overlay.addEventListener("mouseleave", () => {
      line.setAttribute("visibility", "hidden");
      label.setAttribute("visibility", "hidden");
    });
  }

  function color(t) {
    const c = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    const i = Math.min(VIRIDIS.length - 2, Math.floor(c));
    const a = VIRIDIS[i];
    const b = VIRIDIS[i + 1];
    const mix = (k) => Math.round(parseInt(a.substr(k, 2), 16) * (1 - (c - i)) + parseInt(b.substr(k, 2), 16) * (c - i));
    return `rgb(${mix(1)},${mix(3)},${mix(5)})`;
  }

  /**
   * A heatmap. opts: {xLabels, yLabels, values: [[v|null]] (rows = y), counts, xName,
   * yName, valueName, higherIsBetter}.
   */
  function heatmap(container, opts) {
    const f = frame(container, { width: opts.width || 560, height: opts.height || 380, x: { label: opts.xName } });
    f.m.right = 70;
    f.pw = f.width - f.m.left - f.m.right;
    const nx = opts.xLabels.length;
    const ny = opts.yLabels.length;
    const flat = opts.values.flat().filter(isNum);
    const [lo, hi] = extent(flat);
    const cw = f.pw / Math.max(1, nx);
    const ch = f.ph / Math.max(1, ny);
    const g = svg("g", { class: "cells" });
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = opts.values[j][i];
        const x = f.m.left + i * cw;
        const y = f.m.top + (ny - 1 - j) * ch;
        let t = hi === lo ? 1 : (v - lo) / (hi - lo);
        if (!opts.higherIsBetter) t = 1 - t;
        const cell = svg("rect", {
          x: x.toFixed(1),
          y: y.toFixed(1),
          width: Math.max(0, cw - 1).toFixed(1),
          height: Math.max(0, ch - 1).toFixed(1),
          fill: isNum(v) ? color(t) : "#f3f4f6",
          class: "cell",
        });
        const count = opts.counts[j][i];
        const text = `${opts.xName} ${opts.xLabels[i]}, ${opts.yName} ${opts.yLabels[j]}: ` +
          (isNum(v) ? `best ${opts.valueName} ${fmt(v)} (${count} trials)` : "no trials");
        cell.appendChild(svg("title", null, text));
        g.appendChild(cell);
      }
    }
    f.root.appendChild(g);
    const base = f.m.top + f.ph;
    const every = Math.ceil(nx / Math.max(1, Math.floor(f.pw / 56)));
    opts.xLabels.forEach((label, i) => {
      if (i % every) return;
      f.root.appendChild(svg("text", { x: f.m.left + (i + 0.5) * cw, y: base + 16, class: "tick", "text-anchor": "middle" }, label));
    });
    const everyY = Math.ceil(ny / Math.max(1, Math.floor(f.ph / 16)));
    opts.yLabels.forEach((label, j) => {
      if (j % everyY) return;
      f.root.appendChild(svg("text", { x: f.m.left - 6, y: f.m.top + (ny - 1 - j + 0.5) * ch + 4, class: "tick", "text-anchor": "end" }, label));
    });
    f.root.appendChild(svg("text", { x: f.m.left + f.pw / 2, y: f.height - 8, class: "axis-label", "text-anchor": "middle" }, opts.xName));
    const cy = f.m.top + f.ph / 2;
    f.root.appendChild(svg("text", { x: 14, y: cy, class: "axis-label", "text-anchor": "middle", transform: `rotate(-90 14 ${cy})` }, opts.yName));
    // Colour legend: better at the top.
    const lx = f.width - f.m.right + 16;
    const steps = 24;
    for (let k = 0; k < steps; k++) {
      const t = 1 - k / (steps - 1);
      f.root.appendChild(svg("rect", { x: lx, y: f.m.top + (k * f.ph) / steps, width: 12, height: f.ph / steps + 0.5, fill: color(t) }));
    }
    const top = opts.higherIsBetter ? hi : lo;
    const bottom = opts.higherIsBetter ? lo : hi;
    f.root.appendChild(svg("text", { x: lx + 16, y: f.m.top + 8, class: "tick" }, fmt(top, 2)));
    f.root.appendChild(svg("text", { x: lx + 16, y: base, class: "tick" }, fmt(bottom, 2)));
    container.dataset.drawn = "true";
    return f.root;
  }

  /** Horizontal bars: opts {labels, values, titles}. */
  function bars(container, opts) {
    const rowH = 26;
    const height = 20 + rowH * opts.labels.length;
    const f = frame(container, { width: opts.width || 560, height });
    const labelW = 150;
    const x0 = labelW;
    const w = f.width - labelW - 60;
    const max = Math.max(...opts.values.filter(isNum), 1e-12);
    opts.labels.forEach((label, i) => {
      const y = 10 + i * rowH;
      const v = opts.values[i];
      f.root.appendChild(svg("text", { x: x0 - 8, y: y + 15, class: "tick", "text-anchor": "end" }, label));
      const bar = svg("rect", { x: x0, y: y + 3, width: Math.max(1, (w * v) / max).toFixed(1), height: rowH - 8, fill: COLORS.feasible, rx: 2, class: "bar" });
      if (opts.titles) bar.appendChild(svg("title", null, opts.titles[i]));
      f.root.appendChild(bar);
      f.root.appendChild(svg("text", { x: x0 + (w * v) / max + 6, y: y + 15, class: "tick" }, fmt(v, 3)));
    });
    container.dataset.drawn = "true";
    return f.root;
  }

  function empty(container, message) {
    clear(container).appendChild(el("p", { class: "muted empty" }, message));
    delete container.dataset.drawn;
  }

  window.Omega.charts = { xy, heatmap, bars, empty, COLORS };
})();
