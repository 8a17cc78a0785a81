# Dense demo GFL teacher: ResNet-18 layout at half width (32-64-128
# channels), 64-channel FPN, 128-channel head.
_base_ = ['./gfl_fmnist_det.py']
