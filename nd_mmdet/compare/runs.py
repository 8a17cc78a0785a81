"""One run of a comparison: train a config with one seed through
``tools/train.py``, evaluate its checkpoint through ``tools/test.py``
(the teacher's row: evaluation only), kept in a run record
(:mod:`nd_mmdet.compare.records`) so that a rerun does only what is left.

Run dir ``<work_dir>/<method>/seed_<seed>`` (the teacher:
``<work_dir>/teacher``):

- the training's own work dir (``tools/train.py --work-dir``): mmengine's
  ``<timestamp>/`` folders (logs, ``vis_data/scalars.json``) and
  checkpoints;
- ``compare_train.log`` / ``compare_test.log``: the children's output;
- ``eval/``: tools/test.py's work dir; ``metrics.json``: its metrics
  (``tools/test.py --dump-metrics``);
- ``compare_run.json``: the record.
"""
import glob
import json
import os
import os.path as osp
import sys
import time
from dataclasses import dataclass, field

from .configs import ConfigInfo
from .launcher import Command
from .records import new_record, read_record, set_aside, write_record

TRAIN_LOG = 'compare_train.log'
TEST_LOG = 'compare_test.log'
METRICS_FILE = 'metrics.json'


@dataclass
class Run:
    """One (method, seed); ``seed`` None: the teacher's evaluation."""
    method: str
    seed: int | None
    info: ConfigInfo
    run_dir: str
    checkpoint: str | None = None  # given (teacher), else found
    options: list = field(default_factory=list)  # this method's, after
    # Settings.options (tools/compare.py --method-options)

    @property
    def name(self):
        return self.method if self.seed is None else \
            f'{self.method} seed {self.seed}'

    @property
    def trains(self):
        return self.seed is not None


@dataclass
class Settings:
    """What every run of one invocation shares."""
    tools_dir: str
    options: list  # --cfg-options strings, as given
    metric: str
    which_checkpoint: str = 'last'  # or 'best'


def prepare(run, log=print):
    """The run's record when it can be continued or reused (None: start
    afresh). A run dir of another config digest, or without a valid
    record, is set aside first (never resumed from)."""
    if not osp.isdir(run.run_dir):
        return None
    try:
        record = read_record(run.run_dir)
    except ValueError as err:
        set_aside(run.run_dir, f'invalid record ({err})', log)
        return None
    if record is None:
        if any(not name.startswith('.') for name in
               os.listdir(run.run_dir)):
            set_aside(run.run_dir, 'holds files but no compare record',
                      log)
        return None
    if record['config_digest'] != run.info.digest or \
            record['seed'] != (run.seed if run.trains else -1):
        set_aside(run.run_dir, 'the config (or the teacher checkpoint) '
                  'changed since this run', log)
        return None
    return record


def _which(run, settings):
    return settings.which_checkpoint if run.trains else 'given'


def reuse(run, record, settings):
    """A finished run's record with its score for ``settings.metric`` (from
    the metrics it kept), or None when it must be evaluated again: not
    finished, evaluated with another ``--checkpoint`` choice, or without
    that metric."""
    if record is None or record['status'] != 'done' or \
            record.get('which_checkpoint') != _which(run, settings):
        return None
    try:
        score, note = pick_score(record.get('metrics') or {},
                                 settings.metric)
    except ValueError:
        return None
    return dict(record, score=score, note=note)


def job(run, settings, record):
    """Generator of the run's commands (see
    :mod:`nd_mmdet.compare.launcher`); writes the record at each step and
    returns a one-line summary."""
    if record is None:
        record = new_record(run.method, run.seed if run.trains else -1,
                            run.info.path, run.info.digest)
    record.update(run_dir=run.run_dir)
    os.makedirs(run.run_dir, exist_ok=True)
    train_log = osp.join(run.run_dir, TRAIN_LOG)
    test_log = osp.join(run.run_dir, TEST_LOG)
    if run.trains and not record.get('trained'):
        record.update(status='running', train_starts=record['train_starts']
                      + 1, train_log=train_log, started=time.time())
        write_record(run.run_dir, record)
        argv = [sys.executable, osp.join(settings.tools_dir, 'train.py'),
                run.info.path, '--work-dir', run.run_dir, '--resume',
                '--cfg-options', *settings.options, *run.options,
                f'randomness.seed={run.seed}']
        returncode, wall = yield Command(argv, train_log, 'train')
        record['train_wall_s'] = wall
        if returncode != 0:
            return _failed(run, record, 'training', returncode, train_log)
        record.update(status='trained', trained=True)
        write_record(run.run_dir, record)
    try:
        checkpoint = run.checkpoint or find_checkpoint(
            run.run_dir, settings.which_checkpoint, settings.metric)
    except ValueError as err:
        return _failed(run, record, 'checkpoint', None, train_log, str(err))
    metrics_path = osp.join(run.run_dir, METRICS_FILE)
    argv = [sys.executable, osp.join(settings.tools_dir, 'test.py'),
            run.info.path, checkpoint, '--work-dir',
            osp.join(run.run_dir, 'eval'), '--dump-metrics', metrics_path]
    if not run.trains and run.info.distiller:
        argv.append('--teacher')
    if settings.options or run.options:
        argv += ['--cfg-options', *settings.options, *run.options]
    record.update(test_log=test_log, checkpoint=checkpoint,
                  which_checkpoint=_which(run, settings))
    if osp.exists(metrics_path):
        os.remove(metrics_path)  # never read an earlier evaluation's
    returncode, wall = yield Command(argv, test_log, 'test')
    record['test_wall_s'] = wall
    if returncode != 0:
        return _failed(run, record, 'evaluation', returncode, test_log)
    try:
        metrics = read_metrics(metrics_path)
        score, note = pick_score(metrics, settings.metric)
    except ValueError as err:
        return _failed(run, record, 'evaluation', returncode, test_log,
                       str(err))
    record.update(status='done', score=score, metrics=metrics, note=note,
                  finished=time.time())
    for key in ('error', 'stage', 'returncode', 'log'):
        record.pop(key, None)  # of an earlier failed attempt
    write_record(run.run_dir, record)
    extra = f' ({note})' if note else ''
    return f'done {run.name}: {settings.metric} {score:.4g}{extra}'


def _failed(run, record, stage, returncode, log, error=None):
    error = error or last_error(log)
    record.update(status='failed', stage=stage, returncode=returncode,
                  error=error, log=log, finished=time.time())
    write_record(run.run_dir, record)
    code = '' if returncode is None else f' (exit {returncode})'
    return f'FAILED {run.name}: {stage}{code}: {error} [log: {log}]'


def last_error(log):
    """The last ``error:`` line of ``log``, else its last non-empty line."""
    try:
        with open(log, 'rb') as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 20000))
            lines = f.read().decode(errors='replace').splitlines()
    except OSError:
        return 'no log'
    lines = [ln.strip() for ln in lines if ln.strip()
             and not ln.startswith('### compare:')]
    errors = [ln for ln in lines if ln.startswith('error:')]
    return (errors or lines or ['no output'])[-1][:300]


def find_checkpoint(run_dir, which, metric):
    """``last``: the checkpoint ``--resume`` would continue from
    (``last_checkpoint``); ``best``: mmengine's ``best_<metric>_*.pth``.

    Raises:
        ValueError: none there (named).
    """
    from nd_mmdet.utils.work_dir import resolve_auto_resume
    if which == 'last':
        path = resolve_auto_resume(run_dir)
        if path is None:
            raise ValueError(f'training wrote no checkpoint in {run_dir}')
        return path
    pattern = osp.join(run_dir, f'best_{metric.replace("/", "_")}_*.pth')
    found = sorted(glob.glob(pattern), key=osp.getmtime)
    if not found:
        raise ValueError(f'no best checkpoint {pattern} (mmengine keeps it '
                         'with default_hooks.checkpoint.save_best and '
                         'validation during training)')
    return found[-1]


def read_metrics(path):
    """The ``{name: number}`` that tools/test.py --dump-metrics wrote."""
    try:
        with open(path, encoding='utf-8') as f:
            metrics = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'tools/test.py left no readable metrics file '
                         f'{path} ({err})') from None
    if not isinstance(metrics, dict) or not all(
            isinstance(v, (int, float)) for v in metrics.values()):
        raise ValueError(f'{path}: not a {{name: number}} object')
    return metrics


def pick_score(metrics, metric):
    """``(score, note)``: ``metrics[metric]``; COCO box AP 0 when the
    metric logged no COCO value at all (MMDetection's CocoMetric reports
    nothing when the detector returned no box on the whole test set).

    Raises:
        ValueError: ``metric`` missing otherwise (the keys are listed).
    """
    if metric in metrics:
        return float(metrics[metric]), None
    if metric.startswith('coco/') and \
            not any(k.startswith('coco/') for k in metrics):
        return 0.0, 'no detection on the test set: 0'
    raise ValueError(f'tools/test.py reported no {metric}; it reported '
                     f'{sorted(metrics)} (choose one with --metric)')
