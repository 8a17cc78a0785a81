# Teacher training: the full 60,000-image training set, 940 iterations of
# batch 64 (one epoch) without augmentation, SGD (momentum 0.9, Nesterov,
# weight decay 5e-4), LR 0.1 with a linear warm-up then cosine decay.
# Overriding train_cfg.max_iters also needs param_scheduler.1.end
# (tools/demo.py does both).
_base_ = ['./fashion_mnist.py', './runtime.py']
train_dataloader = dict(
    batch_size=64, dataset=dict(pipeline=[dict(type='PackInputs')]))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=940,
         eta_min=1e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=940)
