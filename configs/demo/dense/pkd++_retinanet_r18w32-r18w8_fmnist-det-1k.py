# Dense demo PKD at the neck + ND at the ground-truth boxes: RetinaNet
# R18-w32 teacher -> R18-w8 student.
_base_ = ['./_base_/neck_pair_nd.py']
model = dict(
    student='{{fileDirname}}/../../_base_/models/demo_dense/'
    'retinanet_r18w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../_base_/models/demo_dense/'
    'retinanet_r18w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_neck/teacher/iter_1500.pth')
