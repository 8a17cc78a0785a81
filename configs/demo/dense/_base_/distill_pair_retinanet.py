# Dense demo pair: RetinaNet R18-w32 teacher (all 12,000 scenes) -> R18-w8
# student (1,000 scenes). The student's 64-d classification-branch feature is
# projected to the teacher's 128 d (EmbeddingProjector) for ND. Student data,
# schedule and runtime are those of the student-alone run; the teacher's class
# centres come from one pass over the student's 1,000 scenes (32 batches).
_base_ = ['./train_student.py']
model = dict(
    _scope_='nd_mmdet',
    type='DenseDistiller',
    student='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'retinanet_r18w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'retinanet_r18w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_dense/teacher/iter_1500.pth')
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
# The projector of the runs with ND (`{{_base_.student_embed_projector}}`).
student_embed_projector = dict(
    type='EmbeddingProjector', in_channels=64, out_channels=128)
