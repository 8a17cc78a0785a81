"""One-command distillation demos on real data (Fashion-MNIST, CPU).

Each task (``--task``) trains its teacher once (``tools/train.py`` in this
process; a checkpoint from an earlier run with the same settings is
reused), then hands its list of configs to ``tools/compare.py``: every
method x seed trained and evaluated as ``tools/train.py`` /
``tools/test.py`` child processes, paired by seed, resumable (a rerun
skips the finished runs), ``--jobs N`` at once. The tasks:

- ``cls`` (default, ``configs/demo/``): ResNet-8 teacher on all 60,000
  training images -> thin ResNet-8 student on a fixed 2,000-image subset;
  the student alone, KD, KD++, DKD++; top-1 on the 10,000 test images, plus
  ``tools/analysis/feature_stats.py`` on the seed-0 checkpoints of the
  student alone and KD++ (embedding norms, cosines to the teacher's class
  centres, PNG plots under ``<work-dir>/feature_stats/``);
- ``dense`` (``configs/demo/dense/``): one-stage detection on 64 x 64 scenes
  of real Fashion-MNIST items (``tools/dataset_converters/
  fashion_mnist_to_coco.py``, generated on first use): RetinaNet R18-w32
  teacher on all 12,000 training scenes -> RetinaNet R18-w8 student on the
  first 1,000; the student alone, KD (binary, at the student's positive
  priors and sampled negatives), ND alone (at the positives), KD++; COCO
  box AP on the 1,000 validation scenes;
- ``dense-fcos`` / ``dense-gfl``: the same with FCOS / GFL instead of
  RetinaNet;
- ``neck`` / ``neck-rtmdet`` / ``neck-fcos-retinanet``: neck distillation
  (``NeckDistiller``) on the same scenes and schedule: RetinaNet R18-w32 ->
  R18-w8, RTMDet-w32 -> w8, and the heterogeneous FCOS R18-w32 teacher ->
  RetinaNet R18-w8 student; the student alone, PKD on the stride-matched
  neck levels, PKD + ND at the ground-truth boxes, and (RetinaNet) the
  head-level KD++ of the dense demo;
- ``two-stage`` (``configs/demo/two_stage/``): the paper's detection
  setting on the same scenes and schedule: Faster R-CNN w32 -> w8 whose box
  features have the same width (no projector); the student alone, KD,
  KD++, DKD, DKD++, ReviewKD, ReviewKD++ on the RoI logits / FPN levels,
  ND on the RoI box features.

``--methods`` runs some of a task's methods only (e.g. ``student kd
kd++``). Written to ``<work-dir>``: ``results.md`` (the comparison table:
method | mean ± std | Δ vs the student alone | paired wins / n and mean Δ
with a 95 % interval | per seed; the teacher's row; each X++ against its X,
paired, where the task runs both; the feature statistics; the machine) and
``results.json`` (a ``--methods`` run rewrites both with its methods);
``runs/`` holds tools/compare.py's work dir (every run, its
``results.json`` and the plots ``scores.png`` / ``curves.png``).

Data: Debian's ``dataset-fashion-mnist`` package (``--data-root`` for
another folder of the idx files). ``--quick`` runs every step with tiny
subsets and a few iterations (a smoke test, numbers meaningless).

Usage::

    python tools/demo.py [--task cls|dense|dense-fcos|dense-gfl|neck|
        neck-rtmdet|neck-fcos-retinanet|two-stage] [--work-dir DIR]
        [--seeds 5] [--methods SLUG ...] [--jobs N] [--quick]
"""
import argparse
import importlib.util
import itertools
import json
import os
import os.path as osp
import platform
import shutil
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)
from nd_mmdet.compat import atomic_write_bytes  # noqa: E402


def _schedule(max_iters, warmup):
    return [
        f'train_cfg.max_iters={max_iters}', f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={max_iters}'
    ]


def _dense_task(detector, name):
    """The one-stage detection demo of ``detector`` (the config prefix in
    ``configs/demo/dense/``, e.g. ``'retinanet'``), ``name`` for reports."""
    pair = f'{detector}_r18w32-r18w8_fmnist-det-1k.py'
    suffix = '' if detector == 'retinanet' else f'_{detector}'
    return dict(
        title=f'Fashion-MNIST scenes, {name} R18-w32 -> R18-w8 '
        '(one-stage detection)',
        config_dir=osp.join(ROOT, 'configs', 'demo', 'dense'),
        work_dir=f'work_dirs/demo_dense{suffix}',
        teacher_config=f'{detector}_r18w32_fmnist-det-full.py',
        teacher_label=f'teacher ({name} R18-w32, all 12k scenes, 1 run)',
        methods=(
            ('student alone', 'student', f'{detector}_r18w8_fmnist-det-1k.py',
             False),
            ('KD (binary)', 'kd', f'kd_{pair}', True),
            ('ND alone', 'nd', f'nd_{pair}', True),
            ('KD++ (KD + ND)', 'kd++', f'kd++_{pair}', True),
        ),
        metric='coco/bbox_mAP',
        metric_label='box AP (%)',
        scale=100.0,
        no_result_is_zero=True,
        stats_runs=(),
        description=f'Students: {name} R18-w8 (8-16-32 channels, 64-d '
        'head) on the first 1,000 training scenes, same schedule and seeds '
        'for every method; COCO box AP on the 1,000 validation scenes '
        '(items from the Fashion-MNIST test split).',
        scenes=dict(num_train=12000, num_val=1000),
        quick=dict(
            scenes=dict(num_train=48, num_val=16),
            teacher=_schedule(6, 2) + ['train_dataloader.batch_size=8'],
            student=_schedule(4, 2) + [
                'train_dataloader.batch_size=8',
                'train_dataloader.dataset.indices=24'
            ],
            distiller=[],
            test=['test_dataloader.batch_size=16'],
        ),
    )


def _neck_task(slug, title, teacher, teacher_label, student, pair,
               description, head_level=()):
    """A neck-distillation demo on the dense demo's scenes and schedule:
    the student alone, PKD at the neck and PKD + ND at the ground-truth
    boxes (``NeckDistiller``; configs ``pkd[++]_<pair>_fmnist-det-1k.py``),
    then ``head_level`` methods (rows of ``methods``)."""
    dense = _dense_task('retinanet', 'RetinaNet')
    return dict(
        dense,
        title=f'Fashion-MNIST scenes, {title} (neck distillation)',
        work_dir=f'work_dirs/demo_{slug}',
        teacher_config=teacher,
        teacher_label=teacher_label,
        methods=(
            ('student alone', 'student', student, False),
            ('PKD (neck)', 'pkd', f'pkd_{pair}_fmnist-det-1k.py', True),
            ('PKD + ND at GT boxes', 'pkd++',
             f'pkd++_{pair}_fmnist-det-1k.py', True),
        ) + tuple(head_level),
        stats_runs=('student', 'pkd++'),
        description=description + ' Same scenes, schedule and seeds as the '
        'dense demo; COCO box AP on the 1,000 validation scenes.')

def _two_stage_task():
    """Faster R-CNN w32 -> w8 on the dense demo's scenes and schedule, the
    paper's detection setting (equal box-feature widths, no projector)."""
    dense = _dense_task('retinanet', 'RetinaNet')
    pair = 'faster-rcnn_w32-w8_fmnist-det-1k.py'
    return dict(
        dense,
        title='Fashion-MNIST scenes, Faster R-CNN w32 -> w8 (two-stage '
        'detection, the paper\'s setting)',
        config_dir=osp.join(ROOT, 'configs', 'demo', 'two_stage'),
        work_dir='work_dirs/demo_two_stage',
        teacher_config='faster-rcnn_w32_fmnist-det-full.py',
        teacher_label='teacher (Faster R-CNN w32, all 12k scenes, 1 run)',
        methods=(
            ('student alone', 'student', 'faster-rcnn_w8_fmnist-det-1k.py',
             False),
            ('KD', 'kd', f'kd_{pair}', True),
            ('KD++ (KD + ND)', 'kd++', f'kd++_{pair}', True),
            ('DKD', 'dkd', f'dkd_{pair}', True),
            ('DKD++ (DKD + ND)', 'dkd++', f'dkd++_{pair}', True),
            ('ReviewKD', 'reviewkd', f'reviewkd_{pair}', True),
            ('ReviewKD++ (ReviewKD + ND)', 'reviewkd++', f'reviewkd++_{pair}',
             True),
        ),
        stats_runs=(),
        description='Student: Faster R-CNN w8 (8-16-32 channel ResNet-18 '
        'layout, 16-channel FPN) with the teacher\'s 256-d box feature, as '
        'every COCO pair of the paper keeps the same box head on both '
        'sides: ND reads both box features without a projector. KD / DKD on '
        'the (K+1)-way logits of the student\'s sampled RoIs, ReviewKD on '
        'the FPN levels, ND on the box features of the same RoIs (weight '
        '1.0). First 1,000 training scenes, the dense demo\'s schedule; '
        'COCO box AP on the 1,000 validation scenes.')


#: Everything that differs between the demos. ``methods``: (label, slug,
#: config, is_distiller), the first row is the baseline; ``stats_runs``:
#: runs whose seed-0 checkpoint feature_stats analyses; ``scale``: metric
#: value -> the percentage reported; ``quick``: --cfg-options of --quick.
TASKS = dict(
    cls=dict(
        title='Fashion-MNIST, ResNet-8 -> thin ResNet-8',
        config_dir=osp.join(ROOT, 'configs', 'demo'),
        work_dir='work_dirs/demo',
        teacher_config='resnet8_fmnist-full.py',
        teacher_label='teacher (ResNet-8, all 60k images, 1 run)',
        methods=(
            ('student alone', 'student', 'resnet8thin_fmnist-2k.py', False),
            ('KD', 'kd', 'kd_resnet8-resnet8thin_fmnist-2k.py', True),
            ('KD++', 'kd++', 'kd++_resnet8-resnet8thin_fmnist-2k.py', True),
            ('DKD++', 'dkd++', 'dkd++_resnet8-resnet8thin_fmnist-2k.py',
             True),
        ),
        metric='accuracy/top1',
        metric_label='top-1 (%)',
        scale=1.0,
        stats_runs=('student', 'kd++'),
        description='Students: thin ResNet-8 (8-8-16-64 channels) on a '
        'fixed class-balanced 2,000-image training subset, same schedule '
        'and seeds for every method; top-1 on the 10,000 test images.',
        quick=dict(
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
        ),
    ),
)
TASKS['dense'] = _dense_task('retinanet', 'RetinaNet')
TASKS['dense-fcos'] = _dense_task('fcos', 'FCOS')
TASKS['dense-gfl'] = _dense_task('gfl', 'GFL')
TASKS['neck'] = _neck_task(
    'neck', 'RetinaNet R18-w32 -> R18-w8',
    'retinanet_r18w32_fmnist-det-full.py',
    'teacher (RetinaNet R18-w32, all 12k scenes, 1 run)',
    'retinanet_r18w8_fmnist-det-1k.py', 'retinanet_r18w32-r18w8',
    'Student: RetinaNet R18-w8 (32-channel FPN) on the first 1,000 '
    'training scenes; KD++ is the dense demo\'s head-level distiller.',
    head_level=[('KD++ (head level)', 'kd++',
                 'kd++_retinanet_r18w32-r18w8_fmnist-det-1k.py', True)])
TASKS['neck-rtmdet'] = _neck_task(
    'neck_rtmdet', 'RTMDet-w32 -> RTMDet-w8',
    'rtmdet_w32_fmnist-det-full.py',
    'teacher (RTMDet-w32, all 12k scenes, 1 run)',
    'rtmdet_w8_fmnist-det-1k.py', 'rtmdet_w32-w8',
    'Student: RTMDet-w8 (CSPNeXt widen 0.0625, 32-channel neck) on the '
    'first 1,000 training scenes; KD++ is the head-level distiller '
    '(RTMDet\'s per-level classification branch).',
    head_level=[('KD++ (head level)', 'kd++',
                 'kd++_rtmdet_w32-w8_fmnist-det-1k.py', True)])
TASKS['neck-fcos-retinanet'] = _neck_task(
    'neck_fcos-retinanet', 'FCOS R18-w32 -> RetinaNet R18-w8',
    'fcos_r18w32_fmnist-det-full.py',
    'teacher (FCOS R18-w32, all 12k scenes, 1 run)',
    'retinanet_r18w8_fmnist-det-1k.py', 'fcos-retinanet_r18w32-r18w8',
    'Heterogeneous pair: an anchor-free FCOS teacher, an anchor-based '
    'RetinaNet R18-w8 student on the first 1,000 training scenes.')
TASKS['two-stage'] = _two_stage_task()


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Fashion-MNIST distillation demos: a teacher, then '
        'students alone / distilled over several seeds, a results table')
    parser.add_argument(
        '--task',
        choices=sorted(TASKS),
        default='cls',
        help='cls: classification (ResNet-8 -> thin ResNet-8, top-1); '
        'dense / dense-fcos / dense-gfl: one-stage detection on '
        'Fashion-MNIST scenes (RetinaNet / FCOS / GFL, box AP); neck / '
        'neck-rtmdet / neck-fcos-retinanet: PKD at the neck on the same '
        'scenes; two-stage: Faster R-CNN, KD / DKD / ReviewKD with and '
        'without ND. '
        'Default cls')
    parser.add_argument(
        '--work-dir',
        help='where the teacher, every run (runs/) and results.md go '
        '(default work_dirs/demo, work_dirs/demo_dense[_fcos|_gfl], '
        'work_dirs/demo_neck[_rtmdet|_fcos-retinanet] or '
        'work_dirs/demo_two_stage)')
    parser.add_argument(
        '--seeds', type=int, default=5,
        help='training seeds 0..N-1 per method (default 5: the fewest '
        'that rank methods, paired by seed)')
    parser.add_argument(
        '--methods', nargs='+', metavar='SLUG',
        help='run only these of the task\'s methods, in the task\'s order '
        '(its slugs, e.g. student kd kd++; default all). The first kept '
        'is the baseline')
    parser.add_argument(
        '--jobs', type=int, default=1,
        help='runs at once, each a process (tools/compare.py --jobs; '
        'default 1)')
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
        '--scenes-dir',
        default='data/fashion_mnist_det',
        help='dense tasks: the COCO-format scenes, written there from the '
        'Fashion-MNIST files when absent (default data/fashion_mnist_det; '
        'with --quick: <work-dir>/scenes)')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch CPU threads per run (default 1: fastest on a small '
        'machine shared with other jobs)')
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error('--seeds must be >= 1')
    if args.threads < 1:
        parser.error('--threads must be >= 1')
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.methods is not None:
        slugs = [slug for _, slug, _, _ in TASKS[args.task]['methods']]
        unknown = [m for m in args.methods if m not in slugs]
        if unknown or len(set(args.methods)) != len(args.methods):
            parser.error(f'--methods {" ".join(args.methods)}: distinct '
                         f'methods of --task {args.task} expected, one of '
                         f'{slugs}')
    if args.work_dir is None:
        args.work_dir = TASKS[args.task]['work_dir']
    return args


def select_methods(task, methods):
    """``task`` with only the ``methods`` rows (slugs; None: all), in its
    order, and the feature statistics of those kept."""
    if methods is None:
        return task
    rows = tuple(row for row in task['methods'] if row[1] in methods)
    return dict(task, methods=rows, stats_runs=tuple(
        slug for slug in task['stats_runs'] if slug in methods))



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


def train(task, config, work_dir, options, tag):
    run_tool('train.py', [
        osp.join(task['config_dir'], config), '--work-dir', work_dir,
        '--cfg-options', *options, _experiment(tag)
    ])
    ckpt = last_checkpoint(work_dir)
    if ckpt is None:
        raise RuntimeError(f'training {config} wrote no checkpoint in '
                           f'{work_dir}')
    return ckpt


def _banner(what, start):
    print('\n' + '=' * 78 + f'\n[demo, {time.time() - start:.0f} s] {what}\n'
          + '=' * 78, flush=True)


# ------------------------------------------------------------ the steps
def prepare_data(task_name, args, work_dir):
    """--cfg-options that point the task's configs at its data; for the
    detection tasks the scenes are written first when absent."""
    data_root = args.data_root
    if 'scenes' not in TASKS[task_name]:
        if not data_root:
            return []
        return [
            f'train_dataloader.dataset.data_root={data_root}',
            f'test_dataloader.dataset.data_root={data_root}'
        ]
    task = TASKS[task_name]
    sizes = task['quick']['scenes'] if args.quick else task['scenes']
    scenes = osp.join(work_dir, 'scenes') if args.quick else \
        osp.abspath(args.scenes_dir)
    ensure_scenes(scenes, data_root, sizes)
    ann = osp.join(scenes, 'annotations', 'instances_val.json')
    return [
        f'train_dataloader.dataset.data_root={scenes}',
        f'test_dataloader.dataset.data_root={scenes}',
        f'test_evaluator.ann_file={ann}'
    ]


def ensure_scenes(scenes, data_root, sizes):
    """Write the Fashion-MNIST scenes under ``scenes`` unless a complete
    set written with the same settings is there (``scenes.json``)."""
    settings = dict(sizes, data_root=data_root or 'default', seed=0)
    marker = osp.join(scenes, 'scenes.json')
    if osp.isfile(marker):
        with open(marker) as f:
            if json.load(f) == settings:
                print(f'[demo] scenes: reusing {scenes}', flush=True)
                return
    argv = ['--out', scenes, '--num-train', str(sizes['num_train']),
            '--num-val', str(sizes['num_val'])]
    if data_root:
        argv += ['--data-root', data_root]
    run_tool('dataset_converters/fashion_mnist_to_coco.py', argv)
    _write_json(marker, settings)


def _write_json(path, data):
    """``data`` as JSON to ``path``, atomically (later runs read it)."""
    atomic_write_bytes(json.dumps(data, indent=2).encode(), path)


def config_digest(task, config, options):
    """sha256 of the resolved config with ``options`` merged (what a reused
    teacher must have been trained with)."""
    import hashlib

    from mmengine.config import Config

    from nd_mmdet.compare.configs import parse_options
    cfg = Config.fromfile(osp.join(task['config_dir'], config))
    cfg.merge_from_dict(parse_options(options))
    text = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def ensure_teacher(task, work_dir, options, start):
    """Train the teacher, or reuse the checkpoint an earlier run of the
    same teacher config and options left; returns (ckpt, reused). Its
    evaluation is tools/compare.py's teacher row."""
    teacher_dir = osp.join(work_dir, 'teacher')
    config = task['teacher_config']
    digest = config_digest(task, config, options)
    marker_path = osp.join(teacher_dir, 'demo_teacher.json')
    marker = {}
    if osp.isfile(marker_path):
        with open(marker_path) as f:
            marker = json.load(f)
    ckpt = last_checkpoint(teacher_dir)
    if ckpt and marker.get('config_digest') == digest and \
            marker.get('checkpoint') == ckpt:
        _banner(f'teacher: reusing {ckpt}; delete {teacher_dir} to '
                'retrain', start)
        return ckpt, True
    shutil.rmtree(teacher_dir, ignore_errors=True)
    _banner(f'teacher: training {config} (all training images)', start)
    ckpt = train(task, config, teacher_dir, options, 'teacher')
    _write_json(marker_path, dict(config_digest=digest, options=options,
                                  checkpoint=ckpt))
    return ckpt, False


def nd_pairs(task):
    """``(X++, X)`` for each method ``X++`` of the task whose base method
    ``X`` it runs too: what ND adds, paired by seed."""
    slugs = [slug for _, slug, _, _ in task['methods']]
    return [(slug, slug[:-2]) for slug in slugs
            if slug.endswith('++') and slug[:-2] in slugs]


def compare_argv(task, args, runs_dir, teacher_ckpt, shared, distiller):
    """tools/compare.py's command line for the task: its methods' configs
    (names: the slugs; the first is the baseline), seeds 0..N-1, the
    teacher's row, each ``X++`` paired with its base method ``X`` when the
    task has both (:func:`nd_pairs`); ``shared`` --cfg-options for every
    run, ``distiller`` ones and the teacher checkpoint for the distillers
    only."""
    def path(config):
        return osp.join(task['config_dir'], config)

    methods = task['methods']
    argv = [path(config) for _, _, config, _ in methods]
    argv += ['--names', *(slug for _, slug, _, _ in methods),
             '--seeds', *map(str, range(args.seeds)),
             '--work-dir', runs_dir, '--jobs', str(args.jobs),
             '--threads', str(args.threads), '--metric', task['metric'],
             '--teacher', path(task['teacher_config']), teacher_ckpt]
    for plus, base in nd_pairs(task):
        argv += ['--pair', plus, base]
    if shared:
        argv += ['--cfg-options', *shared]
    for _, slug, _, is_distiller in methods:
        if is_distiller:
            argv += ['--method-options', slug,
                     f'model.teacher_ckpt={teacher_ckpt}', *distiller]
    return argv


def relabel(table, task):
    """compare's tables with the demo's method labels for its slugs (in the
    pairs' rows too: ``kd++ vs kd``)."""
    labels = {slug: label for label, slug, _, _ in task['methods']}
    labels['teacher (1 run)'] = task['teacher_label']
    base = task['methods'][0][1]
    labels[f'{base} (baseline)'] = f'{labels[base]} (baseline)'
    lines = []
    for line in table.splitlines():
        cells = line.split(' | ')
        names = cells[0][2:].split(' vs ')  # a row of the pairs: 2 names
        if line.startswith('| ') and all(n in labels for n in names):
            cells[0] = '| ' + ' vs '.join(labels[n] for n in names)
            line = ' | '.join(cells)
        lines.append(line)
    return '\n'.join(lines)


def comparison_scores(results, task):
    """``{slug: [score in % per finished seed]}`` and the teacher's score
    (%) from compare's results.json."""
    scale = results['scale']
    scores = {m['name']: [r['score'] * scale for r in m['runs']
                          if r['status'] == 'done']
              for m in results['methods']}
    teacher = results.get('teacher') or {}
    score = teacher.get('score')
    return scores, None if score is None else score * scale


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


def feature_stats(task, runs_dir, teacher_ckpt, test_options, work_dir,
                  start):
    """tools/analysis/feature_stats.py on the seed-0 checkpoint of each of
    the task's ``stats_runs``."""
    stats = {}
    configs = {slug: config for _, slug, config, _ in task['methods']}
    for slug in task['stats_runs']:
        _banner(f'feature statistics of {slug} (seed 0)', start)
        ckpt = last_checkpoint(osp.join(runs_dir, slug, 'seed_0'))
        argv_stats = [
            osp.join(task['config_dir'], configs[slug]), ckpt, '--out-dir',
            osp.join(work_dir, 'feature_stats', slug), '--teacher-config',
            osp.join(task['config_dir'], task['teacher_config']),
            '--teacher-ckpt', teacher_ckpt
        ]
        if test_options:
            argv_stats += ['--cfg-options', *test_options]
        stats[slug] = run_tool('analysis/feature_stats.py', argv_stats)
    return stats


def report(task, args, results, stats, teacher_note, wall, loads, work_dir):
    """``results.md``'s text."""
    from nd_mmdet.compare.report import markdown
    machine = machine_info(args.threads)
    mode = 'QUICK SMOKE RUN (numbers meaningless)' if args.quick else \
        'full run'
    quick_note = ' (quick smoke run, numbers meaningless)' if args.quick \
        else ''
    # compare's table without its title: the demo's title says what it is
    table = markdown(results).split('\n', 2)[2]
    table = table.replace('](scores.png)', '](runs/scores.png)').replace(
        '](curves.png)', '](runs/curves.png)')
    lines = [
        f'# Distillation demo: {task["title"]}{quick_note}',
        '',
        f'{mode}; seeds 0..{args.seeds - 1}, paired (tools/compare.py); '
        f'teacher {teacher_note}. ' + task['description'],
        '',
        relabel(table, task).rstrip('\n'),
        '',
    ]
    if stats:
        lines += [
            'Embedding statistics on the test split (tools/analysis/'
            "feature_stats.py; class centre = per-class mean of the "
            "teacher's test embeddings, or of the student's own for the "
            '"own" column):',
            '',
            stats_table(stats, work_dir),
            '',
        ]
    load_start, load_end = loads
    lines += [
        f"Machine: {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['device']}, torch {machine['torch']} with "
        f"{machine['torch_threads']} thread(s) per run, {args.jobs} run(s) "
        f'at once; 1-min load average {load_start:.1f} at start, '
        f'{load_end:.1f} at end. Wall time {wall:.0f} s '
        f'({wall / 60:.1f} min).' if load_start is not None
        else f'Wall time {wall:.0f} s.',
        '',
    ]
    return '\n'.join(lines), machine


def _load():
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else None


def main(argv=None):
    args = parse_args(argv)
    task = select_methods(TASKS[args.task], args.methods)
    import torch
    torch.set_num_threads(args.threads)
    start = time.time()
    work_dir = osp.abspath(args.work_dir)
    os.makedirs(work_dir, exist_ok=True)
    load_start = _load()

    data = prepare_data(args.task, args, work_dir)
    quick = task['quick'] if args.quick else dict(
        teacher=[], student=[], distiller=[], test=[])
    teacher_ckpt, reused = ensure_teacher(task, work_dir,
                                          data + quick['teacher'], start)
    teacher_note = 'reused from an earlier run' if reused else \
        f'trained in this run ({time.time() - start:.0f} s)'

    runs_dir = osp.join(work_dir, 'runs')
    _banner(f'{len(task["methods"])} methods x {args.seeds} seeds: '
            f'tools/compare.py (work dir {runs_dir})', start)
    code = run_tool('compare.py', compare_argv(
        task, args, runs_dir, teacher_ckpt,
        data + quick['student'] + quick['test'], quick['distiller']))
    if code:
        print(f'[demo] tools/compare.py exited {code}: see '
              f'{osp.join(runs_dir, "results.md")} for the runs that did '
              'not finish; rerun the same command to retry them',
              file=sys.stderr, flush=True)
        raise SystemExit(code)
    with open(osp.join(runs_dir, 'results.json')) as f:
        results = json.load(f)
    scores, teacher_score = comparison_scores(results, task)

    stats = feature_stats(task, runs_dir, teacher_ckpt, data + quick['test'],
                          work_dir, start)
    wall = time.time() - start
    text, machine = report(task, args, results, stats, teacher_note, wall,
                           (load_start, _load()), work_dir)
    atomic_write_bytes(text.encode(), osp.join(work_dir, 'results.md'))
    _write_json(
        osp.join(work_dir, 'results.json'),
        dict(task=args.task, quick=args.quick, seeds=args.seeds,
             metric=task['metric'],
             teacher=dict(checkpoint=teacher_ckpt, score=teacher_score,
                          reused=reused),
             scores=scores, comparison=osp.join(runs_dir, 'results.json'),
             feature_stats=stats, machine=machine, wall_time_s=wall))
    print('\n' + '=' * 78)
    print(text)
    print(f'written: {osp.join(work_dir, "results.md")}')
    return dict(teacher_score=teacher_score, scores=scores, stats=stats,
                wall_time_s=wall, work_dir=work_dir)


if __name__ == '__main__':
    main()
