# Two-stage demo ReviewKD++: the ReviewKD run (reviewkd_*) + ND on the box
# features (weight 1.0, as KD++ here). Measured on 5 paired seeds: ND lowers
# ReviewKD here (0/5, -0.82 AP [-1.53, -0.11]); use ReviewKD without ND or DKD++.
_base_ = ['./reviewkd_faster-rcnn_w32-w8_fmnist-det-1k.py']
model = dict(distill_losses=dict(loss_nd=_base_.loss_nd))
