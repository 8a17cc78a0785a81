"""Summary statistics shared by the benchmarks (no torch import).

A benchmark's result is a ratio of two variants measured side by side. A
ratio is computed per interleaved round (A and B measured back to back, in
alternating order) and the rounds are summarised by their median, with the
spread given as the interquartile range and the full range.
"""
import statistics
from collections import namedtuple

#: median, quartiles (``statistics.quantiles(method='inclusive')``; equal
#: to the median for one value), smallest and largest value, count
Summary = namedtuple('Summary', 'median q1 q3 lo hi n')


def summarize(values):
    """:class:`Summary` of a non-empty sequence of numbers."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError('summarize() needs at least one value')
    med = statistics.median(values)
    if len(values) > 1:
        q1, _, q3 = statistics.quantiles(values, n=4, method='inclusive')
    else:
        q1 = q3 = med
    return Summary(med, q1, q3, min(values), max(values), len(values))


def paired_ratios(numerators, denominators):
    """Per-round ratios ``numerators[i] / denominators[i]``."""
    numerators, denominators = list(numerators), list(denominators)
    if len(numerators) != len(denominators):
        raise ValueError(f'{len(numerators)} numerators but '
                         f'{len(denominators)} denominators')
    return [a / b for a, b in zip(numerators, denominators)]


def round_order(names, index):
    """The order of the variants in round ``index``: as given in even
    rounds, reversed in odd ones (so neither variant always runs first)."""
    names = list(names)
    return names if index % 2 == 0 else names[::-1]


def format_ratio(summary, digits=3, spread='iqr'):
    """``'1.012 [IQR 1.003-1.020, range 0.990-1.041, n=10]'``;
    ``spread='range'`` leaves out the quartiles."""
    f = f'{{:.{digits}f}}'.format
    parts = []
    if spread == 'iqr':
        parts.append(f'IQR {f(summary.q1)}-{f(summary.q3)}')
    parts.append(f'range {f(summary.lo)}-{f(summary.hi)}')
    parts.append(f'n={summary.n}')
    return f'{f(summary.median)} [{", ".join(parts)}]'
