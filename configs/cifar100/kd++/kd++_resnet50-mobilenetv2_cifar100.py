# KD++ = KD + ND (weight 0.5) on the student embedding
# projected 1280 -> 2048 (the projector of the pair base).
_base_ = ['../kd/kd_resnet50-mobilenetv2_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=0.5)))
