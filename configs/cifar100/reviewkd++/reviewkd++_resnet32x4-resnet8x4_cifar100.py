# ReviewKD++ = ReviewKD + ND (weight 1.0).
_base_ = ['../reviewkd/reviewkd_resnet32x4-resnet8x4_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=1.0)))
