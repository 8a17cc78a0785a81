# Student training (alone and distilled alike): a fixed class-balanced
# 2,000-image subset of the training set (subset_seed 0: the same images for
# every method and seed), 300 iterations of batch 64 (9.6 epochs), SGD
# (momentum 0.9, Nesterov, weight decay 5e-4), LR 0.1 with a linear warm-up
# then cosine decay. Overriding train_cfg.max_iters also needs
# param_scheduler.1.end (tools/demo.py does both).
_base_ = ['./fashion_mnist.py', './runtime.py']
train_dataloader = dict(
    batch_size=64, dataset=dict(subset_size=2000, subset_seed=0))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=30, end=300,
         eta_min=1e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=300)
