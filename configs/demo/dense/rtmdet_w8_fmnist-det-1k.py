# Dense demo RTMDet student alone: RTMDet-w8 on the first 1,000 scenes.
_base_ = [
    '../../_base_/models/demo_dense/rtmdet_w8_fmnist_det.py',
    './_base_/train_student.py'
]
