# Faster R-CNN MobileNetV2-FPN, 1x, multi-scale training: the MobileNetV2
# student trained alone (baseline of R50 -> MV2) and the `student` of those
# distillers. Backbone outputs (1, 2, 4, 7) = 24/32/96/1280 channels at
# strides 4/8/16/32 feed the FPN (P2-P5, P6 by max-pooling), like ResNet's
# C2-C5. BN frozen in eval mode as in the ResNet students; same image
# normalisation as the ResNet teachers (the ImageNet-pretrained
# open-mmlab://mmdet/mobilenet_v2 uses it too).
_base_ = './faster-rcnn_r50_fpn_ms-1x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        out_indices=(1, 2, 4, 7),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=True,
        init_cfg=dict(
            type='Pretrained', checkpoint='open-mmlab://mmdet/mobilenet_v2')),
    neck=dict(in_channels=[24, 32, 96, 1280]))
