_base_ = ['./kd.py']
model = dict(student=dict(roi_head=dict(bbox_head=dict(fc_out_channels=256))))
