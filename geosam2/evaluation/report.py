"""Reports of an evaluation folder: per-object CSV, Markdown table, plotly chart, summary.json.

Per-object results are the JSON records written by the runner (see
`geosam2.evaluation.runner.evaluate_object`); every report is recomputed from them, so
a resumed run or merged shards give the same files as one full run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metrics import mean_over_groups

UNCATEGORISED = "(none)"


def summarise(records: Sequence[dict], method: str = "", protocol: str = "geosam2") -> dict:
    """The summary of per-object records (dicts with uid, category, status, miou in percent).

    Returns a dict with "miou" (mean over scored objects, percent), "objects" (the
    count scored), "per_object" {uid: percent}, "per_category" {category: percent},
    "miou_over_categories", "failed" / "missing" {uid: reason}, and
    "miou_failures_as_zero" (failed and missing objects counted as 0), and the
    protocol's own headline figure "protocol_miou": the mean over categories for
    PartField's protocol, the mean over objects otherwise; "extra" {name: percent}, the
    records' further figures averaged as "protocol_miou".
    """
    records = sorted(records, key=lambda r: r["uid"])
    scored = {r["uid"]: r["miou"] for r in records if r["status"] == "ok"}
    categories = {r["uid"]: r.get("category") or UNCATEGORISED for r in records}
    over_categories, per_category = mean_over_groups(scored, categories)
    everything = [r["miou"] if r["status"] == "ok" else 0.0 for r in records]
    miou = float(np.mean(list(scored.values()))) if scored else float("nan")

    def headline(values: dict[str, float]) -> float:
        over, _ = mean_over_groups(values, categories)
        return over if protocol == "partfield" else (float(np.mean(list(values.values()))) if values else float("nan"))

    names = sorted({name for r in records if r["status"] == "ok" for name in r.get("extra", {})})
    extra = {name: headline({r["uid"]: r["extra"][name] for r in records if name in r.get("extra", {})}) for name in names}
    return {
        "method": method,
        "protocol": protocol,
        "protocol_miou": over_categories if protocol == "partfield" else miou,
        "extra": extra,
        "miou": miou,
        "objects": len(scored),
        "total": len(records),
        "miou_over_categories": over_categories,
        "per_category": per_category,
        "category_counts": {c: sum(categories[u] == c for u in scored) for c in per_category},
        "miou_failures_as_zero": float(np.mean(everything)) if everything else float("nan"),
        "failed": {r["uid"]: r.get("error", "") for r in records if r["status"] == "failed"},
        "missing": {r["uid"]: r.get("error", "") for r in records if r["status"] == "missing"},
        "per_object": scored,
    }


def _fmt(value: float) -> str:
    return "n/a" if value != value else f"{value:.2f}"


def markdown_table(summary: dict) -> str:
    """Markdown summary: one row per category and the overall figures, then the
    failed and missing objects."""
    lines = [
        f"# Evaluation: {summary['method'] or 'results'}",
        "",
        f"Protocol {summary['protocol']}: **{_fmt(summary['protocol_miou'])}** class-agnostic mIoU (%)"
        + (" (mean over categories)" if summary["protocol"] == "partfield" else " (mean over objects)"),
        "",
        *(f"{name}: **{_fmt(value)}** (averaged alike)\n" for name, value in summary.get("extra", {}).items()),
        "| category | objects | mIoU (%) |",
        "|---|---:|---:|",
    ]
    for category, value in summary["per_category"].items():
        lines.append(f"| {category} | {summary['category_counts'][category]} | {_fmt(value)} |")
    lines += [
        f"| **mean over objects** | {summary['objects']} | **{_fmt(summary['miou'])}** |",
        f"| mean over categories | {len(summary['per_category'])} | {_fmt(summary['miou_over_categories'])} |",
        f"| failures counted as 0 | {summary['total']} | {_fmt(summary['miou_failures_as_zero'])} |",
        "",
    ]
    for kind in ("failed", "missing"):
        if summary[kind]:
            lines.append(f"{len(summary[kind])} {kind}:")
            lines += [f"- {uid}: {reason}" for uid, reason in summary[kind].items()]
            lines.append("")
    return "\n".join(lines)


CSV_FIELDS = ("uid", "category", "status", "miou", "parts", "elements", "seconds", "error")


def write_csv(records: Sequence[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        for record in sorted(records, key=lambda r: r["uid"]):
            writer.writerow({k: record.get(k, "") for k in CSV_FIELDS})


def write_chart(summary: dict, path: Path) -> None:
    """Plotly HTML bar chart of per-object mIoU (coloured by category when known)."""
    import plotly.graph_objects as go

    uids = list(summary["per_object"])
    figure = go.Figure(go.Bar(x=uids, y=[summary["per_object"][u] for u in uids], name="mIoU"))
    figure.add_hline(y=summary["miou"], line_dash="dash", annotation_text=f"mean {_fmt(summary['miou'])}")
    figure.update_layout(
        title=f"Class-agnostic mIoU per object: {summary['method']}",
        yaxis=dict(title="mIoU (%)", range=[0, 100]),
        xaxis=dict(title="object"),
    )
    figure.write_html(path, include_plotlyjs="cdn")


def write_reports(records: Sequence[dict], out: Path, method: str = "", protocol: str = "geosam2") -> dict:
    """Write objects.csv, summary.md, summary.json and chart.html into `out`; return the summary."""
    out = Path(out)
    summary = summarise(records, method, protocol)
    write_csv(records, out / "objects.csv")
    (out / "summary.md").write_text(markdown_table(summary))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    write_chart(summary, out / "chart.html")
    return summary
