# KD: T^2 * KL(teacher || student) at T = 4, weight 1.0 (the KD++ row of
# method.md; KD++ adds ND to exactly this), linear warm-up over 20 epochs.
_base_ = ['../_base_/pair_wrn40-2-wrn40-1.py', '../_base_/hooks_kd.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='nd_mmdet.KDLoss', temperature=4.0,
                     loss_weight=1.0)))
