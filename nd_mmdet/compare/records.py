"""The record of one run of a comparison: ``<run_dir>/compare_run.json``.

Written atomically (temporary file + rename) at each change of state, and
checked when read, so an interrupted comparison knows on its rerun what
each run dir holds:

- ``status``: ``'running'`` (training started, not finished: the rerun
  continues it with ``tools/train.py --resume``), ``'trained'`` (training
  finished, evaluation not: the rerun only evaluates), ``'done'`` (score
  and metrics known: reused), ``'failed'`` (``stage``, ``returncode``,
  ``error`` and the ``log`` say why: the rerun tries again);
- ``config_digest`` and ``seed``: a record of another digest means the
  config changed since; its run dir is set aside, never resumed from;
- ``train_starts``: how many times ``tools/train.py`` was started for this
  run (over all invocations), ``train_wall_s`` / ``test_wall_s`` the wall
  times of the last training / evaluation.
"""
import json
import os
import os.path as osp

from nd_mmdet.compat import atomic_write_bytes

RECORD_NAME = 'compare_run.json'
FORMAT = 1
STATUSES = ('running', 'trained', 'done', 'failed')
#: Keys every record has, with their types.
REQUIRED = dict(format=int, method=str, seed=int, config=str,
                config_digest=str, status=str, train_starts=int)


def record_path(run_dir):
    return osp.join(run_dir, RECORD_NAME)


def new_record(method, seed, config, digest):
    return dict(format=FORMAT, method=method, seed=seed, config=config,
                config_digest=digest, status='running', train_starts=0)


def write_record(run_dir, record):
    """Check and write ``record`` atomically."""
    check_record(record, record_path(run_dir))
    atomic_write_bytes(
        json.dumps(record, indent=1, sort_keys=True).encode(),
        record_path(run_dir))


def check_record(record, path):
    """Raise ValueError naming ``path`` and the key at fault."""
    if not isinstance(record, dict):
        raise ValueError(f'{path}: not a JSON object')
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind) or \
                isinstance(record.get(key), bool):
            raise ValueError(f'{path}: key {key!r} missing or not '
                             f'{kind.__name__}')
    if record['format'] != FORMAT:
        raise ValueError(f'{path}: format {record["format"]}, this tool '
                         f'reads {FORMAT}')
    if record['status'] not in STATUSES:
        raise ValueError(f'{path}: status {record["status"]!r} not one of '
                         f'{STATUSES}')
    if record['status'] == 'done' and not isinstance(
            record.get('score'), (int, float)):
        raise ValueError(f'{path}: status done without a numeric score')


def read_record(run_dir):
    """The record of ``run_dir``, or None when there is none.

    Raises:
        ValueError: the file is not a valid record (path and reason).
    """
    path = record_path(run_dir)
    if not osp.isfile(path):
        return None
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: unreadable ({err})') from None
    check_record(record, path)
    return record


def set_aside(run_dir, reason, log=print):
    """Rename ``run_dir`` to a free ``<run_dir>.old<N>`` (nothing is
    deleted); ``reason`` is logged."""
    n = 1
    while osp.lexists(f'{run_dir}.old{n}'):
        n += 1
    os.rename(run_dir, f'{run_dir}.old{n}')
    log(f'[compare] {run_dir}: {reason}; moved to {run_dir}.old{n}, the '
        'run starts afresh')
