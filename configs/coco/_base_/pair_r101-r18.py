# Faster R-CNN R101-FPN teacher -> R18-FPN student (both 1024-d box features:
# no projector). Teacher: MMDetection model zoo faster-rcnn_r101_fpn_1x_coco
# (box AP 39.4), downloaded to teacher_ckpt (see configs/coco/README.md).
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='TwoStageDistiller',
    student='{{fileDirname}}/../faster_rcnn/faster-rcnn_r18_fpn_ms-1x_coco.py',
    teacher='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
    teacher_ckpt='checkpoints/coco/faster-rcnn_r101_fpn_1x_coco.pth')
