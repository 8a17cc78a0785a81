# Two-stage demo teacher: Faster R-CNN w32 on all 12,000 training scenes
# (the dense demo teacher's data and schedule).
_base_ = ['./_base_/teacher.py', '../dense/_base_/train_teacher.py']
classes = _base_.metainfo.classes
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes))))
