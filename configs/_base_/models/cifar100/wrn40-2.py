# CIFAR-100 classifier: 128-d embedding after global pooling.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarWideResNet', depth=40, widen_factor=2),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=128,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
