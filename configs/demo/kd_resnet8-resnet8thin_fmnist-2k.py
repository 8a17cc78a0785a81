# KD alone (T=4, weight 1.0, warmed up), no ND: the "X" of KD++.
_base_ = ['./_base_/distill_pair.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=1.0)))
