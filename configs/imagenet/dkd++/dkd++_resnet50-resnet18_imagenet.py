# DKD++ = DKD + ND (weight 2.0) on the student embedding
# projected 512 -> 2048 (the projector of the pair base).
_base_ = ['../dkd/dkd_resnet50-resnet18_imagenet.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=2.0)))
