# KD r101-r50 (fcos): binary (per-class sigmoid) KL on the K class scores of
# the priors that the student's assigner marks positive (T = 1, weight 1.0; our
# choice, no published numbers).
_base_ = ['../_base_/pair_fcos_r101-r50.py']
model = dict(
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0)))
