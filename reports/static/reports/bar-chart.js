/* Bar chart widget: <canvas data-bar-chart="json-script-id">; the JSON has title, labels, datasets
   [{label, data}], unit ("count" | "currency" | "percent"), value_label, category_label, horizontal. */
(function () {
  "use strict";
  const ns = window.WinbackReports;
  function draw(canvas) {
    const spec = JSON.parse(document.getElementById(canvas.dataset.barChart).textContent);
    const datasets = spec.datasets.map((d, i) => ({
      label: d.label,
      data: d.data,
      backgroundColor: spec.datasets.length > 1 ? ns.palette[i % ns.palette.length] : ns.palette[0],
      borderRadius: 3,
      maxBarThickness: 36,
    }));
    canvas.chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: ns.baseOptions(spec, spec.horizontal ? "y" : "x"),
    });
    canvas.dataset.ready = "true";
  }
  document.addEventListener("DOMContentLoaded", () => document.querySelectorAll("canvas[data-bar-chart]").forEach(draw));
})();
