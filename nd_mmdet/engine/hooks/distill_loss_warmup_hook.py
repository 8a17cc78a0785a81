"""Linear warm-up of distillation loss weights (the KD term of X++)."""
from mmengine.hooks import Hook

from nd_mmdet.registry import HOOKS
from ..class_centers import unwrap


@HOOKS.register_module()
class DistillLossWarmupHook(Hook):
    """Scale the named losses by ``w = min(1, (epoch + 1) / warmup_epochs)``.

    Matches the reference ``min(1, epoch / E_w)`` with 1-based epochs, so the
    first epoch trains with ``1 / E_w``. With ``by_epoch=False`` the factor is
    ``min(1, (iter + 1) / warmup_iters)``. The factor depends only on the
    runner's epoch / iteration, so it is exact after ``--resume``; it is
    logged as ``<loss name>_warmup``.

    Args:
        loss_names (tuple[str]): distiller loss names to scale.
        warmup_epochs (int): E_w (20 on CIFAR-100, 5 on ImageNet).
        by_epoch (bool): epoch-based (default) or iteration-based.
        warmup_iters (int): length of the warm-up when ``by_epoch=False``.
    """

    priority = 'NORMAL'

    def __init__(self, loss_names=('loss_kd', ), warmup_epochs=20,
                 by_epoch=True, warmup_iters=None):
        if by_epoch and (not warmup_epochs or warmup_epochs < 1):
            raise ValueError(f'warmup_epochs must be >= 1, got '
                             f'{warmup_epochs}')
        if not by_epoch and (not warmup_iters or warmup_iters < 1):
            raise ValueError(f'warmup_iters must be >= 1 with by_epoch=False,'
                             f' got {warmup_iters}')
        self.loss_names = tuple(loss_names)
        self.warmup_epochs = warmup_epochs
        self.by_epoch = by_epoch
        self.warmup_iters = warmup_iters

    def before_train(self, runner):
        model = unwrap(runner.model)
        known = list(getattr(model, 'distill_losses', {}).keys())
        unknown = [n for n in self.loss_names if n not in known]
        if unknown:
            raise ValueError(f'DistillLossWarmupHook: losses {unknown} are '
                             f'not distillation losses of the model {known}')

    def factor(self, epoch, iteration):
        if self.by_epoch:
            return min(1.0, (epoch + 1) / self.warmup_epochs)
        return min(1.0, (iteration + 1) / self.warmup_iters)

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = unwrap(runner.model)
        factor = self.factor(runner.epoch, runner.iter)
        for name in self.loss_names:
            model.loss_scales[name] = factor
            runner.message_hub.update_scalar(f'train/{name}_warmup', factor)
