"""tools/compare.py end to end on two tiny Fashion-MNIST classifiers (6
iterations of batch 16, a checkpoint each): two configs x two seeds with
--jobs 2, Ctrl-C once a run is done and another is mid-training, then a
rerun that adds a config that cannot train and a teacher row: only the
missing trainings run again, the interrupted one from its checkpoint.

"Mid-training" is made certain, not raced: the second config's runs wait
after their third checkpoint while a hold file exists (``HoldHook``,
imported by the children through ``custom_imports``). Without it a run
could finish its last iteration between the check and the Ctrl-C, leaving
nothing to resume (seen once in CI under load)."""
import glob
import json
import os
import os.path as osp
import signal
import statistics
import subprocess
import sys
import time

from tests.test_compare.test_launcher import default_sigint
from tests.tiny_data import write_tiny_fashion_mnist
from tests.tools_runner import REPO, last_metrics

CONFIG = '''_base_ = ['{repo}/configs/demo/resnet8thin_fmnist-2k.py']
data_root = '{data}'
train_dataloader = dict(batch_size=16,
                        dataset=dict(data_root=data_root, subset_size=50))
test_dataloader = dict(batch_size=40, dataset=dict(data_root=data_root))
train_cfg = dict(max_iters=6)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=1),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=1, end=6,
         eta_min=1e-4)]
default_hooks = dict(logger=dict(interval=1),
                     checkpoint=dict(interval=1, max_keep_ckpts=1))
'''

HOLD_HOOK = '''import os
import time

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class HoldHook(Hook):
    """Wait after iteration ``at`` (its checkpoint saved) while ``path``
    exists, at most ``limit_s`` seconds."""
    priority = 'LOWEST'  # after CheckpointHook

    def __init__(self, path, at=3, limit_s=120):
        self.path, self.at, self.limit_s = path, at, limit_s

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        deadline = time.time() + self.limit_s
        while (runner.iter + 1 == self.at and os.path.exists(self.path)
               and time.time() < deadline):
            time.sleep(0.05)
'''


def _records(work_dir):
    found = {}
    for path in glob.glob(osp.join(work_dir, '*', 'seed_*',
                                   'compare_run.json')):
        with open(path) as f:
            record = json.load(f)
        found[(record['method'], record['seed'])] = record
    return found


def _ready_to_interrupt(work_dir):
    records = _records(work_dir)
    return any(r['status'] == 'done' for r in records.values()) and any(
        r['status'] == 'running' and glob.glob(osp.join(
            work_dir, m, f'seed_{s}', 'iter_*.pth'))
        for (m, s), r in records.items())


def _tool(args, cwd, log):
    return subprocess.Popen(
        [sys.executable, osp.join(REPO, 'tools', 'compare.py'), *args],
        cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1',
                 PYTHONPATH=os.pathsep.join(
                     [str(cwd), os.environ.get('PYTHONPATH', '')])),
        preexec_fn=default_sigint)


def test_compare_interrupt_rerun_and_failed_run(tmp_path):
    data = write_tiny_fashion_mnist(str(tmp_path / 'fmnist'))
    (tmp_path / 'a.py').write_text(CONFIG.format(repo=REPO, data=data))
    hold = tmp_path / 'hold'
    hold.write_text('')
    (tmp_path / 'hold_hook.py').write_text(HOLD_HOOK)
    (tmp_path / 'b.py').write_text(
        "_base_ = ['./a.py']\noptim_wrapper = dict(optimizer=dict(lr=0.02))"
        "\ncustom_imports = dict(imports=['hold_hook'])\n"
        f"custom_hooks = [dict(type='HoldHook', path='{hold}')]\n")
    (tmp_path / 'c.py').write_text(
        "_base_ = ['./a.py']\ntrain_dataloader = dict(dataset=dict("
        f"data_root='{tmp_path}/missing'))\n")
    work = str(tmp_path / 'cmp')
    args = ['a.py', 'b.py', '--seeds', '0', '1', '--jobs', '2',
            '--work-dir', work]

    # 1. started; Ctrl-C once a run is done and another one has saved a
    # checkpoint mid-training
    with open(tmp_path / 'first.log', 'w') as log:
        proc = _tool(args, tmp_path, log)
        deadline = time.time() + 300
        while not _ready_to_interrupt(work):
            assert proc.poll() is None and time.time() < deadline, \
                (tmp_path / 'first.log').read_text()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 130
    assert 'interrupted' in (tmp_path / 'first.log').read_text()
    assert not osp.exists(osp.join(work, 'results.md'))
    assert not osp.exists(osp.join(work, 'results.json'))
    before = _records(work)
    done = {k for k, r in before.items() if r['status'] == 'done'}
    assert 1 <= len(done) < 4
    interrupted = {k for k, r in before.items() if r['status'] == 'running'}
    resumable = {k for k in interrupted if glob.glob(osp.join(
        work, k[0], f'seed_{k[1]}', 'iter_*.pth'))}
    assert resumable
    stamps = {k: os.stat(osp.join(work, k[0], f'seed_{k[1]}',
                                  'compare_run.json')).st_mtime_ns
              for k in done}
    teacher_ckpt = before[sorted(done)[0]]['checkpoint']
    hold.unlink()  # the rerun trains through

    # 2. rerun with a config that cannot train and a teacher row
    with open(tmp_path / 'rerun.log', 'w') as log:
        proc = _tool(['a.py', 'b.py', 'c.py', *args[2:], '--teacher',
                      'a.py', teacher_ckpt, '--pair', 'b', 'a', '--pair',
                      'c', 'b'], tmp_path, log)
        assert proc.wait(600) == 1, (tmp_path / 'rerun.log').read_text()
    out = (tmp_path / 'rerun.log').read_text()
    assert 'did not finish: c seed 0, c seed 1' in out
    after = _records(work)
    with open(osp.join(work, 'results.json')) as f:
        results = json.load(f)

    # only the missing runs ran again: the a / b runs not done (those that
    # had finished training only evaluated), and c twice
    trained = {k for k, r in before.items() if r['status'] == 'trained'}
    missing = {(m, s) for m in 'ab' for s in (0, 1)} - done
    timing = results['timing']
    assert timing['trainings_started'] == len(missing - trained) + 2
    assert timing['evaluations_started'] == len(missing) + 1  # + teacher
    assert timing['reused'] == len(done)
    runs = {(r['method'], r['seed']): r for r in results['runs']}
    for key in done:
        assert runs[key]['this_invocation'] == []
        assert after[key]['train_starts'] == 1
        assert os.stat(osp.join(work, key[0], f'seed_{key[1]}',
                                'compare_run.json')).st_mtime_ns == \
            stamps[key]
    for key in missing:
        assert after[key]['status'] == 'done'
        if key in trained:
            assert runs[key]['this_invocation'] == ['test']
            assert after[key]['train_starts'] == 1
        else:
            assert runs[key]['this_invocation'] == ['train', 'test']
            assert after[key]['train_starts'] == \
                before.get(key, {}).get('train_starts', 0) + 1
    for key in resumable:  # continued from the checkpoint it had
        with open(after[key]['train_log']) as f:
            assert 'resumed epoch: 0, iter: ' in f.read()

    # the failed config: a row marked failed, its log named
    for seed in (0, 1):
        record = after[('c', seed)]
        assert record['status'] == 'failed' and record['stage'] == 'training'
        assert 'data_root' in record['error'] and osp.isfile(record['log'])

    # the scores are those tools/test.py logged; the statistics recomputed
    scores = {}
    for (method, seed), record in after.items():
        if method != 'c':
            with open(record['test_log']) as f:
                logged = last_metrics(f.read())
            assert record['score'] == logged
            scores.setdefault(method, {})[seed] = logged
    rows = {m['name']: m for m in results['methods']}
    assert [m['name'] for m in results['methods']] == ['a', 'b', 'c']
    for method in 'ab':
        values = [scores[method][0], scores[method][1]]
        summary = rows[method]['summary']
        assert summary['mean'] == statistics.fmean(values)
        assert abs(summary['std'] - statistics.stdev(values)) < 1e-12
    diffs = [scores['b'][s] - scores['a'][s] for s in (0, 1)]
    paired = rows['b']['paired']
    assert paired['wins'] == sum(d > 0 for d in diffs)
    assert paired['ties'] == sum(d == 0 for d in diffs)
    assert abs(paired['mean_diff'] - statistics.fmean(diffs)) < 1e-12
    assert rows['c']['summary'] is None
    # --pair b a: the same numbers as b's paired column; c has no seed
    pair_ba, pair_cb = results['pairs']
    assert (pair_ba['method'], pair_ba['reference']) == ('b', 'a')
    assert pair_ba['paired'] == paired
    assert pair_cb == dict(method='c', reference='b', paired=None)
    assert results['teacher']['score'] == \
        after[sorted(done)[0]]['score']  # the same checkpoint
    assert set(results['versions']) >= {'torch', 'mmengine', 'mmdet',
                                        'mmpretrain', 'nd_mmdet'}
    assert results['metric'] == 'accuracy/top1'

    with open(osp.join(work, 'results.md')) as f:
        table = f.read()
    a_mean = rows['a']['summary']['mean']
    assert f'| a (baseline) | {a_mean:.2f} ± ' in table
    assert '| c | no finished run | — | — | failed, failed |' in table
    assert '| teacher (1 run) |' in table
    assert 'c seed 1: error: train_dataloader.dataset.data_root' in table
    assert '| c vs b | — | —, — |' in table
    assert table in out  # printed too
    for name in ('scores.png', 'curves.png'):
        with open(osp.join(work, name), 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def _load_tool():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'compare_tool', osp.join(REPO, 'tools', 'compare.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_arguments_stop_before_anything_runs(tmp_path, capsys):
    import pytest
    tool = _load_tool()
    student = osp.join(REPO, 'configs', 'demo', 'resnet8thin_fmnist-2k.py')
    for argv, code, message in (
            ([student, student, '--seeds', '0'], 2,
             'two configs have the same name'),
            ([student, '--seeds', '0', '0'], 2, 'distinct seeds'),
            ([student, '--seeds', '0', '--baseline', 'kd'], 2,
             '--baseline kd: not one of the methods'),
            ([student, '--seeds', '0', '--names', 'a', 'b'], 2,
             '2 names for 1 configs'),
            ([student, '--seeds', '0', '--names', 'teacher'], 2,
             "method name 'teacher'"),
            ([student, '--seeds', '0', '--checkpoint', 'best'], 1,
             'keeps no best checkpoint'),
            ([student, '--seeds', '0', '--teacher', student,
              str(tmp_path / 'none.pth')], 1,
             '--teacher: checkpoint not found'),
            ([student, '--seeds', '0', '--method-options', 'kd', 'a=1'], 2,
             "--method-options kd: not one of the methods ['resnet8thin"),
            ([student, '--seeds', '0', '--method-options',
              'resnet8thin_fmnist-2k'], 2, 'no KEY=VALUE given'),
            ([student, '--seeds', '0', '--pair', 'resnet8thin_fmnist-2k',
              'kd'], 2, "--pair resnet8thin_fmnist-2k kd: 'kd' is not one "
             'of the methods'),
            ([student, '--seeds', '0', '--pair', 'resnet8thin_fmnist-2k',
              'resnet8thin_fmnist-2k'], 2, 'a method against itself')):
        with pytest.raises(SystemExit) as exit_info:
            tool.main(argv + ['--work-dir', str(tmp_path / 'w')])
        assert exit_info.value.code == code, argv
        assert message in capsys.readouterr().err, argv


def test_one_gpu_per_run_when_there_are_enough(monkeypatch, capsys):
    import torch
    tool = _load_tool()
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3,5')
    env, devices = tool.slot_env(2, threads=4)
    assert devices == 2
    assert env(0) == dict(OMP_NUM_THREADS='4', MKL_NUM_THREADS='4',
                          PYTHONUNBUFFERED='1', CUDA_VISIBLE_DEVICES='3')
    assert env(1)['CUDA_VISIBLE_DEVICES'] == '5'
    # more runs than GPUs: they share them (said once)
    env, _ = tool.slot_env(3, threads=1)
    assert 'CUDA_VISIBLE_DEVICES' not in env(2)
    assert '2 GPU(s) for --jobs 3: the runs share them' in \
        capsys.readouterr().out
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    env, devices = tool.slot_env(2, threads=1)
    assert devices == 0 and 'CUDA_VISIBLE_DEVICES' not in env(1)


def test_method_options_make_two_methods_of_one_config(tmp_path):
    """The same config twice under two names, one with its own option:
    two digests (never reused for each other), the option only in its
    method's runs and in results.json."""
    tool = _load_tool()
    student = osp.join(REPO, 'configs', 'demo', 'resnet8thin_fmnist-2k.py')
    args = tool.parse_args([
        student, student, '--names', 'short', 'long', '--seeds', '0',
        '--cfg-options', 'train_cfg.max_iters=5', '--method-options',
        'long', 'train_cfg.max_iters=9', '--method-options', 'long',
        'param_scheduler.1.end=9'])
    assert args.options_of == {
        'short': [],
        'long': ['train_cfg.max_iters=9', 'param_scheduler.1.end=9']}
    methods, _, _ = tool.inspect_configs(args)
    (_, short), (_, long) = methods
    assert short.digest != long.digest
    from nd_mmdet.compare.configs import inspect_config
    assert long.digest == inspect_config(student, [
        'train_cfg.max_iters=5', 'train_cfg.max_iters=9',
        'param_scheduler.1.end=9']).digest
    runs, _, jobs = tool.plan(args, methods, None, None, str(tmp_path))
    assert [(r.name, r.options) for r in runs] == [
        ('short seed 0', []),
        ('long seed 0', ['train_cfg.max_iters=9', 'param_scheduler.1.end=9'])]
