# RetinaNet R50-FPN, 1x schedule: the R50 student trained alone (baseline of
# R101 -> R50) and the `student` of those distillers. MMDetection's own
# config (model zoo box AP 36.5), unchanged.
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'
