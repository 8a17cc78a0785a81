# KD++ without a projector: the student's box feature is 256-d like the teacher's
_base_ = ['./kd++.py']
model = dict(student=dict(roi_head=dict(bbox_head=dict(fc_out_channels=256))),
             connectors=dict(_delete_=True))
