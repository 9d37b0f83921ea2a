// chaosbench: the Chaos tab inside Locust's web UI (chaosbench/wiring/webui).
// Locust draws the tab (template_args.extended_tabs) and its table (extended_tables, rows from
// /stats/requests); this script adds, above that table, what a table cannot show: the timeline,
// the faults, the p95 chart with the phase changes, the kill switch and the verdict.
(function () {
  "use strict";
  const TAB = "chaos";
  const POLL_MS = 1000;
  const COLORS = ["#2196f3", "#e91e63", "#4caf50", "#ff9800", "#9c27b0", "#00bcd4", "#795548"];
  const PHASE_NAMES = {
    warmup: "Warm-up", baseline: "Baseline", burst: "Burst", recovery: "Recovery",
    cooldown: "Cool-down", idle: "Idle",
  };
  let panel = null;
  let last = null;
  let message = "";
  let timer = null;

  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function dur(s) {
    if (s == null || !isFinite(s)) return "—";
    s = Math.max(0, Math.round(s));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (h) return `${h}h${String(m).padStart(2, "0")}m${String(sec).padStart(2, "0")}s`;
    if (m) return `${m}m${String(sec).padStart(2, "0")}s`;
    return `${sec}s`;
  }
  const ms = (v) => (v == null ? "—" : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);
  const phaseOf = (label) => String(label || "idle").replace(/\d+$/, "");
  const title = (label) => {
    const p = phaseOf(label), n = String(label || "").slice(p.length);
    return (PHASE_NAMES[p] || p) + (n ? ` ${n}` : "");
  };

  function onTab() {
    return new URLSearchParams(window.location.search).get("tab") === TAB;
  }

  function mount() {
    const tablist = document.querySelector('[role="tablist"]');
    const tabs = tablist && tablist.closest(".MuiTabs-root");
    const box = tabs && tabs.parentElement;
    if (!box || !box.parentElement) return null;
    if (!panel) {
      panel = document.createElement("div");
      panel.id = "cb-panel";
      panel.addEventListener("click", onClick);
    }
    if (panel.previousSibling !== box) box.parentElement.insertBefore(panel, box.nextSibling);
    const bg = getComputedStyle(document.body).backgroundColor.match(/\d+/g) || [255, 255, 255];
    panel.classList.toggle("cb-dark", bg[0] * 0.3 + bg[1] * 0.59 + bg[2] * 0.11 < 128);
    return panel;
  }

  async function onClick(ev) {
    const button = ev.target.closest("#cb-kill");
    if (!button || button.disabled) return;
    button.disabled = true;
    message = "Reverting every fault…";
    render();
    try {
      const r = await fetch("./chaos/kill?reason=" + encodeURIComponent("Chaos tab"), { method: "POST" });
      const s = await r.json();
      message = s.killed ? "Kill switch: every fault reverted, chaos stopped; the load goes on."
        : "Nothing to stop: chaos is not running.";
      last = s;
    } catch (e) {
      message = "Kill switch failed: " + e;
    }
    render();
  }

  async function poll() {
    if (!onTab()) {
      if (panel) panel.style.display = "none";
      return;
    }
    try {
      const r = await fetch("./chaos/status", { cache: "no-store" });
      if (r.ok) last = await r.json();
    } catch (e) {
      /* the web UI is gone (Locust quit): keep the last view */
    }
    render();
  }

  function chip(text, cls, id) {
    return `<span class="cb-chip cb-${esc(cls)}"${id ? ` id="${id}"` : ""}>${esc(text)}</span>`;
  }

  function header(s) {
    const p = s.progress;
    const running = s.state === "running";
    const pct = p.total_s ? Math.min(100, (100 * (p.elapsed_s || 0)) / p.total_s) : 0;
    const state = s.disabled ? `chaos off (${s.disabled})`
      : s.state === "stopped" ? `stopped: ${s.stop_reason || "done"}` : s.state;
    return `<div class="cb-paper cb-head">
      <div class="cb-head-main">
        <div class="cb-overline">Chaos · ${esc(s.profile || "no profile")}${s.seed != null ? ` · seed ${esc(s.seed)}` : ""}${s.dry_run ? " · dry-run" : ""}</div>
        <div class="cb-phase-line">${chip(title(s.phase), phaseOf(s.phase), "cb-phase")}
          <span class="cb-state" id="cb-state">${esc(state)}</span></div>
        <div class="cb-figures">
          <div><div class="cb-fig" id="cb-phase-left">${running ? dur(p.phase_left_s) : "—"}</div><div class="cb-cap">left in the phase</div></div>
          <div><div class="cb-fig" id="cb-profile-left">${running ? dur(p.profile_left_s) : p.elapsed_s == null ? dur(p.total_s) : "—"}</div><div class="cb-cap">left in the profile (${dur(p.total_s)})</div></div>
          <div><div class="cb-fig" id="cb-next">${p.next ? esc(title(p.next)) : "—"}</div><div class="cb-cap">next phase</div></div>
          <div><div class="cb-fig" id="cb-active">${s.active_faults.length ? esc(s.active_faults.join(", ")) : "none"}</div><div class="cb-cap">active faults</div></div>
        </div>
        <div class="cb-bar"><div style="width:${pct.toFixed(1)}%"></div></div>
      </div>
      <div class="cb-kill-box">
        <button id="cb-kill" class="cb-kill" ${running ? "" : "disabled"}>Kill switch</button>
        <div class="cb-cap">reverts every fault on the proxy and stops chaos; the load goes on</div>
        <div class="cb-msg" id="cb-message">${esc(message || (s.error ? s.error : ""))}</div>
      </div>
    </div>`;
  }

  function timeline(s) {
    const segs = s.segments;
    if (!segs.length) return "";
    const total = segs[segs.length - 1].end_s || 1;
    const e = s.progress.elapsed_s;
    const cells = segs.map((g) => {
      const w = (100 * (g.end_s - g.start_s)) / total;
      const tip = `${title(g.label)}: ${dur(g.start_s)} – ${dur(g.end_s)}${g.faults.length ? " · " + g.faults.join(", ") : ""}`;
      return `<div class="cb-seg cb-${esc(g.phase)} cb-${esc(g.state)}" style="width:${w}%" title="${esc(tip)}"
        data-label="${esc(g.label)}" data-state="${esc(g.state)}"><span>${esc(g.label)}</span></div>`;
    }).join("");
    const cursor = e != null && s.state === "running"
      ? `<div class="cb-cursor" style="left:${Math.min(100, (100 * e) / total)}%"></div>` : "";
    const list = segs.filter((g) => g.state === "current" || g.state === "next" || g.state === "past").slice(-3);
    const legend = list.map((g) => `<span class="cb-when">${esc(g.state)}: <b>${esc(title(g.label))}</b>
      ${dur(g.start_s)}–${dur(g.end_s)}${g.faults.length ? " · " + esc(g.faults.join(", ")) : ""}</span>`).join("");
    return `<div class="cb-paper"><div class="cb-h">Timeline</div>
      <div class="cb-timeline" id="cb-timeline">${cells}${cursor}</div>
      <div class="cb-legend">${legend}</div></div>`;
  }

  function faults(s) {
    if (!s.faults.length) return "";
    const rows = s.faults.map((f) => `<tr data-fault="${esc(f.name)}">
      <td><b>${esc(f.name)}</b><div class="cb-sub">${esc(f.scenario)}</div></td>
      <td>${esc(f.type)}</td><td>${esc(f.target || "—")}</td>
      <td>${f.active ? chip("active", "burst") : f.status === "error" ? chip("error", "error") : chip(f.last ? f.last + "ed" : "waiting", "idle")}</td>
      <td class="cb-num">${esc(f.injections)}</td>
      <td>${esc(f.bursts.join(", "))}</td>
      <td class="cb-account">${f.error ? `<span class="cb-err">${esc(f.error)}</span>` : ""}${f.account.map(([k, v]) => `<span>${esc(k)}=<b>${esc(v)}</b></span>`).join(" ")}</td>
    </tr>`).join("");
    return `<div class="cb-paper"><div class="cb-h">Faults</div>
      <table class="cb-table"><thead><tr><th>Fault</th><th>Type</th><th>Target</th><th>State</th>
      <th class="cb-num">Injections</th><th>Bursts</th><th>Account</th></tr></thead>
      <tbody id="cb-faults">${rows}</tbody></table></div>`;
  }

  function chart(s) {
    const W = Math.max(480, (panel && panel.clientWidth ? panel.clientWidth : 1100) - 40), H = 240;
    const L = 56, R = 12, T = 22, B = 28;
    const segs = s.segments;
    const total = segs.length ? segs[segs.length - 1].end_s : 0;
    const t0 = s.started_wall;
    if (t0 == null || !s.kinds.length) {
      return `<div class="cb-paper"><div class="cb-h">p95 per kind against the baseline band</div>
        <div class="cb-empty">The chart starts with the test.</div></div>`;
    }
    let xmax = Math.max(total, 1);
    let ymax = 1;
    s.kinds.forEach((k) => {
      k.series.forEach(([w, v]) => { xmax = Math.max(xmax, w - t0); ymax = Math.max(ymax, v); });
      if (k.band_high_ms) ymax = Math.max(ymax, k.band_high_ms);
    });
    ymax *= 1.1;
    const x = (sec) => L + ((W - L - R) * sec) / xmax;
    const y = (v) => T + (H - T - B) * (1 - v / ymax);
    let out = "";
    segs.forEach((g) => {
      out += `<rect class="cb-band-${esc(g.phase)}" x="${x(g.start_s)}" y="${T}" width="${Math.max(0, x(g.end_s) - x(g.start_s))}" height="${H - T - B}"/>`;
    });
    for (let i = 0; i <= 4; i++) {
      const v = (ymax * i) / 4;
      out += `<line class="cb-grid" x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}"/>
        <text class="cb-axis" x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${v < 10 ? v.toFixed(1) : Math.round(v)}</text>`;
    }
    const step = xmax > 600 ? 120 : xmax > 120 ? 30 : xmax > 40 ? 10 : 5;
    for (let sec = 0; sec <= xmax; sec += step) {
      out += `<text class="cb-axis" x="${x(sec)}" y="${H - 8}" text-anchor="middle">${dur(sec)}</text>`;
    }
    s.marks.forEach((m) => {
      const sec = m.wall - t0;
      if (sec < -0.5 || sec > xmax) return;
      out += `<line class="cb-mark" x1="${x(sec)}" x2="${x(sec)}" y1="${T - 4}" y2="${H - B}"/>
        <text class="cb-mark-label" x="${x(sec) + 3}" y="${T - 8}">${esc(m.label)}</text>`;
    });
    s.kinds.forEach((k, i) => {
      const c = COLORS[i % COLORS.length];
      if (k.band_high_ms) {
        out += `<line x1="${L}" x2="${W - R}" y1="${y(k.band_high_ms)}" y2="${y(k.band_high_ms)}" stroke="${c}" stroke-dasharray="6 4" stroke-width="1.2" opacity="0.8"/>`;
      }
      const pts = k.series.map(([w, v]) => `${x(w - t0).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      if (pts) out += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts}"/>`;
    });
    const legend = s.kinds.map((k, i) => `<span class="cb-key"><i style="background:${COLORS[i % COLORS.length]}"></i>${esc(k.kind)}
      <b>${ms(k.p95_ms)}</b> ${k.band_high_ms ? `(band ≤ ${ms(k.band_high_ms)})` : ""} ${chip(k.state, k.state === "out of band" ? "error" : k.state === "in band" ? "pass" : "idle")}</span>`).join("");
    return `<div class="cb-paper"><div class="cb-h">p95 per kind against the baseline band
      <span class="cb-sub">· dashed: band · vertical lines: phase changes</span></div>
      <svg id="cb-chart" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${out}</svg>
      <div class="cb-legend">${legend}</div></div>`;
  }

  function verdict(s) {
    const run = s.run;
    if (!run) {
      return `<div class="cb-paper" id="cb-verdict" data-state="none"><div class="cb-h">Verdict</div>
        <div class="cb-empty">Each test is judged when it stops; its verdict appears here.</div></div>`;
    }
    if (!run.judged) {
      return `<div class="cb-paper" id="cb-verdict" data-state="running" data-run="${esc(run.run_id)}"><div class="cb-h">Verdict</div>
        <div class="cb-empty">Test <b>${esc(run.run_id)}</b> is running: it is judged when it stops.
        Run directory <code>${esc(run.run_dir)}</code></div></div>`;
    }
    const word = { pass: "PASS", fail: "FAIL", inconclusive: "INCONCLUSIVE", error: "CANNOT MEASURE",
      cannot_measure: "CANNOT MEASURE" }[run.verdict] || run.verdict.toUpperCase();
    const cls = { pass: "pass", fail: "error", inconclusive: "warn", error: "warn", cannot_measure: "warn" }[run.verdict] || "idle";
    const crit = run.criteria.map((c) => `<tr><td>${chip(c.status, { pass: "pass", fail: "error", error: "warn", inconclusive: "warn" }[c.status] || "idle")}</td>
      <td><b>${esc(c.name)}</b><div class="cb-sub">${esc(c.title)}</div></td><td>${esc(c.value)}</td><td>${esc(c.limit)}</td>
      <td>${esc(c.where)}${c.detail ? `<div class="cb-sub">${esc(c.detail)}</div>` : ""}</td></tr>`).join("");
    const rec = run.recoveries.map((r) => `<tr><td>burst ${esc(r.burst)}</td>
      <td>${r.detection_s == null ? "within band" : r.detection_s.toFixed(1) + " s"}</td>
      <td>${r.recovery_s == null ? "—" : r.recovery_s.toFixed(1) + " s"}</td>
      <td>${!r.measurable ? chip("not measurable", "warn") : r.recovered ? chip("recovered", "pass") : chip("not recovered", "error")}</td>
      <td>${esc(r.slowest || "—")}</td><td class="cb-sub">${esc(r.note)}</td></tr>`).join("");
    const report = run.report_url
      ? `<a id="cb-report" class="cb-button" href="${esc(run.report_url)}" target="_blank" rel="noopener">Open report.html</a>` : "";
    const others = s.runs.length > 1 ? `<div class="cb-h cb-h2">Tests of this session</div>
      <table class="cb-table" id="cb-runs"><thead><tr><th>Run</th><th>Verdict</th><th>Exit</th><th>Report</th></tr></thead><tbody>
      ${s.runs.slice().reverse().map((r) => `<tr><td>${esc(r.run_id)}</td><td>${esc(r.verdict || "running")}</td><td>${esc(r.exit_code == null ? "—" : r.exit_code)}</td>
      <td>${r.report_url ? `<a href="${esc(r.report_url)}" target="_blank" rel="noopener">report.html</a>` : "—"}</td></tr>`).join("")}</tbody></table>` : "";
    return `<div class="cb-paper" id="cb-verdict" data-state="judged" data-run="${esc(run.run_id)}">
      <div class="cb-verdict-head"><div><div class="cb-h">Verdict of ${esc(run.run_id)}</div>
        <div class="cb-sub">run directory <code id="cb-run-dir">${esc(run.run_dir)}</code> · exit code ${esc(run.exit_code)}</div></div>
        <div class="cb-verdict-right">${report}<span class="cb-big cb-${cls}" id="cb-verdict-status">${esc(word)}</span></div></div>
      ${crit ? `<table class="cb-table" id="cb-criteria"><thead><tr><th>Status</th><th>Criterion</th><th>Value</th><th>Limit</th><th>Where</th></tr></thead><tbody>${crit}</tbody></table>` : ""}
      ${rec ? `<div class="cb-h cb-h2">Recovery scorecard</div><table class="cb-table" id="cb-recoveries"><thead><tr><th>Burst</th><th>Detection</th><th>Recovery</th><th>State</th><th>Slowest kind</th><th></th></tr></thead><tbody>${rec}</tbody></table>` : ""}
      ${run.verdict_text ? `<details><summary>Console verdict</summary><pre>${esc(run.verdict_text)}</pre></details>` : ""}
      ${others}</div>`;
  }

  function render() {
    if (!onTab() || !last) return;
    const p = mount();
    if (!p) return;
    p.style.display = "";
    const s = last;
    const open = p.querySelector("details") && p.querySelector("details").open;
    p.innerHTML = header(s) + timeline(s) + `<div class="cb-grid2">${faults(s)}</div>` + chart(s) + verdict(s)
      + `<div class="cb-h cb-h2 cb-table-title">Live p95 per kind (Locust's table)</div>`;
    if (open) p.querySelector("details").open = true;
  }

  function start() {
    if (timer) return;
    poll();
    timer = setInterval(poll, POLL_MS);
    // Locust switches tabs with history.pushState: follow it without waiting for the poll.
    const push = history.pushState;
    history.pushState = function () { const r = push.apply(this, arguments); setTimeout(poll, 0); return r; };
    window.addEventListener("popstate", poll);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
