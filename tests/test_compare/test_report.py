"""nd_mmdet.compare.report: the table of the hand-computed 3 x 5 example
of test_stats.py (C's seed 3 failed) and a teacher row; COCO metrics in %."""
import json

import pytest

from nd_mmdet.compare.configs import ConfigInfo
from nd_mmdet.compare.report import build_results, markdown, write_results
from tests.test_compare.test_stats import TABLE


def _info(name):
    return ConfigInfo(path=f'/cfg/{name}.py', digest=name * 8,
                      metric='accuracy/top1', distiller=name != 'A',
                      save_best=False, teacher_ckpt=None)


def _records(table, scale=1.0):
    records = {}
    for method, scores in table.items():
        for seed in range(5):
            if seed in scores:
                records[(method, seed)] = dict(status='done',
                                               score=scores[seed] / scale)
            else:
                records[(method, seed)] = dict(
                    status='failed', error='error: out of memory',
                    log=f'/w/{method}/seed_{seed}/compare_train.log')
    return records


def test_table_of_the_hand_computed_example(tmp_path):
    methods = [(m, _info(m)) for m in 'ABC']
    teacher = (_info('T'), '/t.pth', dict(status='done', score=20.0,
                                          metrics={'accuracy/top1': 20.0}))
    results = build_results(methods, list(range(5)), 'A', 'accuracy/top1',
                            _records(TABLE), teacher)
    text = markdown(results)
    lines = text.splitlines()
    assert '| method | accuracy/top1 mean ± std | Δ vs A | paired vs A: ' \
        'wins / n, mean Δ [95 % CI] | per seed (0, 1, 2, 3, 4) |' in lines
    assert '| A (baseline) | 12.00 ± 1.58 (n=5) | — | — | ' \
        '10.00, 12.00, 11.00, 13.00, 14.00 |' in lines
    assert '| B | 14.00 ± 2.83 (n=5) | +2.00 | 4/5 (1 tie), +2.00 ' \
        '[+0.24, +3.76] | 11.00, 15.00, 11.00, 16.00, 17.00 |' in lines
    assert '| C | 11.00 ± 1.83 (n=4) | -1.00 | 0/4 (1 tie), -0.75 ' \
        '[-1.55, +0.05] | 9.00, 12.00, 10.00, failed, 13.00 |' in lines
    assert '| teacher (1 run) | 20.00 | +8.00 | | 20.00 |' in lines
    assert '- C seed 3: error: out of memory (log: ' \
        '`/w/C/seed_3/compare_train.log`)' in lines
    write_results(str(tmp_path), results, text)
    with open(tmp_path / 'results.json') as f:
        saved = json.load(f)
    assert saved['methods'][2]['paired']['losses'] == 3
    assert saved['methods'][2]['runs'][3]['status'] == 'failed'
    assert saved['teacher']['delta'] == 8.0
    assert (tmp_path / 'results.md').read_text() == text


def test_coco_metric_shown_in_percent():
    table = {'A': {0: 10, 1: 20}, 'B': {0: 30, 1: 20}}
    results = build_results([(m, _info(m)) for m in 'AB'], [0, 1], 'A',
                            'coco/bbox_mAP', _records(table, scale=100.0))
    assert results['methods'][1]['summary']['mean'] == 0.25  # as returned
    lines = markdown(results).splitlines()
    assert any('coco/bbox_mAP (x100) mean ± std' in ln for ln in lines)
    # B - A: +20, 0 -> 1 win, 1 tie, mean +10, t_{0.975,1} 12.7062 * 10
    assert '| B | 25.00 ± 7.07 (n=2) | +10.00 | 1/2 (1 tie), +10.00 ' \
        '[-117.06, +137.06] | 30.00, 20.00 |' in lines


def test_timing_line():
    timing = dict(trainings_started=3, evaluations_started=4, reused=1,
                  wall_s=200.4, overhead_s=3.21, overhead_fraction=0.016,
                  tool_max_rss_mb=396.6, child_max_rss_mb=812.2)
    results = build_results([('A', _info('A'))], [0], 'A', 'accuracy/top1',
                            {('A', 0): dict(status='done', score=1.0)},
                            timing=timing)
    assert markdown(results).splitlines()[-1] == (
        'Runs: 3 trainings and 4 evaluations started in this invocation, 1 '
        'finished runs reused. Wall time 200 s; the tool\'s own overhead '
        '(outside training and evaluation) 3.2 s (1.6 %), 397 MB of memory '
        '(the largest run: 812 MB).')


def test_pairs_table_by_hand():
    """B vs C over the seeds both finished (0, 1, 2, 4): differences 2, 3,
    1, 4: mean 2.5, sd sqrt(5/3) = 1.29099, t(0.975, 3) = 3.18245, half
    width 3.18245 * 1.29099 / 2 = 2.05426."""
    methods = [(m, _info(m)) for m in 'ABC']
    results = build_results(methods, list(range(5)), 'A', 'accuracy/top1',
                            _records(TABLE), pairs=[('B', 'C'), ('C', 'B')])
    lines = markdown(results).splitlines()
    header = ('| method vs reference | wins / n, mean Δ [95 % CI] | Δ per '
              'seed (0, 1, 2, 3, 4) |')
    assert header in lines
    at = lines.index(header)
    assert lines[at + 2] == ('| B vs C | 4/4, +2.50 [+0.45, +4.55] | +2.00, '
                             '+3.00, +1.00, —, +4.00 |')
    assert lines[at + 3] == ('| C vs B | 0/4, -2.50 [-4.55, -0.45] | -2.00, '
                             '-3.00, -1.00, —, -4.00 |')
    # the table comes after the methods' table, before the failed runs
    assert at > lines.index('| A (baseline) | 12.00 ± 1.58 (n=5) | — | — | '
                            '10.00, 12.00, 11.00, 13.00, 14.00 |')
    assert at < next(i for i, ln in enumerate(lines)
                     if ln.startswith('- C seed 3'))
    saved = results['pairs'][0]
    assert (saved['method'], saved['reference']) == ('B', 'C')
    assert saved['paired']['seeds'] == (0, 1, 2, 4)
    assert abs(saved['paired']['ci_low'] - (2.5 - 2.05426)) < 1e-4


def test_no_pairs_no_table_and_unknown_pair_rejected():
    methods = [(m, _info(m)) for m in 'AB']
    table = {'A': {0: 1.0}, 'B': {0: 2.0}}
    results = build_results(methods, [0], 'A', 'accuracy/top1',
                            _records(table))
    assert results['pairs'] == []
    assert not any('method vs reference' in ln
                   for ln in markdown(results).splitlines())
    with pytest.raises(ValueError, match="'D' is not one of the methods"):
        build_results(methods, [0], 'A', 'accuracy/top1', _records(table),
                      pairs=[('B', 'D')])
