# Two-stage demo KD++: the KD run + ND (as _base_/kd++.py adds it to KD) on
# the box features, both 8 * teacher_width wide (no projector).
_base_ = ['./kd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(distill_losses=dict(loss_nd=_base_.loss_nd))
