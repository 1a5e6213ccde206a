#!/usr/bin/env bash
# Ingest and event-to-case, an older checkout against this one, alternating in one session.
#   bench/old_vs_new.sh /path/to/old/checkout [rounds]
# Each round runs bench/ingest.py (this checkout's) once against the old code and once against
# the new, with every overload bound off (the old code had none), phases A1 (single-event
# ingest) and C (event-to-case latency at 1,000 events/s). Results: bench/results/old-vs-new/.
set -euo pipefail
old=$(cd "$1" && pwd)
rounds=${2:-3}
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/bench/results/old-vs-new"
mkdir -p "$out"
py="$here/.venv/bin/python"
for round in $(seq 1 "$rounds"); do
  for side in old new; do
    src="$here/src"
    [ "$side" = old ] && src="$old/src"
    echo "== round $round: $side ($src)"
    PYTHONPATH="$src" "$py" "$here/bench/ingest.py" --no-shedding --phases A1,C \
      --duration 15 --warmup 2 --paced-duration 20 --out "$out/$side-$round" | tail -n 12
  done
done
