# Dense demo teacher training: all 12,000 training scenes, 1,500 iterations
# of batch 32 (4 epochs), SGD LR 0.02 with a linear warm-up then cosine decay.
_base_ = ['./fashion_mnist_det.py', './runtime.py']
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=1500,
         eta_min=2e-4),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=1500)
