#!/usr/bin/python3
"""Draws one PNG per panel of dashboards/plainsight.json from the query results the
end-to-end test wrote (PLAINSIGHT_DASHBOARD_OUT=<dir>: <dir>/<scenario>.json, real
Prometheus answers over a real run), because Grafana itself is not installable here
(not in Debian). Time series as lines, stats as a number, tables as tables, the way
Grafana shows them; legends follow each target's legendFormat.

    /usr/bin/python3 scripts/render-dashboard.py <results dir> <output dir>

Needs Debian's python3-matplotlib, hence /usr/bin/python3 (`cargo xtask dashboards-render`
installs it and runs it all).
"""

import json
import math
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = ["#7eb26d", "#eab839", "#6ed0e0", "#ef843c", "#e24d42", "#1f78c1",
           "#ba43a9", "#705da0", "#508642", "#cca300"]
BG = "#181b1f"
FG = "#d8d9da"
GRID = "#2c3235"


def fmt(v, unit):
    """A value as Grafana would print it for the panel's unit."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "No data"
    if unit == "percentunit":
        return f"{v * 100:.1f}%"
    if unit == "s":
        a = abs(v)
        if a >= 86400:
            return f"{v / 86400:.1f} days"
        if a >= 1 or a == 0:
            return f"{v:.3g} s"
        if a >= 1e-3:
            return f"{v * 1e3:.3g} ms"
        if a >= 1e-6:
            return f"{v * 1e6:.3g} µs"
        return f"{v * 1e9:.3g} ns"
    if unit in ("bytes", "Bps"):
        suffix = "/s" if unit == "Bps" else ""
        for div, name in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
            if abs(v) >= div:
                return f"{v / div:.1f} {name}{suffix}"
        return f"{v:.0f} B{suffix}"
    if unit == "ops":
        return f"{v:.3g}/s"
    if float(v).is_integer():
        return f"{int(v)}"
    return f"{v:.3g}"


def legend(template, metric):
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), template)
    return text.strip() or "{" + ", ".join(f'{k}="{v}"' for k, v in metric.items()) + "}"


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return float("nan")


def style(ax, fig):
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    for s in ax.spines.values():
        s.set_color(GRID)
    ax.tick_params(colors=FG, labelsize=8)
    ax.grid(True, color=GRID, linewidth=0.6)


def draw_timeseries(ax, targets, unit):
    i = 0
    for t in targets:
        for series in t["result"]:
            pts = [(datetime.fromtimestamp(float(x), timezone.utc), num(y))
                   for x, y in series.get("values", [])]
            if not pts:
                continue
            xs, ys = zip(*pts)
            ax.plot(xs, ys, color=COLOURS[i % len(COLOURS)], linewidth=1.6,
                    label=legend(t["legend"], series["metric"]))
            i += 1
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: fmt(v, unit)))
    if i == 0:
        ax.text(0.5, 0.5, "No data", color=FG, ha="center", va="center",
                transform=ax.transAxes, fontsize=14)
    elif i <= 16:
        leg = ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7 if i <= 10 else 6,
                        frameon=False, labelcolor=FG)
        leg.set_in_layout(True)
    else:
        ax.text(0.99, 0.98, f"{i} series", color=FG, ha="right", va="top",
                transform=ax.transAxes, fontsize=8)


def draw_stat(ax, targets, unit):
    ax.axis("off")
    vals = []
    for t in targets:
        for series in t["result"]:
            values = series.get("values") or [series.get("value")]
            vals.append(num(values[-1][1]))
    text = fmt(vals[-1], unit) if vals else "No data"
    colour = COLOURS[0] if vals else FG
    ax.text(0.5, 0.45, text, color=colour, ha="center", va="center", fontsize=40,
            fontweight="bold", transform=ax.transAxes)


def draw_table(ax, targets, unit):
    ax.axis("off")
    rows = []
    for t in targets:
        rows += [(s["metric"], num(s["value"][1])) for s in t["result"]]
    if not rows:
        ax.text(0.5, 0.5, "No data", color=FG, ha="center", va="center", fontsize=14,
                transform=ax.transAxes)
        return
    order = ["src_namespace", "src_workload", "dst_namespace", "dst_workload", "dst_service",
             "protocol", "id", "severity"]
    seen = {k for m, _ in rows for k, v in m.items() if v}
    cols = [k for k in order if k in seen] + sorted(seen - set(order))
    rows = rows[:12]
    cells = [[m.get(c, "") for c in cols] + [fmt(v, unit)] for m, v in rows]
    table = ax.table(cellText=cells, colLabels=cols + ["Value"], loc="upper center",
                     cellLoc="left", colLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(7.5)
    table.auto_set_column_width(list(range(len(cols) + 1)))
    for (r, _), cell in table.get_celld().items():
        cell.set_edgecolor(GRID)
        cell.set_facecolor("#22252b" if r == 0 else BG)
        cell.get_text().set_color(FG)
        if r == 0:
            cell.get_text().set_fontweight("bold")
        cell.set_height(0.95 / (len(rows) + 1.5))


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def render(results, out_dir):
    scenario = results["scenario"]
    panels = {}
    for p in results["panels"]:
        panels.setdefault(p["title"], []).append(p)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for title, targets in panels.items():
        kind, unit = targets[0]["type"], targets[0]["unit"]
        wide = kind != "stat"
        height = 3.0
        if kind == "table":
            rows = sum(len(t["result"]) for t in targets)
            height = max(1.6, 0.9 + 0.25 * min(rows + 1, 13))
        fig, ax = plt.subplots(figsize=(8.0 if wide else 4.0, height), dpi=100)
        style(ax, fig)
        {"timeseries": draw_timeseries, "stat": draw_stat, "table": draw_table}[kind](
            ax, targets, unit)
        fig.suptitle(f"{title}", color=FG, fontsize=10, x=0.01, ha="left")
        fig.text(0.99, 0.01, f"scenario: {scenario}, namespace {results['namespace']}",
                 color="#8e8e8e", fontsize=6.5, ha="right", va="bottom")
        fig.tight_layout(rect=(0, 0.03, 1, 0.95))
        path = out_dir / f"{scenario}-{slug(title)}.png"
        fig.savefig(path, facecolor=BG, pil_kwargs={"optimize": True})
        plt.close(fig)
        written.append(path)
    return written


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = sorted(src.glob("*.json"))
    if not files:
        sys.exit(f"no <scenario>.json in {src}: run the e2e test with PLAINSIGHT_DASHBOARD_OUT")
    for f in files:
        for p in render(json.loads(f.read_text()), out):
            print(p)


if __name__ == "__main__":
    main()
