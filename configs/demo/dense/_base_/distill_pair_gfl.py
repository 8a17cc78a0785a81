# Dense demo GFL pair: GFL R18-w32 teacher (all 12,000 scenes) -> R18-w8
# student (1,000 scenes); everything else as the RetinaNet pair (student
# data, schedule, class-centre pass, the 64 -> 128 projector of the ND runs).
_base_ = ['./distill_pair_retinanet.py']
model = dict(
    student='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'gfl_r18w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'gfl_r18w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_dense_gfl/teacher/iter_1500.pth')
