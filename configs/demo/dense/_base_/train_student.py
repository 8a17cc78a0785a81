# Dense demo student training (alone and distilled alike): the first 1,000
# training scenes (the same for every method and seed), 600 iterations of
# batch 32 (19 epochs), SGD LR 0.02 with a linear warm-up then cosine decay.
_base_ = ['./fashion_mnist_det.py', './runtime.py']
train_dataloader = dict(dataset=dict(indices=1000))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=60),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=60, end=600,
         eta_min=2e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=600)
