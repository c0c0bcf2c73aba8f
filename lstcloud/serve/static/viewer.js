// lstcloud viewer: one day's layer as map tiles, a click gives the pixel's series (EDR position).
// Everything is served by the service itself (Leaflet is vendored from npm): no outside host.
"use strict";
(async function () {
  const meta = await (await fetch("api/product")).json();
  const $ = (id) => document.getElementById(id);
  $("product").textContent = meta.product;
  const days = meta.days;
  for (const d of days) {
    const o = document.createElement("option");
    o.value = o.textContent = d;
    if (meta.complete_days.length && !meta.complete_days.includes(d)) o.textContent += " (incomplete)";
    $("day").appendChild(o);
  }
  $("day").value = days[days.length - 1];
  for (const l of meta.layers) {
    const o = document.createElement("option");
    o.value = l.variable; o.textContent = l.label;
    $("layer").appendChild(o);
  }
  $("mask").disabled = !meta.quality_mask;
  const [w, s, e, n] = meta.bounds;
  const map = L.map("map", { minZoom: meta.limits.min_zoom, maxZoom: meta.limits.max_zoom });
  map.fitBounds([[s, w], [n, e]]);
  if (map.getZoom() < meta.limits.min_zoom) map.setZoom(meta.limits.min_zoom);
  map.attributionControl.setPrefix("Leaflet");
  const tileUrl = (variable) => () =>
    `tiles/WebMercatorQuad/{z}/{x}/{y}.png?datetime=${$("day").value}&variable=${variable}`;
  let layer = null, mask = null;
  function draw() {
    const v = $("layer").value;
    if (layer) map.removeLayer(layer);
    layer = L.tileLayer(tileUrl(v)(), { minZoom: meta.limits.min_zoom, maxZoom: meta.limits.max_zoom,
                                        attribution: "lstcloud 250 m LST" }).addTo(map);
    $("colorbar").src = `colorbar/${v}.png`;
    if (mask) { map.removeLayer(mask); mask = null; }
    if ($("mask").checked) {
      mask = L.tileLayer(tileUrl("quality_mask")(), { opacity: 0.55, minZoom: meta.limits.min_zoom,
                                                      maxZoom: meta.limits.max_zoom }).addTo(map);
    }
  }
  ["day", "layer", "mask"].forEach((id) => $(id).addEventListener("change", draw));
  draw();

  const flagNames = (q) => {
    if (q === null || q === undefined) return "";
    if (q === 255) return "not computed";
    const names = [];
    meta.quality_flags.masks.forEach((m, i) => { if (q & m) names.push(meta.quality_flags.meanings[i] || m); });
    return names.join(", ");
  };
  let marker = null;
  map.on("click", async (ev) => {
    const { lat, lng } = ev.latlng;
    window.lstcloudViewer.clicked = { lat, lng };
    if (marker) map.removeLayer(marker);
    marker = L.circleMarker(ev.latlng, { radius: 6, color: "#000" }).addTo(map);
    const last = days.length - 1, first = Math.max(0, last - meta.limits.max_days + 1);
    const extra = meta.layers.map((l) => l.variable).filter((v) => v !== "lst_250m");
    const params = ["lst_250m", "lst_250m_quality", ...extra].filter(
      (v, i, a) => a.indexOf(v) === i && (v !== "lst_250m_quality" || meta.quality_flags));
    const url = `edr/position?coords=POINT(${lng.toFixed(6)} ${lat.toFixed(6)})` +
      `&datetime=${days[first]}/${days[last]}&parameter-name=${params.join(",")}`;
    const resp = await fetch(url);
    const body = await resp.json();
    $("hint").textContent = "";
    const tbody = document.querySelector("#series tbody");
    tbody.innerHTML = "";
    if (!resp.ok) { $("where").textContent = body.detail; drawChart([], [], []); return; }
    $("where").textContent = `lon ${lng.toFixed(4)}, lat ${lat.toFixed(4)}`;
    const t = body.domain.axes.t.values.map((v) => v.slice(0, 10));
    const r = body.ranges, flat = (name) => (r[name] ? r[name].values.flat(3) : t.map(() => null));
    const lst = flat("lst_250m"), qual = flat("lst_250m_quality");
    const unc = r.lst_250m_uncertainty ? flat("lst_250m_uncertainty") : flat("lst_250m_spread");
    $("uhead").textContent = r.lst_250m_uncertainty ? "uncertainty (K)" : r.lst_250m_spread ? "spread (K)" : "";
    t.forEach((d, i) => {
      const tr = document.createElement("tr");
      const q = qual[i] === null ? "" : qual[i] ? `${qual[i]} ${flagNames(qual[i])}` : "0";
      const cells = [d, lst[i] === null ? "" : lst[i].toFixed(2), q,
                     unc[i] === null ? "" : unc[i].toFixed(2)];
      cells.forEach((c) => { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); });
      tr.children[2].title = flagNames(qual[i]);
      tr.children[2].className = qual[i] ? "flags" : "";
      tr.dataset.lst = lst[i] === null ? "" : String(lst[i]);
      tbody.appendChild(tr);
    });
    drawChart(t, lst, unc, qual);
  });

  function drawChart(t, lst, unc, qual) {
    const svg = $("chart"), W = 380, H = 200, m = { l: 40, r: 8, t: 8, b: 22 };
    const NS = "http://www.w3.org/2000/svg";
    svg.innerHTML = "";
    const ok = lst.map((v, i) => [i, v]).filter(([, v]) => v !== null);
    if (!ok.length) return;
    const lo = Math.min(...ok.map(([i, v]) => v - (unc[i] || 0))) - 0.5;
    const hi = Math.max(...ok.map(([i, v]) => v + (unc[i] || 0))) + 0.5;
    const X = (i) => m.l + (t.length > 1 ? (i / (t.length - 1)) : 0.5) * (W - m.l - m.r);
    const Y = (v) => H - m.b - ((v - lo) / (hi - lo)) * (H - m.t - m.b);
    const el = (name, attrs, text) => {
      const e = document.createElementNS(NS, name);
      Object.entries(attrs).forEach(([k, v]) => e.setAttribute(k, v));
      if (text !== undefined) e.textContent = text;
      svg.appendChild(e); return e;
    };
    el("line", { x1: m.l, y1: H - m.b, x2: W - m.r, y2: H - m.b, class: "axis" });
    el("line", { x1: m.l, y1: m.t, x2: m.l, y2: H - m.b, class: "axis" });
    el("text", { x: 2, y: m.t + 8 }, hi.toFixed(1));
    el("text", { x: 2, y: H - m.b }, lo.toFixed(1));
    el("text", { x: m.l, y: H - 6 }, t[0]);
    el("text", { x: W - m.r - 60, y: H - 6 }, t[t.length - 1]);
    el("polyline", { points: ok.map(([i, v]) => `${X(i)},${Y(v)}`).join(" "), fill: "none", stroke: "#c0392b" });
    for (const [i, v] of ok) {
      if (unc[i]) el("line", { x1: X(i), x2: X(i), y1: Y(v - unc[i]), y2: Y(v + unc[i]), stroke: "#999" });
      el("circle", { cx: X(i), cy: Y(v), r: 3, fill: qual && qual[i] ? "#e67e22" : "#c0392b", class: "obs" });
    }
  }
  window.lstcloudViewer = { map };
})();
