"""Statistics of a multi-seed comparison of methods against a baseline.

Scores are ``{seed: value}`` dicts, one per method (a failed or missing
run simply has no entry).

- :func:`summarize`: per method ``n``, mean, sample standard deviation
  ``s = sqrt(sum((x - mean)^2) / (n - 1))`` (None for one value).
- :func:`paired`: a method against the baseline over the seeds both have
  (the paired design: one seed fixes data order, augmentation and the
  shared initialisations, so ``d_s = method_s - baseline_s`` is one paired
  sample): wins (``d_s > 0``), ties (``d_s == 0``), losses, the mean
  difference ``mean(d)`` and its Student-t interval
  ``mean(d) ± t_{1-(1-c)/2, n-1} * s_d / sqrt(n)`` (none for ``n < 2``).
  "Higher is better" is assumed (AP, accuracy).
- :func:`comparison`: every method's summary, the difference of its mean
  to the baseline's mean, and its paired comparison.
"""
import math
from dataclasses import asdict, dataclass


def t_quantile(p, df):
    """The ``p`` quantile of Student's t distribution with ``df`` degrees
    of freedom (scipy, a dependency of MMDetection)."""
    from scipy.stats import t
    if df < 1:
        raise ValueError(f't quantile: df must be >= 1, got {df}')
    return float(t.ppf(p, df))


@dataclass(frozen=True)
class Summary:
    """``n`` values (seed order), their mean and sample std (n - 1)."""
    n: int
    mean: float
    std: float | None
    seeds: tuple
    values: tuple


def summarize(scores):
    """Summary of ``{seed: value}`` (None when empty)."""
    if not scores:
        return None
    seeds = tuple(sorted(scores))
    values = tuple(float(scores[s]) for s in seeds)
    n = len(values)
    mean = math.fsum(values) / n
    std = math.sqrt(math.fsum((v - mean)**2 for v in values) / (n - 1)) \
        if n > 1 else None
    return Summary(n, mean, std, seeds, values)


@dataclass(frozen=True)
class Paired:
    """A method minus the baseline over the ``seeds`` both have."""
    n: int
    wins: int
    ties: int
    losses: int
    mean_diff: float
    std_diff: float | None
    ci_low: float | None
    ci_high: float | None
    confidence: float
    seeds: tuple
    diffs: tuple


def paired(scores, baseline, confidence=0.95):
    """Paired comparison of ``scores`` with ``baseline`` (both
    ``{seed: value}``) over their common seeds; None when they share none."""
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    seeds = tuple(sorted(set(scores) & set(baseline)))
    if not seeds:
        return None
    diffs = tuple(float(scores[s]) - float(baseline[s]) for s in seeds)
    summary = summarize(dict(zip(seeds, diffs)))
    low = high = None
    if summary.n > 1:
        half = t_quantile(1 - (1 - confidence) / 2, summary.n - 1) * \
            summary.std / math.sqrt(summary.n)
        low, high = summary.mean - half, summary.mean + half
    return Paired(
        n=summary.n,
        wins=sum(d > 0 for d in diffs),
        ties=sum(d == 0 for d in diffs),
        losses=sum(d < 0 for d in diffs),
        mean_diff=summary.mean,
        std_diff=summary.std,
        ci_low=low,
        ci_high=high,
        confidence=confidence,
        seeds=seeds,
        diffs=diffs)


def comparison(scores, baseline, confidence=0.95):
    """Every method against ``baseline`` (a key of ``scores``).

    Args:
        scores (dict): ``{method: {seed: value}}``, in the order to report.

    Returns:
        dict: ``{method: {'summary', 'delta', 'paired'}}`` (plain dicts,
        JSON-ready): ``delta`` = the method's mean - the baseline's mean
        (each over its own seeds), ``paired`` as :func:`paired`; both None
        for the baseline itself or when a side has no value.
    """
    if baseline not in scores:
        raise ValueError(f'baseline {baseline!r} is not one of the methods '
                         f'{list(scores)}')
    base = summarize(scores[baseline])
    rows = {}
    for method, values in scores.items():
        summary = summarize(values)
        is_base = method == baseline
        delta = summary.mean - base.mean \
            if summary and base and not is_base else None
        pair = None if is_base else paired(values, scores[baseline],
                                           confidence)
        rows[method] = dict(
            summary=asdict(summary) if summary else None,
            delta=delta,
            paired=asdict(pair) if pair else None)
    return rows
