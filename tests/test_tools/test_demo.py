"""tools/demo.py: the orchestration (with the tools stubbed: arguments,
teacher reuse, the results table) and a real --quick smoke run on tiny
Fashion-MNIST files."""
import glob
import importlib.util
import json
import os
import os.path as osp
import re

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


# top-1 per (config, seed) returned by the stubbed tools/test.py
FAKE_TOP1 = {
    'resnet8thin_fmnist-2k.py': [80.0, 82.0],
    'kd_resnet8-resnet8thin_fmnist-2k.py': [83.0, 83.0],
    'kd++_resnet8-resnet8thin_fmnist-2k.py': [84.0, 86.0],
    'dkd++_resnet8-resnet8thin_fmnist-2k.py': [79.0, 81.0],
}


class FakeTools:
    """Stands in for ``demo.run_tool``: records the calls and writes what
    the real tools would (checkpoint, last_checkpoint, metrics json)."""

    def __init__(self, metric='accuracy/top1', scale=1.0):
        self.calls = []
        self.metric, self.scale = metric, scale

    def __call__(self, relpath, argv):
        self.calls.append((relpath, list(argv)))
        if relpath == 'train.py':
            config, work_dir = osp.basename(argv[0]), argv[2]
            opts = dict(o.split('=', 1) for o in argv[4:])
            os.makedirs(work_dir, exist_ok=True)
            ckpt = osp.join(work_dir, 'iter_1.pth')
            open(ckpt, 'w').close()
            with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
                f.write(ckpt)
            seed = int(opts.get('randomness.seed', 0))
            top1 = FAKE_TOP1.get(config, [90.0])[seed]
            with open(osp.join(work_dir, 'fake_top1'), 'w') as f:
                f.write(str(top1))
        elif relpath == 'test.py':
            ckpt, eval_dir = argv[1], argv[3]
            with open(osp.join(osp.dirname(ckpt), 'fake_top1')) as f:
                top1 = float(f.read())
            os.makedirs(osp.join(eval_dir, 'ts'))
            with open(osp.join(eval_dir, 'ts', 'ts.json'), 'w') as f:
                json.dump({self.metric: top1 / self.scale, 'time': 0.1}, f)
        elif relpath.startswith('dataset_converters'):
            os.makedirs(argv[argv.index('--out') + 1], exist_ok=True)
        else:
            out_dir = argv[argv.index('--out-dir') + 1]
            return dict(
                student=dict(norm_mean=1.0, norm_median=1.0, cos_mean=0.5),
                teacher=dict(norm_mean=2.0, cos_mean=0.9),
                plots=dict(norm=osp.join(out_dir, 'embedding_norms.png'),
                           cos=osp.join(out_dir, 'center_cosine.png')))

    def trains(self):
        return [argv for relpath, argv in self.calls if relpath == 'train.py']


def test_orchestration_table_and_teacher_reuse(tmp_path, monkeypatch):
    demo = _load_demo()
    fake = FakeTools()
    monkeypatch.setattr(demo, 'run_tool', fake)
    work_dir = str(tmp_path / 'demo')
    result = demo.main(['--work-dir', work_dir, '--seeds', '2'])

    trains = fake.trains()
    assert len(trains) == 1 + 4 * 2
    teacher_config = demo.TASKS['cls']['teacher_config']
    assert osp.basename(trains[0][0]) == teacher_config
    teacher_ckpt = osp.join(work_dir, 'teacher', 'iter_1.pth')
    for argv in trains[1:]:
        opts = argv[4:]
        assert any(re.fullmatch(r'randomness\.seed=[01]', o) for o in opts)
        is_student = osp.basename(argv[0]) == 'resnet8thin_fmnist-2k.py'
        assert (f'model.teacher_ckpt={teacher_ckpt}' in opts) != is_student
    stats_calls = [a for r, a in fake.calls if r.startswith('analysis')]
    assert [osp.basename(a[0]) for a in stats_calls] == [
        'resnet8thin_fmnist-2k.py', 'kd++_resnet8-resnet8thin_fmnist-2k.py'
    ]
    assert all('--teacher-ckpt' in a for a in stats_calls)

    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'quick smoke run' not in report.splitlines()[0]
    assert '| teacher (ResNet-8, all 60k images, 1 run) | 90.00 |' in report
    assert '| student alone | 81.00 ± 1.41 | — | 80.00, 82.00 |' in report
    assert '| KD | 83.00 ± 0.00 | +2.00 | 83.00, 83.00 |' in report
    assert '| KD++ | 85.00 ± 1.41 | +4.00 | 84.00, 86.00 |' in report
    assert '| DKD++ | 80.00 ± 1.41 | -1.00 | 79.00, 81.00 |' in report
    assert 'feature_stats/kd++/embedding_norms.png' in report
    assert result['scores']['kd++'] == [84.0, 86.0]
    with open(osp.join(work_dir, 'results.json')) as f:
        assert json.load(f)['teacher']['score'] == 90.0

    # second run: the teacher is reused (neither trained nor evaluated)
    fake.calls.clear()
    demo.main(['--work-dir', work_dir, '--seeds', '1'])
    assert teacher_config not in [osp.basename(a[0]) for a in fake.trains()]
    assert len(fake.trains()) == 4
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'teacher reused' in report
    assert '| student alone | 80.00 (1 seed) | — | 80.00 |' in report

    # other teacher settings (here another data root): trained again
    fake.calls.clear()
    demo.main(['--work-dir', work_dir, '--seeds', '1', '--data-root',
               str(tmp_path)])
    assert osp.basename(fake.trains()[0][0]) == teacher_config
    assert f'train_dataloader.dataset.data_root={tmp_path}' in \
        fake.trains()[0][4:]


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
    fake = FakeTools(metric='coco/bbox_mAP', scale=100.0)
    monkeypatch.setattr(demo, 'run_tool', fake)
    work_dir, scenes = str(tmp_path / 'dense'), str(tmp_path / 'scenes')
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '2',
               '--scenes-dir', scenes])
    converter = [a for r, a in fake.calls if r.startswith('dataset_conv')]
    assert converter == [['--out', scenes, '--num-train', '12000',
                          '--num-val', '1000']]
    trains = fake.trains()
    assert osp.basename(trains[0][0]) == task['teacher_config']
    assert [osp.basename(a[0]) for a in trains[1:5]] == configs
    ann = osp.join(scenes, 'annotations', 'instances_val.json')
    assert f'test_evaluator.ann_file={ann}' in trains[0][4:]
    assert not [r for r, _ in fake.calls if r.startswith('analysis')]
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert '| method | box AP (%) mean ± std |' in report
    assert '| student alone | 18.00 ± 1.41 | — | 17.00, 19.00 |' in report
    assert '| ND alone | 26.50 ± 0.71 | +8.50 | 26.00, 27.00 |' in report
    assert '| KD++ (KD + ND) | 29.00 ± 1.41 | +11.00 |' in report
    # the scenes are reused when written with the same settings
    fake.calls.clear()
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '1',
               '--scenes-dir', scenes])
    assert not [r for r, _ in fake.calls if r.startswith('dataset_conv')]
    # ... and written again from other Fashion-MNIST files
    fake.calls.clear()
    demo.main(['--task', 'dense', '--work-dir', work_dir, '--seeds', '1',
               '--scenes-dir', scenes, '--data-root', str(tmp_path)])
    converter = [a for r, a in fake.calls if r.startswith('dataset_conv')]
    assert converter == [['--out', scenes, '--num-train', '12000',
                          '--num-val', '1000', '--data-root', str(tmp_path)]]


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
    result = demo.main([
        '--quick', '--seeds', '1', '--work-dir', work_dir, '--data-root',
        tiny_fmnist
    ])
    assert set(result['scores']) == {'student', 'kd', 'kd++', 'dkd++'}
    for values in result['scores'].values():
        assert len(values) == 1 and 0.0 <= values[0] <= 100.0
    for slug in ('student', 'kd++'):
        for name in ('embedding_norms.png', 'center_cosine.png'):
            assert osp.isfile(osp.join(work_dir, 'feature_stats', slug, name))
        stats = result['stats'][slug]
        assert stats['centres'] == 'teacher' and stats['num_samples'] == 40
    # the distillers trained with the teacher's class centres
    assert osp.isfile(osp.join(work_dir, 'kd++', 'seed0', 'class_centers.pth'))
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'QUICK SMOKE RUN' in report and '| KD++ |' in report
    # the title itself says so (printed and written alike)
    assert report.splitlines()[0] == '# Distillation demo: ' + \
        demo.TASKS['cls']['title'] + \
        ' (quick smoke run, numbers meaningless)'


@pytest.mark.parametrize('task', ['dense', 'dense-fcos', 'dense-gfl'])
def test_dense_quick_smoke_run(tmp_path, tiny_fmnist, monkeypatch, task):
    """The real dense pipeline end to end on tiny data: scenes from the
    idx files, teacher, four students (class centres for ND), COCO
    evaluation; RetinaNet, FCOS and GFL."""
    demo = _load_demo()
    monkeypatch.setattr('yapf.yapflib.yapf_api.FormatCode',
                        lambda text, **kwargs: (text, False))
    work_dir = str(tmp_path / 'dense')
    result = demo.main(['--task', task, '--quick', '--seeds', '1',
                        '--work-dir', work_dir, '--data-root', tiny_fmnist])
    assert set(result['scores']) == {'student', 'kd', 'nd', 'kd++'}
    for values in result['scores'].values():
        assert len(values) == 1 and 0.0 <= values[0] <= 100.0
    assert osp.isfile(osp.join(work_dir, 'scenes', 'annotations',
                               'instances_train.json'))
    for slug in ('nd', 'kd++'):
        assert osp.isfile(osp.join(work_dir, slug, 'seed0',
                                   'class_centers.pth'))
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'QUICK SMOKE RUN' in report and '| KD++ (KD + ND) |' in report


@pytest.mark.parametrize('task', ['neck-rtmdet', 'neck-fcos-retinanet'])
def test_neck_quick_smoke_run(tmp_path, tiny_fmnist, monkeypatch, task):
    """The neck demos end to end on tiny data: teacher (RTMDet; FCOS for
    the heterogeneous pair), the student alone, PKD at the neck, PKD + ND
    at the ground-truth boxes (class centres by the pre-pass) and, for
    RTMDet, the head-level KD++; COCO evaluation; the PKD runs log their
    losses and save the connectors."""
    import torch
    demo = _load_demo()
    monkeypatch.setattr('yapf.yapflib.yapf_api.FormatCode',
                        lambda text, **kwargs: (text, False))
    work_dir = str(tmp_path / task)
    result = demo.main(['--task', task, '--quick', '--seeds', '1',
                        '--work-dir', work_dir, '--data-root', tiny_fmnist])
    head_level = {'kd++'} if task == 'neck-rtmdet' else set()
    assert set(result['scores']) == {'student', 'pkd', 'pkd++'} | head_level
    for values in result['scores'].values():
        assert len(values) == 1 and 0.0 <= values[0] <= 100.0
    for slug, connectors, losses in (
            ('pkd', ['student_feats'], ['loss_pkd']),
            ('pkd++', ['student_feats', 'student_embed'],
             ['loss_pkd', 'loss_nd'])):
        run = osp.join(work_dir, slug, 'seed0')
        ckpt = glob.glob(osp.join(run, 'iter_*.pth'))
        state = torch.load(ckpt[0], weights_only=False)['state_dict']
        for name in connectors:
            assert any(k.startswith(f'connectors.{name}.') for k in state)
        with open(glob.glob(osp.join(run, '*', '*.log'))[0]) as f:
            log = f.read()
        assert all(f'{loss}:' in log for loss in losses)
    centres = torch.load(osp.join(work_dir, 'pkd++', 'seed0',
                                  'class_centers.pth'), weights_only=True)
    assert centres['centers'].shape == (10, 64)
    # box-embedding statistics of the student alone and PKD++ (projected to
    # the teacher's width: the teacher's centres)
    stats = result['stats']
    assert set(stats) == {'student', 'pkd++'}
    assert stats['pkd++']['centres'] == 'teacher'
    assert stats['student']['student']['dim'] == 32
    for slug in stats:
        assert osp.isfile(stats[slug]['plots']['norm'])
    with open(osp.join(work_dir, 'results.md')) as f:
        report = f.read()
    assert 'QUICK SMOKE RUN' in report and '| PKD + ND at GT boxes |' in \
        report
