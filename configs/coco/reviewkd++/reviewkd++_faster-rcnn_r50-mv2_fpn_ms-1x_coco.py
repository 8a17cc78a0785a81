# ReviewKD++ R50 -> MobileNetV2 = ReviewKD (HCL on ABF-fused P2-P6, weight 2.2)
# + ND (weight 1.5) on the 1024-d RoI box feature.
# Measured on the two-stage demo (Fashion-MNIST scenes, not COCO; 5 paired
# seeds): ND lowered ReviewKD there (0/5, -0.82 AP [-1.53, -0.11]), while it
# added to DKD (docs/configs.md, two-stage rule). Prefer DKD++ or ReviewKD.
_base_ = ['../reviewkd/reviewkd_faster-rcnn_r50-mv2_fpn_ms-1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.5)))
