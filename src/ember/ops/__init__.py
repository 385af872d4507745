"""ember's differentiable ops (exposed as ``ember.functional``).

Each op lives beside its backward in one of the modules below.  Signatures follow
``torch.nn.functional`` where it has the op (with ``axis`` for ``dim``) and NumPy's names where
NumPy has one.  Images are channels-last: (N, H, W, C).
"""
from ..tensor import Tensor
from .cast import cast
from .elementwise import (abs, add, clip, cos, div, elu, equal, exp, expm1, floor_divide, gelu,
                          greater, greater_equal, isfinite, isnan, leaky_relu, less, less_equal,
                          log, log1p, logical_and, logical_not, logical_or, logical_xor, maximum,
                          minimum, mul, neg, not_equal, pow, relu, remainder, rsqrt, sigmoid, sign,
                          silu, sin, softplus, sqrt, sub, tanh, where)
from .linalg import dot, einsum, matmul, outer
from .reduction import (all, any, argmax, argmin, logsumexp, max, mean, min, norm, prod, std, sum,
                        var)
from .shape import (broadcast_to, cat, chunk, concatenate, expand_dims, flatten, flip, getitem,
                    moveaxis, pad, permute, repeat, reshape, roll, split, squeeze, stack, swapaxes,
                    take, tile, transpose, tril, triu, unsqueeze)
from .softmax import log_softmax, softmax
from .loss import *            # noqa: F401,F403  (cross_entropy, nll_loss, mse_loss, ...)
from .conv import *            # noqa: F401,F403  (conv1d, conv2d)
from .pooling import *         # noqa: F401,F403  (max_pool2d, avg_pool2d, global_avg_pool2d)
from .normalization import *   # noqa: F401,F403  (layer_norm, batch_norm)
from .attention import *       # noqa: F401,F403  (scaled_dot_product_attention)
from .embedding import *       # noqa: F401,F403  (embedding, token_and_position_embedding, one_hot)
from .linear import *          # noqa: F401,F403  (linear, tied_linear)
from .rnn import *             # noqa: F401,F403  (rnn_layer, lstm_layer, gru_layer, time_slice)
from .dropout import *         # noqa: F401,F403  (dropout)
from . import _parallel as parallel  # noqa: F401  (the thread pool: ember.ops.parallel)

true_divide = divide = div
subtract = sub
multiply = mul
negative = neg
power = pow
absolute = abs
swish = silu


def _reflected(fn):
    return lambda self, other: fn(other, self)


def _bind_tensor_methods():
    T = Tensor
    T.__add__, T.__radd__ = add, _reflected(add)
    T.__sub__, T.__rsub__ = sub, _reflected(sub)
    T.__mul__, T.__rmul__ = mul, _reflected(mul)
    T.__truediv__, T.__rtruediv__ = div, _reflected(div)
    T.__floordiv__, T.__rfloordiv__ = floor_divide, _reflected(floor_divide)
    T.__mod__, T.__rmod__ = remainder, _reflected(remainder)
    T.__pow__, T.__rpow__ = pow, _reflected(pow)
    T.__matmul__, T.__rmatmul__ = matmul, _reflected(matmul)
    T.__neg__ = neg
    T.__pos__ = lambda self: self
    T.__abs__ = abs
    # `t == None` is False (as in PyTorch), not an error about converting None to a tensor
    T.__eq__ = lambda self, other: False if other is None else equal(self, other)
    T.__ne__ = lambda self, other: True if other is None else not_equal(self, other)
    T.__lt__, T.__le__, T.__gt__, T.__ge__ = less, less_equal, greater, greater_equal
    T.__and__, T.__or__, T.__xor__ = logical_and, logical_or, logical_xor
    T.__invert__ = logical_not
    T.__getitem__ = getitem
    T.T = property(lambda self: transpose(self))
    T.mT = property(lambda self: swapaxes(self, -1, -2))
    T.astype = cast
    # (Tensor.to, .cpu() and .cuda() are defined in ember/tensor.py: they move between devices)
    T.float = lambda self: cast(self, "float32")
    T.double = lambda self: cast(self, "float64")
    T.half = lambda self: cast(self, "float16")
    T.long = lambda self: cast(self, "int64")
    T.int = lambda self: cast(self, "int32")
    T.bool = lambda self: cast(self, "bool")
    T.view = reshape
    T.expand = broadcast_to
    for name in ("add", "sub", "mul", "div", "pow", "matmul", "dot", "maximum", "minimum", "exp",
                 "log", "log1p", "expm1", "sqrt", "rsqrt", "abs", "sign", "sin", "cos", "tanh",
                 "sigmoid", "relu", "gelu", "silu", "softplus", "leaky_relu", "elu", "clip",
                 "sum", "mean", "max", "min", "prod", "var", "std", "logsumexp", "norm", "argmax",
                 "argmin", "any", "all", "reshape", "flatten", "transpose", "permute", "swapaxes",
                 "moveaxis", "squeeze", "unsqueeze", "expand_dims", "broadcast_to", "repeat",
                 "tile", "flip", "roll", "split", "chunk", "take", "tril", "triu", "softmax",
                 "log_softmax", "isnan", "isfinite", "outer"):
        setattr(T, name, globals()[name])
    T.clamp = clip
    T.neg = neg


_bind_tensor_methods()

__all__ = sorted(n for n, v in list(globals().items())
                 if not n.startswith('_') and callable(v) and n != 'Tensor')
