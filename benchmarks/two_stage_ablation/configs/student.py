# the walkthrough's student as measured in docs/two_stage.md: a box feature
# of its own width (8 * student_width = 64; the demo models give the student
# the teacher's width since the ablation: student_eq.py)
_base_ = ['nd_mmdet::demo/two_stage/_base_/student.py',
          './my_data.py', './schedule.py']
model = dict(roi_head=dict(bbox_head=dict(
    num_classes=len(_base_.classes),
    fc_out_channels=8 * _base_.student_width)))
