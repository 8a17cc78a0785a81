# Dense demo RTMDet teacher: RTMDet-w32 on all 12,000 training scenes.
_base_ = [
    '../../_base_/models/demo_dense/rtmdet_w32_fmnist_det.py',
    './_base_/train_teacher.py'
]
