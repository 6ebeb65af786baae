// Flare console: the live parts of the page, from /_flare/events (server-sent events).
// Hand-written, no framework, no build: tiles per execution environment, the invocations
// streaming by, per-function charts (inline SVG), the followed log, panels refreshed.
"use strict";
(() => {
  const WINDOW_S = 60;
  const $ = (id) => document.getElementById(id);
  const tiles = new Map(); // environment id => its tile
  const stats = new Map(); // function => {buckets: Map(second => bucket)}
  let following = null;
  let logOffset = 0;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // ---- environments ----------------------------------------------------------------------
  function groupFor(env) {
    const key = `${env.function}:${env.version}`;
    let group = document.querySelector(`.group[data-key="${CSS.escape(key)}"]`);
    if (!group) {
      group = el("div", { class: "group", "data-key": key, "data-function": env.function });
      group.append(el("h3", {}, `${env.function} · ${env.version} · ${env.memory_mb} MB`), el("div", { class: "tiles" }));
      const box = $("environments");
      box.querySelector(".empty")?.remove();
      box.append(group);
    }
    return group.querySelector(".tiles");
  }

  function showEnvironment(env) {
    let tile = tiles.get(env.environment_id);
    if (!tile) {
      tile = el("div", { "data-environment-id": env.environment_id, "data-function": env.function });
      tile.append(el("b", {}, env.environment_id.slice(0, 8)), el("span", {}));
      groupFor(env).append(tile);
      tiles.set(env.environment_id, tile);
    }
    tile.className = `tile ${env.phase}`;
    tile.dataset.phase = env.phase;
    tile.title = `${env.function}:${env.version} ${env.environment_id} (${env.initialization_type})`;
    tile.querySelector("span").textContent = `${env.phase}${env.initialization_type === "on-demand" ? "" : " · " + env.initialization_type}`;
    if (env.phase === "gone") setTimeout(() => forget(env.environment_id), 1500);
  }

  function forget(id) {
    const tile = tiles.get(id);
    if (!tile) return;
    tiles.delete(id);
    const group = tile.closest(".group");
    tile.remove();
    if (group && !group.querySelector(".tile")) group.remove();
    if (!tiles.size && !$("environments").querySelector(".empty")) {
      $("environments").append(el("p", { class: "empty" }, "No execution environments."));
    }
  }

  function snapshot(environments) {
    const live = new Set(environments.map((env) => env.environment_id));
    for (const id of [...tiles.keys()]) if (!live.has(id)) forget(id);
    environments.forEach(showEnvironment);
  }

  // ---- invocations and charts -------------------------------------------------------------
  function bucket(fn) {
    if (!stats.has(fn)) stats.set(fn, new Map());
    const second = Math.floor(Date.now() / 1000);
    const buckets = stats.get(fn);
    if (!buckets.has(second)) buckets.set(second, { inv: 0, err: 0, thr: 0, cold: 0, durations: [], busy: 0 });
    return buckets.get(second);
  }

  function showInvocation(inv) {
    const b = bucket(inv.function);
    b.inv += 1;
    if (inv.error_type) b.err += 1;
    if (inv.start !== "warm") b.cold += 1;
    b.durations.push(inv.duration_ms);
    const row = el("tr", { "data-function": inv.function });
    const time = new Date(inv.at * 1000).toLocaleTimeString();
    const start = inv.start + (inv.init_ms != null ? ` (${inv.init_ms.toFixed(1)} ms)` : "");
    for (const [text, cls] of [[time], [inv.function], [inv.version], [inv.request_id], [`${inv.duration_ms.toFixed(2)} ms`],
      [start, inv.start], [inv.error_type || "", inv.error_type ? "err" : ""]]) {
      row.append(el("td", cls ? { class: cls } : {}, text));
    }
    const body = $("invocations");
    body.prepend(row);
    while (body.rows.length > 100) body.deleteRow(-1);
  }

  function percentile(values, p) {
    if (!values.length) return null;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  }

  function limitOf(fn) {
    const row = document.querySelector(`#functions tr[data-function="${CSS.escape(fn)}"]`);
    return row ? Number(row.dataset.limit) : null;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    return node;
  }

  function line(values, scale, cls, dots) {
    const group = svg("g", { class: cls });
    const points = values.map((v, i) => (v == null ? null : [i * 10 + 5, 100 - (v / scale) * 95])).filter(Boolean);
    group.append(svg("polyline", { points: points.map((p) => p.join(",")).join(" ") }));
    if (dots) for (const [x, y] of points) group.append(svg("circle", { cx: x, cy: y, r: 2.5 }));
    return group;
  }

  function drawChart(fn, seconds) {
    const buckets = stats.get(fn);
    const rows = seconds.map((s) => buckets.get(s) || { inv: 0, err: 0, thr: 0, cold: 0, durations: [], busy: 0 });
    const top = Math.max(1, ...rows.map((r) => r.inv + r.thr));
    const limit = limitOf(fn);
    const concScale = Math.max(1, ...rows.map((r) => r.busy), Math.min(limit || 1, 10 * Math.max(1, ...rows.map((r) => r.busy))));
    const counts = svg("svg", { viewBox: "0 0 600 100", preserveAspectRatio: "none", role: "img" });
    rows.forEach((r, i) => {
      const h = (r.inv / top) * 95, e = (r.err / top) * 95, t = (r.thr / top) * 95;
      counts.append(svg("rect", { x: i * 10 + 1, y: 100 - h, width: 8, height: h, class: "inv" }));
      counts.append(svg("rect", { x: i * 10 + 1, y: 100 - e, width: 8, height: e, class: "err" }));
      counts.append(svg("rect", { x: i * 10 + 1, y: 100 - h - t, width: 8, height: t, class: "thr" }));
    });
    counts.append(line(rows.map((r) => r.busy), concScale, "conc"));
    if (limit != null && limit <= concScale) counts.append(svg("line", { x1: 0, x2: 600, y1: 100 - (limit / concScale) * 95, y2: 100 - (limit / concScale) * 95, class: "limit" }));
    const p50s = rows.map((r) => percentile(r.durations, 50)), p99s = rows.map((r) => percentile(r.durations, 99));
    const slowest = Math.max(1, ...p99s.filter((v) => v != null));
    const durations = svg("svg", { viewBox: "0 0 600 100", preserveAspectRatio: "none", role: "img" });
    durations.append(line(p50s, slowest, "p50", true), line(p99s, slowest, "p99", true));
    const all = rows.flatMap((r) => r.durations), total = rows.reduce((n, r) => n + r.inv, 0);
    const sum = (k) => rows.reduce((n, r) => n + r[k], 0);
    const figures = `${total} invocations · ${sum("err")} errors · ${sum("thr")} throttles · p50 ${fmt(percentile(all, 50))} · p99 ${fmt(percentile(all, 99))}` +
      ` · cold ${total ? Math.round((100 * sum("cold")) / total) : 0}% · busy ${rows[rows.length - 1].busy}/${limit ?? "?"}`;
    const box = el("div", { class: "chart", "data-function": fn });
    box.append(el("h3", {}, fn), el("div", { class: "figures" }, figures), counts, el("div", { class: "figures" }, `duration p50 (blue) / p99 (yellow), max ${fmt(slowest)}`), durations);
    return box;
  }

  function fmt(ms) { return ms == null ? "–" : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`; }

  function drawCharts() {
    const now = Math.floor(Date.now() / 1000);
    const busy = new Map();
    for (const tile of tiles.values()) if (tile.dataset.phase === "busy") busy.set(tile.dataset.function, (busy.get(tile.dataset.function) || 0) + 1);
    for (const fn of busy.keys()) bucket(fn);
    for (const [fn, buckets] of stats) {
      if (buckets.has(now)) buckets.get(now).busy = Math.max(buckets.get(now).busy, busy.get(fn) || 0);
      for (const s of buckets.keys()) if (s <= now - WINDOW_S) buckets.delete(s);
    }
    const seconds = Array.from({ length: WINDOW_S }, (_, i) => now - WINDOW_S + 1 + i);
    const charts = [...stats.keys()].filter((fn) => stats.get(fn).size).sort().map((fn) => drawChart(fn, seconds));
    if (charts.length) $("charts").replaceChildren(...charts);
  }

  // ---- the feed ---------------------------------------------------------------------------
  function connect() {
    const source = new EventSource("/_flare/events");
    source.onopen = () => { $("status").textContent = "live"; $("status").className = "status live"; };
    source.onerror = async () => {
      $("status").textContent = "reconnecting…";
      $("status").className = "status";
      const probe = await fetch("/_flare/panels/functions", { cache: "no-store" }).catch(() => null);
      if (probe && probe.status === 401) {  // the session ended (expired, or the engine restarted)
        source.close();
        $("status").textContent = "signed out: run `flare console` for a new link";
      }
    };
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.kind === "snapshot") snapshot(event.environments);
      else if (event.kind === "environment") showEnvironment(event);
      else if (event.kind === "invocation") showInvocation(event);
      else if (event.kind === "throttle") bucket(event.function).thr += 1;
    };
  }

  // ---- panels and the followed log --------------------------------------------------------
  async function refresh(name) {
    const reply = await fetch(`/_flare/panels/${name}`, { cache: "no-store" });
    if (!reply.ok) return;
    $(name).innerHTML = await reply.text();
    if (following) document.querySelector(`button.follow[data-function="${CSS.escape(following)}"]`)?.classList.add("on");
  }

  async function readLog() {
    if (!following) return;
    const fn = following;
    const reply = await fetch(`/_flare/logs?function=${encodeURIComponent(fn)}&offset=${logOffset}`, { cache: "no-store" });
    if (!reply.ok || fn !== following) return;
    const page = await reply.json();
    logOffset = page.nextOffset;
    const log = $("log");
    const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(document.createTextNode(page.events.map((e) => e.message.replace(/\n$/, "")).join("\n") + (page.events.length ? "\n" : "")));
    while (log.textContent.length > 200000) log.firstChild.remove();
    if (atBottom) log.scrollTop = log.scrollHeight;
  }

  document.addEventListener("click", (click) => {
    const button = click.target.closest("button.follow");
    if (!button) return;
    document.querySelectorAll("button.follow.on").forEach((b) => b.classList.remove("on"));
    following = button.dataset.function;
    button.classList.add("on");
    logOffset = 0;
    $("log").textContent = "";
    $("log-function").textContent = following;
    readLog();
  });

  connect();
  setInterval(drawCharts, 1000);
  setInterval(() => { refresh("functions"); refresh("sources"); }, 5000);
  setInterval(readLog, 1000);
})();
