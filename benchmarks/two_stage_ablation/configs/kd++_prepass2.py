# KD++ with the teacher's class centres from a 2-batch pre-pass (64 of the
# 600 training scenes, a tenth of the default: one pass over them)
# do noisy centres explain the failure?
_base_ = ['./kd++.py']
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=2),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
