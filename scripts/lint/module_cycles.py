"""No cycles between the top-level modules of any crate (`make lint`).

For each crate under crates/, every top-level module (a file `src/X.rs` or folder `src/X/`) is a
node; an edge X -> Y for each `crate::Y` path written in X's files (use lines, paths in code and
doc links alike: a doc link is a dependency a reader follows too). `super::X` paths that reach
the crate root count too. The crate root (lib.rs or main.rs) only declares and re-exports, so it
is not a node. Prints every cycle found and exits 1.

    python3 scripts/lint/module_cycles.py [CRATES_DIR]
"""
import os
import re
import sys


def modules(src):
    """Top-level module name -> list of its source files."""
    mods = {}
    for name in sorted(os.listdir(src)):
        path = os.path.join(src, name)
        if os.path.isdir(path):
            if name in ("bin",):
                continue
            files = [os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs if f.endswith(".rs")]
            mods.setdefault(name, []).extend(files)
        elif name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
            mods.setdefault(name[:-3], []).append(path)
    return mods


PATH = re.compile(r"\bcrate::(\w+)")
# `super::X` from a file directly under src/ (or a folder's mod.rs) names the crate root's X;
# from one level deeper, `super::super::X` does.
SUPER = {1: re.compile(r"(?<!::)\bsuper::(\w+)"), 2: re.compile(r"(?<!::)\bsuper::super::(\w+)")}
GROUP = re.compile(r"\bcrate::\{([^}]*)\}", re.S)


def edges(mods):
    graph = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            text = open(f, encoding="utf-8").read()
            found = set(PATH.findall(text))
            depth = f.count(os.sep) - files[0].split(os.sep).index("src") - (1 if f.endswith("mod.rs") else 0)
            if depth in SUPER:
                found |= set(SUPER[depth].findall(text))
            for group in GROUP.findall(text):
                found |= {p.strip().split("::")[0] for p in group.split(",") if p.strip()}
            graph[m] |= {d for d in found if d in mods and d != m}
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "crates"
    bad = 0
    for crate in sorted(os.listdir(root)):
        src = os.path.join(root, crate, "src")
        if not os.path.isdir(src):
            continue
        graph = edges(modules(src))
        for comp in cycles(graph):
            bad += 1
            links = [f"{a} -> {b}" for a in comp for b in sorted(graph[a]) if b in comp]
            print(f"error: {crate}: modules in a cycle: {', '.join(comp)} ({'; '.join(links)})")
    if bad:
        print("hint: move the type both sides need into a module below both")
        sys.exit(1)
    print(f"no cycles between the top-level modules of the crates under `{root}`")


if __name__ == "__main__":
    main()
