# ReviewKD++ r101-r50 (gfl) = ReviewKD (HCL on the ABF-fused FPN levels,
# weight 1.2) + ND (weight 1.0, as in the dense KD++ configs) on the
# classification-branch feature at the student's positive priors.
_base_ = ['../reviewkd/reviewkd_gfl_r101-r50_fpn_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
