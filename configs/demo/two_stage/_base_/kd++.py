# Two-stage demo KD++, the model only: KD (kd.py) + ND on the box
# features of the same RoIs (loss_nd of kd.py), the student's
# (8 * student_width) projected to the teacher's (8 * teacher_width).
_base_ = ['./kd.py']
model = dict(
    distill_losses=dict(loss_nd=_base_.loss_nd),
    connectors=dict(student_embed=_base_.student_embed_projector))
