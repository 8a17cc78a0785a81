# ResNet-18 for ImageNet (MMPretrain's ResNet, torchvision layout and
# stride-in-3x3 "pytorch" style): 512-d embedding after global pooling.
# Stage modules backbone.layer1..layer4 output 64/128/256/512 channels at
# 56/28/14/7 px for a 224-px input.
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
