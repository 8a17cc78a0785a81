# ResNet-101 -> ResNet-18 on ImageNet
# Embeddings: student 512-d, teacher 2048-d (projected for ND by the
# X++ configs).
#
# Teacher (frozen): ResNet-101: torchvision's ImageNet weights (IMAGENET1K_V1,
# 77.37% top-1) converted to MMPretrain's layout:
#   mkdir -p checkpoints/imagenet
#   wget -P checkpoints/imagenet \
#       https://download.pytorch.org/models/resnet101-63fe2227.pth
#   python tools/model_converters/torchvision_to_mmpretrain.py resnet101 \
#       checkpoints/imagenet/resnet101-63fe2227.pth \
#       checkpoints/imagenet/resnet101_torchvision_mmpretrain.pth
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/imagenet/resnet18.py',
    teacher='{{fileDirname}}/../../_base_/models/imagenet/resnet101.py',
    teacher_ckpt='checkpoints/imagenet/resnet101_torchvision_mmpretrain.pth',
)
# Projector of the student embedding for ND (512 -> 2048): the X++ configs
# add it as model.connectors.student_embed (the plain X configs read no
# embedding, so they do not build it: unused parameters would break DDP).
embed_projector = dict(
    type='nd_mmdet.EmbeddingProjector', in_channels=512, out_channels=2048)
