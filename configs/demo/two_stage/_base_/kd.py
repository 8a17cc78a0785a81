# Two-stage demo KD, the model only (data, schedule and runtime as for
# teacher.py): the wide teacher (its checkpoint:
# the last of the teacher run) -> the thin student, KL divergence on the
# (K+1)-way RoI classification logits of the student's sampled RoIs (T = 1,
# weight 1.0, as the COCO KD configs). The ClassCentersHook computes the
# teacher's class centres before training for the runs with ND (kd++.py):
# K = classes + background rows of box features of the student's sampled
# RoIs, one pass over the training data, cached in
# <work_dir>/class_centers.pth; it does nothing for KD alone.
_base_ = ['./faster_rcnn_fmnist_det.py']
model = dict(
    _scope_='nd_mmdet',
    type='TwoStageDistiller',
    student=_base_.student_model,
    teacher=_base_.teacher_model,
    teacher_ckpt='work_dirs/demo_two_stage/teacher/iter_1500.pth',
    distill_losses=dict(
        loss_kd=dict(type='KDLoss', temperature=1.0, loss_weight=1.0)))
custom_hooks = [
    dict(type='nd_mmdet.ClassCentersHook'),
    dict(type='nd_mmdet.TrainingHealthHook'),
]
# What KD++ adds (kd++.py): ND (weight 1.0, the COCO R101 -> R50 weight; not
# tuned here) on the box features of the same RoIs.
loss_nd = dict(type='NDLoss', loss_weight=1.0)
