"""Medians of bench/ui/topology.py's rounds (JSON lines on stdin)."""
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
for r in rows:
    print("  round:", r)


def med(k):
    return statistics.median(r[k] for r in rows)


print(f"  => first render {med('first_render_ms'):.0f} ms (median of {len(rows)}), frame median "
      f"{med('frame_median_ms')} ms, p95 {med('frame_p95_ms')} ms, long tasks {med('long_tasks'):.0f} "
      f"({med('long_task_total_ms'):.0f} ms) in 15 s of metrics every second")
