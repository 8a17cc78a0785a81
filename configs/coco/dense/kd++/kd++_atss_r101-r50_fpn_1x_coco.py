# KD++ r101-r50 (atss) = the KD config + ND (weight 1.0) on the
# classification-branch feature (256-d) at the student's positive priors,
# with K teacher class centres. Weights are our choice, no published numbers.
_base_ = ['../kd/kd_atss_r101-r50_fpn_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
