# ResNet-34 -> ResNet-18 on ImageNet
# Embeddings: 512-d on both sides (no projector).
#
# Teacher (frozen): ResNet-34: torchvision's ImageNet weights (IMAGENET1K_V1,
# 73.31% top-1) converted to MMPretrain's layout:
#   mkdir -p checkpoints/imagenet
#   wget -P checkpoints/imagenet \
#       https://download.pytorch.org/models/resnet34-b627a593.pth
#   python tools/model_converters/torchvision_to_mmpretrain.py resnet34 \
#       checkpoints/imagenet/resnet34-b627a593.pth \
#       checkpoints/imagenet/resnet34_torchvision_mmpretrain.pth
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/imagenet/resnet18.py',
    teacher='{{fileDirname}}/../../_base_/models/imagenet/resnet34.py',
    teacher_ckpt='checkpoints/imagenet/resnet34_torchvision_mmpretrain.pth',
)
