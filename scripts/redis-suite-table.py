#!/usr/bin/env python3
"""The ours-vs-Redis table of a `scripts/redis-suite.sh --full` run.

Reads RESULTS/<config>/SUMMARY files and prints, per unit, the tests passed
([ok] lines) by redis-server and by Shardis in each mode, with Shardis's
share of Redis's count and whether the unit ran to its end. With --write,
replaces the table between the markers in docs/compatibility.md.

Usage: scripts/redis-suite-table.py RESULTS [--write docs/compatibility.md]
"""
import os
import re
import sys

BEGIN = "<!-- redis-suite table: begin -->"
END = "<!-- redis-suite table: end -->"


def read_summary(path):
    units = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"UNIT (\S+) ok=(\d+) err=(\d+) exception=(\d+)", line)
            if m:
                units[m.group(1)] = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
    return units


def main():
    results = sys.argv[1]
    write = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--write" else None
    configs = {}
    for name in sorted(os.listdir(results)):
        p = os.path.join(results, name, "SUMMARY")
        if os.path.exists(p):
            configs[name] = read_summary(p)
    columns = []
    for mode in ("external", "full"):
        ref = f"redis-{mode}"
        ours = sorted(c for c in configs if c.startswith(f"shardis-{mode}-"))
        if ref in configs or ours:
            columns.append((mode, ref, ours))
    units = []
    for c in configs.values():
        for u in c:
            if u not in units:
                units.append(u)
    head = ["unit"]
    for mode, ref, ours in columns:
        head.append(f"{mode}: redis ok")
        for o in ours:
            head.append(f"{mode}: shardis {o.rsplit('-', 1)[1]} ok (share)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    totals = [0] * (len(head) - 1)
    for u in units:
        row = [u]
        col = 0
        for mode, ref, ours in columns:
            r = configs.get(ref, {}).get(u)
            row.append("" if r is None else str(r[0]) + (" (aborted)" if r[2] else ""))
            totals[col] += r[0] if r else 0
            col += 1
            for o in ours:
                s = configs[o].get(u)
                if s is None:
                    row.append("")
                else:
                    share = f" ({100 * s[0] / r[0]:.0f}%)" if r and r[0] else ""
                    row.append(str(s[0]) + share + (" (aborted)" if s[2] else ""))
                    totals[col] += s[0]
                col += 1
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| **total** | " + " | ".join(f"**{t}**" for t in totals) + " |")
    table = "\n".join(lines)
    if write:
        text = open(write).read()
        if BEGIN in text and END in text:
            pre, rest = text.split(BEGIN, 1)
            _, post = rest.split(END, 1)
            text = pre + BEGIN + "\n" + table + "\n" + END + post
        else:
            text += "\n" + BEGIN + "\n" + table + "\n" + END + "\n"
        open(write, "w").write(text)
    print(table)


if __name__ == "__main__":
    main()
