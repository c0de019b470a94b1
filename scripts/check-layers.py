#!/usr/bin/env python3
"""Checks that the top-level modules of src/ form layers that do not loop.

Every top-level module (a directory src/x/ or a file src/x.rs; lib.rs and
main.rs are the crate roots, not layers) may use the modules below it in
LAYERS and none above it. An edge from a lower module to a higher one is a
back edge, and any back edge fails the check: a cycle needs one, so the
modules import in one direction and no cycle can appear. (The allowlist
of known back edges this check once read is gone with its last entry.)

An edge is any path into another top-level module, as the compiler sees it:
`crate::x` anywhere (use lines, grouped `use crate::{a, b::c}`, paths in
expressions), `super::` chains that climb out of the module to the crate
root, and calls of a `#[macro_export]` macro defined in another module.
Comments and string literals do not count.

The order, bottom to top, and why:
  resp, slot, glob   the wire protocol, hash slots, pattern matching:
                     leaf utilities that use nothing of the crate;
  sys                the wall clock, the usable cores, the log: what the
                     process reads from the machine, used by every layer;
  alloc              the allocator and memory accounting;
  store              the keyspace a shard owns: values, dicts, eviction data;
  events             keyspace-notification facts: which classes are on,
                     the messages an event makes; plain data over store;
  config             redis.conf and the directive table, read by all above;
  persist            RDB and AOF: encode/decode the store, files on disk,
                     the command log and the replication backlog it feeds;
  repl               replication streams over persist's formats;
  cluster            node table, gossip, routing;
  server             the engine: shards, connections, the command spec,
                     the handler's Ctx and the table it reads, dispatch and
                     the effects step; it never names a command family;
  command            every command family (spec entries and handlers),
                     registered into the server's table at start: the top.
"""
import os
import re
import sys

LAYERS = [
    "resp",
    "slot",
    "glob",
    "sys",
    "alloc",
    "store",
    "events",
    "config",
    "persist",
    "repl",
    "cluster",
    "server",
    "command",
]
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SRC = os.path.join(ROOT, "src")
CRATE_ROOTS = {"lib.rs", "main.rs"}


def top_modules():
    mods = {}
    for name in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, name)
        if os.path.isdir(path):
            mods[name] = path
        elif name.endswith(".rs") and name not in CRATE_ROOTS:
            mods[name[:-3]] = path
    return mods


def module_files(path):
    if os.path.isfile(path):
        return [path]
    found = []
    for dirpath, _, names in os.walk(path):
        found += [os.path.join(dirpath, n) for n in names if n.endswith(".rs")]
    return sorted(found)


def file_module_path(path):
    """src/repl/primary/mod.rs -> [repl, primary]; src/repl/backlog.rs -> [repl, backlog]."""
    parts = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts.pop()
    return parts


CHAR_LITERAL = re.compile(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'])'")


def blank_comments_and_strings(text):
    """The source with comments, strings and char literals replaced by spaces
    (newlines kept), so braces and paths left are code."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = text.find('"' + hashes, i + len(hashes) + 2)
            j = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "'":
            m = CHAR_LITERAL.match(text, i)
            if m:
                out.append(" " * (m.end() - i))
                i = m.end()
            else:  # a lifetime or a loop label
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code)


def inline_module_depth(code):
    """For each offset, how many inline `mod name { ... }` blocks enclose it,
    as a sorted list of (start, end) spans; a `super::` inside climbs one of them first."""
    return [(m.end() - 1, matching_brace(code, m.end() - 1)) for m in re.finditer(r"\bmod\s+\w+\s*\{", code)]


def grouped_heads(body):
    """First segments of each item of a `{a, b::c, d::{e}}` group."""
    heads, depth, item = [], 0, ""
    for c in body + ",":
        if c == "," and depth == 0:
            item = item.strip()
            if item:
                heads.append(re.match(r"[A-Za-z_]\w*|\*|\{", item).group(0))
            item = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        item += c
    return heads


def exported_macros(mods):
    """Macro name -> the top-level module defining it with #[macro_export]."""
    defined = {}
    for mod, path in mods.items():
        for f in module_files(path):
            code = blank_comments_and_strings(open(f, encoding="utf-8").read())
            for m in re.finditer(r"#\[macro_export\]\s*macro_rules!\s*(\w+)", code):
                defined[m.group(1)] = mod
    return defined


def edges_of_file(path, own, mods, macros):
    """(target, line) pairs: the other top-level modules this file uses."""
    text = open(path, encoding="utf-8").read()
    return edges_of_source(text, file_module_path(path), own, mods, macros)


def edges_of_source(text, file_path, own, mods, macros):
    """edges_of_file for the text of the file of module `file_path`."""
    code = blank_comments_and_strings(text)
    line_of = lambda at: code.count("\n", 0, at) + 1
    found = []

    def add(target, at):
        if target in mods and target != own:
            found.append((target, line_of(at)))

    for m in re.finditer(r"(?<![\w$])crate\s*::\s*(\{|\w+)", code):
        if m.group(1) == "{":
            close = matching_brace(code, m.start(1))
            for head in grouped_heads(code[m.start(1) + 1 : close]):
                add(head, m.start())
        else:
            add(m.group(1), m.start())

    spans = inline_module_depth(code)
    for m in re.finditer(r"(?<![\w:$])((?:super\s*::\s*)+)(\{|\w+)", code):
        climbs = m.group(1).count("super")
        inline = sum(1 for s, e in spans if s < m.start() < e)
        outside = climbs - inline  # climbs left after leaving inline modules
        if outside >= len(file_path):  # reached the crate root
            if m.group(2) == "{":
                close = matching_brace(code, m.start(2))
                for head in grouped_heads(code[m.start(2) + 1 : close]):
                    add(head, m.start())
            else:
                add(m.group(2), m.start())

    for m in re.finditer(r"(?<![\w$])(\w+)\s*!", code):
        if m.group(1) in macros and not code[max(0, m.start() - 14) : m.start()].rstrip().endswith("macro_rules!"):
            add(macros[m.group(1)], m.start())
    return found


def build_graph(mods):
    macros = exported_macros(mods)
    graph = {}  # (from, to) -> first "file:line" seen
    for mod, path in mods.items():
        for f in module_files(path):
            for target, line in edges_of_file(f, mod, mods, macros):
                graph.setdefault((mod, target), f"{os.path.relpath(f, ROOT)}:{line}")
    return graph


def find_cycle(graph, nodes):
    """One cycle as a list of nodes, or None."""
    succ = {n: sorted(t for f, t in graph if f == n) for n in nodes}
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for t in succ[n]:
            if state.get(t) == 1:
                return stack[stack.index(t) :] + [t]
            if t not in state:
                cycle = visit(t)
                if cycle:
                    return cycle
        stack.pop()
        state[n] = 2
        return None

    for n in nodes:
        if n not in state:
            cycle = visit(n)
            if cycle:
                return cycle
    return None


def self_test():
    """The parser on the forms it must see and must not be fooled by; a
    failure here means the graph below cannot be trusted."""
    mods = {m: "" for m in ("resp", "server", "slot", "persist", "repl", "cluster", "store", "glob")}
    text = """use crate::{resp::X, server::{a, b}, slot};
// crate::cluster::in_a_comment
/* crate::cluster /* nested */ crate::cluster */
fn f<'a>(x: &'a str) { let s = "crate::cluster"; let r = r#"crate::cluster"#; let c = '{';
    crate::persist::x(); super::super::repl::y(); super::sibling(); notice!("x"); }
mod tests { use super::super::glob; use super::*; }
"""
    got = sorted(edges_of_source(text, ["store", "db"], "store", mods, {"notice": "server"}))
    want = [("persist", 5), ("repl", 5), ("resp", 1), ("server", 1), ("server", 5), ("slot", 1)]
    assert got == want, f"parser self-test: got {got}, want {want}"


def main():
    self_test()
    mods = top_modules()
    errors = []
    unplaced = sorted(set(mods) ^ set(LAYERS))
    if unplaced:
        errors.append(f"LAYERS in {__file__} and the top-level modules of src/ differ: {', '.join(unplaced)}")
    rank = {m: i for i, m in enumerate(LAYERS)}
    graph = build_graph(mods)
    back = {e: at for e, at in graph.items() if e[0] in rank and e[1] in rank and rank[e[0]] < rank[e[1]]}
    for (src, dst), at in sorted(back.items()):
        errors.append(f"back edge {src} -> {dst} (first use {at}): {src} is below {dst} in LAYERS")
    forward = [e for e in graph if e not in back]
    cycle = find_cycle({e: 1 for e in forward}, sorted(mods))
    if cycle:  # cannot happen with a total order; guards edits of this script
        errors.append("cycle among forward edges: " + " -> ".join(cycle))

    if "-v" in sys.argv[1:]:
        for (src, dst), at in sorted(graph.items(), key=lambda kv: (rank.get(kv[0][0], 99), kv[0][1])):
            print(f"{src:>8} -> {dst:<8} {'BACK' if (src, dst) in back else '    '}  {at}")
    print(f"layers: {len(graph)} edges between {len(mods)} top-level modules, {len(back)} back edges")
    if errors:
        for e in errors:
            print("layers: " + e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
