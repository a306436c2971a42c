"""Per-route answers of a fuzz run (scripts/fuzz), read from schemathesis' HAR reports.

    fuzz-report.py openapi.yaml pass1.har [pass2.har ...]

Prints, for every operation of the spec, how many requests it got and how they were answered
(2xx/3xx, 401, other 4xx, 5xx): a route whose answers are all 4xx was fuzzed, but never past its
checks. schemathesis itself fails the run on any 5xx; scripts/fuzz checks that each pass kept its
session.
"""

import json
import re
import sys
from collections import Counter, defaultdict
from urllib.parse import urlsplit

import yaml

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def operations(spec):
    """(method, template, regex) for every operation of the spec."""
    ops = []
    for template, item in spec["paths"].items():
        segments = ("[^/]+" if seg.startswith("{") else re.escape(seg) for seg in template.split("/"))
        pattern = re.compile("^" + "/".join(segments) + "$")
        for method, op in item.items():
            if method not in METHODS:
                continue
            ops.append((method.upper(), template, pattern))
    # Literal segments win over parameters (/rooms/mine before /rooms/{id}).
    ops.sort(key=lambda o: o[1].count("{"))
    return ops


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    ops = operations(spec)
    tally = defaultdict(Counter)
    for har in sys.argv[2:]:
        for entry in json.load(open(har))["log"]["entries"]:
            method = entry["request"]["method"].upper()
            path = urlsplit(entry["request"]["url"]).path
            status = entry["response"]["status"]
            op = next((o for o in ops if o[0] == method and o[2].match(path)), None)
            key = (method, op[1]) if op else (method, "(no operation) " + path)
            bucket = "ok" if status < 400 else "401" if status == 401 else "4xx" if status < 500 else "5xx"
            tally[key][bucket] += 1
    print(f"{'operation':<52} {'sent':>5} {'2xx/3xx':>8} {'401':>5} {'4xx':>5} {'5xx':>5}")
    for method, template, _ in sorted(ops, key=lambda o: (o[1], o[0])):
        c = tally.get((method, template), Counter())
        print(f"{method + ' ' + template:<52} {sum(c.values()):>5} {c['ok']:>8} {c['401']:>5} {c['4xx']:>5} {c['5xx']:>5}")
    # Methods the spec does not define on a path (schemathesis tries TRACE, QUERY, ...).
    other = Counter()
    for key, c in tally.items():
        if key[1].startswith("(no operation)"):
            other.update(c)
    if other:
        label = "methods the spec does not define"
        print(f"{label:<52} {sum(other.values()):>5} {other['ok']:>8} {other['401']:>5} {other['4xx']:>5} {other['5xx']:>5}")

if __name__ == "__main__":
    main()
