# KD++ = KD + ND (weight 1.5) on the student embedding
# projected 64 -> 128 (the projector of the pair base).
_base_ = ['../kd/kd_wrn40-2-wrn40-1_cifar100.py']
model = dict(
    connectors=dict(student_embed={{_base_.embed_projector}}),
    distill_losses=dict(loss_nd=dict(type='nd_mmdet.NDLoss', loss_weight=1.5)))
