# Faster R-CNN R50-FPN teacher -> MobileNetV2-FPN student (1024-d box
# features on both sides: the box heads are the same). Teacher: MMDetection
# model zoo faster-rcnn_r50_fpn_1x_coco (box AP 37.4).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='TwoStageDistiller',
    student='{{fileDirname}}/../faster_rcnn/'
    'faster-rcnn_mobilenetv2_fpn_ms-1x_coco.py',
    teacher='mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py',
    teacher_ckpt='checkpoints/coco/faster-rcnn_r50_fpn_1x_coco.pth')
