"""Time NDLoss (vectorised) against a per-sample Python loop of the same
formula, forward + backward, on the detection setting: 8 images x 512 RoIs
(N = 4096), 1024-d box features, K = 81 class centres (background included).

    L = 1/N sum_i [1 - <s_i, u_{y_i}> / max(||s_i||, ||t_i||)],
    u_k = c_k / ||c_k||

Both run on the same inputs in one process, one thread, after a warm-up
of each, in ``--repeats`` interleaved rounds (vectorised first in even
rounds, the loop first in odd ones). A round times the loop once and the
vectorised loss ``--inner`` times (their median: one call is ~16 ms, where
a busy machine's scheduling dominates), on two clocks: wall time and the
process's CPU time (``time.process_time``; one thread, so it leaves out the
time the process waits for a core). The loop / vectorised ratio is computed
per round and summarised by its median, interquartile range and range. The
script asserts that the two losses (and the student gradients) agree.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_losses.py
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import torch  # noqa: E402

from _bench_stats import (format_ratio, paired_ratios, round_order,  # noqa
                          summarize)
from nd_mmdet.models.losses import NDLoss  # noqa: E402


def nd_loop(s, t, labels, centers):
    """The ND loss one sample at a time, as the paper's code computes it."""
    total = 0.0
    for i in range(s.shape[0]):
        c = centers[labels[i]]
        u = c / torch.linalg.vector_norm(c)
        denom = torch.maximum(torch.linalg.vector_norm(s[i]),
                              torch.linalg.vector_norm(t[i]))
        total = total + (1.0 - torch.dot(s[i], u) / denom)
    return total / s.shape[0]


def time_fwd_bwd(fn, s, args, repeats):
    """Median wall and CPU seconds of ``repeats`` forward + backward calls,
    the last loss value and the last gradient of ``s``."""
    wall, cpu, value, grad = [], [], None, None
    for _ in range(repeats):
        x = s.detach().clone().requires_grad_(True)
        start, start_cpu = time.perf_counter(), time.process_time()
        loss = fn(x, *args)
        loss.backward()
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
        value, grad = loss.item(), x.grad
    return statistics.median(wall), statistics.median(cpu), value, grad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=4096, help='samples N')
    parser.add_argument('--dim', type=int, default=1024, help='width D')
    parser.add_argument('--classes', type=int, default=81, help='centres K')
    parser.add_argument('--repeats', type=int, default=5,
                        help='interleaved rounds')
    parser.add_argument('--inner', type=int, default=20,
                        help='vectorised calls per round (median)')
    args = parser.parse_args()
    if args.repeats < 1 or args.inner < 1:
        parser.error('--repeats and --inner must be >= 1')
    torch.set_num_threads(1)

    g = torch.Generator().manual_seed(0)
    s = torch.randn(args.num, args.dim, generator=g)
    t = torch.randn(args.num, args.dim, generator=g) * (
        torch.rand(args.num, 1, generator=g) * 2 + 0.1)
    centers = torch.randn(args.classes, args.dim, generator=g) + 0.5
    labels = torch.randint(0, args.classes, (args.num,), generator=g)
    inputs = (t, labels, centers)

    vec = NDLoss()
    variants = dict(vectorised=(vec, args.inner), loop=(nd_loop, 1))
    for fn, _ in variants.values():  # warm-up
        time_fwd_bwd(fn, s, inputs, 1)
    clocks = ('wall', 'cpu')
    times = {(name, c): [] for name in variants for c in clocks}
    results = {}
    for i in range(args.repeats):
        for name in round_order(variants, i):
            fn, calls = variants[name]
            wall, cpu, *results[name] = time_fwd_bwd(fn, s, inputs, calls)
            times[name, 'wall'].append(wall)
            times[name, 'cpu'].append(cpu)
    (v_vec, g_vec), (v_loop, g_loop) = results['vectorised'], results['loop']

    print(f'NDLoss forward+backward, N={args.num} D={args.dim} '
          f'K={args.classes}, 1 thread, {args.repeats} interleaved rounds '
          f'(medians; vectorised: median of {args.inner} calls per round)')
    for c in clocks:
        t_vec = summarize(times['vectorised', c]).median
        t_loop = summarize(times['loop', c]).median
        ratio = summarize(
            paired_ratios(times['loop', c], times['vectorised', c]))
        print(f'  {c} time: vectorised {t_vec * 1e3:8.3f} ms, python loop '
              f'{t_loop * 1e3:10.3f} ms; times faster per round: '
              f'{format_ratio(ratio, digits=0)}')
    print(f'  loss: vectorised {v_vec:.6f}, python loop {v_loop:.6f}')
    assert abs(v_vec - v_loop) < 1e-5, (v_vec, v_loop)
    assert torch.allclose(g_vec, g_loop, atol=1e-7, rtol=1e-4)
    print('  values and gradients agree')


if __name__ == '__main__':
    main()
