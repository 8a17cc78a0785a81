# Demo student trained alone (cross-entropy only) on the 2,000-image subset:
# the baseline of every distillation row.
_base_ = [
    '../_base_/models/demo/resnet8thin_fmnist.py',
    './_base_/train_student.py',
]
