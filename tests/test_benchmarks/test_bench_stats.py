"""The benchmarks' summary statistics (``benchmarks/_bench_stats.py``) on
hand-computed values; no model is built and torch is not needed."""
import importlib.util
import os.path as osp

import pytest

_PATH = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
    'benchmarks', '_bench_stats.py')
_spec = importlib.util.spec_from_file_location('_bench_stats', _PATH)
stats = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stats)


def test_summarize_odd_count():
    s = stats.summarize([3, 1, 5, 2, 4])
    assert s.median == 3
    # inclusive quartiles of 1..5: positions 1 + 0.25 * 4 = 2 and 4
    assert (s.q1, s.q3) == (2, 4)
    assert (s.lo, s.hi, s.n) == (1, 5, 5)


def test_summarize_even_count_interpolates():
    s = stats.summarize([1.0, 2.0, 4.0, 10.0])
    assert s.median == 3.0
    # positions 1 + 0.25 * 3 = 1.75 and 1 + 0.75 * 3 = 3.25 (1-based)
    assert s.q1 == pytest.approx(1.75)
    assert s.q3 == pytest.approx(5.5)
    assert (s.lo, s.hi, s.n) == (1.0, 10.0, 4)


def test_summarize_single_value_and_empty():
    assert stats.summarize([1.25]) == (1.25, 1.25, 1.25, 1.25, 1.25, 1)
    with pytest.raises(ValueError):
        stats.summarize([])


def test_median_is_robust_to_one_outlier():
    # five memory ratios, one of them a bad sample
    s = stats.summarize([1.048, 1.251, 1.029, 1.132, 1.050])
    assert s.median == 1.050
    assert (s.lo, s.hi) == (1.029, 1.251)


def test_paired_ratios_pair_by_round():
    a = [2.0, 3.0, 5.0]
    b = [1.0, 2.0, 4.0]
    assert stats.paired_ratios(a, b) == [2.0, 1.5, 1.25]
    assert stats.summarize(stats.paired_ratios(a, b)).median == 1.5
    with pytest.raises(ValueError):
        stats.paired_ratios([1.0], [1.0, 2.0])


def test_round_order_alternates():
    assert stats.round_order('AB', 0) == ['A', 'B']
    assert stats.round_order('AB', 1) == ['B', 'A']
    assert stats.round_order(dict(x=1, y=2), 4) == ['x', 'y']
    orders = [stats.round_order(['A', 'B'], i)[0] for i in range(6)]
    assert orders.count('A') == orders.count('B') == 3


def test_format_ratio():
    s = stats.summarize([1.0, 1.02, 1.04, 1.1])
    assert stats.format_ratio(s) == \
        '1.030 [IQR 1.015-1.055, range 1.000-1.100, n=4]'
    assert stats.format_ratio(s, digits=2, spread='range') == \
        '1.03 [range 1.00-1.10, n=4]'
