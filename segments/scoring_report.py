"""What the scoring run page shows, from the numbers the run stored (no query): histograms, the R x F
segment grid, the CLV model used and the model check, shaped for a server-rendered template."""

from __future__ import annotations

from segments.models import ScoringRun

CHART_HEIGHT = 120  # px of the tallest bar
CHART_BAR = 18  # px per bar in the predicted-vs-actual chart


def _bars(counts: list[int]) -> list[dict]:
    top = max(counts, default=0) or 1
    total = sum(counts) or 1
    return [
        {
            "score": i + 1,
            "count": f"{c:,}",
            "share": f"{c / total:.1%}",
            "height": round(CHART_HEIGHT * c / top),
        }
        for i, c in enumerate(counts)
    ]


def _grid(grid: list[list[dict]]) -> list[list[dict]]:
    top = max((cell["count"] for row in grid for cell in row), default=0) or 1
    return [
        [
            {**cell, "count": f"{cell['count']:,}", "shade": round(0.06 + 0.6 * cell["count"] / top, 2)}
            for cell in row
        ]
        for row in grid
    ]


def _frequency_chart(groups: list[dict]) -> dict:
    """An inline SVG of predicted vs actual mean purchases per calibration frequency group."""
    top = max([g["predicted"] for g in groups] + [g["actual"] for g in groups] + [0.01])
    width = 56
    bars = []
    for i, g in enumerate(groups):
        x = 40 + i * width
        predicted = CHART_HEIGHT * g["predicted"] / top
        actual = CHART_HEIGHT * g["actual"] / top
        bars.append(
            {
                **g,
                "x_predicted": x,
                "x_actual": x + CHART_BAR + 2,
                "x_label": x + CHART_BAR,
                "y_predicted": 10 + CHART_HEIGHT - predicted,
                "h_predicted": predicted,
                "y_actual": 10 + CHART_HEIGHT - actual,
                "h_actual": actual,
            }
        )
    return {
        "bars": bars,
        "width": 40 + width * len(groups) + 10,
        "height": CHART_HEIGHT + 50,
        "axis_y": CHART_HEIGHT + 10,
        "label_y": CHART_HEIGHT + 26,
        "title_y": CHART_HEIGHT + 44,
        "top": top,
        "bar": CHART_BAR,
    }


def scoring_run_report(run: ScoringRun) -> dict:
    """Everything the run page shows below the progress line; empty pieces where the run has none."""
    report: dict = {}
    dist = run.distribution or {}
    if dist.get("histograms"):
        report["histograms"] = [
            {"letter": letter.upper(), "title": title, "bars": _bars(dist["histograms"][letter])}
            for letter, title in (("r", "Recency"), ("f", "Frequency"), ("m", "Monetary"))
        ]
        report["grid"] = _grid(dist["grid"])
        buyers = dist.get("buyers") or 1
        report["segments"] = [
            {"name": name, "count": f"{count:,}", "share": f"{count / buyers:.1%}"}
            for name, count in sorted(dist["segments"].items(), key=lambda item: -item[1])
        ]
        report["empty_segments"] = [name for name, count in dist["segments"].items() if not count]
        report["stages"] = dist.get("stages", {})
        report["clusters"] = dist.get("clusters", {})
    fit = run.clv_fit or {}
    if fit:
        bgnbd = fit.get("bgnbd", {})
        report["clv"] = {
            "model": fit.get("model", "bgnbd"),
            "fallback_reason": fit.get("fallback_reason", ""),
            "iterations": bgnbd.get("iterations"),
            "grid_rows": bgnbd.get("grid_rows"),
            "seconds": bgnbd.get("seconds"),
            "notes": bgnbd.get("notes", []),
        }
    check = run.model_check
    if check:
        clusters = [
            {**c, "buyers": f"{c['buyers']:,}", "bought_share": f"{c['bought_share']:.1%}"}
            for c in check["by_cluster"]
        ]
        report["check"] = {
            **check,
            "accuracy_text": f"{check['accuracy']:.1%}",
            "buyers": f"{check['buyers']:,}",
            "predicted_total": f"{check['predicted_total']:,.0f}",
            "actual_total": f"{check['actual_total']:,.0f}",
            "by_cluster": clusters,
            "chart": _frequency_chart(check["by_frequency"]),
        }
    return report
