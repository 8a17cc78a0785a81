# DKD++ = DKD + ND (weight 0.5).
_base_ = ['../dkd/dkd_resnet32x4-resnet8x4_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=0.5)))
