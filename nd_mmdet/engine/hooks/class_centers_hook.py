"""Install the teacher class centres before training starts."""
import os.path as osp

from mmengine.hooks import Hook

from nd_mmdet.registry import HOOKS
from ..class_centers import prepare_class_centers, unwrap


@HOOKS.register_module()
class ClassCentersHook(Hook):
    """Load (or compute, then save) the teacher class centres.

    Before training (also after ``--resume``), if the model reads
    ``class_centers``: ``centers_file`` is loaded and checked when it exists;
    otherwise ``<work_dir>/class_centers.pth`` is loaded when it exists; else
    the centres are computed over the training data with the teacher (one
    pass, or ``max_iters`` batches) and saved there.

    Args:
        centers_file (str, optional): a centre file made by
            ``tools/compute_class_centers.py``.
        max_iters (int, optional): batches of the pre-pass (detection uses
            a fixed number of iterations); None = one pass.
    """

    priority = 'VERY_HIGH'

    def __init__(self, centers_file=None, max_iters=None):
        self.centers_file = centers_file
        self.max_iters = max_iters

    def before_train(self, runner):
        model = unwrap(runner.model)
        if not getattr(model, 'needs_class_centers', False):
            return
        prepare_class_centers(
            model,
            runner.train_dataloader,
            self.centers_file,
            osp.join(runner.work_dir, 'class_centers.pth'),
            max_iters=self.max_iters,
            logger=runner.logger)
