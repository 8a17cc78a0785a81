# RetinaNet R101-FPN teacher (model zoo retinanet_r101_fpn_1x_coco, box AP
# 38.5) -> R18-FPN student; both heads 256-d (no projector).
# The distiller config inherits the student's own config (data, 1x schedule,
# optimiser, runtime) and replaces its model by the distiller; the teacher
# class-centre pre-pass runs over 200 training iterations (ClassCentersHook
# does nothing for a method without ND).
_base_ = ['../retinanet/retinanet_r18_fpn_1x_coco.py']
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='nd_mmdet',
    type='DenseDistiller',
    student='{{fileDirname}}/../retinanet/retinanet_r18_fpn_1x_coco.py',
    teacher='mmdet::retinanet/retinanet_r101_fpn_1x_coco.py',
    teacher_ckpt='checkpoints/coco/retinanet_r101_fpn_1x_coco.pth')
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
