# The reference CIFAR-100 schedule: 240 epochs, SGD (momentum 0.9, Nesterov),
# weight decay 5e-4, LR 0.1 for ResNet/WRN students (0.02 for MobileNet and
# ShuffleNet: override optim_wrapper.optimizer.lr), x0.1 at 150/180/210.
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))
param_scheduler = dict(
    type='MultiStepLR', by_epoch=True, milestones=[150, 180, 210], gamma=0.1)
train_cfg = dict(by_epoch=True, max_epochs=240, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=128)
