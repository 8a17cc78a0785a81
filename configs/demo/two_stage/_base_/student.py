# Two-stage demo student alone, the model only: the thin Faster R-CNN
# (student_width); data, schedule and runtime as for teacher.py.
_base_ = ['./faster_rcnn_fmnist_det.py']
model = _base_.student_model
