# RetinaNet R18-FPN, 1x schedule: the R18 student trained alone (baseline of
# R101 -> R18) and the `student` of those distillers. MMDetection's own
# config (model zoo box AP 31.7), unchanged.
_base_ = 'mmdet::retinanet/retinanet_r18_fpn_1x_coco.py'
