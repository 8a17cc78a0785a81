# CIFAR-100 classifier: 64-d embedding after global pooling.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarResNet', arch='resnet56'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
