"""Time NDLoss (vectorised) against a per-sample Python loop of the same
formula, forward + backward, on the detection setting: 8 images x 512 RoIs
(N = 4096), 1024-d box features, K = 81 class centres (background included).

    L = 1/N sum_i [1 - <s_i, u_{y_i}> / max(||s_i||, ||t_i||)],
    u_k = c_k / ||c_k||

Both run on the same inputs in one process, one thread; the script prints
the median of ``--repeats`` timings and the loop / vectorised ratio, and
asserts that the two losses (and the student gradients) agree.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_losses.py
"""
import argparse
import os
import statistics
import time

os.environ.setdefault('OMP_NUM_THREADS', '1')

import torch  # noqa: E402

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
    times, value, grad = [], None, None
    for _ in range(repeats):
        x = s.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        loss = fn(x, *args)
        loss.backward()
        times.append(time.perf_counter() - start)
        value, grad = loss.item(), x.grad
    return statistics.median(times), value, grad


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=4096, help='samples N')
    parser.add_argument('--dim', type=int, default=1024, help='width D')
    parser.add_argument('--classes', type=int, default=81, help='centres K')
    parser.add_argument('--repeats', type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)

    g = torch.Generator().manual_seed(0)
    s = torch.randn(args.num, args.dim, generator=g)
    t = torch.randn(args.num, args.dim, generator=g) * (
        torch.rand(args.num, 1, generator=g) * 2 + 0.1)
    centers = torch.randn(args.classes, args.dim, generator=g) + 0.5
    labels = torch.randint(0, args.classes, (args.num,), generator=g)
    inputs = (t, labels, centers)

    vec = NDLoss()
    time_fwd_bwd(vec, s, inputs, 1)  # warm-up
    t_vec, v_vec, g_vec = time_fwd_bwd(vec, s, inputs, args.repeats)
    t_loop, v_loop, g_loop = time_fwd_bwd(nd_loop, s, inputs, args.repeats)

    print(f'NDLoss forward+backward, N={args.num} D={args.dim} '
          f'K={args.classes}, 1 thread, median of {args.repeats}')
    print(f'  vectorised : {t_vec * 1e3:10.3f} ms   loss {v_vec:.6f}')
    print(f'  python loop: {t_loop * 1e3:10.3f} ms   loss {v_loop:.6f}')
    print(f'  ratio loop / vectorised: {t_loop / t_vec:.1f}x')
    assert abs(v_vec - v_loop) < 1e-5, (v_vec, v_loop)
    assert torch.allclose(g_vec, g_loop, atol=1e-7, rtol=1e-4)
    print('  values and gradients agree')


if __name__ == '__main__':
    main()
