# KD++ R50 -> MobileNetV2 = KD (T = 1, weight 1.0) + ND (weight 1.0) on the
# 1024-d RoI box feature, with teacher centres of the 80 classes + background.
_base_ = ['../kd/kd_faster-rcnn_r50-mv2_fpn_ms-1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
