# ReviewKD's review path for a 5-level, 256-d FPN (P2-P6 of Faster R-CNN,
# P3-P7 of RetinaNet / FCOS / GFL): ABF modules fuse the student's levels
# (256 -> 256 channels, mid 256) before HCL matches them to the teacher's.
# A variable, not a `model` field: a ReviewKD config takes its pair base
# (which defines `model`) and this file, and reads it as
# `{{_base_.reviewkd_fpn5_connector}}`.
reviewkd_fpn5_connector = dict(
    type='ReviewKDConnector',
    in_channels=[256] * 5,
    out_channels=[256] * 5,
    mid_channels=256)
