_base_ = ['nd_mmdet::demo/two_stage/_base_/student.py',
          './my_data.py', './schedule.py']
model = dict(roi_head=dict(bbox_head=dict(num_classes=len(_base_.classes))))
