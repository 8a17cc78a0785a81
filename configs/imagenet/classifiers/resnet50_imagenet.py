# ResNet-50 on ImageNet alone. Evaluates a converted torchvision checkpoint
# (see below), e.g.
#   python tools/test.py configs/imagenet/classifiers/resnet50_imagenet.py \
#       checkpoints/imagenet/resnet50_torchvision_mmpretrain.pth
# and trains the model alone with the distillation schedule (100 epochs,
# batch 512, LR 0.2).
# ResNet-50: torchvision's ImageNet weights (IMAGENET1K_V1,
# 76.13% top-1) converted to MMPretrain's layout:
#   mkdir -p checkpoints/imagenet
#   wget -P checkpoints/imagenet \
#       https://download.pytorch.org/models/resnet50-0676ba61.pth
#   python tools/model_converters/torchvision_to_mmpretrain.py resnet50 \
#       checkpoints/imagenet/resnet50-0676ba61.pth \
#       checkpoints/imagenet/resnet50_torchvision_mmpretrain.pth
_base_ = [
    '../../_base_/models/imagenet/resnet50.py',
    '../../_base_/datasets/imagenet_bs64.py',
    '../../_base_/schedules/imagenet_bs512_100e.py',
    '../../_base_/default_runtime_cls.py',
]
