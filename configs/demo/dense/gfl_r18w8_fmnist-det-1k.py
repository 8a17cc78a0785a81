# Dense demo GFL student alone: GFL R18-w8 on the first 1,000 scenes.
_base_ = [
    '../../_base_/models/demo_dense/gfl_r18w8_fmnist_det.py',
    './_base_/train_student.py'
]
