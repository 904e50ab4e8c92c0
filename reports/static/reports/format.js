/* Number formats shared by the report widgets: thousands separators, currency, one-decimal percentages. */
(function () {
  "use strict";
  const ns = (window.WinbackReports = window.WinbackReports || {});
  const locale = document.documentElement.lang || "en";
  ns.format = function (value, unit, currency) {
    if (value === null || value === undefined || Number.isNaN(value)) return "–";
    if (unit === "percent") {
      return new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(value);
    }
    if (unit === "currency") {
      return new Intl.NumberFormat(locale, { style: "currency", currency: currency || "EUR", maximumFractionDigits: 0 }).format(value);
    }
    return new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(value);
  };
  ns.palette = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#ea580c", "#475569", "#0d9488"];
  /* Options every chart shares: a title, axis titles and formatted ticks and tooltips. */
  ns.baseOptions = function (spec, indexAxis) {
    const valueAxis = indexAxis === "y" ? "x" : "y";
    const categoryAxis = indexAxis === "y" ? "y" : "x";
    const fmt = (v) => ns.format(v, spec.unit, spec.currency);
    const scales = {};
    scales[valueAxis] = {
      beginAtZero: true,
      title: { display: true, text: spec.value_label },
      ticks: spec.unit === "count" ? { callback: fmt, precision: 0 } : { callback: fmt },
      grid: { color: "#eef1f5" },
    };
    scales[categoryAxis] = { title: { display: !!spec.category_label, text: spec.category_label }, grid: { display: false } };
    return {
      indexAxis: indexAxis,
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: {
        title: { display: true, text: spec.title, align: "start", font: { size: 14, weight: "600" }, color: "#1f2937" },
        legend: { display: spec.datasets.length > 1, position: "bottom", labels: { boxWidth: 12 } },
        tooltip: { callbacks: { label: (ctx) => `${ctx.dataset.label}: ${fmt(ctx.parsed[valueAxis])}` } },
      },
      scales: scales,
    };
  };
})();
