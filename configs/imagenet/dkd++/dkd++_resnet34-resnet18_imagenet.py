# DKD++ = DKD + ND (weight 1.0).
_base_ = ['../dkd/dkd_resnet34-resnet18_imagenet.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=1.0)))
