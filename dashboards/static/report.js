// Today's report: one grouped bar chart (uPlot) of offered / answered / abandoned per queue.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("chart");
  if (!el || !window.uPlot) return;
  const labels = JSON.parse(el.dataset.labels || "[]");
  if (!labels.length) { el.hidden = true; return; }
  const names = JSON.parse(el.dataset.names);
  const xs = labels.map((_, i) => i);
  // Nested bars (offered widest, answered inside it, abandoned narrowest): one x per queue.
  const sizes = [0.75, 0.5, 0.22];
  const colors = ["#9db7d8", "#2e8540", "#b3261e"];
  const series = [{}].concat(["offered", "answered", "abandoned"].map((key, i) => ({
    label: names[i], stroke: colors[i], fill: colors[i], paths: uPlot.paths.bars({ size: [sizes[i], 120] }),
  })));
  const data = [xs].concat(["offered", "answered", "abandoned"].map((k) => JSON.parse(el.dataset[k])));
  new uPlot({
    width: Math.min(900, el.clientWidth || 900), height: 260, series,
    scales: { x: { time: false, range: [-0.6, labels.length - 0.4] } },
    axes: [{ values: (u, ticks) => ticks.map((t) => labels[t] || "") , space: 40}, {}],
  }, data, el);
});
