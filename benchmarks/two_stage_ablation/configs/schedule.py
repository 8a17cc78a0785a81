_base_ = ['nd_mmdet::demo/dense/_base_/runtime.py']
iters = {{'$ITERS:300'}}
warmup = min(50, iters // 2)
train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0,
         end=warmup),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=warmup, end=iters,
         eta_min=2e-4),
]
