# DKD++ = DKD + ND (weight 0.5) on the student embedding
# projected 1024 -> 256 (the projector of the pair base).
_base_ = ['../dkd/dkd_resnet32x4-shufflenetv2_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=0.5)))
