#!/usr/bin/env python3
"""Classifies the stores of a lookup loop in a valgrind lackey trace (scripts/store-trace.sh).

store-trace.py DESIGN N STDOUT TRACE: STDOUT is what bench's store_trace binary printed (marker
address, stack window, the thread's record range), TRACE lackey's --trace-mem=yes log. Takes
every store (S) and modify (M) between the two writes of the marker, counts them per lookup
in three classes: the loop's stack, the calling thread's own record, anything else (memory
other threads can reach), and checks the verdict DESIGN must give: for `handles` no store
outside the stack and the record, for the controls at least one such store per lookup.
"""
import sys
from collections import Counter


def main():
    design, n, stdout, trace = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    info = {}
    for line in open(stdout):
        parts = line.split()
        if parts and parts[0] in ("marker", "stack", "record"):
            info[parts[0]] = [int(p, 16) for p in parts[1:]]
    marker = info["marker"][0]
    stack_lo, stack_hi = info["stack"]
    rec_lo, rec_hi = info["record"]

    counts = Counter()
    other = Counter()
    inside = False
    marks = 0
    with open(trace) as f:
        for line in f:
            if len(line) < 3 or line[1] not in "SM" or line[0] != " ":
                continue
            addr_s, _, size_s = line[3:].strip().partition(",")
            addr = int(addr_s, 16)
            if addr == marker:
                marks += 1
                inside = marks == 1
                if marks == 2:
                    break
                continue
            if not inside:
                continue
            if stack_lo <= addr < stack_hi:
                counts["stack"] += 1
            elif rec_lo <= addr < rec_hi:
                counts["record"] += 1
            else:
                counts["shared"] += 1
                other[addr] += 1
    if marks < 2:
        sys.exit(f"store-trace: the marker was written {marks} times in the trace (want 2)")

    per = {k: counts[k] / n for k in ("stack", "record", "shared")}
    print(f"{design:13} {n} lookups: stores per lookup: stack {per['stack']:.2f}, "
          f"own record {per['record']:.2f}, shared {per['shared']:.2f} "
          f"({len(other)} shared addresses)")
    for addr, c in other.most_common(4):
        print(f"  shared store target {addr:#x}: {c} stores")
    if design == "handles":
        if counts["shared"] != 0:
            sys.exit("store-trace: handles' lookup loop stored to shared memory")
        if counts["record"] < n:
            sys.exit("store-trace: fewer hazard stores than lookups (is the record range right?)")
    elif per["shared"] < 1:
        sys.exit(f"store-trace: the control {design} shows no shared store per lookup")


main()
