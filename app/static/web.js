// The live page: renders /state snapshots pushed over Server-Sent Events. Every text that came
// from outside (nicknames, chat, reasons) goes through textContent, never through HTML.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => token ? `${path}?token=${encodeURIComponent(token)}` : path;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) node.setAttribute(k, v);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(child ?? ""));
  }
  return node;
}

function fill(tbody, rows) {
  tbody.replaceChildren(...rows);
}

function renderAds(state) {
  const rows = state.ads.map((ad) => {
    const c = ad.competitor;
    const against = c ? `${c.nickname || "?"} at ${c.price} (ad ${c.adv_no})` : "–";
    const d = ad.decision;
    const price = el("td", {class: "num price", "data-price": ad.price}, ad.price);
    if (ad.paused) price.append(el("span", {class: "paused"}, " paused"));
    return el("tr", {"data-adv": ad.adv_no},
      el("td", {}, ad.adv_no), el("td", {}, ad.market), el("td", {}, ad.side), price,
      el("td", {class: "num rank"}, ad.rank ?? "–"),
      el("td", {class: "competitor"}, against),
      el("td", {class: "decision"}, d ? `${d.action} (${d.rule}): ${d.reason}` : "–"));
  });
  fill(document.querySelector("#ads tbody"), rows);
  document.getElementById("charts").replaceChildren(...state.ads.map(chart));
}

function chart(ad) {
  const w = 600, h = 180, pad = 36;
  const pts = ad.history;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const values = pts.flatMap((p) => [p.mine, p.competitor]).filter((v) => v !== null).map(Number);
  if (values.length) {
    let lo = Math.min(...values), hi = Math.max(...values);
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const t0 = pts[0].t, t1 = Math.max(state_t, pts[pts.length - 1].t, t0 + 1);
    const x = (t) => pad + (t - t0) / (t1 - t0) * (w - pad - 8);
    const y = (v) => 8 + (hi - v) / (hi - lo) * (h - 24);
    for (const [key, colour] of [["competitor", "#d14a1f"], ["mine", "#1f6fd1"]]) {
      const line = [];
      let last = null;
      for (const p of pts) {
        if (p[key] === null) continue;
        if (last !== null) line.push(`${x(p.t).toFixed(1)},${y(last).toFixed(1)}`);  // steps
        line.push(`${x(p.t).toFixed(1)},${y(Number(p[key])).toFixed(1)}`);
        last = Number(p[key]);
      }
      if (last !== null) line.push(`${x(t1).toFixed(1)},${y(last).toFixed(1)}`);
      const poly = document.createElementNS(SVG, "polyline");
      poly.setAttribute("points", line.join(" "));
      poly.setAttribute("fill", "none");
      poly.setAttribute("stroke", colour);
      poly.setAttribute("stroke-width", "2");
      poly.setAttribute("class", `line-${key}`);
      svg.append(poly);
    }
    for (const [v, dy] of [[hi, 12], [lo, h - 10]]) {
      const label = document.createElementNS(SVG, "text");
      label.setAttribute("x", "2");
      label.setAttribute("y", String(dy));
      label.setAttribute("font-size", "10");
      label.setAttribute("fill", "#667");
      label.textContent = v.toFixed(2);
      svg.append(label);
    }
  }
  return el("div", {class: "chart", "data-chart": ad.adv_no},
    el("div", {class: "legend"}, `ad ${ad.adv_no} (${ad.side} ${ad.market}) `,
      el("span", {class: "mine"}, "— my price"), el("span", {class: "comp"}, "— priced against")),
    svg);
}

let state_t = 0;

function renderDecisions(state) {
  fill(document.querySelector("#decisions tbody"), state.decisions.map((d) =>
    el("tr", {class: d.action},
      el("td", {class: "num"}, d.t.toFixed(1)), el("td", {}, d.adv_no),
      el("td", {class: d.action}, d.action), el("td", {}, d.rule + (d.clamp ? ` (${d.clamp})` : "")),
      el("td", {class: "num"}, d.action === "reprice" ? `${d.old} → ${d.new}` : d.old),
      el("td", {}, d.reason))));
}

function renderOrders(state) {
  const blocks = state.orders.map((o) => el("div", {class: "order", "data-order": o.order_no},
    el("div", {}, `${o.order_no}: ${o.side} ${o.amount} ${o.asset} at ${o.price} = ${o.total} ${o.fiat}`
      + ` · ${o.counterparty || "?"} · `, el("b", {}, o.status)),
    ...o.chat.map((m) => el("div", {class: "chat"}, `${m.t.toFixed(0)} s ${m.who}: ${m.text}`))));
  document.getElementById("orders").replaceChildren(
    ...(blocks.length ? blocks : [el("div", {class: "hold"}, "no orders yet")]));
}

function renderHeader(state) {
  const lim = state.limiter;
  const bar = document.getElementById("budget-bar");
  bar.style.width = `${Math.min(100, lim.use * 100).toFixed(0)}%`;  // CSSOM: allowed by the CSP
  document.getElementById("budget").textContent =
    `${lim.last_s} calls in the last second of ${lim.rps}/s · ${lim.per_s_10s}/s over 10 s ` +
    `(${(lim.use * 100).toFixed(0)}% of the budget)`;
  const hosts = Object.entries(lim.breakers).map(([h, s]) => `${h}: breaker ${s}`)
    .concat(Object.entries(lim.paused).map(([h, s]) => `${h}: paused ${s} s more`));
  const b = document.getElementById("breakers");
  b.textContent = hosts.length ? hosts.join(" · ") : "breakers closed, no pause";
  b.className = Object.values(lim.breakers).includes("open") ? "open" : "";
  const c = state.counts;
  document.getElementById("counts").textContent =
    `reprices ${c.reprices} · orders ${c.orders} · alerts sent ${c.alerts_sent}` +
    (c.alerts_failed ? ` (failed ${c.alerts_failed})` : "");
  document.getElementById("clock").textContent = `session time ${state.t.toFixed(1)} s`;
  const live = document.getElementById("live");
  live.textContent = state.stopped ? `stopped: ${state.stopped}` : "live";
  live.className = state.stopped ? "badge off" : "badge on";
}

function render(state) {
  state_t = state.t;
  renderHeader(state);
  renderAds(state);
  renderDecisions(state);
  renderOrders(state);
  document.body.dataset.version = String(state.version);
}

function connect() {
  const source = new EventSource(withToken("events"));
  source.onmessage = (msg) => render(JSON.parse(msg.data));
  source.onerror = () => {
    const live = document.getElementById("live");
    live.textContent = "disconnected, retrying…";
    live.className = "badge off";
  };
}

connect();
