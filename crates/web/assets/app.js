// apilens dashboard: renders the panel catalog (/api/panels) with the Prometheus-compatible
// query API (/api/v1/query, /api/v1/query_range), whichever store or engine answers it; the
// banner reads the report's verdict (/api/verdict) and, where a server provides it, the
// culprits (/api/findings).
"use strict";

(function () {
  const PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9",
    "#705da0", "#37872d", "#fade2a", "#447ebc", "#c15c17", "#890f02", "#0a437c", "#6d1f62"];
  const params = new URLSearchParams(location.search);
  const state = {
    catalog: null,
    version: null,
    range: Number(params.get("range")) || 3600,
    // The range was chosen by the reader (URL or menu): never fitted to the data.
    rangeChosen: params.has("range"),
    refresh: params.has("refresh") ? Number(params.get("refresh")) : 30,
    instance: params.get("instance") || "",
    end: params.get("end") ? Number(params.get("end")) : null,
    // Why the range or its end differ from the last hour up to now, when they do.
    fitted: "",
    timer: null,
    plots: [],
  };
  // The charts, for the browser test to read their axes.
  window.apilensPlots = state.plots;

  // ---- query API -------------------------------------------------------------------------
  async function api(path, query) {
    const url = new URL(path, location.href);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const res = await fetch(url);
    let body;
    try { body = await res.json(); } catch (e) { throw new Error(`${path}: HTTP ${res.status}`); }
    if (body.status !== "success") throw new Error(body.error || `${path}: HTTP ${res.status}`);
    return body.data;
  }

  // ---- templates: the same rules as apilens_panels::RenderOpts ----------------------------
  function render(template, sel, w, range) {
    let out = template;
    if (sel === "") {
      out = out.split("{${sel}}").join("").split("${sel}, ").join("").split("${sel},").join("").split("${sel}").join("");
    } else {
      out = out.split("${sel}").join(sel);
    }
    return out.split("${w}").join(w).split("${range}").join(range);
  }

  function templateFor(query) {
    if (state.version === null) return query.combined;
    const alt = query.alternatives.find((a) => state.version >= a.since && (a.until === null || state.version <= a.until));
    return alt ? alt.template : null;
  }

  function escapeRegex(s) { return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); }

  function timing() {
    const end = state.end !== null ? state.end : Math.floor(Date.now() / 1000);
    const start = end - state.range;
    const step = Math.max(15, Math.floor(state.range / 240));
    const w = Math.max(4 * step, 60);
    return { start, end, step, w: `${w}s`, range: `${state.range}s` };
  }

  // etcd's own panels read etcd's job: an API server chosen in the menu does not scope them.
  function selector(panel) {
    return state.instance && panel.row !== "etcd-server" ? `instance=~"${escapeRegex(state.instance)}"` : "";
  }

  function legend(template, metric) {
    const text = template.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (_, name) => metric[name] || "");
    const trimmed = text.trim().replace(/\s+/g, " ");
    if (trimmed) return trimmed;
    const pairs = Object.entries(metric).filter(([k]) => k !== "__name__").map(([k, v]) => `${k}="${v}"`);
    return pairs.length ? `{${pairs.join(", ")}}` : "value";
  }

  // ---- formatting -------------------------------------------------------------------------
  // Sizes are binary everywhere (KiB, MiB, GiB), thresholds and axis ticks included.
  function fmt(unit, v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (!Number.isFinite(v)) return v > 0 ? "+Inf" : "-Inf";
    const a = Math.abs(v);
    switch (unit) {
      case "seconds":
        if (a === 0) return "0 s";
        if (a < 1e-3) return `${trim(v * 1e6)} µs`;
        if (a < 1) return `${trim(v * 1e3)} ms`;
        return `${trim(v)} s`;
      case "bytes": {
        const units = ["B", "KiB", "MiB", "GiB", "TiB"];
        let x = v, i = 0;
        while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++; }
        return `${i === 0 ? x.toFixed(0) : trim(x)} ${units[i]}`;
      }
      case "percent": return `${trim(v)} %`;
      case "per-second": return `${compact(v)}/s`;
      case "ratio": return v.toFixed(2);
      default: return compact(v);
    }
  }
  function trim(v) { return Number(v.toPrecision(3)).toString(); }
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return `${trim(v / 1e9)}G`;
    if (a >= 1e6) return `${trim(v / 1e6)}M`;
    if (a >= 1e4) return `${trim(v / 1e3)}k`;
    if (Number.isInteger(v)) return String(v);
    return a >= 100 ? v.toFixed(0) : trim(v);
  }
  function severity(panel, v) {
    let sev = null;
    for (const t of panel.thresholds) if (v >= t.value) sev = t.severity;
    return sev;
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
  }
  function ago(seconds) {
    const s = Math.max(0, Math.round(Date.now() / 1000 - seconds));
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} days ago`;
  }
  function rangeText(seconds) {
    if (seconds < 60 || seconds % 60 !== 0) return `${seconds} s`;
    if (seconds % 86400 === 0) return `${seconds / 86400} d`;
    if (seconds % 3600 === 0) return `${seconds / 3600} h`;
    return `${seconds / 60} min`;
  }

  // ---- layout -----------------------------------------------------------------------------
  function build() {
    const main = document.getElementById("dashboard");
    const nav = document.getElementById("rows");
    main.textContent = "";
    nav.textContent = "";
    for (const row of state.catalog.rows) {
      const panels = state.catalog.panels.filter((p) => p.row === row.id);
      if (!panels.length) continue;
      nav.append(el("a", { href: `#row-${row.id}`, text: row.title }));
      const grid = el("div", { class: "row" });
      main.append(el("h2", { id: `row-${row.id}`, text: row.title }), grid);
      for (const panel of panels) {
        const body = el("div", { class: "body" }, el("div", { class: "msg", text: "loading…" }));
        const details = el("div", { class: "details", hidden: "" });
        const button = el("button", { type: "button", text: "PromQL & series", title: "Drill down: the queries and the series they returned" });
        button.addEventListener("click", () => { details.hidden = !details.hidden; });
        const node = el("section", { class: `panel${panel.visualisation === "table" ? " wide" : ""}`, id: `panel-${panel.id}`, "data-state": "loading" },
          el("div", { class: "head" }, el("h3", { text: panel.title, title: panel.description }), button),
          el("p", { class: "question", text: panel.question }),
          body, details);
        grid.append(node);
        panel.node = node; panel.body = body; panel.details = details;
      }
    }
  }

  function setState(panel, st, message) {
    panel.node.dataset.state = st;
    if (message !== undefined) {
      panel.body.textContent = "";
      panel.body.append(el("div", { class: "msg", text: message }));
    }
  }

  // ---- the range: fitted to the data unless the reader chose one -------------------------
  // A store that stopped (`apilens dashboard --data-dir` over an old directory) has nothing at
  // "now": the range then ends at its newest sample. A store with less data than the range
  // (the demo's 30 minutes) gets a range that fits it. Both are said in the banner.
  async function fitRange() {
    if (state.end !== null && state.rangeChosen) return;
    const now = Math.floor(Date.now() / 1000);
    // count(up) every 5 minutes sees each sample once (its look-back is 5 minutes): the first
    // and last steps with a value bound the data. Only a store with nothing at "now" is
    // searched as far back as 30 days.
    const bounds = async (start) => {
      const probe = await api("api/v1/query_range", { query: "count(up)", start, end: now, step: 300 });
      const times = probe.result.flatMap((s) => s.values.map((v) => Number(v[0])));
      return times.length ? [Math.min(...times), Math.max(...times)] : null;
    };
    let found;
    try {
      const live = await api("api/v1/query", { query: "count(up)", time: now });
      found = live.result.length ? await bounds(now - state.range) : await bounds(now - 30 * 86400);
    } catch (e) {
      return;
    }
    if (!found) return;
    const [first, newest] = found;
    const notes = [];
    if (state.end === null && now - newest >= 300) {
      state.end = newest;
      notes.push(`the newest data is from ${when(newest)} (${ago(newest)}): the range ends there`);
    }
    if (!state.rangeChosen) {
      // Less data than the default hour: the range shrinks to it, so no chart is half empty.
      const end = state.end !== null ? state.end : now;
      const span = end - first;
      if (span + 300 < state.range) {
        state.range = Math.max(600, Math.ceil((span + 300) / 300) * 300);
        notes.push(`the range fits the ${rangeText(state.range)} of data`);
      }
    }
    state.fitted = notes.join("; ");
  }

  function syncRangeMenu() {
    const range = document.getElementById("range");
    if (![...range.options].some((o) => Number(o.value) === state.range)) {
      range.append(el("option", { value: String(state.range), text: `${rangeText(state.range)} (all data)` }));
    }
    range.value = String(state.range);
  }

  // ---- banner: the verdict with its cause, and the culprits when a server names them -------
  async function drawVerdict(t) {
    const banner = document.getElementById("verdict");
    const note = document.getElementById("fitted");
    note.textContent = state.fitted ? `Note: ${state.fitted}.` : "";
    note.hidden = !state.fitted;
    try {
      const res = await fetch(`api/verdict?end=${t.end}&range=${state.range}`);
      if (!res.ok) { banner.hidden = true; return; }
      const v = await res.json();
      banner.textContent = "";
      banner.className = `verdict level-${v.level}`;
      const [label, ...rest] = v.overall.split(": ");
      banner.append(el("strong", { text: label }), rest.length ? `: ${rest.join(": ")}` : "");
      const first = v.cause && v.cause.panels && v.cause.panels.find((id) => document.getElementById(`panel-${id}`));
      if (first) banner.append(" ", el("a", { href: `#panel-${first}`, text: "see the cause" }));
      banner.dataset.level = v.level;
      banner.hidden = false;
    } catch (e) {
      banner.hidden = true;
    }
  }

  // `/api/findings` answers {"findings":[{severity, kind, title, culprit:{user, user_agent,
  // priority_level, ...}, fix:{yaml, advice:[]}}]} where a server names the culprits; a 404
  // (no server side) shows nothing.
  async function drawCulprits() {
    const slot = document.getElementById("culprits");
    let body;
    try {
      const res = await fetch("api/findings");
      if (!res.ok) { slot.hidden = true; return; }
      body = await res.json();
    } catch (e) {
      slot.hidden = true;
      return;
    }
    const findings = Array.isArray(body.findings) ? body.findings : [];
    slot.textContent = "";
    if (!findings.length) { slot.hidden = true; return; }
    slot.append(el("h2", { text: "Who is causing it" }));
    for (const f of findings) {
      const c = f.culprit || {};
      const who = [c.user, c.user_agent, c.priority_level ? `priority level ${c.priority_level}` : null]
        .filter(Boolean).join(" · ");
      const item = el("div", { class: `finding sev-${f.severity || "warning"}` },
        el("div", { class: "finding-title" }, el("span", { class: "badge", text: (f.severity || "").toUpperCase() }), " ", f.title || f.kind || ""),
        who ? el("div", { class: "culprit", text: who }) : null);
      const fix = f.fix || {};
      if (Array.isArray(fix.advice) && fix.advice.length) {
        const list = el("ul", { class: "advice" });
        for (const a of fix.advice) list.append(el("li", { text: a }));
        item.append(list);
      }
      if (fix.yaml) {
        item.append(el("details", {}, el("summary", { text: "Fix (YAML)" }), el("pre", { text: fix.yaml })));
      }
      slot.append(item);
    }
    slot.hidden = false;
  }

  // ---- refresh ----------------------------------------------------------------------------
  async function detectVersion() {
    try {
      const data = await api("api/v1/query", { query: "kubernetes_build_info", time: timing().end });
      const minors = data.result.map((s) => parseInt(s.metric.minor || (s.metric.git_version || s.metric.gitVersion || "").split(".")[1], 10)).filter((m) => !Number.isNaN(m));
      state.version = minors.length ? Math.min(...minors) : null;
      const git = data.result.map((s) => s.metric.git_version || s.metric.gitVersion).filter(Boolean);
      document.getElementById("version").textContent = state.version === null
        ? "version unknown: queries join every release's metrics"
        : `Kubernetes ${git[0] || "1." + state.version}`;
    } catch (e) {
      state.version = null;
      document.getElementById("version").textContent = `version unknown (${e.message})`;
    }
  }

  async function loadInstances() {
    const select = document.getElementById("instance");
    try {
      const data = await api("api/v1/query", { query: "count by (instance) (apiserver_request_total)", time: timing().end });
      const names = data.result.map((s) => s.metric.instance).filter(Boolean).sort();
      const current = state.instance;
      select.textContent = "";
      select.append(el("option", { value: "", text: `all (${names.length})` }));
      for (const n of names) select.append(el("option", { value: n, text: n }));
      select.value = names.includes(current) ? current : "";
    } catch (e) {
      // The panels report the same error; keep the selector as it is.
    }
  }

  async function refresh() {
    const status = document.getElementById("status");
    status.textContent = "refreshing…";
    await detectVersion();
    await loadInstances();
    const t = timing();
    for (const p of state.plots) p.destroy();
    state.plots.length = 0;
    const verdict = drawVerdict(t);
    const culprits = drawCulprits();
    const results = await Promise.all(state.catalog.panels.map((panel) => drawPanel(panel, t).then(
      () => panel.node.dataset.state,
      (e) => { setState(panel, "error", e.message); return "error"; })));
    await verdict;
    await culprits;
    const counts = {};
    for (const r of results) counts[r] = (counts[r] || 0) + 1;
    status.textContent = `updated ${new Date().toLocaleTimeString()} · ` + Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
    document.body.dataset.loaded = "true";
    document.body.dataset.panels = JSON.stringify(Object.fromEntries(state.catalog.panels.map((p) => [p.id, p.node.dataset.state])));
  }

  function schedule() {
    if (state.timer) clearInterval(state.timer);
    state.timer = state.refresh > 0 ? setInterval(refresh, state.refresh * 1000) : null;
  }

  async function drawPanel(panel, t) {
    const sel = selector(panel);
    const queries = panel.queries.map((q) => {
      const template = templateFor(q);
      return { q, promql: template === null ? null : render(template, sel, t.w, t.range) };
    }).filter((x) => x.promql !== null);
    if (!queries.length) {
      setState(panel, "unavailable", `not exposed by Kubernetes 1.${state.version}`);
      drawDetails(panel, [], []);
      return;
    }
    const instant = panel.visualisation !== "timeseries" && panel.visualisation !== "heatmap";
    const results = await Promise.all(queries.map(({ promql }) => instant
      ? api("api/v1/query", { query: promql, time: t.end })
      : api("api/v1/query_range", { query: promql, start: t.start, end: t.end, step: t.step })));
    const sets = queries.map((x, i) => ({ ...x, result: results[i].result || [] }));
    drawDetails(panel, sets, instant);
    const total = sets.reduce((n, s) => n + s.result.length, 0);
    if (total === 0) { setState(panel, "empty", "no data in this range"); return; }
    panel.body.textContent = "";
    switch (panel.visualisation) {
      case "timeseries": drawTimeseries(panel, sets, t); break;
      case "heatmap": drawHeatmap(panel, sets[0].result, t); break;
      case "table": drawTable(panel, sets); break;
      case "bargauge": drawBars(panel, sets); break;
      default: drawStat(panel, sets); break;
    }
    panel.node.dataset.state = "ok";
  }

  function drawDetails(panel, sets, instant) {
    const d = panel.details;
    d.textContent = "";
    for (const s of sets) {
      d.append(el("div", { text: `${s.q.id} (${s.q.legend})` }), el("pre", { text: s.promql }));
      const rows = el("table");
      for (const series of s.result.slice(0, 200)) {
        const v = instant ? series.value : series.values[series.values.length - 1];
        const unit = s.q.unit || panel.unit;
        rows.append(el("tr", {}, el("td", { text: legend("", series.metric) }), el("td", { text: v ? fmt(unit, Number(v[1])) : "" })));
      }
      d.append(el("div", { class: "series" }, rows));
    }
    const drill = panel.drilldown;
    if (drill.breakdown.length) d.append(el("div", { text: `Break down by: ${drill.breakdown.join(", ")}` }));
    if (drill.related.length) {
      const links = el("div", { text: "Related: " });
      for (const id of drill.related) links.append(el("a", { href: `#panel-${id}`, text: id }), " ");
      d.append(links);
    }
    if (drill.hint) d.append(el("p", { text: drill.hint }));
  }

  // ---- time series (uPlot) ----------------------------------------------------------------
  // Binary steps for byte axes, so ticks read 256 MiB rather than 244 MiB.
  const BINARY_INCRS = (() => {
    const out = [];
    for (let p = 0; p <= 40; p += 10) for (const m of [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]) out.push(m * 2 ** p);
    return out.sort((a, b) => a - b);
  })();

  function timeLabel(range) {
    return (u, splits) => splits.map((s) => {
      const d = new Date(s * 1000);
      const hm = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      return range > 86400 ? `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${hm}` : hm;
    });
  }

  function drawTimeseries(panel, sets, t) {
    const xs = [];
    for (let x = t.start; x <= t.end; x += t.step) xs.push(x);
    const index = new Map(xs.map((x, i) => [x, i]));
    const data = [xs];
    const series = [{}];
    let color = 0;
    for (const s of sets) {
      for (const r of s.result) {
        const ys = new Array(xs.length).fill(null);
        for (const [ts, v] of r.values) {
          const i = index.get(Math.round(Number(ts)));
          if (i !== undefined) ys[i] = Number(v);
        }
        data.push(ys);
        series.push({ label: legend(s.q.legend, r.metric), stroke: PALETTE[color++ % PALETTE.length], width: 1.5,
          value: (u, v) => fmt(s.q.unit || panel.unit, v) });
      }
    }
    for (const limit of panel.limits) {
      data.push(new Array(xs.length).fill(limit.value));
      series.push({ label: limit.label, stroke: "#f2495c", dash: [8, 6], width: 1, value: (u, v) => fmt(panel.unit, v) });
    }
    const width = Math.max(300, panel.body.clientWidth || 560);
    const opts = {
      width, height: 220, series,
      scales: {
        x: { time: true },
        // Every panel's values are rates, counts, sizes, shares or durations: from zero up, so
        // a flat line near its maximum does not look like a cliff.
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.05 : 1] },
      },
      axes: [
        // Labels at least 90 px apart, short (HH:MM), so they never run together.
        { stroke: "#8e8e8e", grid: { stroke: "#2c3235" }, space: 90, values: timeLabel(state.range) },
        { stroke: "#8e8e8e", grid: { stroke: "#2c3235" }, size: 80, space: 30,
          incrs: panel.unit === "bytes" ? BINARY_INCRS : undefined,
          values: (u, vals) => vals.map((v) => fmt(panel.unit, v)) },
      ],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    };
    const plot = new uPlot(opts, data, panel.body);
    plot.apilensPanel = panel.id;
    plot.apilensUnit = panel.unit;
    state.plots.push(plot);
  }

  // ---- heatmap (canvas) -------------------------------------------------------------------
  function heat(a) { return `rgba(255, 120, 10, ${0.15 + 0.85 * a})`; }

  function drawHeatmap(panel, result, t) {
    const buckets = result.map((r) => ({ le: r.metric.le === "+Inf" ? Infinity : Number(r.metric.le), values: r.values }))
      .filter((b) => !Number.isNaN(b.le)).sort((a, b) => a.le - b.le);
    const xs = [];
    for (let x = t.start; x <= t.end; x += t.step) xs.push(x);
    const index = new Map(xs.map((x, i) => [x, i]));
    const cum = buckets.map((b) => {
      const ys = new Array(xs.length).fill(null);
      for (const [ts, v] of b.values) { const i = index.get(Math.round(Number(ts))); if (i !== undefined) ys[i] = Number(v); }
      return ys;
    });
    // Cumulative bucket counts to per-bucket counts.
    const cells = cum.map((ys, bi) => ys.map((v, xi) => {
      if (v === null) return null;
      const below = bi === 0 ? 0 : (cum[bi - 1][xi] || 0);
      return Math.max(0, v - below);
    }));
    let max = 0;
    for (const row of cells) for (const v of row) if (v !== null && v > max) max = v;
    const canvas = el("canvas", { class: "heatmap" });
    panel.body.append(canvas);
    const labelW = 70;
    const cssW = Math.max(300, panel.body.clientWidth || 560), cssH = 220;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = cssW * dpr; canvas.height = cssH * dpr;
    const ctx = canvas.getContext("2d");
    ctx.scale(dpr, dpr);
    const plotW = cssW - labelW, rowH = cssH / Math.max(1, buckets.length), colW = plotW / Math.max(1, xs.length);
    ctx.fillStyle = "#111217"; ctx.fillRect(0, 0, cssW, cssH);
    cells.forEach((row, bi) => row.forEach((v, xi) => {
      if (!v) return;
      ctx.fillStyle = heat(Math.log1p(v) / Math.log1p(max || 1));
      ctx.fillRect(labelW + xi * colW, cssH - (bi + 1) * rowH, Math.ceil(colW), Math.ceil(rowH));
    }));
    ctx.fillStyle = "#8e8e8e"; ctx.font = "10px system-ui";
    const every = Math.ceil(buckets.length / 12);
    buckets.forEach((b, bi) => {
      if (bi % every) return;
      ctx.fillText(b.le === Infinity ? "+Inf" : fmt(panel.unit, b.le), 2, cssH - bi * rowH - rowH / 2 + 3);
    });
    // The colour scale: what a cell's colour means (requests per step, log scale).
    const gradient = el("div", { class: "gradient" });
    gradient.style.background = `linear-gradient(to right, ${heat(0)}, ${heat(0.5)}, ${heat(1)})`;
    panel.body.append(el("div", { class: "scale", title: "requests in a bucket per step, log scale" },
      el("span", { text: "0" }), gradient, el("span", { text: `${compact(Math.round(max))} requests per ${rangeText(t.step)} step (log scale)` })));
    const tip = document.getElementById("tooltip");
    canvas.addEventListener("mousemove", (ev) => {
      const rect = canvas.getBoundingClientRect();
      const xi = Math.floor((ev.clientX - rect.left - labelW) / colW);
      const bi = Math.floor((cssH - (ev.clientY - rect.top)) / rowH);
      if (xi < 0 || xi >= xs.length || bi < 0 || bi >= buckets.length) { tip.hidden = true; return; }
      const lo = bi === 0 ? 0 : buckets[bi - 1].le, hi = buckets[bi].le;
      const v = cells[bi][xi];
      tip.textContent = `${new Date(xs[xi] * 1000).toLocaleTimeString()}\n(${fmt(panel.unit, lo)}, ${hi === Infinity ? "+Inf" : fmt(panel.unit, hi)}]\n${v === null ? "no data" : v.toFixed(2) + " requests"}`;
      tip.style.left = `${ev.clientX + 12}px`; tip.style.top = `${ev.clientY + 12}px`;
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", () => { tip.hidden = true; });
  }

  // ---- table, bars, stat ------------------------------------------------------------------
  function drawTable(panel, sets) {
    const spec = panel.table;
    const rows = new Map();
    for (const s of sets) {
      for (const r of s.result) {
        const key = spec.keys.map((k) => r.metric[k] || "").join("\u0000");
        if (!rows.has(key)) rows.set(key, { labels: spec.keys.map((k) => r.metric[k] || ""), values: {} });
        rows.get(key).values[s.q.id] = Number(r.value[1]);
      }
    }
    let list = [...rows.values()];
    const sortVal = (r) => { const v = r.values[spec.sort_by]; return v === undefined || Number.isNaN(v) ? -Infinity : v; };
    list.sort((a, b) => sortVal(b) - sortVal(a));
    const keep = spec.keep_above;
    list = list.filter((r, i) => i < spec.top || (keep && r.values[keep[0]] > keep[1]));
    const table = el("table", { class: "data" });
    const head = el("tr");
    for (const k of spec.keys) head.append(el("th", { text: k }));
    for (const s of sets) head.append(el("th", { text: s.q.legend.includes("{{") ? s.q.id : s.q.legend }));
    table.append(head);
    for (const r of list) {
      const tr = el("tr");
      for (const l of r.labels) tr.append(el("td", { text: l }));
      for (const s of sets) {
        const v = r.values[s.q.id];
        const unit = s.q.unit || panel.unit;
        const sev = unit === panel.unit && v !== undefined ? severity(panel, v) : (s.q.id === "ratio" && v > 1 ? "critical" : null);
        tr.append(el("td", { class: `num${sev ? " sev-" + sev : ""}`, text: v === undefined ? "" : fmt(unit, v), title: v === undefined ? "" : String(v) }));
      }
      table.append(tr);
    }
    panel.body.append(table);
  }

  function drawBars(panel, sets) {
    const items = [];
    for (const s of sets) for (const r of s.result) items.push({ name: legend(s.q.legend, r.metric), v: Number(r.value[1]), unit: s.q.unit || panel.unit });
    items.sort((a, b) => b.v - a.v);
    const max = Math.max(...items.map((i) => i.v), 1e-12);
    for (const item of items.slice(0, 20)) {
      const sev = severity(panel, item.v);
      const fill = el("div", { class: "fill" });
      fill.style.width = `${Math.max(0.5, 100 * item.v / max)}%`;
      if (sev) fill.style.background = sev === "critical" ? "#f2495c" : "#ff9830";
      panel.body.append(el("div", { class: "bar", title: `${item.name}: ${item.v}` },
        el("span", { class: "name", text: item.name }), el("div", {}, fill), el("span", { class: "val", text: fmt(item.unit, item.v) })));
    }
  }

  function drawStat(panel, sets) {
    for (const s of sets) for (const r of s.result) {
      const v = Number(r.value[1]);
      const sev = severity(panel, v);
      panel.body.append(el("div", { class: `stat${sev ? " sev-" + sev : ""}`, title: String(v), text: `${legend(s.q.legend, r.metric)}: ${fmt(s.q.unit || panel.unit, v)}` }));
    }
  }

  // ---- start ------------------------------------------------------------------------------
  async function start() {
    const res = await fetch("api/panels");
    state.catalog = await res.json();
    const range = document.getElementById("range");
    const refreshSel = document.getElementById("refresh");
    const inst = document.getElementById("instance");
    await fitRange();
    syncRangeMenu();
    refreshSel.value = String(state.refresh);
    range.addEventListener("change", () => { state.range = Number(range.value); state.rangeChosen = true; state.fitted = ""; refresh(); });
    refreshSel.addEventListener("change", () => { state.refresh = Number(refreshSel.value); schedule(); });
    inst.addEventListener("change", () => { state.instance = inst.value; refresh(); });
    build();
    await refresh();
    schedule();
  }

  start().catch((e) => {
    document.getElementById("status").textContent = `failed to load the panel catalog: ${e.message}`;
    document.body.dataset.loaded = "error";
  });
})();
