"""Exact resume: every epoch starts from a random state fixed by its index."""
from mmengine.hooks import Hook
from mmengine.runner import set_random_seed

from nd_mmdet.registry import HOOKS
from ..class_centers import unwrap


@HOOKS.register_module()
class ReseedPerEpochHook(Hook):
    """Seed python, numpy and torch with ``seed + epoch`` before each epoch.

    mmengine seeds once at start and does not store random states in
    checkpoints, so a run resumed from ``epoch_k.pth`` draws different
    augmentations and dropout masks than the uninterrupted run (which also
    spent random numbers on validation in between). With this hook an
    epoch's random stream depends only on the seed and the epoch index, so a
    resumed run reproduces the uninterrupted one bit for bit on CPU (with
    ``randomness=dict(seed=..., deterministic=True)``). The DataLoader
    iterator is created after this hook, so worker seeds follow too, and
    so does a distiller's own random stream (``distill_stream``).

    Args:
        seed (int, optional): base seed; defaults to the runner's seed.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed=None):
        self.seed = seed

    def before_train_epoch(self, runner):
        base = self.seed if self.seed is not None else runner.seed
        diff_rank_seed = runner._randomness_cfg.get('diff_rank_seed', False)
        seed = set_random_seed(
            base + runner.epoch,
            deterministic=False,
            diff_rank_seed=diff_rank_seed)
        # A distiller's own stream (projector dropout, sampled negatives)
        # restarts too.
        stream = getattr(unwrap(runner.model), 'distill_stream', None)
        if stream is not None:
            stream.reseed(seed + 1_000_003)
