"""Switch distillation losses off for the last epochs of training (the
RTMDet recipe stops distilling for its final no-mosaic epochs)."""
from mmengine.hooks import Hook

from nd_mmdet.registry import HOOKS
from ..class_centers import unwrap


@HOOKS.register_module()
class DistillLossStopHook(Hook):
    """From epoch ``stop_epoch`` (0-based, as ``runner.epoch``; with
    ``by_epoch=False`` from iteration ``stop_iter``) the named losses are
    multiplied by 0.

    They are still computed (their value is logged, multiplied by 0, and
    connectors keep a gradient path, so DDP needs no
    ``find_unused_parameters``); only their contribution to training
    stops. The factor depends only on the runner's epoch / iteration, so it
    is exact after ``--resume``. It runs after ``DistillLossWarmupHook``
    (priority ``LOW``), so a stopped loss stays at 0.

    Args:
        stop_epoch (int): first epoch without the losses (280 of RTMDet's
            300: its last 20 epochs train without mosaic, and without
            distillation).
        loss_names (tuple[str], optional): distiller loss names; default
            every distillation loss of the model.
        by_epoch (bool): epoch-based (default) or iteration-based.
        stop_iter (int): with ``by_epoch=False``, the first iteration
            without the losses.
    """

    priority = 'LOW'

    def __init__(self, stop_epoch=None, loss_names=None, by_epoch=True,
                 stop_iter=None):
        stop = stop_epoch if by_epoch else stop_iter
        name = 'stop_epoch' if by_epoch else 'stop_iter'
        if not isinstance(stop, int) or isinstance(stop, bool) or stop < 0:
            raise ValueError(f'DistillLossStopHook: {name} must be an int '
                             f'>= 0, got {stop!r}')
        self.stop = stop
        self.by_epoch = by_epoch
        self.loss_names = None if loss_names is None else tuple(loss_names)

    def before_train(self, runner):
        model = unwrap(runner.model)
        known = list(getattr(model, 'distill_losses', {}).keys())
        if self.loss_names is None:
            self.loss_names = tuple(known)
        unknown = [n for n in self.loss_names if n not in known]
        if unknown or not known:
            raise ValueError(f'DistillLossStopHook: losses {unknown} are '
                             f'not distillation losses of the model {known}')

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        now = runner.epoch if self.by_epoch else runner.iter
        if now < self.stop:
            return
        model = unwrap(runner.model)
        for name in self.loss_names:
            model.loss_scales[name] = 0.0
