# CIFAR-100 classifier: 2048-d embedding after global pooling.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarResNet50', depth=50),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
