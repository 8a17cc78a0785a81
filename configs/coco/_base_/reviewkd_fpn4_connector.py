# ReviewKD's review path for four 256-d FPN levels (the neck configs' paired
# strides, e.g. P3-P6 of RetinaNet / FCOS, P2-P5 of Faster R-CNN): ABF
# modules fuse the student's levels (256 -> 256 channels, mid 256) before HCL
# matches them to the teacher's. A variable, read by a ReviewKD config that
# lists this file among its bases as `{{_base_.reviewkd_fpn4_connector}}`.
reviewkd_fpn4_connector = dict(
    type='ReviewKDConnector',
    in_channels=[256] * 4,
    out_channels=[256] * 4,
    mid_channels=256)
