# Faster R-CNN R101-FPN teacher (model zoo faster-rcnn_r101_fpn_2x, box AP
# 39.8) -> R50-FPN student, 2x, distilled at the neck. Both FPNs give P2-P6
# (strides 4-64, 256 channels); PKD's published setting distils the first
# four (strides 4-32).
# The distiller config inherits the student's own config (data, schedule,
# optimiser, runtime) and replaces its model by the distiller.
_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py']
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
# Exact resume: each epoch's random stream depends on seed + epoch.
custom_hooks = [
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
model = dict(
    _delete_=True,
    _scope_='nd_mmdet',
    type='NeckDistiller',
    student='mmdet::faster_rcnn/faster-rcnn_r50_fpn_2x_coco.py',
    teacher='mmdet::faster_rcnn/faster-rcnn_r101_fpn_2x_coco.py',
    teacher_ckpt='checkpoints/coco/faster-rcnn_r101_fpn_2x_coco.pth',
    strides=[4, 8, 16, 32])
