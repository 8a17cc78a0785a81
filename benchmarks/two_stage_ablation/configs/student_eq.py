# the student with the teacher's box-feature width (256, as in the paper's
# pairs; the demo models' student since this ablation)
_base_ = ['./student.py']
model = dict(roi_head=dict(bbox_head=dict(fc_out_channels=256)))
