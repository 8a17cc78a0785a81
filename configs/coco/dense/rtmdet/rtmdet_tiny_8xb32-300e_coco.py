# RTMDet-tiny, 300 epochs: the student trained alone (baseline of s -> tiny)
# and the `student` of those distillers. MMDetection's own config,
# unchanged.
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
