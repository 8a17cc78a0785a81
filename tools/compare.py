"""Does distillation help on my data? Train every config with every seed,
evaluate, and compare the methods with paired statistics.

    python tools/compare.py CONFIG [CONFIG ...] --seeds 0 1 2 3 4
        [--jobs N] [--work-dir DIR] [--names NAME ...] [--baseline NAME]
        [--pair METHOD REFERENCE ...] [--teacher CONFIG CKPT]
        [--checkpoint last|best] [--metric KEY] [--threads T]
        [--cfg-options KEY=VALUE ...]
        [--method-options NAME KEY=VALUE ... [--method-options ...]]

(also ``mim run nd_mmdet compare ...``). Each (config, seed) is trained by
``tools/train.py CONFIG --work-dir DIR/<method>/seed_<seed> --resume
--cfg-options ... [the method's --method-options] randomness.seed=<seed>``
and its last (or best)
checkpoint evaluated by ``tools/test.py`` on the config's test set, each a
child process; ``--jobs N`` runs N at once. The method is the config's
file name without ``.py`` (or ``--names``); the first config (or
``--baseline``) is the reference row; ``--pair A B`` adds A against B
(e.g. ``kd++`` against ``kd``); ``--teacher`` adds the teacher's
score (evaluated once). Written to DIR (default
``work_dirs/compare``): ``results.md`` (printed too), ``results.json``,
``scores.png``, ``curves.png``. A rerun skips the finished runs (same
config digest and seed), continues the interrupted ones from their last
checkpoint and retries the failed ones. Exit status: 0 when every run
finished, 1 when one failed (its row says which and where its log is),
130 on Ctrl-C. See docs/compare.md.
"""
import time

_T0 = time.time()

import argparse  # noqa: E402
import os  # noqa: E402
import os.path as osp  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import nd_mmdet  # noqa: E402,F401  (nd_mmdet.compat before torchvision)
from nd_mmdet.utils.entrypoint import fail, run_cli  # noqa: E402

TOOLS_DIR = osp.dirname(osp.abspath(__file__))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and evaluate every config with every seed; '
        'compare the methods with the first (the baseline), paired by seed')
    parser.add_argument('configs', nargs='+', metavar='CONFIG',
                        help='the methods\' configs; the first is the '
                        'baseline unless --baseline')
    parser.add_argument('--seeds', nargs='+', type=int, required=True,
                        help='training seeds (randomness.seed), e.g. '
                        '0 1 2 3 4')
    parser.add_argument('--work-dir', default='work_dirs/compare',
                        help='where the runs and the results go (default '
                        'work_dirs/compare)')
    parser.add_argument('--names', nargs='+', metavar='NAME',
                        help='method names, one per config (default: the '
                        'config file names without .py)')
    parser.add_argument('--baseline', metavar='NAME',
                        help='the reference method (default: the first)')
    parser.add_argument('--pair', nargs=2, action='append', default=[],
                        metavar=('METHOD', 'REFERENCE'),
                        help='also compare METHOD with REFERENCE, paired by '
                        'seed, in a table of its own (e.g. --pair kd++ kd: '
                        'what ND adds to KD); repeatable')
    parser.add_argument('--teacher', nargs=2, metavar=('CONFIG', 'CKPT'),
                        help='also evaluate this checkpoint once (a '
                        'distiller CONFIG: its teacher) as a row')
    parser.add_argument('--checkpoint', choices=('last', 'best'),
                        default='last',
                        help='the checkpoint evaluated: the last (default) '
                        'or mmengine\'s best (save_best, validation)')
    parser.add_argument('--metric',
                        help='the compared metric (default coco/bbox_mAP '
                        'for detectors, accuracy/top1 for classifiers)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs at once (default 1); on GPUs one device '
                        'per run when there are enough')
    parser.add_argument('--threads', type=int,
                        help='CPU threads per run (OMP_NUM_THREADS; '
                        'default: cores // jobs)')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        metavar='KEY=VALUE',
                        help='passed to every tools/train.py and '
                        'tools/test.py (and part of the config digest)')
    parser.add_argument('--method-options', nargs='+', action='append',
                        default=[], metavar=('NAME', 'KEY=VALUE'),
                        help='options for one method only, after '
                        '--cfg-options (e.g. its model.teacher_ckpt, or the '
                        'same config twice under two --names with another '
                        'loss weight); repeat per method')
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error('--jobs must be >= 1')
    if args.threads is not None and args.threads < 1:
        parser.error('--threads must be >= 1')
    if len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0:
        parser.error(f'--seeds: distinct seeds >= 0 expected, got '
                     f'{args.seeds}')
    if args.names is not None and len(args.names) != len(args.configs):
        parser.error(f'--names: {len(args.names)} names for '
                     f'{len(args.configs)} configs')
    names = args.names or [
        osp.splitext(osp.basename(c))[0] for c in args.configs
    ]
    for name in names:
        if not name or name in ('.', '..', 'teacher') or '/' in name or \
                name.startswith('.'):
            parser.error(f'method name {name!r} cannot be a folder name '
                         '(or is "teacher"); choose others with --names')
    if len(set(names)) != len(names):
        parser.error(f'two configs have the same name ({names}); give '
                     'distinct ones with --names')
    args.method_names = names
    for method, reference in args.pair:
        for name in (method, reference):
            if name not in names:
                parser.error(f'--pair {method} {reference}: {name!r} is not '
                             f'one of the methods {names}')
        if method == reference:
            parser.error(f'--pair {method} {reference}: a method against '
                         'itself')
    args.options_of = {name: [] for name in names}
    for name, *options in args.method_options:
        if name not in args.options_of:
            parser.error(f'--method-options {name}: not one of the methods '
                         f'{names}')
        if not options:
            parser.error(f'--method-options {name}: no KEY=VALUE given')
        args.options_of[name] += options
    if args.baseline is None:
        args.baseline = names[0]
    elif args.baseline not in names:
        parser.error(f'--baseline {args.baseline}: not one of the methods '
                     f'{names}')
    return args


def inspect_configs(args):
    """ConfigInfo of every method (and the teacher); the metric."""
    import dataclasses
    import hashlib

    from nd_mmdet.compare.configs import inspect_config
    from nd_mmdet.utils import file_digest
    methods = [(name, inspect_config(
        path, args.cfg_options + args.options_of[name]))
               for name, path in zip(args.method_names, args.configs)]
    teacher = None
    if args.teacher:
        config, ckpt = args.teacher
        if not osp.isfile(ckpt):
            fail(f'--teacher: checkpoint not found: {ckpt}')
        info = inspect_config(config, args.cfg_options)
        # the row is for this checkpoint: it is part of the digest
        digest = hashlib.sha256(
            (info.digest + file_digest(ckpt, length=64)).encode())
        teacher = (dataclasses.replace(info, digest=digest.hexdigest()),
                   osp.abspath(ckpt))
    metric = args.metric
    if metric is None:
        defaults = {info.metric for _, info in methods}
        if len(defaults) > 1:
            fail(f'the configs are evaluated with different metrics '
                 f'({sorted(defaults)}); choose one with --metric')
        metric = defaults.pop()
    if args.checkpoint == 'best':
        without = [info.path for _, info in methods if not info.save_best]
        if without:
            fail(f'--checkpoint best: {without[0]} keeps no best checkpoint '
                 '(it needs default_hooks.checkpoint.save_best and '
                 'validation: val_cfg and val_dataloader)')
    return methods, teacher, metric


def slot_env(jobs, threads):
    """``env_for_slot`` of the launcher: threads per run; one GPU per run
    when there are at least ``jobs``."""
    import torch
    devices = torch.cuda.device_count() if torch.cuda.is_available() else 0
    visible = os.environ.get('CUDA_VISIBLE_DEVICES')
    ids = visible.split(',') if visible else [str(i) for i in range(devices)]
    if devices and devices < jobs:
        print(f'[compare] {devices} GPU(s) for --jobs {jobs}: the runs '
              'share them', flush=True)

    def env(slot):
        values = dict(OMP_NUM_THREADS=str(threads),
                      MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED='1')
        if devices >= jobs > 1:
            values['CUDA_VISIBLE_DEVICES'] = ids[slot]
        return values
    return env, devices


def versions():
    import platform
    from importlib import metadata
    dists = metadata.packages_distributions()
    found = dict(python=platform.python_version(),
                 nd_mmdet=nd_mmdet.__version__)
    for module in ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmpretrain'):
        for dist in dists.get(module, ()):
            try:
                found[module] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                pass
    return found


def interrupt(signum, frame):
    raise KeyboardInterrupt


def plan(args, methods, teacher, settings, work_dir):
    """The runs (seed by seed; the teacher first), the records of those
    reused, and the jobs of the others."""
    from nd_mmdet.compare.runs import Run, job, prepare, reuse
    runs = [Run(name, seed, info, osp.join(work_dir, name, f'seed_{seed}'),
                options=args.options_of[name])
            for seed in args.seeds for name, info in methods]
    if teacher:
        runs.insert(0, Run('teacher', None, teacher[0],
                           osp.join(work_dir, 'teacher'), teacher[1]))
    reused, jobs = {}, []
    for run in runs:
        record = prepare(run)
        kept = reuse(run, record, settings)
        if kept is not None:
            reused[run.name] = kept
        else:
            jobs.append((run.name, job(run, settings, record)))
    return runs, reused, jobs


def timing(pool, reused):
    """Wall times and memory: the tool's own overhead is the wall time
    that no child covers."""
    import resource
    wall = time.time() - _T0
    overhead = max(0.0, wall - pool.busy_s)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kinds = [k for started in pool.started.values() for k in started]
    return dict(
        wall_s=wall, children_busy_s=pool.busy_s,
        children_wall_s=pool.children_wall_s, overhead_s=overhead,
        overhead_fraction=overhead / wall if wall > 0 else 0.0,
        tool_cpu_s=usage.ru_utime + usage.ru_stime,
        # ru_maxrss: KiB on Linux; the children's: the largest child's
        tool_max_rss_mb=usage.ru_maxrss / 1024,
        child_max_rss_mb=resource.getrusage(
            resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        trainings_started=kinds.count('train'),
        evaluations_started=kinds.count('test'), reused=len(reused))


def report(args, methods, teacher, metric, runs, records, pool, reused,
           extra):
    """Write results.json / results.md / the PNGs; return the table."""
    from nd_mmdet.compare import plots
    from nd_mmdet.compare.report import build_results, markdown, \
        write_results
    work_dir = extra['work_dir']
    by_key = {(r.method, r.seed): records[r.name] for r in runs if r.trains}
    teacher_row = (teacher[0], teacher[1], records['teacher']) \
        if teacher else None
    extra.update(plots=dict(scores=osp.join(work_dir, 'scores.png'),
                            curves=osp.join(work_dir, 'curves.png')))
    results = build_results(methods, args.seeds, args.baseline, metric,
                            by_key, teacher_row,
                            pairs=[tuple(p) for p in args.pair], **extra)
    plots.plot_scores(results, extra['plots']['scores'])
    if not plots.plot_curves([(r.method, r.seed, r.run_dir) for r in runs
                              if r.trains], metric,
                             extra['plots']['curves']):
        del results['plots']['curves']
    # measured last: the plots are part of the overhead
    results['timing'] = timing(pool, reused)
    text = markdown(results)
    write_results(work_dir, results, text)
    return text


def compare(args):
    from nd_mmdet.compare.launcher import Pool
    from nd_mmdet.compare.records import read_record
    from nd_mmdet.compare.runs import Settings
    from nd_mmdet.utils.work_dir import lock_work_dir, prepare_work_dir

    work_dir = osp.abspath(args.work_dir)
    prepare_work_dir(work_dir)
    lock_work_dir(work_dir)  # one comparison per work dir at a time
    methods, teacher, metric = inspect_configs(args)
    cores = len(os.sched_getaffinity(0)) if hasattr(
        os, 'sched_getaffinity') else os.cpu_count()
    threads = args.threads or max(1, cores // args.jobs)
    env, devices = slot_env(args.jobs, threads)
    settings = Settings(TOOLS_DIR, list(args.cfg_options), metric,
                        args.checkpoint)
    runs, reused, jobs = plan(args, methods, teacher, settings, work_dir)
    print(f'[compare] {len(runs)} runs ({len(methods)} methods x '
          f'{len(args.seeds)} seeds{" + the teacher" if teacher else ""}):'
          f' {len(reused)} finished before, {len(jobs)} to run, {args.jobs} '
          f'at once with {threads} thread(s) each'
          f'{f", {devices} GPU(s)" if devices else ""}; metric {metric}',
          flush=True)

    pool = Pool(args.jobs, env, log=lambda line: print(line, flush=True))
    pool.run(jobs)

    records = {r.name: reused.get(r.name) or read_record(r.run_dir)
               for r in runs}
    rows = [dict(records[r.name] or {}, method=r.method, seed=r.seed,
                 run_dir=r.run_dir, this_invocation=pool.started.get(r.name,
                                                                     []))
            for r in runs]
    extra = dict(
        command=[sys.argv[0]] + list(args.argv), cwd=os.getcwd(),
        work_dir=work_dir, checkpoint=args.checkpoint, jobs=args.jobs,
        threads=threads, gpus=devices, cfg_options=list(args.cfg_options),
        method_options=args.options_of,
        versions=versions(), runs=rows)
    text = report(args, methods, teacher, metric, runs, records, pool,
                  reused, extra)
    results_path = osp.join(work_dir, 'results.md')
    print('\n' + text + f'\nwritten: {results_path}, '
          f'{osp.join(work_dir, "results.json")} and the plots', flush=True)
    failed = [r['method'] + ('' if r['seed'] is None else
                             f' seed {r["seed"]}')
              for r in rows if r.get('status') != 'done']
    if failed:
        print(f'[compare] {len(failed)} run(s) did not finish: '
              f'{", ".join(failed)} (see the failed runs in {results_path});'
              ' exit status 1', file=sys.stderr, flush=True)
        return 1
    return 0


def main(argv=None):
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    previous = signal.signal(signal.SIGTERM, interrupt)  # `kill`: Ctrl-C
    try:
        return compare(args)
    except KeyboardInterrupt:
        print('\n[compare] interrupted: the running trainings were stopped;'
              ' rerun the same command to continue them (finished runs are '
              'kept); results.md / results.json not written', flush=True)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == '__main__':
    sys.exit(run_cli(main))
