# Two-stage demo ReviewKD++: the ReviewKD run (reviewkd_*) + ND on the box
# features (weight 1.0, as KD++ here).
_base_ = ['./reviewkd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(distill_losses=dict(loss_nd=_base_.loss_nd))
