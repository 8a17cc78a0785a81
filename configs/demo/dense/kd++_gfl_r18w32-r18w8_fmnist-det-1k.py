# Dense demo GFL KD++: the GFL KD run + ND (weight 1.0) at the positives.
_base_ = ['./kd_gfl_r18w32-r18w8_fmnist-det-1k.py']
model = dict(
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)),
    connectors=dict(student_embed={{_base_.student_embed_projector}}))
