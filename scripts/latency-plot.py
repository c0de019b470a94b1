#!/usr/bin/env python3
"""Latency against percentile, the way HdrHistogram plots are read: the
x axis is 1/(1-p) on a log scale (ticks at 90%, 99%, 99.9%, ...), the y
axis latency in ms on a log scale. Input: NAME=FILE pairs, each FILE
holding "percentile latency_ms" lines (redis-benchmark's percentile
distribution, as scripts/bench-latency.sh writes it). Output: one SVG.

Usage: latency-plot.py [--title T] OUT.svg NAME=FILE ...
"""
import math
import sys

COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e"]
W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 50


def read(path):
    points = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                p, ms = float(parts[0]), float(parts[1])
                points.append((min(p, 99.9999), max(ms, 0.001)))
    return points


def x_of(p):
    """Decades of 1/(1-p): 0 at 0%, 1 at 90%, 2 at 99%, ..."""
    return math.log10(1.0 / (1.0 - p / 100.0))


def main(argv):
    title = "latency by percentile"
    if len(argv) > 2 and argv[1] == "--title":
        title = argv[2]
        argv = argv[2:]
    if len(argv) < 3:
        sys.exit(__doc__)
    out, series = argv[1], []
    for arg in argv[2:]:
        name, path = arg.split("=", 1)
        pts = read(path)
        if pts:
            series.append((name, pts))
    if not series:
        sys.exit("latency-plot: no data")
    x_max = max(4.0, math.ceil(max(x_of(p) for _, pts in series for p, _ in pts)))
    lo = min(ms for _, pts in series for _, ms in pts)
    hi = max(ms for _, pts in series for _, ms in pts)
    y_lo, y_hi = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    if y_hi == y_lo:
        y_hi += 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def sx(p):
        return LEFT + pw * x_of(p) / x_max

    def sy(ms):
        return TOP + ph * (1 - (math.log10(ms) - y_lo) / (y_hi - y_lo))

    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
        f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>',
    ]
    for d in range(int(x_max) + 1):
        p = 100.0 * (1 - 10.0 ** -d)
        x = LEFT + pw * d / x_max
        label = "0%" if d == 0 else f"{p:.{max(d - 2, 0)}f}%"
        svg.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + ph}" stroke="#ddd"/>')
        svg.append(f'<text x="{x:.1f}" y="{TOP + ph + 16}" text-anchor="middle">{label}</text>')
    for e in range(y_lo, y_hi + 1):
        y = sy(10.0 ** e)
        svg.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + pw}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{10.0 ** e:g}</text>')
    svg.append(f'<text x="{LEFT + pw / 2}" y="{H - 10}" text-anchor="middle">percentile</text>')
    svg.append(
        f'<text x="16" y="{TOP + ph / 2}" text-anchor="middle" transform="rotate(-90 16 {TOP + ph / 2})">latency (ms)</text>'
    )
    for i, (name, pts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{sx(p):.1f},{sy(ms):.1f}" for p, ms in pts)
        svg.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        svg.append(f'<rect x="{LEFT + 10}" y="{TOP + 8 + i * 18}" width="12" height="12" fill="{color}"/>')
        svg.append(f'<text x="{LEFT + 28}" y="{TOP + 18 + i * 18}">{name}</text>')
    svg.append("</svg>")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main(sys.argv)
