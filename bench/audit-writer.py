#!/usr/bin/env python3
"""Appends real audit events to a log at a fixed rate, their timestamps set to now.

Usage: audit-writer.py OUT RATE SECONDS FIXTURE...

The events are the fixtures' lines (audit.k8s.io JSON lines) in turn; every timestamp in them
is rewritten to the time of writing, so that a reader's window holds them. Prints the events
written and the rate reached.
"""
import re
import sys
import time
from datetime import datetime, timezone

out, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
lines = []
for path in sys.argv[4:]:
    with open(path, encoding="utf-8") as f:
        lines += [line.strip() for line in f if line.startswith('{"kind":"Event"')]
if not lines:
    sys.exit("no audit events in the fixtures")
stamp = re.compile(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"')
tick = 0.1
per_tick = max(1, int(rate * tick))
written, start = 0, time.monotonic()
with open(out, "a", encoding="utf-8") as log:
    while time.monotonic() - start < seconds:
        now = '"' + datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + '"'
        batch = "\n".join(stamp.sub(now, lines[(written + i) % len(lines)]) for i in range(per_tick))
        log.write(batch + "\n")
        log.flush()
        written += per_tick
        behind = start + written / rate - time.monotonic()
        if behind > 0:
            time.sleep(behind)
elapsed = time.monotonic() - start
print(f"writer: {written} events in {elapsed:.1f} s = {written / elapsed:.0f} events/s", file=sys.stderr)
