# ResNet-50 -> ResNet-18 on ImageNet
# Embeddings: student 512-d, teacher 2048-d (projected for ND by the
# X++ configs).
#
# Teacher (frozen): ResNet-50: torchvision's ImageNet weights (IMAGENET1K_V1,
# 76.13% top-1) converted to MMPretrain's layout:
#   mkdir -p checkpoints/imagenet
#   wget -P checkpoints/imagenet \
#       https://download.pytorch.org/models/resnet50-0676ba61.pth
#   python tools/model_converters/torchvision_to_mmpretrain.py resnet50 \
#       checkpoints/imagenet/resnet50-0676ba61.pth \
#       checkpoints/imagenet/resnet50_torchvision_mmpretrain.pth
_base_ = ['./distill_runtime.py']
model = dict(
    _scope_='nd_mmdet',
    type='ClassificationDistiller',
    student='{{fileDirname}}/../../_base_/models/imagenet/resnet18.py',
    teacher='{{fileDirname}}/../../_base_/models/imagenet/resnet50.py',
    teacher_ckpt='checkpoints/imagenet/resnet50_torchvision_mmpretrain.pth',
)
# Projector of the student embedding for ND (512 -> 2048): the X++ configs
# add it as model.connectors.student_embed (the plain X configs read no
# embedding, so they do not build it: unused parameters would break DDP).
embed_projector = dict(
    type='nd_mmdet.EmbeddingProjector', in_channels=512, out_channels=2048)
