# DKD: alpha * TCKD + beta * NCKD at T = 4, alpha 0.5, beta 6.0, loss
# weight 1 (the DKD++ row of method.md; DKD++ adds ND to exactly this),
# linear warm-up over 20 epochs.
_base_ = [
    '../_base_/pair_resnet32x4-shufflenetv2.py', '../_base_/hooks_dkd.py'
]
model = dict(
    distill_losses=dict(
        loss_dkd=dict(
            type='nd_mmdet.DKDLoss',
            alpha=0.5,
            beta=6.0,
            temperature=4.0,
            loss_weight=1.0)))
