#!/usr/bin/env python3
"""Prints the file-level import graph of each crate's src/ and fails if it has a cycle.

An edge a -> b means a.rs names `crate::b` (in a `use` or a path). Comments are ignored.
Usage: python3 scripts/import-cycles.py [src dir...]   (default: handles/src c-api/src)
"""
import re,sys,os,glob
def graph(src):
    files={os.path.basename(f)[:-3]:f for f in glob.glob(src+'/*.rs')}
    # Items re-exported at the crate root (`pub use module::{a, b}` in lib.rs) count as edges
    # to the module that defines them.
    root={}
    lib=re.sub(r'//.*','',open(src+'/lib.rs').read()) if 'lib' in files else ''
    for mm in re.finditer(r'use\s+([a-z_]+)::(\{[^}]*\}|[A-Za-z_]+)\s*;',lib):
        names=mm.group(2).strip('{}').split(',')
        for n in names:
            n=n.strip().split(' as ')[-1].strip()
            if n: root[n]=mm.group(1)
    for mm in re.finditer(r'use\s+([a-z_]+)::\*\s*;',lib):
        mod=mm.group(1)
        if mod in files:
            body=open(files[mod]).read()
            for d in re.finditer(r'^pub (?:unsafe )?(?:extern "C" )?(?:fn|struct|enum|type|const|static|trait) ([A-Za-z_0-9]+)',body,re.M):
                root[d.group(1)]=mod
    g={}
    for m,f in files.items():
        t=open(f).read()
        # strip comments
        t=re.sub(r'//.*','',t)
        deps=set()
        for mm in re.finditer(r'crate::([A-Za-z_]+)',t): deps.add(root.get(mm.group(1),mm.group(1)))
        for mm in re.finditer(r'use crate::\{([^}]*)\}',t,re.S):
            for part in mm.group(1).split(','):
                p=part.strip().split('::')[0]
                if p: deps.add(root.get(p,p))
        deps={d for d in deps if d in files and d!=m}
        g[m]=deps
    return g
def cycles(g):
    out=[];state={}
    def dfs(n,stack):
        state[n]=1;stack.append(n)
        for d in g[n]:
            if state.get(d)==1: out.append(stack[stack.index(d):]+[d])
            elif d not in state: dfs(d,stack)
        stack.pop();state[n]=2
    for n in g:
        if n not in state: dfs(n,[])
    return out
failed=False
for src in sys.argv[1:] or ['handles/src', 'c-api/src']:
    g=graph(src)
    print(f'== {src}')
    for m in sorted(g): print(f'  {m} -> {", ".join(sorted(g[m]))}')
    c=cycles(g)
    print('  cycles:', c if c else 'none')
    failed = failed or bool(c)
sys.exit(1 if failed else 0)
