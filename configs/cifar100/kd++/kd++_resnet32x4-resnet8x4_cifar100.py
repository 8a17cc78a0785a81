# KD++ = KD + ND (weight 2.0).
_base_ = ['../kd/kd_resnet32x4-resnet8x4_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=2.0)))
