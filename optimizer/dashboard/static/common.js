// Omega V2 dashboard: helpers shared by the pages.
// Data from the server is only ever put into the page as text (textContent, attribute
// values); no HTML string is ever parsed.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.setAttribute("class", value);
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else node.setAttribute(key, value === true ? "" : String(value));
    }
    return node;
  }

  /** Creates an HTML element: el("a", {href: "/x"}, "text", child, ...). */
  function el(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  /** Creates an SVG element. */
  function svg(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  /** Fetches JSON; throws an Error carrying the server's message on a non-2xx answer. */
  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const error = new Error((body && body.error) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function api(...parts) {
    return "/api/" + parts.map((p) => encodeURIComponent(String(p))).join("/");
  }

  function studyHref(name) {
    return "/study/" + encodeURIComponent(name);
  }

  function trialHref(name, number) {
    return studyHref(name) + "/trial/" + encodeURIComponent(String(number));
  }

  const live = { ok: true, at: null };

  function setLive(ok, text) {
    const node = document.getElementById("live");
    if (!node) return;
    live.ok = ok;
    node.className = ok ? "live ok" : "live down";
    node.textContent = text;
  }

  /**
   * Calls `task` now and then every `ms` milliseconds (skipped while the tab is hidden).
   * Errors are shown in the header; the next round tries again.
   */
  function poll(task, ms) {
    let timer = null;
    async function round() {
      timer = null;
      if (!document.hidden) {
        try {
          await task();
          setLive(true, "live · updated " + new Date().toLocaleTimeString());
        } catch (error) {
          setLive(false, "not updated: " + error.message);
        }
      }
      timer = setTimeout(round, ms);
    }
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && timer !== null) {
        clearTimeout(timer);
        round();
      }
    });
    return round();
  }

  function isNum(v) {
    return typeof v === "number" && Number.isFinite(v);
  }

  /** Formats a number for tables: integers as is, others with up to `digits` decimals. */
  function fmt(v, digits) {
    if (v === null || v === undefined) return "–";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v !== "number") return String(v);
    if (!Number.isFinite(v)) return "–";
    if (Number.isInteger(v)) return String(v);
    const d = digits === undefined ? 4 : digits;
    if (Math.abs(v) >= 1e6) return v.toPrecision(6);
    return v.toFixed(d).replace(/\.?0+$/, "");
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  /** Formats an ISO time or epoch milliseconds as "YYYY-MM-DD HH:MM:SS" (UTC). */
  function fmtTime(value, withSeconds) {
    if (value === null || value === undefined) return "–";
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return String(value);
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return `${day} ${time}${withSeconds === false ? "" : ":" + pad(d.getUTCSeconds())}`;
  }

  function fmtSeconds(s) {
    if (!isNum(s)) return "–";
    if (s < 1) return (s * 1000).toFixed(1) + " ms";
    if (s < 120) return s.toFixed(2) + " s";
    return (s / 60).toFixed(1) + " min";
  }

  /** Returns a table row of cells; a cell is a value or {value, class, node}. */
  function row(cells, attrs) {
    return el(
      "tr",
      attrs,
      cells.map((cell) => {
        if (cell && typeof cell === "object" && !(cell instanceof Node)) {
          return el("td", { class: cell.class || null, title: cell.title || null }, cell.node || fmt(cell.value));
        }
        return el("td", { class: typeof cell === "number" ? "num" : null }, cell instanceof Node ? cell : fmt(cell));
      })
    );
  }

  function kvRows(tbody, pairs) {
    clear(tbody);
    for (const [key, value] of pairs) {
      tbody.appendChild(el("tr", null, el("th", null, key), el("td", null, value instanceof Node ? value : fmt(value))));
    }
  }

  function badge(text, kind) {
    return el("span", { class: "badge " + (kind || "") }, text);
  }

  function phaseBadge(phase) {
    const kinds = { running: "run", finished: "good", stopped: "", interrupted: "warn" };
    return badge(phase, kinds[phase] || "");
  }

  /** The shown failure of a section: a message in place of its content. */
  function showError(node, message) {
    clear(node).appendChild(el("p", { class: "error-text" }, message));
  }

  window.Omega = {
    el,
    svg,
    clear,
    append,
    getJSON,
    api,
    studyHref,
    trialHref,
    poll,
    setLive,
    isNum,
    fmt,
    fmtTime,
    fmtSeconds,
    row,
    kvRows,
    badge,
    phaseBadge,
    showError,
  };
})();
