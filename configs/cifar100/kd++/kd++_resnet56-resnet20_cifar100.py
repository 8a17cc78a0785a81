# KD++ = KD (T=4, weight 1.0, 20-epoch warm-up) + ND (weight 2.0).
_base_ = ['../_base_/pair_resnet56-resnet20.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=1.0),
        loss_nd=dict(type='NDLoss', loss_weight=2.0)))
