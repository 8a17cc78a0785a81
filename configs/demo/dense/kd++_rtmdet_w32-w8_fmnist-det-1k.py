# Dense demo head-level KD++ for RTMDet: binary KD (weight 1.0) at the
# student's positive priors and up to 64 sampled background priors per image
# (kd_at_negatives), + ND (weight 1.0) on the per-level classification-branch
# feature at the positives, the student's projected 32 -> 64 d; the RetinaNet
# KD++ setting, not tuned for RTMDet.
_base_ = ['./_base_/distill_pair_rtmdet.py']
model = dict(
    kd_at_negatives=True,
    distill_losses=dict(
        loss_kd=dict(type='BinaryKDLoss', temperature=1.0, loss_weight=1.0),
        loss_nd=dict(type='NDLoss', loss_weight=1.0)),
    connectors=dict(student_embed={{_base_.student_embed_projector}}))
