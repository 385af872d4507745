"""ember's differentiable ops (exposed as ``ember.functional``).

Each op lives beside its backward in one of the modules below.  Signatures follow
``torch.nn.functional`` where it has the op (with ``axis`` for ``dim``) and NumPy's names where
NumPy has one.  Images are channels-last: (N, H, W, C).
"""
from ..tensor import Tensor
from .cast import cast
from .elementwise import (abs, add, arctan2, atan2, clip, copysign, cos, div, equal, exp, expm1,
                          floor_divide, fmod, greater, greater_equal, hypot, isclose, isfinite,
                          isinf, isnan, lerp, less, less_equal, log, log1p, logaddexp, logical_and,
                          logical_not, logical_or, logical_xor, maximum, minimum, mul, nan_to_num,
                          neg, not_equal, pow, remainder, rsqrt, sigmoid, sign, sin, sqrt, sub,
                          tanh, where, xlogy)
from .elementwise_math import *   # noqa: F401,F403  (tan, asin, ..., erf, erfinv, floor, round)
from .bitwise import *            # noqa: F401,F403  (bitwise_and, ..., bitwise_right_shift)
from .activation import *         # noqa: F401,F403  (relu, gelu, silu, softplus, selu, mish, ...)
from .distance import *           # noqa: F401,F403  (normalize, cosine_similarity, ...)
from .linalg import dot, einsum, matmul, outer
from .reduction import (all, amax, amin, any, argmax, argmin, logsumexp, max, mean, min, norm, prod,
                        std, sum, var)
from .shape import (broadcast_to, cat, chunk, concatenate, expand_dims, flatten, flip, getitem,
                    moveaxis, permute, repeat, reshape, roll, split, squeeze, stack, swapaxes,
                    take, tile, transpose, tril, triu, unsqueeze)
from .softmax import log_softmax, softmax
from .loss import *            # noqa: F401,F403  (cross_entropy, nll_loss, mse_loss, ...)
from .conv import *            # noqa: F401,F403  (conv1d, conv2d)
from .pooling import *         # noqa: F401,F403  (max_pool2d, avg_pool2d, global_avg_pool2d)
from .conv_transpose import *  # noqa: F401,F403  (conv_transpose1d, conv_transpose2d)
from .conv3d import *          # noqa: F401,F403  (conv3d, conv_transpose3d)
from .pool_adaptive import *   # noqa: F401,F403  (adaptive_*_pool*, max_unpool*, lp_pool*)
from .padding import pad        # noqa: F401  (constant/reflect/replicate/circular; replaces shape.pad)
from .resample import *        # noqa: F401,F403  (interpolate, upsample, pixel_shuffle, pixel_unshuffle)
from .unfold import *          # noqa: F401,F403  (unfold, fold)
from .grid_sample import *     # noqa: F401,F403  (grid_sample, affine_grid)
from .normalization import *   # noqa: F401,F403  (layer_norm, batch_norm)
from .attention import *       # noqa: F401,F403  (scaled_dot_product_attention)
from .embedding import *       # noqa: F401,F403  (embedding, token_and_position_embedding, one_hot)
from .linear import *          # noqa: F401,F403  (linear, tied_linear)
from .rnn import *             # noqa: F401,F403  (rnn_layer, lstm_layer, gru_layer, time_slice)
from .dropout import *         # noqa: F401,F403  (dropout)
from .indexing import *        # noqa: F401,F403  (gather, scatter*, index_*, masked_*, nonzero, put)
from .scan import *            # noqa: F401,F403  (cumsum, cumprod, cummax, cummin, logcumsumexp)
from .sorting import *         # noqa: F401,F403  (sort, argsort, topk, kthvalue, median, mode, unique)
from .quantized import *       # noqa: F401,F403  (linear_int8, quantize_weight_int8, ...)
from .shape_extra import *     # noqa: F401,F403  (diag, diagonal, movedim, kron, tensordot, ...)
from .linalg_decomp import *   # noqa: F401,F403  (inv, solve, det, cholesky, qr, svdvals, eigh, ...)
from .linalg_norm import *     # noqa: F401,F403  (vector_norm, matrix_norm)
from .linalg_extra import *    # noqa: F401,F403  (matrix_power, multi_dot, cross, cond, ...)
from .ctc import *   # noqa: F401,F403  (ctc_loss, ctc_greedy_decode, ctc_beam_search_decode)
from .windows import *         # noqa: F401,F403  (tensor_unfold: Tensor.unfold's sliding windows)
from . import _parallel as parallel  # noqa: F401  (the thread pool: ember.ops.parallel)

true_divide = divide = div
subtract = sub
multiply = mul
negative = neg
power = pow
absolute = abs
swish = silu
inverse, pinverse = inv, pinv      # noqa: F405  (torch.inverse, torch.pinverse)


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
    # bitwise on integer tensors, logical on bool tensors, an error on floats (as PyTorch)
    T.__and__, T.__rand__ = bitwise_and, _reflected(bitwise_and)      # noqa: F405
    T.__or__, T.__ror__ = bitwise_or, _reflected(bitwise_or)          # noqa: F405
    T.__xor__, T.__rxor__ = bitwise_xor, _reflected(bitwise_xor)      # noqa: F405
    T.__lshift__, T.__rlshift__ = bitwise_left_shift, _reflected(bitwise_left_shift)    # noqa: F405
    T.__rshift__, T.__rrshift__ = bitwise_right_shift, _reflected(bitwise_right_shift)  # noqa: F405
    T.__invert__ = bitwise_not                                        # noqa: F405
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
    # elementwise maths, activations and bitwise ops (PyTorch's Tensor method names)
    for name in ("tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh",
                 "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "atan2", "arctan2",
                 "erf", "erfc", "erfinv", "exp2", "log2", "log10", "floor", "ceil", "trunc",
                 "round", "frac", "fix", "fmod", "remainder", "copysign", "lerp", "logaddexp",
                 "hypot", "xlogy", "nan_to_num", "isclose", "isinf", "bitwise_and", "bitwise_or",
                 "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
                 "hardshrink"):
        setattr(T, name, globals()[name])
    # shape and linear algebra (ember.ops.shape_extra, linalg_decomp, linalg_norm)
    for name in ("diag", "diagonal", "diag_embed", "movedim", "narrow", "unflatten", "rot90",
                 "repeat_interleave", "kron", "det", "slogdet", "logdet", "cholesky", "qr",
                 "matrix_power"):
        setattr(T, name, globals()[name])
    T.moveaxis = moveaxis
    T.inverse, T.pinverse = inv, pinv      # PyTorch's Tensor method names
    T.neg = neg
    T.amax, T.amin = amax, amin
    T.unfold = tensor_unfold               # noqa: F405  (Tensor.unfold: windows along one axis)
    T.svd = _tensor_svd


def _tensor_svd(self, some=True, compute_uv=True):
    """PyTorch's ``Tensor.svd``: (U, S, V) with ``A = U diag(S) V^T`` -- V, not ``linalg.svd``'s
    Vh; ``some=True`` gives the reduced factors; ``compute_uv=False`` gives zero U and V."""
    U, S, Vh = svd(self, full_matrices=not some)     # noqa: F405
    V = swapaxes(Vh, -1, -2)
    if not compute_uv:
        U, V = U.detach() * 0, V.detach() * 0
    return U, S, V


_bind_tensor_methods()
from .tensor_methods import *  # noqa: F401,F403,E402  (Tensor.mm, .diff, .new_zeros; quantile, index_put, ...)
from . import inplace  # noqa: E402,F401  (x.add_(y), x.masked_fill_(m, v), w.normal_(), ...: binds last)

__all__ = sorted(n for n, v in list(globals().items())
                 if not n.startswith('_') and callable(v) and n != 'Tensor')
