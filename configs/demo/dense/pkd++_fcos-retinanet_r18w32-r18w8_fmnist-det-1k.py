# Dense demo PKD at the neck + ND at the ground-truth boxes, heterogeneous
# pair: FCOS R18-w32 teacher
# (anchor-free) -> RetinaNet R18-w8 student (anchor-based).
_base_ = ['./_base_/neck_pair_nd.py']
model = dict(
    student='{{fileDirname}}/../../_base_/models/demo_dense/'
    'retinanet_r18w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../_base_/models/demo_dense/'
    'fcos_r18w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_neck_fcos-retinanet/teacher/iter_1500.pth')
