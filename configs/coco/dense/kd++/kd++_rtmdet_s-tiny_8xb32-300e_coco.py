# KD++ s-tiny (rtmdet) = the KD config + ND (weight 1.0) on the per-level
# classification-branch feature at the student's positive priors, the
# student's 96 d projected to the teacher's 128 d, K teacher class centres.
# Weights are our choice, no published numbers.
_base_ = ['../kd/kd_rtmdet_s-tiny_8xb32-300e_coco.py']
model = dict(
    connectors=dict(
        student_embed=dict(
            type='EmbeddingProjector', in_channels=96, out_channels=128)),
    distill_losses=dict(loss_nd=dict(type='NDLoss', loss_weight=1.0)))
