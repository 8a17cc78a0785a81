# Demo teacher: ResNet-8 trained alone on the full Fashion-MNIST training
# set (60,000 images).
_base_ = [
    '../_base_/models/demo/resnet8_fmnist.py',
    './_base_/train_teacher.py',
]
