#!/usr/bin/env python3
"""PyTorch peer of `wgfuse bench`: the same workloads on CUDA, eager and torch.compile, checked and timed.

    python3 bench/peers/torch_peer.py --spec RESULTS.json --out torch.json [--runs N] [--warmup 3] [--warmup-ms MS] [--burn-ms MS]
                                      [--only REGEX] [--no-compile] [--compile-gemm] [--max-seconds S]

--spec is the results.json that the wgfuse harness writes (it reads workloads[].id/kind/params/inputs, so
the sizes are exactly the harness's). The output is merged into the report with
`node .gpu/bench.mjs --merge-torch torch.json --out DIR` (or `npx wgfuse bench --merge-torch ...`).

Engines: `torch` (eager; for the GEMM workloads that is cuBLAS with TF32 off, the GEMM limit) and
`torch.compile` (Inductor, default mode; failures are recorded, not hidden). Limits: a device-to-device copy
(bandwidth, bytes read plus written) and an 8192^3 float32 cuBLAS GEMM with TF32 off (rate).

Timing: after warm-up (--warmup runs and at least --warmup-ms, 2 s by default as the harness, so the GPU
leaves its idle clock) and, if asked, --burn-ms of saturating GPU work (the harness's clockBurnMs by
default: 0), each run is bracketed by CUDA events (GPU ms) and by a host
clock with a synchronize (wall ms: launch overhead included, as the WebGPU engines' wall time); medians of
--runs.
Checks: every engine's output against the same function on float64 copies of the inputs (relative L2
error, the harness's tolerances); Monte Carlo against E[S_T] = s0 exp(mu) within 6 standard errors.
Exit status: 0 when every check passed (or CUDA is absent: results say why), 1 on a mismatch, 2 when torch
is missing or the arguments are wrong.
"""
import argparse
import json
import math
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as err:  # pragma: no cover - the point is the message
    print(f"torch_peer: PyTorch is not installed ({err}); install torch (with CUDA) to run the PyTorch peer", file=sys.stderr)
    sys.exit(2)

TOLERANCE = {
    "gemm": 1e-4,
    "gemm-bias-gelu": 1e-4,
    "image": 1e-4,
    "elementwise": 1e-5,
    "covariance": 2e-4,
    "pca": 2e-4,
    "mlp": 1e-4,
    "layernorm-softmax": 1e-4,
}


def make_fn(w):
    """The workload as a function of its input tensors (float32 or, for the reference, float64)."""
    kind, p = w["kind"], w["params"]
    if kind == "gemm":
        tb = bool(p["tB"])
        return lambda a, b: a @ (b.transpose(-1, -2) if tb else b)
    if kind == "gemm-bias-gelu":
        return lambda a, b, bias: F.gelu(a @ b + bias, approximate="tanh")
    if kind == "image":
        def image(x):
            mean = x.mean(dim=(1, 2), keepdim=True)
            std = x.var(dim=(1, 2), keepdim=True, unbiased=False).sqrt()
            return ((x - mean) / (std + p["eps"]) * p["gain"] + p["bias"]).clamp_min(0).pow(p["gamma"])
        return image
    if kind == "monte-carlo":
        steps, paths = int(p["steps"]), int(p["paths"])
        dt = 1.0 / steps
        scale, drift = p["sigma"] * math.sqrt(dt), (p["mu"] - 0.5 * p["sigma"] ** 2) * dt

        def monte_carlo():
            z = torch.randn(steps, paths, device="cuda")
            return ((z * scale + drift).sum(0).exp() * p["s0"]).mean()
        return monte_carlo
    if kind == "elementwise":
        return lambda x: torch.sqrt(torch.exp(torch.sigmoid(torch.tanh(x * 0.9 + 0.1) * x) - 0.5))
    if kind == "covariance":
        n = int(p["n"])

        def covariance(x):
            c = x - x.mean(0, keepdim=True)
            return (c.T @ c) / (n - 1)
        return covariance
    if kind == "pca":
        n, d, iters = int(p["n"]), int(p["d"]), int(p["iters"])

        def pca(x):
            c = x - x.mean(0, keepdim=True)
            cov = (c.T @ c) / (n - 1)
            v = torch.full((d, 1), 1 / math.sqrt(d), dtype=x.dtype, device=x.device)
            for _ in range(iters):
                u = cov @ v
                v = u / torch.linalg.vector_norm(u)
            return v
        return pca
    if kind == "mlp":
        return lambda x, w1, b1, w2, b2: F.gelu(x @ w1.T + b1, approximate="tanh") @ w2.T + b2
    if kind == "layernorm-softmax":
        cols = int(p["cols"])
        return lambda x, weight, bias: torch.softmax(F.layer_norm(x, (cols,), weight, bias, p["eps"]), -1)
    raise ValueError(f"unknown workload kind {kind}")


def make_inputs(w, seed):
    g = torch.Generator(device="cuda")
    g.manual_seed(seed)
    out = []
    for spec in w.get("inputs", []):
        t = torch.empty(spec["shape"], device="cuda", dtype=torch.float32)
        t.uniform_(spec["lo"], spec["hi"], generator=g)
        out.append(t)
    return out


def rel_l2(got, want):
    got = got.double().flatten()
    want = want.double().flatten()
    if got.shape != want.shape or not torch.isfinite(got).all():
        return math.inf
    den = torch.linalg.vector_norm(want).item()
    return torch.linalg.vector_norm(got - want).item() / max(den, 1e-30)


def check(w, out, inputs):
    if w["kind"] == "monte-carlo":
        p = w["params"]
        expect = p["s0"] * math.exp(p["mu"])
        stderr = expect * math.sqrt(math.exp(p["sigma"] ** 2) - 1) / math.sqrt(p["paths"])
        tol = 6 * stderr / expect + 1e-4
        value = out.item()
        err = abs(value - expect) / expect if math.isfinite(value) else math.inf
        return {"kind": "statistical", "ok": err <= tol, "error": err, "tolerance": tol,
                "detail": f"mean {value:.4f}, expected {expect:.4f} +- {stderr:.4f} (1 s.e.)"}
    ref = make_fn(w)(*[x.double() for x in inputs])
    err = rel_l2(out, ref)
    tol = TOLERANCE[w["kind"]]
    return {"kind": "float64-full", "ok": err <= tol, "error": err if math.isfinite(err) else 1e308, "tolerance": tol,
            "detail": f"all {out.numel()} elements against float64 on the GPU"}


_burn_matrix = None


def burn(seconds):
    """Saturating GPU work (4096^3 products) for about `seconds`: the timed runs then start at full clock, as
    the wgfuse harness's --burn-ms (src/cli/gpu-burn.ts)."""
    global _burn_matrix
    if seconds <= 0:
        return
    if _burn_matrix is None:
        _burn_matrix = torch.empty(4096, 4096, device="cuda").uniform_(-1, 1) / 64
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(4):
            _burn_matrix @ _burn_matrix
        torch.cuda.synchronize()


def measure(engine, fn, w, inputs, runs, warmup, burn_seconds=0.0, settle_seconds=0.0, warmup_seconds=0.0):
    res = {"engine": engine, "status": "ok", "dispatches": None, "bytesMoved": None}
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(*inputs)
    torch.cuda.synchronize()
    res["firstMs"] = (time.perf_counter() - t0) * 1e3
    del out
    warm_end = time.perf_counter() + warmup_seconds
    i = 0
    while i < warmup or (warmup > 0 and time.perf_counter() < warm_end):
        fn(*inputs)
        torch.cuda.synchronize()
        i += 1
    if burn_seconds > 0:
        burn(burn_seconds)
        # The workload itself again before the timing, as the harness does (settleMs).
        settle_end = time.perf_counter() + settle_seconds
        while True:
            fn(*inputs)
            torch.cuda.synchronize()
            if time.perf_counter() >= settle_end:
                break
    walls, gpus = [], []
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(runs):
        t0 = time.perf_counter()
        start.record()
        out = fn(*inputs)
        end.record()
        torch.cuda.synchronize()
        walls.append((time.perf_counter() - t0) * 1e3)
        gpus.append(start.elapsed_time(end))
        del out
    res["wallMs"] = statistics.median(walls)
    res["wallMsAll"] = [round(t, 4) for t in walls]
    res["gpuMs"] = statistics.median(gpus)
    # Memory one run allocates beyond its inputs (temporaries and output), as wgfuse's peak.
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = fn(*inputs)
    torch.cuda.synchronize()
    res["peakBytes"] = torch.cuda.max_memory_allocated() - base
    res["check"] = check(w, out, inputs)
    if not res["check"]["ok"]:
        res["status"] = "mismatch"
    return res


def limits(smoke):
    out = {}
    n = (4 << 20) // 4 if smoke else (1 << 30) // 4
    x = torch.empty(n, device="cuda").uniform_(-1, 1)
    y = torch.empty_like(x)
    for _ in range(3):
        y.copy_(x)
    reps = 20
    times = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(reps):
            y.copy_(x)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / reps)
    out["copyGBps"] = 2 * x.numel() * 4 / (statistics.median(times) * 1e6)
    del x, y
    m = 256 if smoke else 8192
    a = torch.empty(m, m, device="cuda").uniform_(-1, 1)
    b = torch.empty(m, m, device="cuda").uniform_(-1, 1)
    for _ in range(2):
        a @ b
    times = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        a @ b
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    out["gemmTflops"] = 2 * m ** 3 / (statistics.median(times) * 1e9)
    out["gemmShape"] = f"{m}^3"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", required=True, help="results.json written by the wgfuse harness")
    ap.add_argument("--out", required=True, help="where to write the torch results (JSON)")
    ap.add_argument("--runs", type=int, default=None,
                    help="timed runs per workload (default: the harness's, from the spec's runs, else 10)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--warmup-ms", type=float, default=None,
                    help="least warm-up time per measurement (default 2000, smoke 0: as the harness)")
    ap.add_argument("--burn-ms", type=float, default=None,
                    help="saturating GPU work before each timed loop (default: the harness's clockBurnMs from --spec)")
    ap.add_argument("--only", help="only workloads whose id matches this regular expression")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    ap.add_argument("--compile-gemm", action="store_true", help="also torch.compile the plain GEMMs (Inductor calls cuBLAS for them)")
    ap.add_argument("--max-seconds", type=float, help="start no new measurement after this many seconds")
    args = ap.parse_args()

    with open(args.spec) as f:
        spec = json.load(f)
    workloads = spec["workloads"]
    burn_seconds = (args.burn_ms if args.burn_ms is not None else spec.get("clockBurnMs", 0)) / 1000
    settle_seconds = spec.get("settleMs", 0) / 1000
    # As many timed runs as the harness took for wgfuse and the other peers (results.json's runs): the same
    # median over the same count, not 10 against 20.
    if args.runs is None:
        args.runs = int(spec.get("runs") or 10)
    warmup_seconds = (args.warmup_ms if args.warmup_ms is not None else (0 if spec.get("mode") == "smoke" else 2000)) / 1000
    if args.only:
        workloads = [w for w in workloads if re.search(args.only, w["id"])]
    result = {"schema": "wgfuse-bench-torch/1", "torch": torch.__version__, "cuda": torch.version.cuda,
              "device": None, "limits": {}, "workloads": []}

    def write():
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)

    if not torch.cuda.is_available():
        note = "CUDA is not available to PyTorch here"
        print(f"torch_peer: {note}; writing {args.out} with every result marked unavailable")
        result["device"] = "none"
        result["workloads"] = [{"id": w["id"], "results": [{"engine": "torch", "status": "unavailable", "note": note}]} for w in workloads]
        write()
        return 0

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_float32_matmul_precision("highest")
    result["device"] = torch.cuda.get_device_name()
    started = time.perf_counter()
    smoke = spec.get("mode") == "smoke"
    result["limits"] = limits(smoke)
    lim = result["limits"]
    print(f"torch_peer: {result['device']}, torch {torch.__version__}: copy {lim['copyGBps']:.0f} GB/s, "
          f"cuBLAS fp32 (TF32 off) {lim['gemmTflops']:.1f} TFLOP/s at {lim['gemmShape']}", flush=True)
    write()

    failures = 0
    for i, w in enumerate(workloads):
        entry = {"id": w["id"], "results": []}
        result["workloads"].append(entry)
        over = args.max_seconds is not None and time.perf_counter() - started > args.max_seconds
        if over:
            entry["results"].append({"engine": "torch", "status": "skipped", "note": f"time budget (--max-seconds {args.max_seconds}) spent"})
            continue
        inputs = make_inputs(w, 1000 + i)
        fn = make_fn(w)
        engines = [("torch", fn)]
        if not args.no_compile:
            if w["kind"] == "gemm" and not args.compile_gemm:
                entry["results"].append({"engine": "torch.compile", "status": "skipped",
                                         "note": "a plain matmul compiles to the same cuBLAS call (--compile-gemm to run it)"})
            else:
                engines.append(("torch.compile", torch.compile(fn, dynamic=False)))
        for name, f in engines:
            try:
                r = measure(name, f, w, inputs, args.runs, args.warmup, burn_seconds, settle_seconds, warmup_seconds)
                if name == "torch" and w["kind"] == "gemm":
                    r["note"] = "cuBLAS, TF32 off"
            except Exception as err:  # noqa: BLE001 - a failing engine is a result, not a crash
                msg = " ".join(str(err).split())[:500]
                r = {"engine": name, "status": "error", "note": f"{type(err).__name__}: {msg}"}
            entry["results"].append(r)
            if r["status"] == "mismatch":
                failures += 1
            if r["status"] in ("ok", "mismatch"):
                c = r["check"]
                print(f"  {name:<14} {w['id']:<32} {r['wallMs']:9.3f} ms wall, {r['gpuMs']:9.3f} ms gpu  "
                      f"{'OK' if c['ok'] else 'MISMATCH'} ({c['kind']} {c['error']:.1e} <= {c['tolerance']:.0e})", flush=True)
            else:
                print(f"  {name:<14} {w['id']:<32} {r['status']}: {r.get('note', '')}", flush=True)
            torch.cuda.empty_cache()
        del inputs
        write()
    write()
    print(f"torch_peer: wrote {args.out}; {failures} mismatch(es)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
