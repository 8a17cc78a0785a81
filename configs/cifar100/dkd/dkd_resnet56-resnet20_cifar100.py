# DKD: alpha * TCKD + beta * NCKD at T = 4, alpha 2.5, beta 4.0, loss
# weight 1 (the DKD++ row of method.md; DKD++ adds ND to exactly this),
# linear warm-up over 20 epochs.
_base_ = ['../_base_/pair_resnet56-resnet20.py', '../_base_/hooks_dkd.py']
model = dict(
    distill_losses=dict(
        loss_dkd=dict(
            type='nd_mmdet.DKDLoss',
            alpha=2.5,
            beta=4.0,
            temperature=4.0,
            loss_weight=1.0)))
