# DIST++ = DIST + ND (weight 1.0).
_base_ = ['../dist/dist_resnet56-resnet20_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=1.0)))
