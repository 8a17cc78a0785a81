# Demo student: a thin CIFAR ResNet-8 (8-8-16-64 channels, 53k parameters,
# about 1/3 of the teacher's multiply-adds); its 64-d embedding has the
# teacher's width, so ND compares the raw embeddings (no projector).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='nd_mmdet.CifarResNet', arch='resnet8', channels=(8, 8, 16, 64)),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
