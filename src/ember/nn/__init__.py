"""ember.nn: modules, layers, losses and initializers.

Layers are channels-last (images (N, H, W, C), sequences (N, L, C)); ``Linear`` stores its weight
as (in_features, out_features) and convolution kernels as (kh, kw, C_in, C_out).
"""
from .module import Module, StateDictError, UnbuiltModuleError
from .parameter import Parameter
from . import init, regularizers, utils
from .layers import (ELU, GELU, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Dropout,
                     Embedding, Flatten, GlobalAvgPool2d, Identity, LayerNorm, LeakyReLU, Linear,
                     LogSoftmax, MaxPool2d, ModuleDict, ModuleList, ReLU, Reshape, RMSNorm,
                     Sequential, SiLU, Sigmoid, Softmax, Softplus, Tanh)
from .losses import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, CTCLoss, HuberLoss, KLDivLoss,
                     L1Loss, MSELoss, NLLLoss, SmoothL1Loss)
from .regularizers import L1, L2, L1L2, regularization_loss
from .utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters

from .attention import MultiheadAttention
from .recurrent import GRU, LSTM, RNN
from .transformer import DecoderBlock, TransformerEncoderLayer
from .quantized import QuantizedLinear, quantize_dynamic
