#!/usr/bin/env python3
"""The build refuses an include against the design's arrow.

DESIGN.md: app -> http/scheduler/sender -> cases/ingest/ledger -> rules/templates/store ->
config/core. Each module compiles against a view of include/dunning/ (CMakeLists.txt, "Modules").
For every pair of modules this asks the compiler's preprocessor to include a header of one from
the other's view: it must fail whenever the design forbids the edge (a module above, or one on the
same level it does not depend on), and succeed for every module the view holds.

usage: check_arrow.py CXX VIEWS_DIR INCLUDE_DIR
"""
import os
import subprocess
import sys

LEVELS = {"core": 0, "config": 0, "rules": 1, "templates": 1, "store": 1,
          "cases": 2, "ingest": 2, "ledger": 2, "http": 3, "scheduler": 3, "sender": 3, "app": 4}
# Edges between two modules of one level that the design allows (acyclic by this list).
SAME_LEVEL = {("config", "core"), ("cases", "ledger")}


def compiles(cxx, view, header):
    src = f'#include "dunning/{header}"\n'
    r = subprocess.run([cxx, "-std=c++20", "-E", "-I", view, "-x", "c++", "-", "-o", os.devnull],
                       input=src, capture_output=True, text=True, timeout=60)
    return r.returncode == 0, r.stderr


def main():
    cxx, views, include = sys.argv[1:4]
    modules = sorted(os.listdir(views))
    assert set(modules) == set(LEVELS), f"modules {modules} differ from the design's {sorted(LEVELS)}"
    header = {}
    for m in modules:
        hs = sorted(h for h in os.listdir(os.path.join(include, m)) if h.endswith(".hpp"))
        header[m] = f"{m}/{hs[0]}"
    problems = []
    checked = 0
    for m in modules:
        view = os.path.join(views, m)
        sees = set(os.listdir(os.path.join(view, "dunning")))
        for o in modules:
            if o == m:
                continue
            if o in sees and (LEVELS[o] > LEVELS[m] or
                              (LEVELS[o] == LEVELS[m] and (m, o) not in SAME_LEVEL)):
                problems.append(f"{m}'s view holds {o}, which the design puts at or above it")
            ok, err = compiles(cxx, view, header[o])
            checked += 1
            if o in sees and not ok:
                problems.append(f"{m} cannot include {header[o]} although it depends on {o}:\n{err}")
            if o not in sees and ok:
                problems.append(f"{m} can include {header[o]} although it does not depend on {o}")
    for p in problems:
        print("FAIL:", p)
    print(f"{checked} module pairs checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
