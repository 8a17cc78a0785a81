# The reference ImageNet distillation schedule: 100 epochs, batch 512, SGD
# (momentum 0.9, Nesterov), LR 0.2, weight decay 1e-4, x0.1 at 30/60/90.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.2, momentum=0.9, nesterov=True, weight_decay=1e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[30, 60, 90], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# `--auto-scale-lr` rescales LR 0.2 to the actual total batch size.
auto_scale_lr = dict(base_batch_size=512)
