_base_ = ['nd_mmdet::demo/two_stage/_base_/kd++.py',
          './my_data.py', './schedule.py']
num_classes = len(_base_.classes)
model = dict(
    teacher=dict(roi_head=dict(bbox_head=dict(num_classes=num_classes))),
    student=dict(roi_head=dict(bbox_head=dict(num_classes=num_classes))),
    teacher_ckpt='work_dirs/teacher/iter_300.pth')
