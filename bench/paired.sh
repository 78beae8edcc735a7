#!/usr/bin/env bash
# Paired timing of the small rows on the GPU machine (after `source .gpu/env.sh`), everything under $OUT:
# for each workload, wgfuse's harness row and PyTorch eager's, one process right after the other, ROUNDS
# times (the order alternating by round). The full run times PyTorch minutes after wgfuse, in another device
# call, and below 0.2 ms the wall times move 2-3x between spells of the host with the same GPU times; here
# both engines of a row are timed within seconds of each other, so their ratio is read within one spell.
#
#   ../shared/tools/gpu-prep bench/main.ts=bench.mjs      # here; carry .gpu
#   source .gpu/env.sh && ROUNDS=3 bash bench/paired.sh   # GPU machine, about 15 s per row and round
#
# ROWS: workload ids (default: the fused rows under 2 ms); RUNS: timed runs per engine (default 20).
# Writes $OUT/paired.md (a row per workload and round, then the medians over the rounds) and paired.json.
set -uo pipefail
OUT=${OUT:?set OUT to the output folder}
ROUNDS=${ROUNDS:-3}
RUNS=${RUNS:-20}
ROWS=${ROWS:-layernorm-softmax-8192x1024 elementwise8-1048576 elementwise8-16777216 mlp-4096x1024x4096x1024 covariance-20000x512 pca-10000x512x20 image-4x2160x3840 monte-carlo-1048576x256}
start=$(date +%s)
work="$OUT/paired"
mkdir -p "$work"

# The workloads' definitions, for PyTorch to run a row before wgfuse has (bench --list: what results.json holds).
node .gpu/bench.mjs --list > "$work/list.json" || exit 1
python3 - "$work/list.json" "$RUNS" > "$work/spec.json" <<'EOF'
import json, sys
print(json.dumps({"schema": "wgfuse-bench/1", "mode": "full", "runs": int(sys.argv[2]), "workloads": json.load(open(sys.argv[1]))}))
EOF

wgfuse() { # row dir
  node .gpu/bench.mjs --engines wgfuse --only "^$1\$" --runs "$RUNS" --out "$2/wgfuse" > "$2/wgfuse.log" 2>&1
}
torch() { # row dir
  python3 bench/peers/torch_peer.py --spec "$work/spec.json" --only "^$1\$" --no-compile --runs "$RUNS" --out "$2/torch.json" > "$2/torch.log" 2>&1
}
for round in $(seq 1 "$ROUNDS"); do
  for row in $ROWS; do
    dir="$work/$row/round$round"
    mkdir -p "$dir"
    if [ $((round % 2)) -eq 1 ]; then wgfuse "$row" "$dir"; torch "$row" "$dir"; else torch "$row" "$dir"; wgfuse "$row" "$dir"; fi
    echo "round $round $row: $(( $(date +%s) - start )) s"
  done
done

python3 - "$work" "$ROUNDS" "$ROWS" > "$OUT/paired.md" <<'EOF'
import glob, json, statistics, sys
work, rounds, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
out = {"rounds": rounds, "rows": []}
print("# Paired timing: wgfuse and PyTorch eager, one right after the other\n")
print("Wall ms (GPU ms) of each engine's median run; x torch: PyTorch's wall time over wgfuse's. Odd rounds run wgfuse first, even rounds PyTorch.\n")
print("| workload | round | wgfuse | torch | x torch |")
print("| --- | ---: | ---: | ---: | ---: |")
summary = []
for row in rows:
    ratios = []
    for r in range(1, rounds + 1):
        d = f"{work}/{row}/round{r}"
        try:
            wr = json.load(open(glob.glob(f"{d}/wgfuse/*/results.json")[0]))["workloads"][0]["results"][0]
            tr = json.load(open(f"{d}/torch.json"))["workloads"][0]["results"][0]
        except (IndexError, OSError, KeyError, ValueError) as err:
            print(f"| {row} | {r} | missing: {type(err).__name__} | | |")
            continue
        ok = wr.get("status") == "ok" and tr.get("status") == "ok"
        ratio = tr["wallMs"] / wr["wallMs"] if ok else None
        if ratio: ratios.append(ratio)
        out["rows"].append({"id": row, "round": r, "wgfuse": wr, "torch": tr})
        fmt = lambda x: f"{x['wallMs']:.4f} ({x['gpuMs']:.4f})" if x.get("status") == "ok" and x.get("gpuMs") is not None else x.get("status", "?")
        print(f"| {row} | {r} | {fmt(wr)} | {fmt(tr)} | {ratio:.2f} |" if ratio else f"| {row} | {r} | {fmt(wr)} | {fmt(tr)} | - |")
    if ratios: summary.append((row, statistics.median(ratios), min(ratios), max(ratios)))
print("\n| workload | x torch, median of rounds | lowest | highest |")
print("| --- | ---: | ---: | ---: |")
for row, med, lo, hi in summary:
    print(f"| {row} | {med:.2f} | {lo:.2f} | {hi:.2f} |")
json.dump(out, open(f"{work}/../paired.json", "w"), indent=1)
EOF
cat "$OUT/paired.md"
echo "paired: $(( $(date +%s) - start )) s"
