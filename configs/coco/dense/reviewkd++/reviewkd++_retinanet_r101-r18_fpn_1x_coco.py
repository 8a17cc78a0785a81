# ReviewKD++ r101-r18 (retinanet) = ReviewKD (HCL on the ABF-fused FPN levels,
# weight 1.2) + ND (weight 1.0, as in the dense KD++ configs) on the
# classification-branch feature at the student's positive priors.
_base_ = ['../reviewkd/reviewkd_retinanet_r101-r18_fpn_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
