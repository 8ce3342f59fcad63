"""Classes bench/moto-suite.sh's failures by bench/moto-classes.tsv.

Prints the count of each class and of each kind within it, every failure
the table does not class, and every table entry whose tests all passed (so
the table stays true). Exits 1 when a failure is unclassed or classed (c).
Usage: python3 bench/moto_classes.py RESULTS_FILE [TABLE]
"""
import collections
import os
import re
import sys

results = sys.argv[1]
table = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "moto-classes.tsv")
entries = []
with open(table) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        pattern, cls, reason = line.rstrip("\n").split("\t")
        # Only * is a wildcard: test ids hold brackets.
        regex = re.compile(".*".join(map(re.escape, pattern.split("*"))) + r"\Z")
        entries.append((pattern, cls, reason, regex))

failed = []
with open(results) as f:
    for line in f:
        outcome, rest = line.split(" ", 1)
        nodeid = rest.split(" :: ", 1)[0].strip()
        if outcome in ("FAILED", "ERROR"):
            failed.append(nodeid.removeprefix("tests/test_ec2/"))

by_class, by_kind, unclassed, used = collections.Counter(), collections.Counter(), [], set()
for test in failed:
    match = next((e for e in entries if e[3].match(test)), None)
    if match is None:
        unclassed.append(test)
        continue
    used.add(match[0])
    by_class[match[1]] += 1
    by_kind[(match[1], match[2].split(":", 1)[0])] += 1

for cls in sorted(by_class):
    kinds = ", ".join(f"{k} {n}" for (c, k), n in by_kind.most_common() if c == cls)
    print(f"({cls}) {by_class[cls]}: {kinds}")
for test in unclassed:
    print(f"not classed: {test}")
for pattern, *_ in entries:
    if pattern not in used:
        print(f"passed now (drop from the table): {pattern}")
sys.exit(1 if unclassed or by_class.get("c") else 0)
