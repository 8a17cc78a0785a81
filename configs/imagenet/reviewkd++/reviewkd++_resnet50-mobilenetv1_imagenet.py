# ReviewKD++ = ReviewKD + ND (weight 4.0) on the student embedding
# projected 1024 -> 2048 (the projector of the pair base).
_base_ = ['../reviewkd/reviewkd_resnet50-mobilenetv1_imagenet.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=4.0)))
