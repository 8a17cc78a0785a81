# DKD++ R101 -> R50 = DKD (alpha 1, beta 8, T 1) + ND (weight 1.0, as in
# KD++ of this pair; the paper gives no detection DKD++ weights).
_base_ = ['../dkd/dkd_faster-rcnn_r101-r50_fpn_ms-1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
