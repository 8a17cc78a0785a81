# MobileNetV1 (width 1.0) for ImageNet: 1024-d embedding after global
# pooling; the ReviewKD student of ResNet-50.
# NOTE: MMPretrain 1.3.6 (and MMDetection, torchvision) have no MobileNetV1:
# this needs a registered `nd_mmdet.MobileNetV1` backbone (not there yet):
# the 3x3 stride-2 conv-BN-ReLU stem to 32 channels and the 13 depthwise-
# separable blocks of Howard et al. 2017, stage modules layer1..layer4 ending
# at 128/256/512/1024 channels (56/28/14/7 px for a 224-px input; the
# ReviewKD taps) and `out_indices` (default (3, )).
model = dict(
    type='mmpretrain.ImageClassifier',
    backbone=dict(type='nd_mmdet.MobileNetV1', out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=1000,
        in_channels=1024,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        topk=(1, 5)))
