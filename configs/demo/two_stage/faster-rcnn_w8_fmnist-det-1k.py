# Two-stage demo student alone: Faster R-CNN w8 on the first 1,000 scenes
# (the dense demo student's data and schedule).
_base_ = ['./_base_/student.py', '../dense/_base_/train_student.py']
classes = _base_.metainfo.classes
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(classes))))
