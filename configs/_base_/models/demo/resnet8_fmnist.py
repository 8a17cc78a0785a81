# Demo teacher: CIFAR ResNet-8 (16-16-32-64 channels, 78k parameters) on
# 28x28 Fashion-MNIST images (grey repeated to 3 channels); 64-d embedding.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.CifarResNet', arch='resnet8'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=10,
        in_channels=64,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0)))
