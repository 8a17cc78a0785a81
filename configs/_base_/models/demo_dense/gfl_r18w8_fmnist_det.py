# Dense demo GFL student: ResNet-18 layout at 1/8 width (8-16-32 channels),
# 32-channel FPN, 64-channel head (projected to the teacher's 128 d for ND).
_base_ = ['./gfl_fmnist_det.py']
model = dict(
    backbone=dict(base_channels=8),
    neck=dict(in_channels=[16, 32], out_channels=32),
    bbox_head=dict(in_channels=32, feat_channels=64))
