# KD++ = KD (T=4, weight 1.0, warmed up) + ND (weight 2.0), the weights of
# the reference ResNet-56 -> ResNet-20 pair.
_base_ = ['./_base_/distill_pair.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=1.0),
        loss_nd=dict(type='NDLoss', loss_weight=2.0)))
