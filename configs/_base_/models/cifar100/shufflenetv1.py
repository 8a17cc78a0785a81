# CIFAR-100 classifier: 960-d embedding after global pooling.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarShuffleNetV1'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=960,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
