# RetinaNet X101-64x4d teacher (model zoo retinanet_x101-64x4d_fpn_1x, box AP
# 41.0) -> RetinaNet R50 student, 2x, distilled at the neck. Both FPNs give
# P3-P7 (strides 8-128, 256 channels); PKD's published setting distils the
# first four (strides 8-64).
# The distiller config inherits the student's own config (data, schedule,
# optimiser, runtime) and replaces its model by the distiller.
_base_ = ['mmdet::retinanet/retinanet_r50_fpn_2x_coco.py']
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
    student='mmdet::retinanet/retinanet_r50_fpn_2x_coco.py',
    teacher='mmdet::retinanet/retinanet_x101-64x4d_fpn_1x_coco.py',
    teacher_ckpt='checkpoints/coco/retinanet_x101-64x4d_fpn_1x_coco.pth',
    strides=[8, 16, 32, 64])
