# KD R101 -> R50: KL divergence on the (K+1)-way RoI classification logits
# of the student's sampled proposals (T = 1, weight 1.0).
_base_ = ['../_base_/pair_r101-r50.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0)))
