# Shared by every CIFAR-100 distillation config: data, the reference schedule,
# runtime, the teacher class-centre pre-pass and the 20-epoch KD warm-up.
_base_ = [
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(
        type='nd_mmdet.DistillLossWarmupHook',
        loss_names=('loss_kd', ),
        warmup_epochs=20),
]
