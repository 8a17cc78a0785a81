# Shared by every CIFAR-100 distillation config: data, the reference schedule
# (240 epochs, SGD lr 0.1, x0.1 at 150/180/210) and the runtime. The custom
# hooks (teacher class-centre pre-pass, 20-epoch warm-up of the method's base
# KD loss) come from the method's hooks_<method>.py.
_base_ = [
    '../../_base_/datasets/cifar100_bs64.py',
    '../../_base_/schedules/cifar100_bs128_240e.py',
    '../../_base_/default_runtime_cls.py',
]
