"""The results of a comparison: ``results.json`` (every number) and
``results.md`` (the table), both written atomically.

Table columns: method | metric mean ± sample std (n) | Δ of the means vs
the baseline | paired vs the baseline: wins / n (ties), mean of the
per-seed differences [95 % t interval] | every seed's value. COCO metrics
(fractions) are shown x 100, the JSON keeps the values as the evaluator
returned them. Then, with pairs (``--pair``), one row per pair: method vs
reference, paired the same way, and each seed's difference.
"""
import json
import os.path as osp
from dataclasses import asdict

from nd_mmdet.compat import atomic_write_bytes

from .stats import comparison, paired


def metric_scale(metric):
    """COCO metrics are fractions: shown in % (x 100)."""
    return 100.0 if metric.startswith('coco/') else 1.0


def build_results(methods, seeds, baseline, metric, records, teacher=None,
                  confidence=0.95, pairs=(), **extra):
    """Everything a report needs, JSON-ready.

    Args:
        methods (list[tuple]): ``(name, ConfigInfo)`` in table order.
        seeds (list[int]): the seeds asked for.
        records (dict): ``{(name, seed): run record or None}``.
        teacher (tuple | None): ``(ConfigInfo, checkpoint, record)``.
        pairs (sequence[tuple]): ``(method, reference)`` names compared
            with each other as each method is with the baseline (e.g.
            ``('kd++', 'kd')``: what ND adds to KD): ``results['pairs']``,
            a list of ``{'method', 'reference', 'paired'}``.
        extra: more top-level keys (timing, versions, ...).
    """
    scores = {
        name: {s: records[(name, s)]['score'] for s in seeds
               if (records.get((name, s)) or {}).get('status') == 'done'}
        for name, _ in methods
    }
    rows = comparison(scores, baseline, confidence)
    pair_rows = []
    for method, reference in pairs:
        for name in (method, reference):
            if name not in scores:
                raise ValueError(f'pair ({method}, {reference}): {name!r} '
                                 f'is not one of the methods {list(scores)}')
        pair = paired(scores[method], scores[reference], confidence)
        pair_rows.append(dict(method=method, reference=reference,
                              paired=asdict(pair) if pair else None))
    out_methods = []
    for name, info in methods:
        runs = []
        for seed in seeds:
            record = records.get((name, seed)) or {}
            runs.append(dict(
                seed=seed, status=record.get('status', 'not run'),
                score=record.get('score'), error=record.get('error'),
                log=record.get('log'), note=record.get('note')))
        out_methods.append(dict(name=name, config=info.path,
                                config_digest=info.digest, runs=runs,
                                **rows[name]))
    results = dict(format=1, metric=metric, scale=metric_scale(metric),
                   baseline=baseline, seeds=list(seeds),
                   confidence=confidence, methods=out_methods,
                   teacher=None, pairs=pair_rows, **extra)
    if teacher is not None:
        info, checkpoint, record = teacher
        record = record or {}
        score = record.get('score') if record.get('status') == 'done' \
            else None
        base = rows[baseline]['summary']
        results['teacher'] = dict(
            config=info.path, checkpoint=checkpoint,
            config_digest=info.digest, status=record.get('status', 'not run'),
            score=score, metrics=record.get('metrics'),
            error=record.get('error'), log=record.get('log'),
            delta=score - base['mean'] if score is not None and base
            else None)
    return results


def _num(value, scale, sign=False):
    if value is None:
        return '—'
    return f'{value * scale:+.2f}' if sign else f'{value * scale:.2f}'


def _paired_cell(paired, scale):
    if paired is None:
        return '—'
    ties = f' ({paired["ties"]} tie{"s" * (paired["ties"] != 1)})' \
        if paired['ties'] else ''
    cell = f'{paired["wins"]}/{paired["n"]}{ties}, ' + \
        _num(paired['mean_diff'], scale, sign=True)
    if paired['ci_low'] is not None:
        cell += (f' [{_num(paired["ci_low"], scale, sign=True)}, '
                 f'{_num(paired["ci_high"], scale, sign=True)}]')
    return cell


def _run_cell(run, scale):
    if run['status'] == 'done':
        return _num(run['score'], scale)
    return 'failed' if run['status'] == 'failed' else '—'


def _pairs_table(results):
    """The lines of the table of ``results['pairs']`` (none without)."""
    pairs = results.get('pairs') or []
    if not pairs:
        return []
    scale, seeds = results['scale'], results['seeds']
    pct = round(100 * results['confidence'])
    lines = [
        '', 'Pairs: each method against its reference, paired as above '
        '(the seeds both finished).', '',
        f'| method vs reference | wins / n, mean Δ [{pct} % CI] | Δ per '
        f'seed ({", ".join(map(str, seeds))}) |',
        '|---|---|---|',
    ]
    for row in pairs:
        pair = row['paired']
        diffs = dict(zip(pair['seeds'], pair['diffs'])) if pair else {}
        per_seed = ', '.join(_num(diffs.get(s), scale, sign=True)
                             for s in seeds)
        lines.append(f'| {row["method"]} vs {row["reference"]} | '
                     f'{_paired_cell(pair, scale)} | {per_seed} |')
    return lines


def markdown(results, title_note=''):
    """``results.md`` of :func:`build_results`' output."""
    scale, metric = results['scale'], results['metric']
    label = f'{metric} (x100)' if scale != 1 else metric
    base = results['baseline']
    seeds = results['seeds']
    pct = round(100 * results['confidence'])
    lines = [
        f'# Comparison: {metric} on the test set, seeds '
        f'{" ".join(map(str, seeds))}{title_note}', '',
        f'Baseline: `{base}`. Δ: difference of the means (each over its '
        'own seeds). Paired: over the seeds both the method and the '
        'baseline have, wins / n (ties: equal scores), the mean of the '
        f'per-seed differences and its {pct} % t interval. Std: sample '
        'standard deviation (n - 1).', '',
        f'| method | {label} mean ± std | Δ vs {base} | paired vs {base}: '
        f'wins / n, mean Δ [{pct} % CI] | per seed ({", ".join(map(str, seeds))}) |',
        '|---|---|---|---|---|',
    ]
    for method in results['methods']:
        summary = method['summary']
        if summary is None:
            spread = 'no finished run'
        elif summary['std'] is None:
            spread = f'{_num(summary["mean"], scale)} (1 seed)'
        else:
            spread = (f'{_num(summary["mean"], scale)} ± '
                      f'{_num(summary["std"], scale)} (n={summary["n"]})')
        name = f'{method["name"]} (baseline)' if method['name'] == base \
            else method['name']
        delta = '—' if method['name'] == base else \
            _num(method['delta'], scale, sign=True)
        per_seed = ', '.join(_run_cell(r, scale) for r in method['runs'])
        lines.append(f'| {name} | {spread} | {delta} | '
                     f'{_paired_cell(method["paired"], scale)} | {per_seed} |')
    teacher = results.get('teacher')
    if teacher:
        value = _num(teacher['score'], scale) if teacher['score'] is not \
            None else teacher['status']
        lines.append(f'| teacher (1 run) | {value} | '
                     f'{_num(teacher["delta"], scale, sign=True)} | | '
                     f'{value} |')
    lines += _pairs_table(results)
    failed = [(m['name'], r) for m in results['methods'] for r in m['runs']
              if r['status'] == 'failed']
    if teacher and teacher['status'] == 'failed':
        failed.append(('teacher', dict(seed=None, error=teacher['error'],
                                       log=teacher['log'])))
    if failed:
        lines += ['', 'Failed runs (rerun the command to retry them):', '']
        lines += [f'- {name}{"" if r["seed"] is None else " seed " + str(r["seed"])}: '
                  f'{r["error"]} (log: `{r["log"]}`)' for name, r in failed]
    notes = [(m['name'], r) for m in results['methods'] for r in m['runs']
             if r.get('note')]
    if notes:
        lines += ['', 'Notes:', '']
        lines += [f'- {name} seed {r["seed"]}: {r["note"]}'
                  for name, r in notes]
    plots = results.get('plots') or {}
    if plots:
        lines += ['', 'Plots: ' + ', '.join(
            f'[{k}]({osp.basename(v)})' for k, v in plots.items())]
    timing = results.get('timing')
    if timing:
        lines += ['', (
            f'Runs: {timing["trainings_started"]} trainings and '
            f'{timing["evaluations_started"]} evaluations started in this '
            f'invocation, {timing["reused"]} finished runs reused. Wall '
            f'time {timing["wall_s"]:.0f} s; the tool\'s own overhead '
            f'(outside training and evaluation) {timing["overhead_s"]:.1f} s'
            f' ({100 * timing["overhead_fraction"]:.1f} %), '
            f'{timing["tool_max_rss_mb"]:.0f} MB of memory'
            + (f' (the largest run: {timing["child_max_rss_mb"]:.0f} MB)'
               if timing['child_max_rss_mb'] else '') + '.')]
    return '\n'.join(lines) + '\n'


def write_results(work_dir, results, text):
    """``results.json`` and ``results.md`` in ``work_dir``, atomically."""
    atomic_write_bytes(json.dumps(results, indent=1).encode(),
                       osp.join(work_dir, 'results.json'))
    atomic_write_bytes(text.encode(), osp.join(work_dir, 'results.md'))
