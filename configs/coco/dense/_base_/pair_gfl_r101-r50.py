# GFL R101-FPN teacher (model zoo gfl_r101_fpn_ms-2x_coco, box AP 44.7;
# MMDetection has no R101 1x GFL) -> R50-FPN 1x student; 256-d heads.
# The distiller config inherits the student's own config (data, 1x schedule,
# optimiser, runtime) and replaces its model by the distiller; the teacher
# class-centre pre-pass runs over 200 training iterations (ClassCentersHook
# does nothing for a method without ND).
_base_ = ['../gfl/gfl_r50_fpn_1x_coco.py']
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='nd_mmdet',
    type='DenseDistiller',
    student='{{fileDirname}}/../gfl/gfl_r50_fpn_1x_coco.py',
    teacher='mmdet::gfl/gfl_r101_fpn_ms-2x_coco.py',
    teacher_ckpt='checkpoints/coco/gfl_r101_fpn_ms-2x_coco.pth')
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
