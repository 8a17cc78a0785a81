# ATSS R50-FPN, 1x schedule: the student trained alone (baseline of
# R101 -> R50) and the `student` of those distillers. MMDetection's own
# config, unchanged.
_base_ = 'mmdet::atss/atss_r50_fpn_1x_coco.py'
