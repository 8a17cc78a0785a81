# Dense demo GFL teacher: GFL R18-w32 on all 12,000 training scenes.
_base_ = [
    '../../_base_/models/demo_dense/gfl_r18w32_fmnist_det.py',
    './_base_/train_teacher.py'
]
