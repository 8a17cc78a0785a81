# Shared by every ImageNet distillation config: data (64 per GPU x 8 GPUs =
# the reference batch 512), the reference schedule (100 epochs, SGD Nesterov
# lr 0.2, weight decay 1e-4, x0.1 at 30/60/90) and the runtime. The custom
# hooks (teacher class-centre pre-pass, 5-epoch warm-up of the method's base
# KD loss) come from the method's hooks_<method>.py.
_base_ = [
    '../../_base_/datasets/imagenet_bs64.py',
    '../../_base_/schedules/imagenet_bs512_100e.py',
    '../../_base_/default_runtime_cls.py',
]
