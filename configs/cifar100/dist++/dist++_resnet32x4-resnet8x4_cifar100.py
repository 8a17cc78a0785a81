# DIST++ = DIST + ND (weight 4.0).
_base_ = ['../dist/dist_resnet32x4-resnet8x4_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=4.0)))
