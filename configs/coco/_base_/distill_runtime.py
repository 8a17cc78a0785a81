# Shared by every COCO distillation config: the students' multi-scale data,
# the 1x schedule, the runtime, and the teacher class-centre pre-pass over
# 200 training iterations (the ClassCentersHook does nothing for a method
# without ND). No KD warm-up in detection. ReseedPerEpochHook: exact resume
# (each epoch's random stream depends on the seed and the epoch only).
_base_ = [
    '../../_base_/datasets/coco_detection_ms.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../../_base_/default_runtime_det.py',
]
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook', max_iters=200),
    dict(type='nd_mmdet.ReseedPerEpochHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
