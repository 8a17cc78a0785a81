# Two-stage demo KD: Faster R-CNN w32 -> w8 (_base_/kd.py) on the student's
# 1,000 scenes with its schedule (the dense demo student's).
_base_ = ['./_base_/kd.py', '../dense/_base_/train_student.py']
classes = _base_.metainfo.classes
model = dict(
    teacher=dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)))),
    student=dict(roi_head=dict(bbox_head=dict(num_classes=len(classes)))))
