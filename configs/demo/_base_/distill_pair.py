# ResNet-8 teacher (trained on all 60k images) -> thin ResNet-8 student
# (2k-image subset), both with 64-d embeddings: no projector. Student data,
# schedule and runtime are those of the student-alone run; the teacher class
# centres are computed by one pass over the student's training subset; the
# KD-type term is warmed up linearly over the first 10% of the iterations
# (20 of 240 epochs in the reference CIFAR recipe).
_base_ = ['./train_student.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/demo/resnet8thin_fmnist.py',
    teacher='{{fileDirname}}/../../_base_/models/demo/resnet8_fmnist.py',
    teacher_ckpt='work_dirs/demo/teacher/iter_940.pth',
)
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(
        type='nd_mmdet.DistillLossWarmupHook',
        loss_names=('loss_kd', ),
        by_epoch=False,
        warmup_iters=30),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
