# DKD++ = DKD + ND (weight 3.5).
_base_ = ['../dkd/dkd_resnet56-resnet20_cifar100.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=3.5)))
