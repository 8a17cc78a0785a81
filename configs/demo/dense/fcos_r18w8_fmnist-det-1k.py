# Dense demo FCOS student alone: FCOS R18-w8 on the first 1,000 scenes.
_base_ = [
    '../../_base_/models/demo_dense/fcos_r18w8_fmnist_det.py',
    './_base_/train_student.py'
]
