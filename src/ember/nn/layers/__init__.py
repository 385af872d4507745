"""ember's layers, one small file per family (all channels-last; see each class)."""
from .activation import ELU, GELU, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Softplus, Tanh
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .dropout import Dropout
from .embedding import Embedding
from .linear import Identity, Linear
from .normalization import BatchNorm1d, BatchNorm2d, LayerNorm, RMSNorm
from .pooling import AvgPool2d, GlobalAvgPool2d, MaxPool2d
from .reshape import Flatten, Reshape

__all__ = ["ELU", "GELU", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid", "Softmax", "Softplus",
           "Tanh", "ModuleDict", "ModuleList", "Sequential", "Conv1d", "Conv2d", "Dropout",
           "Embedding", "Identity", "Linear", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "RMSNorm",
           "AvgPool2d", "GlobalAvgPool2d", "MaxPool2d", "Flatten", "Reshape"]
