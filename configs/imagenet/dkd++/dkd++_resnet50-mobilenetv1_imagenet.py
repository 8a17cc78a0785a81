# DKD++ = DKD + ND (weight 1.0) on the student embedding
# projected 1024 -> 2048 (the projector of the pair base).
_base_ = ['../dkd/dkd_resnet50-mobilenetv1_imagenet.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=1.0)))
