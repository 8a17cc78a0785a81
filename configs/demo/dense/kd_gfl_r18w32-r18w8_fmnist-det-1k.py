# Dense demo GFL KD: binary KD (T = 1, weight 1.0) at the student's positive
# priors and up to 64 sampled background priors per image, as the RetinaNet
# KD run.
_base_ = ['./_base_/distill_pair_gfl.py']
model = dict(
    kd_at_negatives=True,
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)))
