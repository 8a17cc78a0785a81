# Dense demo PKD at the neck + ND at the ground-truth boxes: RTMDet-w32
# teacher -> RTMDet-w8 student.
_base_ = ['./_base_/neck_pair_nd.py']
model = dict(
    student='{{fileDirname}}/../../_base_/models/demo_dense/'
    'rtmdet_w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../_base_/models/demo_dense/'
    'rtmdet_w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_neck_rtmdet/teacher/iter_1500.pth')
