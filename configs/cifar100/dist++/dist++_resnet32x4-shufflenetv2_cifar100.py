# DIST++ = DIST + ND (weight 4.0) on the student embedding
# projected 1024 -> 256 (the projector of the pair base).
_base_ = ['../dist/dist_resnet32x4-shufflenetv2_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=4.0)))
