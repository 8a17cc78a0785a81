"""One-command distillation demo on real data (Fashion-MNIST, CPU).

Steps, all through the same code as ``tools/train.py`` / ``tools/test.py``
(their ``main`` is run in this process with the command-line arguments a user
would type, ``--cfg-options`` included):

1. train the teacher (ResNet-8 on all 60,000 training images) once; a
   checkpoint from an earlier run with the same settings is reused;
2. for each seed and each method -- the student alone, KD, KD++, DKD++ (a
   thin ResNet-8 on the same fixed 2,000-image subset, same schedule) --
   train, then evaluate on the 10,000 test images;
3. print the table ``method | top-1 mean ± std over seeds | delta vs the
   student alone`` and write it to ``<work-dir>/results.md`` (raw numbers in
   ``results.json``);
4. run ``tools/analysis/feature_stats.py`` on the seed-0 checkpoints of the
   student alone and of KD++ (embedding norms and cosines to the teacher's
   class centres, PNG plots under ``<work-dir>/feature_stats/``).

Configs: ``configs/demo/``. Data: Debian's ``dataset-fashion-mnist`` package
(``--data-root`` for another folder of the idx files). ``--quick`` runs every
step with tiny subsets and a few iterations (a smoke test, numbers
meaningless).

Usage::

    python tools/demo.py [--work-dir work_dirs/demo] [--seeds 3] [--quick]
"""
import argparse
import glob
import importlib.util
import itertools
import json
import os
import os.path as osp
import platform
import shutil
import statistics
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)

CONFIG_DIR = osp.join(ROOT, 'configs', 'demo')
TEACHER_CONFIG = 'resnet8_fmnist-full.py'
#: (label, slug, config, is_distiller); the first row is the baseline.
METHODS = (
    ('student alone', 'student', 'resnet8thin_fmnist-2k.py', False),
    ('KD', 'kd', 'kd_resnet8-resnet8thin_fmnist-2k.py', True),
    ('KD++', 'kd++', 'kd++_resnet8-resnet8thin_fmnist-2k.py', True),
    ('DKD++', 'dkd++', 'dkd++_resnet8-resnet8thin_fmnist-2k.py', True),
)
#: Runs whose seed-0 checkpoint feature_stats analyses.
STATS_RUNS = ('student', 'kd++')
METRIC = 'accuracy/top1'


def _schedule(max_iters, warmup):
    return [
        f'train_cfg.max_iters={max_iters}', f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={max_iters}'
    ]


#: --quick: the same steps with tiny subsets and a few iterations.
QUICK = dict(
    teacher=_schedule(6, 2) + [
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.subset_size=100'
    ],
    student=_schedule(4, 2) + [
        'train_dataloader.batch_size=16',
        'train_dataloader.dataset.subset_size=50'
    ],
    distiller=['custom_hooks.1.warmup_iters=2'],
    test=[
        'test_dataloader.dataset.subset_size=100',
        'test_dataloader.batch_size=50'
    ],
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fashion-MNIST distillation demo: teacher, then the '
        'student alone / KD / KD++ / DKD++ over several seeds, a results '
        'table and embedding plots')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/demo',
        help='where every run, results.md and the plots go '
        '(default work_dirs/demo)')
    parser.add_argument(
        '--seeds', type=int, default=3,
        help='training seeds 0..N-1 per method (default 3)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='smoke mode: tiny subsets, a few iterations (numbers '
        'meaningless)')
    parser.add_argument(
        '--data-root',
        help='folder of the Fashion-MNIST idx files (default: the configs\' '
        '/usr/share/datasets/fashion-mnist)')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads (default 1: fastest on a small machine '
        'shared with other jobs)')
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error('--seeds must be >= 1')
    if args.threads < 1:
        parser.error('--threads must be >= 1')
    return args


# ------------------------------------------------------------- the tools
_TOOLS = {}
_RUN_IDS = itertools.count()


def _tool(relpath):
    """Import a script of tools/ as a module (cached)."""
    if relpath not in _TOOLS:
        path = osp.join(ROOT, 'tools', relpath)
        name = 'nd_mmdet_tool_' + relpath.replace('/', '_')[:-3]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _TOOLS[relpath] = module
    return _TOOLS[relpath]


def run_tool(relpath, argv):
    """Run ``python tools/<relpath> argv...`` in this process."""
    module = _tool(relpath)
    print(f'$ python tools/{relpath} {" ".join(argv)}', flush=True)
    old_argv = sys.argv
    sys.argv = [module.__file__] + list(argv)
    try:
        return module.run_cli(module.main)
    finally:
        sys.argv = old_argv


def _experiment(tag):
    # Unique per run: mmengine keys its logger / visualizer by this name.
    return f'experiment_name=demo-{tag}-{os.getpid()}-{next(_RUN_IDS)}'


def last_checkpoint(work_dir):
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    return ckpt if osp.isfile(ckpt) else None


def train(config, work_dir, options, tag):
    run_tool('train.py', [
        osp.join(CONFIG_DIR, config), '--work-dir', work_dir,
        '--cfg-options', *options, _experiment(tag)
    ])
    ckpt = last_checkpoint(work_dir)
    if ckpt is None:
        raise RuntimeError(f'training {config} wrote no checkpoint in '
                           f'{work_dir}')
    return ckpt


def evaluate(config, ckpt, eval_dir, options, tag):
    """tools/test.py; returns the top-1 accuracy it logged (in %)."""
    shutil.rmtree(eval_dir, ignore_errors=True)
    run_tool('test.py', [
        osp.join(CONFIG_DIR, config), ckpt, '--work-dir', eval_dir,
        '--cfg-options', *options, _experiment(tag)
    ])
    for path in sorted(glob.glob(osp.join(eval_dir, '*', '*.json'))):
        with open(path) as f:
            metrics = json.load(f)
        if METRIC in metrics:
            return float(metrics[METRIC])
    raise RuntimeError(f'tools/test.py logged no {METRIC} under {eval_dir}')


# ------------------------------------------------------------ the steps
class Progress:
    def __init__(self, total):
        self.total, self.done, self.start = total, 0, time.time()

    def step(self, what):
        self.done += 1
        print('\n' + '=' * 78 + f'\n[demo {self.done}/{self.total}, '
              f'{self.elapsed():.0f} s] {what}\n' + '=' * 78, flush=True)

    def elapsed(self):
        return time.time() - self.start


def data_options(data_root):
    if not data_root:
        return []
    return [
        f'train_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}'
    ]


def config_digest(config, options):
    """sha256 of the resolved config with ``options`` merged (what a reused
    teacher must have been trained with)."""
    import hashlib

    from mmengine.config import Config, DictAction
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    parsed = {}
    for option in options:
        key, value = option.split('=', 1)
        parsed[key] = DictAction._parse_iterable(value)
    cfg.merge_from_dict(parsed)
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_teacher(work_dir, options, test_options, progress):
    """Train (or reuse) and evaluate the teacher; returns (ckpt, top-1,
    reused). A checkpoint is reused when an earlier run of the same teacher
    config and options left it (with its test accuracy)."""
    teacher_dir = osp.join(work_dir, 'teacher')
    digest = config_digest(TEACHER_CONFIG, options)
    marker_path = osp.join(teacher_dir, 'demo_teacher.json')
    marker = {}
    if osp.isfile(marker_path):
        with open(marker_path) as f:
            marker = json.load(f)
    ckpt = last_checkpoint(teacher_dir)
    if ckpt and marker.get('config_digest') == digest and \
            marker.get('checkpoint') == ckpt and 'top1' in marker:
        progress.step(f'teacher: reusing {ckpt} (top-1 {marker["top1"]:.2f}'
                      '%); delete the teacher folder to retrain')
        progress.step('teacher: evaluation reused')
        return ckpt, marker['top1'], True
    shutil.rmtree(teacher_dir, ignore_errors=True)
    progress.step(f'teacher: training {TEACHER_CONFIG} (all training '
                  'images)')
    ckpt = train(TEACHER_CONFIG, teacher_dir, options, 'teacher')
    progress.step('teacher: evaluating on the test split')
    top1 = evaluate(TEACHER_CONFIG, ckpt, osp.join(teacher_dir, 'eval'),
                    test_options, 'teacher-test')
    with open(marker_path, 'w') as f:
        json.dump(
            dict(
                config_digest=digest,
                options=options,
                checkpoint=ckpt,
                top1=top1), f)
    return ckpt, top1, False


def summarise(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def results_table(teacher_top1, accuracies):
    base_mean, _ = summarise(accuracies[METHODS[0][1]])
    lines = [
        '| method | top-1 (%) mean ± std | Δ vs student alone | per seed |',
        '|---|---|---|---|',
        f'| teacher (ResNet-8, all 60k images, 1 run) | {teacher_top1:.2f} '
        f'| | {teacher_top1:.2f} |',
    ]
    for label, slug, _, _ in METHODS:
        mean, std = summarise(accuracies[slug])
        spread = f'{mean:.2f} ± {std:.2f}' if std is not None else \
            f'{mean:.2f} (1 seed)'
        delta = '—' if slug == METHODS[0][1] else f'{mean - base_mean:+.2f}'
        per_seed = ', '.join(f'{v:.2f}' for v in accuracies[slug])
        lines.append(f'| {label} | {spread} | {delta} | {per_seed} |')
    return '\n'.join(lines)


def stats_table(stats, work_dir):
    nan = float('nan')
    lines = [
        '| run (seed 0) | student norm mean / median | teacher norm mean | '
        "student cos to teacher's class centre | student cos to own class "
        "centre | teacher cos to its class centre | student norm < "
        "teacher's | plots |",
        '|---|---|---|---|---|---|---|---|',
    ]
    for slug, result in stats.items():
        s, t = result['student'], result.get('teacher', {})
        plots = ', '.join(
            f'[{k}]({osp.relpath(p, work_dir)})'
            for k, p in result['plots'].items())
        lines.append(
            f"| {slug} | {s['norm_mean']:.3f} / {s['norm_median']:.3f} | "
            f"{t.get('norm_mean', nan):.3f} | {s['cos_mean']:.4f} | "
            f"{s.get('cos_own_mean', nan):.4f} | "
            f"{t.get('cos_mean', nan):.4f} | "
            f"{100 * s.get('frac_norm_below_teacher', nan):.1f}% | {plots} |")
    return '\n'.join(lines)


def machine_info(threads):
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            names = [ln.split(':', 1)[1].strip() for ln in f
                     if ln.startswith('model name')]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return dict(
        cpu=cpu,
        cores=os.cpu_count(),
        torch_threads=threads,
        torch=torch.__version__,
        device='CPU',
        python=platform.python_version())


def main(argv=None):
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    load_start = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None

    data = data_options(args.data_root)
    quick = QUICK if args.quick else dict(
        teacher=[], student=[], distiller=[], test=[])
    teacher_options = data + quick['teacher']
    test_options = data + quick['test']

    runs = len(METHODS) * args.seeds
    progress = Progress(2 + 2 * runs + len(STATS_RUNS))
    teacher_ckpt, teacher_top1, reused = ensure_teacher(
        work_dir, teacher_options, test_options, progress)
    teacher_time = None if reused else progress.elapsed()

    accuracies = {slug: [] for _, slug, _, _ in METHODS}
    checkpoints = {}
    for seed in range(args.seeds):
        for label, slug, config, is_distiller in METHODS:
            run_dir = osp.join(work_dir, slug, f'seed{seed}')
            shutil.rmtree(run_dir, ignore_errors=True)
            options = data + quick['student'] + [f'randomness.seed={seed}']
            if is_distiller:
                options += quick['distiller'] + [
                    f'model.teacher_ckpt={teacher_ckpt}'
                ]
            progress.step(f'{label}, seed {seed}: training {config}')
            ckpt = train(config, run_dir, options, f'{slug}-s{seed}')
            progress.step(f'{label}, seed {seed}: evaluating on the test '
                          'split')
            top1 = evaluate(config, ckpt, osp.join(run_dir, 'eval'),
                            test_options, f'{slug}-s{seed}-test')
            print(f'[demo] {label}, seed {seed}: top-1 {top1:.2f}%',
                  flush=True)
            accuracies[slug].append(top1)
            checkpoints[(slug, seed)] = ckpt

    stats = {}
    configs = {slug: config for _, slug, config, _ in METHODS}
    for slug in STATS_RUNS:
        progress.step(f'feature statistics of {slug} (seed 0)')
        argv_stats = [
            osp.join(CONFIG_DIR, configs[slug]), checkpoints[(slug, 0)],
            '--out-dir', osp.join(work_dir, 'feature_stats', slug),
            '--teacher-config', osp.join(CONFIG_DIR, TEACHER_CONFIG),
            '--teacher-ckpt', teacher_ckpt
        ]
        if test_options:
            argv_stats += ['--cfg-options', *test_options]
        stats[slug] = run_tool('analysis/feature_stats.py', argv_stats)

    wall = progress.elapsed()
    machine = machine_info(args.threads)
    load_end = os.getloadavg()[0] if hasattr(os, 'getloadavg') else None
    table = results_table(teacher_top1, accuracies)
    mode = 'QUICK SMOKE RUN (numbers meaningless)' if args.quick else \
        'full run'
    teacher_note = 'reused from an earlier run' if reused else \
        f'trained in this run ({teacher_time:.0f} s)'
    report = '\n'.join([
        '# Distillation demo: Fashion-MNIST, ResNet-8 -> thin ResNet-8',
        '',
        f'{mode}; seeds 0..{args.seeds - 1}; teacher {teacher_note}. '
        'Students: thin ResNet-8 (8-8-16-64 channels) on a fixed '
        'class-balanced 2,000-image training subset, same schedule and '
        'seeds for every method; top-1 on the 10,000 test images.',
        '',
        table,
        '',
        'Embedding statistics on the test split (tools/analysis/'
        "feature_stats.py; class centre = per-class mean of the teacher's "
        'test embeddings, or of the student\'s own for the "own" column):',
        '',
        stats_table(stats, work_dir),
        '',
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['device']}, torch {machine['torch']} with "
        f"{machine['torch_threads']} thread(s); 1-min load average "
        f'{load_start:.1f} at start, {load_end:.1f} at end. Wall time '
        f'{wall:.0f} s ({wall / 60:.1f} min).' if load_start is not None
        else f'Wall time {wall:.0f} s.',
        '',
    ])
    with open(osp.join(work_dir, 'results.md'), 'w') as f:
        f.write(report)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(
            dict(
                quick=args.quick,
                seeds=args.seeds,
                teacher=dict(checkpoint=teacher_ckpt, top1=teacher_top1,
                             reused=reused),
                top1=accuracies,
                feature_stats=stats,
                machine=machine,
                wall_time_s=wall),
            f,
            indent=2)
    print('\n' + '=' * 78)
    print(report)
    print(f'written: {osp.join(work_dir, "results.md")}')
    return dict(teacher_top1=teacher_top1, top1=accuracies, stats=stats,
                wall_time_s=wall, work_dir=work_dir)


if __name__ == '__main__':
    main()
