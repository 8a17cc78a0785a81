# DKD++ = DKD (alpha 2.5, beta 4.0, T=4, warmed up) + ND (weight 3.5), the
# weights of the reference ResNet-56 -> ResNet-20 pair.
_base_ = ['./_base_/distill_pair.py']
model = dict(
    distill_losses=dict(
        loss_dkd=dict(type='DKDLoss', alpha=2.5, beta=4.0, temperature=4.0),
        loss_nd=dict(type='NDLoss', loss_weight=3.5)))
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(
        type='nd_mmdet.DistillLossWarmupHook',
        loss_names=('loss_dkd', ),
        by_epoch=False,
        warmup_iters=30),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
