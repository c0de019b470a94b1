#!/usr/bin/env python3
"""Wraps set-up statements of a Redis suite unit in `catch`.

A statement outside any `test` that needs a feature Shardis lacks (a
FUNCTION LOAD in a start_server body) raises an error there, and the
harness stops the whole unit: the skipfile cannot skip it, as it skips
tests by name. Each statement of FILE whose first line, less its
indentation, starts with one of the STARTs is wrapped as `catch {...}`,
so its error is dropped and the unit runs on; the tests that use what the
statement set up are skipped by name (tests/redis-suite/needs-missing.txt).
The statement ends where its braces balance; lines keep their numbers, so
the harness's line numbers still match the file.

Usage: scripts/redis-suite-catch.py FILE START...
Fails when a START matches no statement (the suite changed: fix the list).
"""
import sys


def brace_depth(line):
    """The change of brace depth over a line (backslash-escaped ones not counted)."""
    depth, escaped = 0, False
    for ch in line:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
    return depth


def wrap(lines, start):
    """Wraps every statement starting with `start`; returns how many."""
    count, i = 0, 0
    while i < len(lines):
        body = lines[i].lstrip()
        if not body.startswith(start):
            i += 1
            continue
        indent = lines[i][: len(lines[i]) - len(body)]
        lines[i] = indent + "catch {" + body
        depth, j = brace_depth(body), i
        while depth > 0 or lines[j].rstrip("\n").endswith("\\"):
            j += 1
            if j == len(lines):
                sys.exit(f"unbalanced braces after line {i + 1}: {start}")
            depth += brace_depth(lines[j])
        lines[j] = lines[j].rstrip("\n") + "}\n"
        count += 1
        i = j + 1
    return count


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path = sys.argv[1]
    with open(path) as f:
        lines = f.readlines()
    for start in sys.argv[2:]:
        if wrap(lines, start) == 0:
            sys.exit(f"{path}: no statement starts with: {start}")
    with open(path, "w") as f:
        f.writelines(lines)


if __name__ == "__main__":
    main()
