# ReviewKD++ = ReviewKD + ND (weight 3.0).
_base_ = ['../reviewkd/reviewkd_resnet34-resnet18_imagenet.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=3.0)))
