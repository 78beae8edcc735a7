# CUDA events against the host clock: two events recorded `gap` s apart on an idle GPU (host time at each
# record), the events' interval over the host's. Companion of bench/tick-probe.ts (Dawn's timestamps).
#   python3 bench/peers/clock-rate.py
import time
import torch

torch.cuda.init()
x = torch.ones(1024, device='cuda')
for _ in range(10):
    x.add_(1)
torch.cuda.synchronize()
print(f'clock-rate: {torch.cuda.get_device_name()}, torch {torch.__version__}; CUDA event interval / host interval')
for gap in (0.01, 0.1, 1.0):
    ratios = []
    for _ in range(5):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        h0 = time.perf_counter()
        a.record()
        torch.cuda.synchronize()
        time.sleep(gap)
        h1 = time.perf_counter()
        b.record()
        torch.cuda.synchronize()
        ratios.append(a.elapsed_time(b) / 1000 / (h1 - h0))
    print(f'  {gap * 1000:.0f} ms apart: ' + ' '.join(f'{r:.5f}' for r in ratios))
