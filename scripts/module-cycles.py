#!/usr/bin/env python3
"""Module dependency graph of each crate of the workspace, and its cycles.

Each crate's modules must form a DAG: a module never imports one that
imports it (so each can be read, and moved, from the bottom up). An edge
A -> B exists when A's source names a path that resolves into B (`crate::`,
`super::`, `self::`, or a child module's name); `mod x;` declarations are not
edges, and `#[cfg(test)] mod` blocks are left out. Comments and string
literals are stripped first.

Usage: scripts/module-cycles.py [-v] [CRATE_SRC_DIR ...]
With no folder, every `*/src` and `*/*/src` of the workspace. Prints the
cycles found (with -v, every edge too) and exits 1 if there is any.
"""
import os, re, sys

def modules(src):
    mods = {}
    for root, _, files in os.walk(src):
        for f in files:
            if not f.endswith('.rs'):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, src)[:-3].split(os.sep)
            if rel == ['main'] and os.path.exists(os.path.join(src, 'lib.rs')):
                continue  # the binary is a crate of its own
            if rel[0] == 'bin':
                continue
            if rel[-1] in ('lib', 'main') and len(rel) == 1:
                path = ()
            elif rel[-1] == 'mod':
                path = tuple(rel[:-1])
            else:
                path = tuple(rel)
            mods[path] = p
    return mods

def strip(text):
    """Drops comments and the contents of string and char literals."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i)
            i = n if j < 0 else j
        elif text.startswith('/*', i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith('/*', i): depth += 1; i += 2
                elif text.startswith('*/', i): depth -= 1; i += 2
                else: i += 1
        elif c in 'rb' and (i == 0 or not (text[i-1].isalnum() or text[i-1] == '_')) and re.match(r'(?:br|r)#*"', text[i:]):
            m = re.match(r'(?:br|r)(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            out.append('""'); i = (n if j < 0 else j + len(close))
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append('""'); i = j + 1
        elif c == "'":
            m = re.match(r"'(?:\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append("' '"); i += m.end()
            else:
                out.append(c); i += 1
        else:
            out.append(c); i += 1
    return ''.join(out)

def inline_mods(text):
    # inline `mod tests { ... }` blocks: drop #[cfg(test)] mod blocks
    out, i = [], 0
    for m in re.finditer(r'#\[cfg\(test\)\]\s*mod\s+\w+\s*\{', text):
        if m.start() < i:
            continue
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {'{': 1, '}': -1}.get(text[j], 0)
            j += 1
        out.append(text[i:m.start()])
        i = j
    out.append(text[i:])
    return ''.join(out)

def paths_in(text):
    """Yield (anchor, [segments]) for every path starting at crate/super/self or a bare ident."""
    # expand brace groups in `use` statements
    res = []
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        for p in flatten(m.group(1).strip()):
            res.append(p)
    text2 = re.sub(r'\buse\s+[^;]+;', '', text)
    for m in re.finditer(r'\b((?:(?:crate|super|self|[a-z_][a-z0-9_]*)::)+[A-Za-z_][A-Za-z0-9_]*)', text2):
        res.append(m.group(1).split('::'))
    return res

def flatten(s):
    s = s.strip()
    if s.startswith('{'):
        inner = s[1:-1]
        return [p for part in split_top(inner) for p in flatten(part)]
    i = s.find('::{')
    if i >= 0 and s.endswith('}'):
        head = s[:i].split('::')
        return [head + p for part in split_top(s[i+3:-1]) for p in flatten(part)]
    s = re.sub(r'\s+as\s+\w+$', '', s)
    return [s.split('::')] if s else []

def split_top(s):
    parts, depth, cur = [], 0, ''
    for c in s:
        if c == '{': depth += 1
        if c == '}': depth -= 1
        if c == ',' and depth == 0:
            parts.append(cur); cur = ''
        else:
            cur += c
    parts.append(cur)
    return [p.strip() for p in parts if p.strip()]

def resolve(cur, segs, mods):
    segs = [s.strip() for s in segs]
    if not segs:
        return None
    if segs[0] == 'crate':
        base, rest = (), segs[1:]
    elif segs[0] in ('super', 'self'):
        base = cur
        rest = segs
        while rest and rest[0] in ('super', 'self'):
            if rest[0] == 'super':
                base = base[:-1]
            rest = rest[1:]
    elif cur + (segs[0],) in mods:
        base, rest = cur, segs
    else:
        return None
    target = base
    for s in rest:
        if target + (s,) in mods:
            target = target + (s,)
        else:
            break
    return target

def main(src, verbose):
    mods = modules(src)
    edges = {m: set() for m in mods}
    for m, p in mods.items():
        text = inline_mods(strip(open(p).read()))
        for segs in paths_in(text):
            t = resolve(m, segs, mods)
            if t is not None and t != m:
                edges[m].add(t)
    name = lambda m: '::'.join(m) or '(root)'
    if verbose:
        for m in sorted(edges):
            print(f"  {name(m)} -> {', '.join(sorted(name(t) for t in edges[m])) or '-'}")
    # Tarjan
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)
    def sc(v):
        index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
        for w in edges[v]:
            if w not in index:
                sc(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop(); on.discard(w); comp.append(w)
                if w == v: break
            sccs.append(comp)
    for v in edges:
        if v not in index:
            sc(v)
    cyc = [c for c in sccs if len(c) > 1]
    for c in cyc:
        print("  CYCLE:", ', '.join(sorted(name(m) for m in c)))
    if not cyc:
        print("  no cycles")
    return len(cyc)

if __name__ == '__main__':
    import glob
    args = [a for a in sys.argv[1:] if a != '-v']
    verbose = '-v' in sys.argv[1:]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    dirs = args or sorted(d for d in glob.glob(os.path.join(root, '*/src')) + glob.glob(os.path.join(root, '*/*/src'))
                          if os.path.exists(os.path.join(d, 'lib.rs')) or os.path.exists(os.path.join(d, 'main.rs')))
    cycles = 0
    for src in dirs:
        print(os.path.relpath(src, root))
        cycles += main(src, verbose)
    sys.exit(1 if cycles else 0)
