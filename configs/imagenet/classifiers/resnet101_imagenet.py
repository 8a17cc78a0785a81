# ResNet-101 on ImageNet alone. Evaluates a converted torchvision checkpoint
# (see below), e.g.
#   python tools/test.py configs/imagenet/classifiers/resnet101_imagenet.py \
#       checkpoints/imagenet/resnet101_torchvision_mmpretrain.pth
# and trains the model alone with the distillation schedule (100 epochs,
# batch 512, LR 0.2).
# ResNet-101: torchvision's ImageNet weights (IMAGENET1K_V1,
# 77.37% top-1) converted to MMPretrain's layout:
#   mkdir -p checkpoints/imagenet
#   wget -P checkpoints/imagenet \
#       https://download.pytorch.org/models/resnet101-63fe2227.pth
#   python tools/model_converters/torchvision_to_mmpretrain.py resnet101 \
#       checkpoints/imagenet/resnet101-63fe2227.pth \
#       checkpoints/imagenet/resnet101_torchvision_mmpretrain.pth
_base_ = [
    '../../_base_/models/imagenet/resnet101.py',
    '../../_base_/datasets/imagenet_bs64.py',
    '../../_base_/schedules/imagenet_bs512_100e.py',
    '../../_base_/default_runtime_cls.py',
]
