"""``keras.applications``: ready-made image models with Keras' names, structure and ImageNet
weight files (``weights='imagenet'`` downloads Keras' ``.h5`` files, ``weights=None`` gives the
layers' random initialisation, a path loads a local file).

    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False,
                                          weights="imagenet")
    x = keras.applications.mobilenet_v2.preprocess_input(images)

Families: ``VGG16`` / ``VGG19`` (``vgg16``, ``vgg19``), ``ResNet50`` / ``ResNet101`` /
``ResNet152`` (``resnet``, ``resnet50``), ``MobileNet`` (``mobilenet``), ``MobileNetV2``
(``mobilenet_v2``), ``DenseNet121`` / ``169`` / ``201`` (``densenet``), ``EfficientNetB0`` ...
``EfficientNetB7`` (``efficientnet``: raw [0, 255] pixels in); each module has
``preprocess_input`` (the model's ImageNet preprocessing) and ``decode_predictions``.  Models are
channels-last only.
"""
from . import (densenet, efficientnet, imagenet_utils, mobilenet, mobilenet_v2, resnet, resnet50,
               vgg16, vgg19)
from .densenet import DenseNet121, DenseNet169, DenseNet201
from .efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3,
                           EfficientNetB4, EfficientNetB5, EfficientNetB6, EfficientNetB7)
from .mobilenet import MobileNet
from .mobilenet_v2 import MobileNetV2
from .resnet import ResNet50, ResNet101, ResNet152
from .vgg import VGG16, VGG19

__all__ = ["densenet", "efficientnet", "imagenet_utils", "mobilenet", "mobilenet_v2", "resnet",
           "resnet50", "vgg16", "vgg19", "DenseNet121", "DenseNet169", "DenseNet201", "MobileNet",
           "MobileNetV2", "ResNet50", "ResNet101", "ResNet152", "VGG16", "VGG19", "EfficientNetB0",
           "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
           "EfficientNetB6", "EfficientNetB7"]
