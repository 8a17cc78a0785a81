# ResNet-50 for ImageNet (MMPretrain's ResNet, torchvision layout and
# stride-in-3x3 "pytorch" style): 2048-d embedding after global pooling.
# Stage modules backbone.layer1..layer4 output 256/512/1024/2048 channels at
# 56/28/14/7 px for a 224-px input.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=2048,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
