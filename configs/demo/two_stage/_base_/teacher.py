# Two-stage demo teacher, the model only: the wide Faster R-CNN
# (teacher_width). The demo config adds the dense demo teacher's data,
# schedule and runtime (../../dense/_base_/train_teacher.py); a config of
# one's own adds its own (docs/custom_dataset.md).
_base_ = ['./faster_rcnn_fmnist_det.py']
model = _base_.teacher_model
