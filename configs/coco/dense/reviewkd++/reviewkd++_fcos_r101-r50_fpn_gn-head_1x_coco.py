# ReviewKD++ r101-r50 (fcos) = ReviewKD (HCL on the ABF-fused FPN levels,
# weight 1.2) + ND (weight 1.0, as in the dense KD++ configs) on the
# classification-branch feature at the student's positive priors.
# Measured (Fashion-MNIST demo scenes, FCOS R18-w32 -> R18-w8, 5 paired
# seeds, docs/configs.md "Which method on which detector"): ND adds nothing
# measurable to KD on FCOS (KD++ vs KD 2/5, -0.14 [-1.15, +0.87]). ND on top
# of ReviewKD is not measured; this config is shipped for measurement.
_base_ = ['../reviewkd/reviewkd_fcos_r101-r50_fpn_gn-head_1x_coco.py']
model = dict(distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
