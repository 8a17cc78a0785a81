# Two-stage demo KD++, the model only: KD (kd.py) + ND on the box
# features of the same RoIs (loss_nd of kd.py). The student's box feature
# has the teacher's width (faster_rcnn_fmnist_det.py): no projector.
_base_ = ['./kd.py']
model = dict(distill_losses=dict(loss_nd=_base_.loss_nd))
