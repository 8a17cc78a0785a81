# Dense demo GFL ablation: ND alone (weight 1.0) at the student's positive
# priors, the student's 64-d feature projected to the teacher's 128 d.
_base_ = ['./_base_/distill_pair_gfl.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)),
    connectors=dict(student_embed={{_base_.student_embed_projector}}))
