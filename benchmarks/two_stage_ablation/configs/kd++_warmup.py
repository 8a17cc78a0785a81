# KD++ with the KD and ND weights ramped linearly from 1/100 to 1 over the
# first 100 of 300 iterations (a third of the schedule; the LR warm-up is
# 50): is the failure the distillation pull on an untrained RoI head?
_base_ = ['./kd++.py']
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
    dict(type='nd_mmdet.DistillLossWarmupHook',
         loss_names=('loss_kd', 'loss_nd'), by_epoch=False,
         warmup_iters=100),
]
