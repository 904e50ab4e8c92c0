/* Line chart widget (series over days): <canvas data-line-chart="json-script-id">; JSON as bar-chart.js,
   labels are ISO days. */
(function () {
  "use strict";
  const ns = window.WinbackReports;
  const locale = document.documentElement.lang || "en";
  const dayFormat = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric" });
  function draw(canvas) {
    const spec = JSON.parse(document.getElementById(canvas.dataset.lineChart).textContent);
    const datasets = spec.datasets.map((d, i) => ({
      label: d.label,
      data: d.data,
      borderColor: ns.palette[i % ns.palette.length],
      backgroundColor: ns.palette[i % ns.palette.length],
      borderWidth: 2,
      pointRadius: spec.labels.length > 40 ? 0 : 2,
      tension: 0.2,
      spanGaps: true,
    }));
    const labels = spec.labels.map((d) => dayFormat.format(new Date(d + "T00:00:00")));
    const options = ns.baseOptions(spec, "x");
    options.scales.x.ticks = { maxTicksLimit: 10, autoSkip: true };
    options.plugins.legend.display = true;
    canvas.chart = new window.Chart(canvas, { type: "line", data: { labels: labels, datasets: datasets }, options: options });
    canvas.dataset.ready = "true";
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("canvas[data-line-chart]").forEach(draw));
})();
