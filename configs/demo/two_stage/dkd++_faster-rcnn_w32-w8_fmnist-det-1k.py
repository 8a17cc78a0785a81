# Two-stage demo DKD++: the DKD run (dkd_*) + ND on the box features
# (weight 1.0, as KD++ here).
_base_ = ['./dkd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(distill_losses=dict(loss_nd=_base_.loss_nd))
