# Dense demo FCOS teacher: FCOS R18-w32 on all 12,000 training scenes.
_base_ = [
    '../../_base_/models/demo_dense/fcos_r18w32_fmnist_det.py',
    './_base_/train_teacher.py'
]
