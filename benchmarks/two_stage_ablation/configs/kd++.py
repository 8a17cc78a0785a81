# KD++ on the 64-d student of student.py: its box feature projected to the
# teacher's 256-d (a fresh MLP with dropout) for ND
_base_ = ['nd_mmdet::demo/two_stage/_base_/kd++.py',
          './my_data.py', './schedule.py']
num_classes = len(_base_.classes)
model = dict(
    teacher=dict(roi_head=dict(bbox_head=dict(num_classes=num_classes))),
    student=dict(roi_head=dict(bbox_head=dict(
        num_classes=num_classes,
        fc_out_channels=8 * _base_.student_width))),
    connectors=dict(student_embed=_base_.student_embed_projector),
    teacher_ckpt='work_dirs/teacher/iter_300.pth')
