# ReviewKD++ r101-r50 (gfl) = ReviewKD (HCL on the ABF-fused FPN levels,
# weight 1.2) + ND (weight 1.0, as in the dense KD++ configs) on the
# classification-branch feature at the student's positive priors.
# Measured (Fashion-MNIST demo scenes, GFL R18-w32 -> R18-w8, 5 paired
# seeds, docs/configs.md "Which method on which detector"): ND LOWERS KD on
# GFL a little (KD++ vs KD 0/5, -0.48 [-0.76, -0.20]; still +2.86 over the
# student alone). ND on top of ReviewKD is not measured; use the ReviewKD
# config for GFL; this one is shipped for measurement.
_base_ = ['../reviewkd/reviewkd_gfl_r101-r50_fpn_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
