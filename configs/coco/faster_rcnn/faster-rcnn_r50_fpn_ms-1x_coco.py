# Faster R-CNN R50-FPN, 1x schedule, multi-scale training: the R50 student
# trained alone (baseline of R101 -> R50) and the `student` of those
# distillers. A plain MMDetection config.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    '../../_base_/datasets/coco_detection_ms.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../../_base_/default_runtime_det.py',
]
