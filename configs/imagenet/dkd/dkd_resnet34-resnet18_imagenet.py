# DKD: alpha * TCKD + beta * NCKD at T = 1, alpha 0.8, beta 0.5, loss
# weight 1 (the DKD++ row of method.md; DKD++ adds ND to exactly this),
# linear warm-up over 5 epochs.
_base_ = ['../_base_/pair_resnet34-resnet18.py', '../_base_/hooks_dkd.py']
model = dict(
    distill_losses=dict(
        loss_dkd=dict(
            type='nd_mmdet.DKDLoss',
            alpha=0.8,
            beta=0.5,
            temperature=1.0,
            loss_weight=1.0)))
