# Faster R-CNN R18-FPN, 1x, multi-scale training: the R18 student trained
# alone (baseline of R101 -> R18) and the `student` of those distillers.
_base_ = './faster-rcnn_r50_fpn_ms-1x_coco.py'
model = dict(
    backbone=dict(
        depth=18,
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')),
    neck=dict(in_channels=[64, 128, 256, 512]))
