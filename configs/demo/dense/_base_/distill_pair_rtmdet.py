# Dense demo RTMDet pair (head level): RTMDet-w32 teacher (all 12,000 scenes)
# -> RTMDet-w8 student (1,000 scenes); everything else as the RetinaNet pair
# (student data, schedule, class-centre pass). RTMDet's 32-d classification
# feature is projected to the teacher's 64 d for ND.
_base_ = ['./distill_pair_retinanet.py']
model = dict(
    student='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'rtmdet_w8_fmnist_det.py',
    teacher='{{fileDirname}}/../../../_base_/models/demo_dense/'
    'rtmdet_w32_fmnist_det.py',
    teacher_ckpt='work_dirs/demo_neck_rtmdet/teacher/iter_1500.pth')
student_embed_projector = dict(
    type='EmbeddingProjector', in_channels=32, out_channels=64)
