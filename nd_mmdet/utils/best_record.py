"""The best-checkpoint record survives a save that did not complete.

mmengine's ``CheckpointHook`` saves ``epoch_N.pth`` after the epoch, then
validates; when the score is the best so far it writes
``best_<metric>_epoch_N.pth`` and saves ``epoch_N.pth`` a second time so
that its message hub records the new ``best_score`` / ``best_ckpt``. When
that second save fails (a full disk, a kill; atomic writes keep the first
``epoch_N.pth``), ``--resume`` from ``epoch_N.pth`` starts with no record:
a worse later epoch is named best and the better ``best_*`` file stays.

:func:`restore_best_record` (run by :class:`BestRecordHook` before
``CheckpointHook.before_train`` reads the record) takes the best score of
the run's own ``best_<metric>_*.pth`` files (each records its score in its
message hub) and restores it when it beats the resumed record or there is
none. One ``save_best`` metric is handled (with several, mmengine keeps one
record per metric; they are left as they are).
"""
import glob
import os.path as osp

import torch
from mmengine.hooks import CheckpointHook, Hook


def recorded_best_score(path):
    """``best_score`` of the message hub saved in ``path`` (None when the
    file cannot be read or holds none)."""
    from .safe_load import _safe_globals
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            ckpt = torch.load(path, map_location='cpu', weights_only=True,
                              mmap=True)
        return ckpt['message_hub']['runtime_info'].get('best_score')
    except Exception:  # noqa: BLE001 (a damaged file is no record)
        return None


def restore_best_record(runner):
    """Restore the best score / checkpoint record from the run's best
    files when the resumed one is missing or worse; returns the restored
    path (None when nothing changed)."""
    hook = next((h for h in runner.hooks if isinstance(h, CheckpointHook)),
                None)
    keys = getattr(hook, 'key_indicators', None) or []
    if hook is None or len(keys) != 1 or keys[0] == 'auto':
        return None
    better = hook.is_better_than[keys[0]]
    out_dir = runner.work_dir if hook.out_dir is None else osp.join(
        hook.out_dir, osp.basename(runner.work_dir))
    prefix = f'best_{keys[0]}_'.replace('/', '_')
    best = None
    for path in sorted(glob.glob(osp.join(glob.escape(out_dir),
                                          prefix + '*.pth'))):
        score = recorded_best_score(path)
        if score is not None and (best is None or better(score, best[0])):
            best = (score, path)
    recorded = runner.message_hub.get_info('best_score')
    if best is None or (recorded is not None and
                        not better(best[0], recorded)):
        return None
    runner.message_hub.update_info('best_score', best[0])
    runner.message_hub.update_info('best_ckpt', best[1])
    runner.logger.warning(
        f'resume: the resumed checkpoint records best {keys[0]} '
        f'{recorded} but {best[1]} holds {best[0]} (the save that records '
        'it did not complete); it is the best checkpoint again')
    return best[1]


class BestRecordHook(Hook):
    """Runs :func:`restore_best_record` before the checkpoint hook reads
    the record (``tools/train.py`` registers it when resuming)."""

    priority = 'VERY_HIGH'

    def before_train(self, runner):
        restore_best_record(runner)
