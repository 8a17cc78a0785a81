# FCOS R50-FPN (caffe-style backbone, GN head), 1x schedule: the student
# trained alone (baseline of R101 -> R50) and the `student` of those
# distillers. MMDetection's own config (model zoo box AP 36.6), unchanged.
_base_ = 'mmdet::fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'
