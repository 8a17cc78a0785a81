# KD: T^2 * KL(teacher || student) at T = 1, weight 2.5 (the KD++ row of
# method.md; KD++ adds ND to exactly this), linear warm-up over 5 epochs.
_base_ = ['../_base_/pair_resnet34-resnet18.py', '../_base_/hooks_kd.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='nd_mmdet.KDLoss', temperature=1.0,
                     loss_weight=2.5)))
