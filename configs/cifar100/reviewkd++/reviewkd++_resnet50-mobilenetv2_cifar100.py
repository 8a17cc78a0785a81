# ReviewKD++ = ReviewKD + ND (weight 2.0) on the student embedding
# projected 1280 -> 2048 (the projector of the pair base).
_base_ = ['../reviewkd/reviewkd_resnet50-mobilenetv2_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=2.0)))
