// Winback console: live queue rows, SLA countdowns, keyboard navigation, saved views.
// The product's own code; no library. Loaded with `defer`, so the page is parsed when it runs.
"use strict";

(function () {
  const body = document.body;
  // The server's clock may not be the browser's (the demo runs its own): count from its "now".
  const serverNow = Date.parse(body.dataset.now || "");
  const offset = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();

  function span(seconds) {
    let s = Math.abs(Math.trunc(seconds));
    if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
    if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
    if (s >= 60) return `${Math.floor(s / 60)} min`;
    return `${s} s`;
  }

  function tick() {
    const now = Date.now() + offset;
    for (const el of document.querySelectorAll("time[data-countdown]")) {
      const left = (Date.parse(el.getAttribute("datetime")) - now) / 1000;
      el.textContent = left >= 0 ? `in ${span(left)}` : `${span(left)} late`;
      el.classList.toggle("late", left < 0);
      el.classList.toggle("soon", left >= 0 && left < 900);
    }
  }
  tick();
  setInterval(tick, 1000);

  // Rows: click or Enter opens; j/k move.
  function rows() { return Array.from(document.querySelectorAll("tr[data-href]")); }
  document.addEventListener("click", (ev) => {
    const row = ev.target.closest("tr[data-href]");
    if (row && !ev.target.closest("a, button, input, select, textarea")) window.location = row.dataset.href;
  });
  document.addEventListener("keydown", (ev) => {
    if (ev.target.closest("input, select, textarea") || ev.metaKey || ev.ctrlKey || ev.altKey) return;
    const all = rows();
    if (!all.length) return;
    const at = all.indexOf(document.activeElement);
    if (ev.key === "j" || ev.key === "k") {
      const next = ev.key === "j" ? Math.min(at + 1, all.length - 1) : Math.max(at - 1, 0);
      all[at < 0 ? 0 : next].focus();
      ev.preventDefault();
    } else if (ev.key === "Enter" && at >= 0) {
      window.location = all[at].dataset.href;
    }
  });

  // Live rows: the server says "change", the page fetches its rows again (at most 3 times a second).
  const table = document.querySelector("[data-live-rows]");
  if (table && window.EventSource) {
    const tbody = table.querySelector("tbody");
    let pending = null;
    const refresh = () => {
      pending = null;
      const focused = rows().indexOf(document.activeElement);
      fetch(table.dataset.liveRows, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
        .then((html) => {
          tbody.innerHTML = html;
          tick();
          const again = rows();
          if (focused >= 0 && again.length) again[Math.min(focused, again.length - 1)].focus();
          body.dataset.refreshed = String(Date.now());
        })
        .catch(() => {});
    };
    const source = new EventSource("/console/stream");
    source.addEventListener("change", () => { if (!pending) pending = setTimeout(refresh, 300); });
  }

  // Saved views: the filter form's query, named, kept in this browser.
  const form = document.querySelector("form[data-saved-views]");
  if (form) {
    const list = form.querySelector("[data-saved-list]");
    const load = () => JSON.parse(localStorage.getItem("winback.views") || "[]");
    const draw = () => {
      list.replaceChildren(...load().map((v) => {
        const a = document.createElement("a");
        a.href = `/console?${v.query}`;
        a.textContent = v.name;
        return a;
      }));
    };
    form.querySelector("[data-save-view]").addEventListener("click", () => {
      const name = window.prompt("Name this view");
      if (!name) return;
      const query = new URLSearchParams(new FormData(form)).toString();
      localStorage.setItem("winback.views", JSON.stringify([...load().filter((v) => v.name !== name), { name, query }]));
      draw();
    });
    draw();
  }
})();
