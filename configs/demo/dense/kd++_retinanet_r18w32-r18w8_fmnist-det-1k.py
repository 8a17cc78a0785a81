# Dense demo KD++: the KD run (binary KD, weight 1.0) + ND (weight 1.0) on the
# classification-branch feature at the same positives, the student's
# projected 64 -> 128 d.
_base_ = ['./kd_retinanet_r18w32-r18w8_fmnist-det-1k.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)),
    connectors=dict(student_embed={{_base_.student_embed_projector}}))
