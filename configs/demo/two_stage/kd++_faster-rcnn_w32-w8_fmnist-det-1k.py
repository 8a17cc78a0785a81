# Two-stage demo KD++: the KD run + ND (as _base_/kd++.py adds it to KD).
_base_ = ['./kd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(
    distill_losses=dict(loss_nd=_base_.loss_nd),
    connectors=dict(student_embed=_base_.student_embed_projector))
