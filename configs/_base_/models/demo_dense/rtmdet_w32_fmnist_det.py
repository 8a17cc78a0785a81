# Dense demo RTMDet teacher: CSPNeXt at widen 0.25 (stages 2-3: 64 and 128
# channels), 64-channel neck and head.
_base_ = ['./rtmdet_fmnist_det.py']
