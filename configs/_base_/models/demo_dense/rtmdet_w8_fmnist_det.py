# Dense demo RTMDet student: CSPNeXt at widen 0.0625 (stages 2-3: 16 and 32
# channels), 32-channel neck and head.
_base_ = ['./rtmdet_fmnist_det.py']
model = dict(
    backbone=dict(widen_factor=0.0625),
    neck=dict(in_channels=[16, 32], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=32))
