# Faster R-CNN R101-FPN teacher -> R50-FPN student (1024-d box features on
# both sides). Teacher: MMDetection model zoo faster-rcnn_r101_fpn_1x_coco.
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='TwoStageDistiller',
    student='{{fileDirname}}/../faster_rcnn/faster-rcnn_r50_fpn_ms-1x_coco.py',
    teacher='mmdet::faster_rcnn/faster-rcnn_r101_fpn_1x_coco.py',
    teacher_ckpt='checkpoints/coco/faster-rcnn_r101_fpn_1x_coco.pth')
