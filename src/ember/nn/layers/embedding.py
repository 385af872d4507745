"""Embedding: a lookup table of vectors."""
from ... import ops as F
from ...backend import xp
from ...tensor import Tensor
from .. import init
from .. import regularizers as _reg
from ..parameter import Parameter
from ._utils import WeightLayer, positive_int


class Embedding(WeightLayer):
    """Map integer ids (any shape) to rows of ``weight`` (num_embeddings, embedding_dim):
    output shape ``ids.shape + (embedding_dim,)``.

    ``weight`` starts N(0, 1) as PyTorch; the row ``padding_idx`` (negative counts from the end)
    starts at zero and receives no gradient.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, weight_regularizer=None):
        super().__init__()
        name = type(self).__name__
        self.num_embeddings = positive_int(num_embeddings, "num_embeddings", name)
        self.embedding_dim = positive_int(embedding_dim, "embedding_dim", name)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"{name}: padding_idx must be within [-{num_embeddings}, "
                                 f"{num_embeddings}), got {padding_idx}")
            padding_idx = padding_idx % num_embeddings
        self.padding_idx = padding_idx
        self.weight_regularizer = _reg.get(weight_regularizer)
        self.weight = Parameter(xp.empty((num_embeddings, embedding_dim), dtype=xp.float32))
        self.reset_parameters()

    def reset_parameters(self):
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, ids):
        data = ids.data if isinstance(ids, Tensor) else xp.asarray(ids)
        if data.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__}({self.extra_repr()}) expects integer ids, got dtype "
                            f"{data.dtype} (convert with ids.long())")
        return F.embedding(ids, self.weight, self.padding_idx)   # (which checks the id range)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.weight_regularizer is not None:
            s += f", weight_regularizer={self.weight_regularizer!r}"
        return s
