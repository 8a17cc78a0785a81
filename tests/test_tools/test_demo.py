"""tools/demo.py: the orchestration (with the tools stubbed: arguments,
teacher reuse, the results table) and a real --quick smoke run on tiny
Fashion-MNIST files."""
import importlib.util
import json
import os
import os.path as osp
import shutil

import pytest

from tests.tiny_data import write_tiny_fashion_mnist

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(autouse=True)
def _restore_default_scope():
    """The Runners built by the demo set mmengine's global default
    scope; restore it so later tests building by bare names are unaffected."""
    from mmengine.registry import DefaultScope
    saved = DefaultScope._instance_dict.copy()
    yield
    DefaultScope._instance_dict.clear()
    DefaultScope._instance_dict.update(saved)


def _load_demo():
    path = osp.join(REPO, 'tools', 'demo.py')
    spec = importlib.util.spec_from_file_location('demo_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# top-1 per (config, seed) that the stubbed tools/compare.py reports
FAKE_TOP1 = {
    'resnet8thin_fmnist-2k.py': [80.0, 82.0],
    'kd_resnet8-resnet8thin_fmnist-2k.py': [83.0, 83.0],
    'kd++_resnet8-resnet8thin_fmnist-2k.py': [84.0, 86.0],
    'dkd++_resnet8-resnet8thin_fmnist-2k.py': [79.0, 81.0],
}
FAKE_TEACHER = 90.0


class FakeTools:
    """Stands in for ``demo.run_tool``: records the calls and writes what
    the real tools would: the teacher's checkpoint (train.py), compare's
    run dirs and results.json (compare.py, through the real argument
    parser and report code, scores from FAKE_TOP1), the feature
    statistics."""

    def __init__(self, demo, scale=1.0):
        self.demo, self.calls, self.scale = demo, [], scale

    def __call__(self, relpath, argv):
        self.calls.append((relpath, list(argv)))
        if relpath == 'train.py':
            work_dir = argv[2]
            os.makedirs(work_dir, exist_ok=True)
            ckpt = osp.join(work_dir, 'iter_1.pth')
            open(ckpt, 'w').close()
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(ckpt)
        elif relpath == 'compare.py':
            return self.compare(argv)
        elif relpath.startswith('dataset_converters'):
            os.makedirs(argv[argv.index('--out') + 1], exist_ok=True)
        else:
            out_dir = argv[argv.index('--out-dir') + 1]
            return dict(
                student=dict(norm_mean=1.0, norm_median=1.0, cos_mean=0.5),
                teacher=dict(norm_mean=2.0, cos_mean=0.9),
                plots=dict(norm=osp.join(out_dir, 'embedding_norms.png'),
                           cos=osp.join(out_dir, 'center_cosine.png')))

    def compare(self, argv):
        from nd_mmdet.compare.configs import ConfigInfo
        from nd_mmdet.compare.report import (build_results, markdown,
                                             write_results)
        args = self.demo._tool('compare.py').parse_args(argv)

        def info(path):
            return ConfigInfo(path=path, digest='0' * 64,
                              metric=args.metric, distiller=False,
                              save_best=False, teacher_ckpt=None)

        methods = [(name, info(path))
                   for name, path in zip(args.method_names, args.configs)]
        records = {}
        for name, config in methods:
            for seed in args.seeds:
                run_dir = osp.join(args.work_dir, name, f'seed_{seed}')
                os.makedirs(run_dir)
                ckpt = osp.join(run_dir, 'iter_1.pth')
                open(ckpt, 'w').close()
                with open(osp.join(run_dir, 'last_checkpoint'), 'w') as f:
                    f.write(ckpt)
                top1 = FAKE_TOP1.get(osp.basename(config.path), [90.0])[seed]
                records[(name, seed)] = dict(status='done',
                                             score=top1 / self.scale)
        teacher = (info(args.teacher[0]), args.teacher[1],
                   dict(status='done', score=FAKE_TEACHER / self.scale))
        results = build_results(
            methods, args.seeds, args.baseline, args.metric, records,
            teacher, plots=dict(scores=osp.join(args.work_dir, 'scores.png')))
        write_results(args.work_dir, results, markdown(results))
        return 0

    def of(self, relpath):
        return [argv for tool, argv in self.calls if tool == relpath]


def method_options(argv):
    """compare's ``--method-options``: ``{name: [options]}``."""
    found, i = {}, 0
    while i < len(argv):
        if argv[i] == '--method-options':
            j = i + 1
            while j < len(argv) and not argv[j].startswith('--'):
                j += 1
            found.setdefault(argv[i + 1], []).extend(argv[i + 2:j])
            i = j
        else:
            i += 1
    return found


def test_orchestration_table_and_teacher_reuse(tmp_path, monkeypatch):
    demo = _load_demo()
    fake = FakeTools(demo)
    monkeypatch.setattr(demo, 'run_tool', fake)
    work_dir = str(tmp_path / 'demo')
    result = demo.main(['--work-dir', work_dir, '--seeds', '2', '--jobs',
                        '2'])

    task = demo.TASKS['cls']
    (teacher_train, ) = fake.of('train.py')
    assert osp.basename(teacher_train[0]) == task['teacher_config']
    teacher_ckpt = osp.join(work_dir, 'teacher', 'iter_1.pth')
    (argv, ) = fake.of('compare.py')
    configs = [config for _, _, config, _ in task['methods']]
    assert [osp.basename(a) for a in argv[:4]] == configs
    names = argv[argv.index('--names') + 1:argv.index('--names') + 5]
    assert names == ['student', 'kd', 'kd++', 'dkd++']
    assert argv[argv.index('--seeds') + 1:argv.index('--seeds') + 3] == \
        ['0', '1']
    assert argv[argv.index('--jobs') + 1] == '2'
    assert argv[argv.index('--work-dir') + 1] == osp.join(work_dir, 'runs')
    assert argv[argv.index('--teacher') + 2] == teacher_ckpt
    # the teacher checkpoint goes to the distillers only
    assert method_options(argv) == {
        slug: [f'model.teacher_ckpt={teacher_ckpt}']
        for slug in ('kd', 'kd++', 'dkd++')}
    stats_calls = fake.of('analysis/feature_stats.py')
    assert [osp.basename(a[0]) for a in stats_calls] == [
        'resnet8thin_fmnist-2k.py', 'kd++_resnet8-resnet8thin_fmnist-2k.py'
    ]
    assert stats_calls[1][1] == osp.join(work_dir, 'runs', 'kd++', 'seed_0',
                                         'iter_1.pth')
    assert all('--teacher-ckpt' in a for a in stats_calls)

    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'quick smoke run' not in report.splitlines()[0]
    assert 'seeds 0..1, paired' in report
    assert ('| teacher (ResNet-8, all 60k images, 1 run) | 90.00 | +9.00 | '
            '| 90.00 |') in report
    assert '| student alone (baseline) | 81.00 ± 1.41 (n=2) | — | — | ' \
        '80.00, 82.00 |' in report
    # paired differences 3, 1: mean 2, t(0.975, 1 df) = 12.706, se 1
    assert '| KD | 83.00 ± 0.00 (n=2) | +2.00 | 2/2, +2.00 [-10.71, ' \
        '+14.71] | 83.00, 83.00 |' in report
    assert '| KD++ | 85.00 ± 1.41 (n=2) | +4.00 | 2/2, +4.00' in report
    assert '| DKD++ | 80.00 ± 1.41 (n=2) | -1.00 | 0/2, -1.00' in report
    assert '[scores](runs/scores.png)' in report
    assert 'feature_stats/kd++/embedding_norms.png' in report
    assert result['scores']['kd++'] == [84.0, 86.0]
    with open(osp.join(work_dir, 'results.json')) as f:
        assert json.load(f)['teacher']['score'] == 90.0

    # second run: the teacher is reused (not trained); compare is handed
    # the same runs (it skips what is finished)
    fake.calls.clear()
    shutil.rmtree(osp.join(work_dir, 'runs'))
    demo.main(['--work-dir', work_dir, '--seeds', '1'])
    assert fake.of('train.py') == []
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'teacher reused' in report
    assert '| student alone (baseline) | 80.00 (1 seed) |' in report

    # other teacher settings (here another data root): trained again
    fake.calls.clear()
    shutil.rmtree(osp.join(work_dir, 'runs'))
    demo.main(['--work-dir', work_dir, '--seeds', '1', '--data-root',
               str(tmp_path)])
    (teacher_train, ) = fake.of('train.py')
    assert f'train_dataloader.dataset.data_root={tmp_path}' in \
        teacher_train[4:]
    (argv, ) = fake.of('compare.py')
    shared = argv[argv.index('--cfg-options') + 1:]
    assert f'train_dataloader.dataset.data_root={tmp_path}' in shared


def test_a_failed_run_fails_the_demo(tmp_path, monkeypatch, capsys):
    demo = _load_demo()
    fake = FakeTools(demo)
    fake.compare = lambda argv: 1
    monkeypatch.setattr(demo, 'run_tool', fake)
    with pytest.raises(SystemExit) as exit_info:
        demo.main(['--work-dir', str(tmp_path / 'demo'), '--seeds', '1'])
    assert exit_info.value.code == 1
    assert 'tools/compare.py exited 1' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'demo' / 'results.md')


def test_dense_orchestration_and_scenes(tmp_path, monkeypatch):
    """--task dense: scenes written once (then reused), the four dense
    methods, box AP reported in % (CocoMetric logs a fraction), no
    feature statistics."""
    demo = _load_demo()
    task = demo.TASKS['dense']
    configs = [config for _, _, config, _ in task['methods']]
    for config, values in zip(configs, ([17.0, 19.0], [18.0, 18.0],
                                        [26.0, 27.0], [28.0, 30.0])):
        FAKE_TOP1[config] = values
    fake = FakeTools(demo, scale=100.0)
    monkeypatch.setattr(demo, 'run_tool', fake)
    work_dir, scenes = str(tmp_path / 'dense'), str(tmp_path / 'scenes')
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '2',
               '--scenes-dir', scenes])
    converter = fake.of('dataset_converters/fashion_mnist_to_coco.py')
    assert converter == [['--out', scenes, '--num-train', '12000',
                          '--num-val', '1000']]
    (teacher_train, ) = fake.of('train.py')
    assert osp.basename(teacher_train[0]) == task['teacher_config']
    (argv, ) = fake.of('compare.py')
    assert [osp.basename(a) for a in argv[:4]] == configs
    assert argv[argv.index('--metric') + 1] == 'coco/bbox_mAP'
    ann = osp.join(scenes, 'annotations', 'instances_val.json')
    assert f'test_evaluator.ann_file={ann}' in teacher_train[4:]
    assert f'test_evaluator.ann_file={ann}' in argv
    assert not fake.of('analysis/feature_stats.py')
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert '| method | coco/bbox_mAP (x100) mean ± std |' in report
    assert '| student alone (baseline) | 18.00 ± 1.41 (n=2) |' in report
    assert '| ND alone | 26.50 ± 0.71 (n=2) | +8.50 | 2/2, +8.50' in report
    assert '| KD++ (KD + ND) | 29.00 ± 1.41 (n=2) | +11.00 |' in report
    # the scenes are reused when written with the same settings
    fake.calls.clear()
    shutil.rmtree(osp.join(work_dir, 'runs'))
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '1',
               '--scenes-dir', scenes])
    assert not fake.of('dataset_converters/fashion_mnist_to_coco.py')
    # ... and written again from other Fashion-MNIST files
    fake.calls.clear()
    shutil.rmtree(osp.join(work_dir, 'runs'))
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '1',
               '--scenes-dir', scenes, '--data-root', str(tmp_path)])
    converter = fake.of('dataset_converters/fashion_mnist_to_coco.py')
    assert converter == [['--out', scenes, '--num-train', '12000',
                          '--num-val', '1000', '--data-root', str(tmp_path)]]


PAIRS = {
    'dense': [['kd++', 'kd']],
    'dense-fcos': [['kd++', 'kd']],
    'dense-gfl': [['kd++', 'kd']],
    'neck': [['pkd++', 'pkd']],
    'neck-rtmdet': [['pkd++', 'pkd']],
    'neck-fcos-retinanet': [['pkd++', 'pkd']],
    'two-stage': [['kd++', 'kd'], ['dkd++', 'dkd'],
                  ['reviewkd++', 'reviewkd']],
}


@pytest.mark.parametrize('name', sorted(PAIRS))
def test_every_task_hands_compare_configs_it_can_load(name, tmp_path):
    """The tasks without a real smoke run below: tools/compare.py parses
    the command line the demo builds and loads every config with its
    options (a typo in a task's config names or options fails here), the
    teacher checkpoint reaching exactly the distillers."""
    demo = _load_demo()
    task = demo.TASKS[name]
    args = demo.parse_args(['--task', name, '--seeds', '5'])
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    open(teacher_ckpt, 'w').close()
    scenes = str(tmp_path / 'scenes')
    shared = [f'train_dataloader.dataset.data_root={scenes}',
              f'test_dataloader.dataset.data_root={scenes}']
    argv = demo.compare_argv(task, args, str(tmp_path / 'runs'),
                             teacher_ckpt, shared, [])
    compare = demo._tool('compare.py')
    parsed = compare.parse_args(argv)
    assert parsed.seeds == [0, 1, 2, 3, 4]
    # what ND adds, paired: each X++ against its X where the task runs both
    assert parsed.pair == PAIRS[name]
    methods, teacher, metric = compare.inspect_configs(parsed)
    assert metric == 'coco/bbox_mAP'
    assert [n for n, _ in methods] == [s for _, s, _, _ in task['methods']]
    for (label, slug, _, is_distiller), (_, info) in zip(task['methods'],
                                                           methods):
        assert info.distiller == is_distiller, label
        assert info.teacher_ckpt == (teacher_ckpt if is_distiller else None)
    assert teacher[1] == teacher_ckpt


def test_methods_keep_a_subset_in_the_task_order(capsys):
    demo = _load_demo()
    args = demo.parse_args(['--task', 'two-stage', '--methods', 'dkd++',
                            'student', 'dkd'])
    task = demo.select_methods(demo.TASKS['two-stage'], args.methods)
    assert [slug for _, slug, _, _ in task['methods']] == \
        ['student', 'dkd', 'dkd++']
    assert demo.nd_pairs(task) == [('dkd++', 'dkd')]
    cls = demo.select_methods(demo.TASKS['cls'], ['kd', 'kd++'])
    assert cls['stats_runs'] == ('kd++', )
    assert demo.select_methods(demo.TASKS['cls'], None) is demo.TASKS['cls']
    for argv in (['--methods', 'kd', 'fitnet'], ['--methods', 'kd', 'kd'],
                 ['--task', 'neck', '--methods', 'kd']):
        with pytest.raises(SystemExit):
            demo.parse_args(argv)
        assert 'distinct methods of --task' in capsys.readouterr().err


@pytest.fixture
def tiny_fmnist(tmp_path):
    """120 train / 40 test 28x28 images, class k brighter than class k-1."""
    return write_tiny_fashion_mnist(str(tmp_path / 'fmnist'))


def test_quick_smoke_run(tmp_path, tiny_fmnist, monkeypatch):
    demo = _load_demo()
    # mmengine formats every config it logs / dumps / stores in a checkpoint
    # with yapf (half of this run's time); the text is not checked here
    monkeypatch.setattr('yapf.yapflib.yapf_api.FormatCode',
                        lambda text, **kwargs: (text, False))
    # shrink the smoke run further: a 40-image test split
    monkeypatch.setitem(demo.TASKS['cls']['quick'], 'test', [
        'test_dataloader.dataset.subset_size=40',
        'test_dataloader.batch_size=40'
    ])
    work_dir = str(tmp_path / 'demo')
    # three of the four methods (--methods; DKD++ trains in the config
    # tests): the pair KD++ vs KD and both feature-statistics runs kept
    result = demo.main([
        '--quick', '--seeds', '1', '--jobs', '2', '--work-dir', work_dir,
        '--data-root', tiny_fmnist, '--methods', 'student', 'kd', 'kd++'
    ])
    assert set(result['scores']) == {'student', 'kd', 'kd++'}
    for values in result['scores'].values():
        assert len(values) == 1 and 0.0 <= values[0] <= 100.0
    for slug in ('student', 'kd++'):
        for name in ('embedding_norms.png', 'center_cosine.png'):
            assert osp.isfile(osp.join(work_dir, 'feature_stats', slug, name))
        stats = result['stats'][slug]
        assert stats['centres'] == 'teacher' and stats['num_samples'] == 40
    # the distillers trained with the teacher's class centres
    assert osp.isfile(osp.join(work_dir, 'runs', 'kd++', 'seed_0',
                               'class_centers.pth'))
    # every run through tools/compare.py: its results, paired, with plots
    with open(osp.join(work_dir, 'runs', 'results.json')) as f:
        comparison = json.load(f)
    assert comparison['timing']['trainings_started'] == 3
    assert [m['name'] for m in comparison['methods']] == \
        ['student', 'kd', 'kd++']
    assert [(p['method'], p['reference']) for p in comparison['pairs']] == \
        [('kd++', 'kd')]
    assert osp.isfile(osp.join(work_dir, 'runs', 'scores.png'))
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'QUICK SMOKE RUN' in report and '| KD++ |' in report
    assert '| KD++ vs KD | ' in report
    # the title itself says so (printed and written alike)
    assert report.splitlines()[0] == '# Distillation demo: ' + \
        demo.TASKS['cls']['title'] + \
        ' (quick smoke run, numbers meaningless)'


@pytest.mark.parametrize('task', ['two-stage'])
def test_dense_quick_smoke_run(tmp_path, tiny_fmnist, monkeypatch, task):
    """The real detection pipeline end to end on tiny data: scenes from
    the idx files, teacher, the students (class centres for ND), COCO
    evaluation; the two-stage Faster R-CNN task (every child a process:
    about a minute per task, so the other tasks' configs are loaded by
    test_every_task_hands_compare_configs_it_can_load and trained by their
    config tests)."""
    demo = _load_demo()
    monkeypatch.setattr('yapf.yapflib.yapf_api.FormatCode',
                        lambda text, **kwargs: (text, False))
    work_dir = str(tmp_path / 'dense')
    # KD, KD++: the other distillers train two iterations in-process in
    # tests/test_configs/test_two_stage_demo_configs.py
    slugs = ['student', 'kd', 'kd++']
    result = demo.main(['--task', task, '--quick', '--seeds', '1',
                        '--jobs', '2', '--work-dir', work_dir,
                        '--data-root', tiny_fmnist, '--methods', *slugs])
    assert set(result['scores']) == set(slugs)
    for values in result['scores'].values():
        assert len(values) == 1 and 0.0 <= values[0] <= 100.0
    assert osp.isfile(osp.join(work_dir, 'scenes', 'annotations',
                               'instances_train.json'))
    for slug in slugs:
        if slug.endswith('++') or slug == 'nd':
            assert osp.isfile(osp.join(work_dir, 'runs', slug, 'seed_0',
                                       'class_centers.pth'))
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'QUICK SMOKE RUN' in report and '| KD++ (KD + ND) |' in report
    # the pairs' rows carry the demo's labels too
    assert '| KD++ (KD + ND) vs KD | ' in report
    assert 'DKD' not in report.split('| method |')[1]
