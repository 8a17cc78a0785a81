# RTMDet-s teacher (model zoo rtmdet_s_8xb32-300e_coco) -> RTMDet-tiny
# student, 300 epochs. RTMDetSepBNHead: per-level classification branches
# (shared convs, separate BN); the student's 96-d classification feature is
# projected to the teacher's 128 d for ND. The student config's hooks (EMA,
# the no-mosaic switch at epoch 280) are kept and the class-centre pre-pass
# (200 training iterations) is added.
_base_ = ['../rtmdet/rtmdet_tiny_8xb32-300e_coco.py']
custom_imports = dict(imports=['nd_mmdet'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='nd_mmdet',
    type='DenseDistiller',
    student='{{fileDirname}}/../rtmdet/rtmdet_tiny_8xb32-300e_coco.py',
    teacher='mmdet::rtmdet/rtmdet_s_8xb32-300e_coco.py',
    teacher_ckpt='checkpoints/coco/rtmdet_s_8xb32-300e_coco.pth')
# ReseedPerEpochHook: exact resume (seed + epoch per epoch).
custom_hooks = _base_.custom_hooks + [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
