#!/usr/bin/env bash
# The whole benchmark on the GPU machine, in one call (after `source .gpu/env.sh`), everything under $OUT:
#   1. the wgfuse harness (.gpu/bench.mjs, built here by `../shared/tools/gpu-prep bench/main.ts=bench.mjs`)
#   2. the PyTorch peer on the same workloads (it reads the harness's results.json)
#   3. the merge of the PyTorch results into results.json / results.md / chart.svg
# Budget: BENCH_SECONDS and TORCH_SECONDS stop each part from starting new measurements (default 330 + 150 s,
# which with start-up and checks keeps the call under 10 minutes on an H100). Extra arguments go to step 1.
# In two calls (each under the device's 10 minutes), PART=bench runs step 1 only; PART=torch SPEC=FILE runs
# steps 2 and 3 on a copy of the results.json that call wrote (FILE, carried back in the working tree).
# With LATER=ENGINES (e.g. PART=bench LATER=jax-js, then PART=torch LATER=jax-js SPEC=FILE), the first call
# leaves those engines out and the second runs them first (LATER_SECONDS, default 150) and merges them in
# (`--merge-results`): the whole harness no longer fits one call with every engine.
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
PART=${PART:-all}
BENCH_SECONDS=${BENCH_SECONDS:-330}
TORCH_SECONDS=${TORCH_SECONDS:-150}
start=$(date +%s)

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$OUT/nvidia-smi.csv" 2>&1 || true
# The SM clock for the whole call (the H100 drops to 345 MHz when idle between short runs): a
# row measured at a low clock shows up against this log by its time.
# CLOCK_MS sets the interval (default 2000; 0: no log): each query goes through the driver, and with 500 ms the
# small rows of one call showed 7-16 ms stalls (not proven to be the sampler's, but not worth the risk).
CLOCK_MS=${CLOCK_MS:-2000}
if [ "$CLOCK_MS" -gt 0 ]; then
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,clocks_event_reasons.active --format=csv -lms "$CLOCK_MS" > "$OUT/clocks.csv" 2>&1 &
else
  sleep 1 &
fi
sampler=$!
trap 'kill $sampler 2>/dev/null' EXIT

LATER=${LATER:-}
LATER_SECONDS=${LATER_SECONDS:-150}
bench=0
if [ "$PART" = torch ]; then
  dir="$OUT/$(basename "$(dirname "${SPEC:?PART=torch needs SPEC=results.json}")")"
  mkdir -p "$dir" && cp "$SPEC" "$dir/results.json"
  if [ -n "$LATER" ]; then
    node .gpu/bench.mjs --out "$OUT/later" --engines "$LATER" --max-seconds "$LATER_SECONDS" "$@" > "$OUT/bench-later.log" 2>&1
    bench=$?
    later=$(ls "$OUT"/later/*/results.json 2>/dev/null | head -n 1)
    if [ -n "$later" ]; then
      node .gpu/bench.mjs --merge-results "$later" --report "$dir" > "$OUT/merge-later.log" 2>&1 || bench=1
      cp "$later" "$OUT/results-later.json"
      rm -rf "$OUT/later"
    fi
    echo "wgfuse harness ($LATER): exit $bench after $(( $(date +%s) - start )) s"
    tail -n 1 "$OUT/merge-later.log" 2>/dev/null
  fi
else
  except=()
  [ -n "$LATER" ] && except=(--except "$LATER")
  node .gpu/bench.mjs --out "$OUT" --max-seconds "$BENCH_SECONDS" "${except[@]}" "$@" > "$OUT/bench.log" 2>&1
  bench=$?
  echo "wgfuse harness: exit $bench after $(( $(date +%s) - start )) s"
  grep -E '^  (copy limit|[a-z.-]+ +[a-z0-9x-]+ +.*(MISMATCH|ERROR|unavailable))' "$OUT/bench.log" | head -40
fi

spec=$(ls "$OUT"/*/results.json 2>/dev/null | head -n 1)
if [ "$PART" = bench ]; then
  [ -n "$spec" ] && sed -n '/^## Summary/,/^!\[speedups\]/p' "$(dirname "$spec")/results.md"
  echo "exit code: bench $bench; $(( $(date +%s) - start )) s in all"
  exit "$bench"
fi
torch=1
if [ -n "$spec" ]; then
  python3 bench/peers/torch_peer.py --spec "$spec" --out "$OUT/torch.json" --max-seconds "$TORCH_SECONDS" > "$OUT/torch.log" 2>&1
  torch=$?
  echo "torch peer: exit $torch after $(( $(date +%s) - start )) s"
  grep -E 'torch_peer:|MISMATCH|error' "$OUT/torch.log" | head -20
fi

merge=1
if [ -f "$OUT/torch.json" ]; then
  node .gpu/bench.mjs --merge-torch "$OUT/torch.json" --report "$(dirname "$spec")" > "$OUT/merge.log" 2>&1
  merge=$?
  cat "$OUT/merge.log"
elif [ -n "$spec" ]; then
  sed -n '/^## Summary/,/^!\[speedups\]/p' "$(dirname "$spec")/results.md"
fi
echo "exit codes: bench $bench, torch $torch, merge $merge; $(( $(date +%s) - start )) s in all"
[ "$bench" -eq 0 ] && [ "$torch" -eq 0 ] && [ "$merge" -eq 0 ]
