"""nd_mmdet.compare.stats against values computed by hand.

The table (3 methods x 5 seeds; C's seed 3 is missing, e.g. a failed run):

    seed   0   1   2   3   4
    A     10  12  11  13  14     (baseline)
    B     11  15  11  16  17
    C      9  12  10   -  13

A: mean 60/5 = 12; deviations -2 0 -1 1 2, squares sum 10, var 10/4 = 2.5,
   std sqrt(2.5) = 1.5811388.
B: mean 70/5 = 14; deviations -3 1 -3 2 3, squares sum 32, var 8,
   std sqrt(8) = 2.8284271; delta of the means 14 - 12 = +2.
   Paired B - A on seeds 0..4: 1 3 0 3 3 -> 4 wins, 1 tie (seed 2), 0
   losses; mean 10/5 = 2; deviations -1 1 -2 1 1, squares sum 8, var 2,
   sd sqrt(2); se = sqrt(2)/sqrt(5) = 0.6324555; t_{0.975, 4} = 2.7764451
   (any t table); half width 2.7764451 * 0.6324555 = 1.7559780;
   interval [0.2440220, 3.7559780].
C: mean 44/4 = 11; deviations -2 1 -1 2, squares sum 10, var 10/3,
   std 1.8257419; delta of the means 11 - 12 = -1.
   Paired C - A on seeds 0 1 2 4 (seed 3 missing): -1 0 -1 -1 -> 0 wins,
   1 tie (seed 1), 3 losses; mean -3/4 = -0.75; deviations -0.25 0.75
   -0.25 -0.25, squares sum 0.75, var 0.25, sd 0.5; se = 0.5/2 = 0.25;
   t_{0.975, 3} = 3.1824463; half width 0.7956116;
   interval [-1.5456116, 0.0456116].
"""
import pytest

from nd_mmdet.compare.stats import comparison, paired, summarize, t_quantile

TABLE = {
    'A': {0: 10, 1: 12, 2: 11, 3: 13, 4: 14},
    'B': {0: 11, 1: 15, 2: 11, 3: 16, 4: 17},
    'C': {0: 9, 1: 12, 2: 10, 4: 13},
}


def test_t_quantiles_match_a_t_table():
    # two-sided 95 % critical values of a printed t table
    for df, value in ((1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764),
                      (10, 2.2281), (30, 2.0423)):
        assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-4)
    with pytest.raises(ValueError, match='df'):
        t_quantile(0.975, 0)


def test_summaries_by_hand():
    a, b, c = (summarize(TABLE[m]) for m in 'ABC')
    assert (a.n, a.mean) == (5, 12.0)
    assert a.std == pytest.approx(1.5811388, abs=1e-6)
    assert (b.n, b.mean) == (5, 14.0)
    assert b.std == pytest.approx(2.8284271, abs=1e-6)
    assert (c.n, c.mean, c.seeds) == (4, 11.0, (0, 1, 2, 4))
    assert c.std == pytest.approx(1.8257419, abs=1e-6)
    one = summarize({7: 3.5})
    assert (one.n, one.mean, one.std) == (1, 3.5, None)
    assert summarize({}) is None


def test_paired_with_a_tie_by_hand():
    p = paired(TABLE['B'], TABLE['A'])
    assert (p.n, p.wins, p.ties, p.losses) == (5, 4, 1, 0)
    assert p.diffs == (1, 3, 0, 3, 3)
    assert p.mean_diff == pytest.approx(2.0)
    assert p.std_diff == pytest.approx(2**0.5)
    assert p.ci_low == pytest.approx(0.2440220, abs=1e-6)
    assert p.ci_high == pytest.approx(3.7559780, abs=1e-6)


def test_paired_with_a_missing_seed_by_hand():
    p = paired(TABLE['C'], TABLE['A'])
    assert p.seeds == (0, 1, 2, 4)
    assert (p.n, p.wins, p.ties, p.losses) == (4, 0, 1, 3)
    assert p.mean_diff == pytest.approx(-0.75)
    assert p.std_diff == pytest.approx(0.5)
    assert p.ci_low == pytest.approx(-1.5456116, abs=1e-6)
    assert p.ci_high == pytest.approx(0.0456116, abs=1e-6)


def test_paired_edge_cases():
    # one common seed: a difference, no interval
    p = paired({0: 5.0, 1: 6.0}, {1: 4.0})
    assert (p.n, p.wins, p.mean_diff, p.ci_low, p.ci_high) == \
        (1, 1, 2.0, None, None)
    # no common seed
    assert paired({0: 1.0}, {1: 1.0}) is None
    # constant differences: a zero-width interval at the difference
    p = paired({0: 2.0, 1: 3.0}, {0: 1.0, 1: 2.0})
    assert (p.ci_low, p.ci_high) == (1.0, 1.0)
    with pytest.raises(ValueError, match='confidence'):
        paired({0: 1.0}, {0: 1.0}, confidence=95)


def test_comparison_rows():
    rows = comparison(TABLE, 'A')
    assert list(rows) == ['A', 'B', 'C']
    assert rows['A']['delta'] is None and rows['A']['paired'] is None
    assert rows['A']['summary']['mean'] == 12.0
    assert rows['B']['delta'] == pytest.approx(2.0)
    assert rows['C']['delta'] == pytest.approx(-1.0)
    assert rows['C']['paired']['losses'] == 3
    assert rows['C']['paired']['ci_high'] == pytest.approx(0.0456116,
                                                           abs=1e-6)
    # a method whose every run failed
    rows = comparison(dict(TABLE, D={}), 'A')
    assert rows['D'] == dict(summary=None, delta=None, paired=None)
    with pytest.raises(ValueError, match="baseline 'Z'"):
        comparison(TABLE, 'Z')
