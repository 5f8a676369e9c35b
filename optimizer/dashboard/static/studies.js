// Omega V2 dashboard: the studies list (refreshes itself every 2 s).
"use strict";

(function () {
  const { el, clear, getJSON, api, studyHref, trialHref, poll, fmt, fmtTime, phaseBadge } = window.Omega;

  function progress(done, total) {
    const bar = el("span", { class: "progress" }, el("span", { class: "progress-fill" }));
    bar.firstChild.style.width = `${Math.min(100, (100 * done) / Math.max(1, total)).toFixed(1)}%`;
    return el("span", { class: "progress-cell" }, `${done}/${total} `, bar);
  }

  function render(data) {
    const tbody = document.querySelector("#studies tbody");
    clear(tbody);
    document.getElementById("studies-empty").hidden = data.studies.length > 0;
    for (const s of data.studies) {
      const best = s.best
        ? el(
            "a",
            {
              href: trialHref(s.name, s.best.number),
              title: s.best.feasible ? `trial ${s.best.number}` : `trial ${s.best.number}, infeasible: no trial meets the constraints`,
            },
            s.best.feasible ? fmt(s.best.score) : `${fmt(s.best.score)}*`
          )
        : "–";
      tbody.appendChild(
        el(
          "tr",
          { "data-study": s.name },
          el("td", null, el("a", { href: studyHref(s.name), class: "study-link" }, s.name)),
          el("td", null, s.run_mode),
          el("td", null, s.sampler === null || s.sampler === undefined ? "–" : String(s.sampler)),
          el("td", null, progress(s.done, s.n_trials)),
          el("td", { class: s.failed ? "num bad-text" : "num" }, fmt(s.failed)),
          el("td", { class: "num" }, fmt(s.pending)),
          el("td", { class: "num" }, best),
          el("td", { title: "UTC" }, fmtTime(s.created_at, false)),
          el("td", { title: "last change " + fmtTime(s.last_activity) + " UTC" }, phaseBadge(s.phase))
        )
      );
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    poll(async () => render(await getJSON(api("studies"))), 2000);
  });
})();
