"""Sentence embeddings from a BERT encoder, as sentence-transformers computes them.

``SentenceEncoder.from_pretrained(folder).encode(sentences)`` reads the folder's BERT weights, its
tokenizer (``tokenizer.json``) and the pooling it declares (mean / cls / max ..., optional
normalisation); see ``ember.models.bert`` for the encoder and ``pool_hidden_states``.
"""
import os

from .. import ops as F
from ..autograd import no_grad
from ..backend import xp
from ..io import hf
from ..nn.module import Module
from ..tensor import Tensor
from .bert import BertModel, pool_hidden_states

__all__ = ["SentenceEncoder"]


def _length_batches(order, lengths, batch_size):
    """Cut ``order`` (indices sorted by decreasing length) into batches of at most
    ``batch_size``, also starting a new batch where a sentence is less than half as long as the
    batch's first, so that no batch computes more than about twice its real tokens.  (Results do
    not depend on the batching: padding is masked out.)"""
    batch = []
    for i in order:
        if batch and (len(batch) == batch_size or 2 * int(lengths[i]) < int(lengths[batch[0]])):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch


def _l2_normalize(x, eps=1e-12):
    norm = F.sqrt(F.sum(x * x, axis=-1, keepdims=True))
    return x / F.maximum(norm, eps)


# ================================================================================================
# Sentence embeddings
# ================================================================================================
class SentenceEncoder(Module):
    """Sentence embeddings from a BERT encoder, as sentence-transformers computes them.

    ``SentenceEncoder.from_pretrained(folder)`` reads the model, ``tokenizer.json`` and the
    pipeline the folder declares (``modules.json``: pooling mode from ``1_Pooling/config.json``,
    a Normalize module, ``max_seq_length`` from ``sentence_bert_config.json``).

    * ``encode(sentences, batch_size=32, normalize=None)`` -> NumPy float32 (N, dim) ((dim,) for
      one string), no gradients; ``normalize=None`` follows the folder.
    * ``model(input_ids, attention_mask=None, token_type_ids=None)`` -> (B, dim) Tensor,
      differentiable (for fine-tuning on sentence pairs, say).
    * ``tokenize(sentences)`` -> dict of (N, T) int64 arrays ``input_ids``, ``attention_mask``,
      ``token_type_ids`` (padded to the longest, truncated to max_seq_length).
    """

    def __init__(self, bert, tokenizer=None, pooling=("mean",), normalize=False,
                 max_seq_length=None, do_lower_case=False):
        super().__init__()
        if not isinstance(bert, BertModel):
            raise TypeError(f"SentenceEncoder: bert must be a BertModel, got {type(bert).__name__}")
        self.bert = bert
        self.tokenizer = tokenizer
        self.pooling = tuple([pooling] if isinstance(pooling, str) else pooling)
        self.normalize = bool(normalize)
        if max_seq_length is None:
            max_seq_length = bert.config.max_position_embeddings
        self.max_seq_length = int(max_seq_length)
        self.do_lower_case = bool(do_lower_case)
        pool_hidden_states(Tensor.wrap(xp.zeros((1, 1, 1), dtype=xp.float32)), None, self.pooling)

    @classmethod
    def from_pretrained(cls, directory):
        """The sentence encoder of a Hugging Face / sentence-transformers folder."""
        where = f"{cls.__name__}.from_pretrained"
        bert = BertModel.from_pretrained(directory)
        spec = hf.read_sentence_config(directory, what=where)
        max_len = spec["max_seq_length"]
        if max_len is None:
            max_len = bert.config.max_position_embeddings
            tok_cfg = os.path.join(directory, "tokenizer_config.json")
            if os.path.isfile(tok_cfg):
                limit = hf.read_json(tok_cfg, where).get("model_max_length")
                if isinstance(limit, (int, float)) and 0 < limit < max_len:
                    max_len = int(limit)
        max_len = min(int(max_len), bert.config.max_position_embeddings)
        tokenizer = hf.load_tokenizer(directory, max_length=max_len, what=where)
        encoder = cls(bert, tokenizer, pooling=spec["pooling"], normalize=spec["normalize"],
                      max_seq_length=max_len, do_lower_case=spec["do_lower_case"])
        return encoder.eval()

    @property
    def dim(self):
        """Length of one embedding."""
        return self.bert.config.hidden_size * len(self.pooling)

    def tokenize(self, sentences):
        if self.tokenizer is None:
            raise RuntimeError("SentenceEncoder.tokenize: this encoder has no tokenizer (build it "
                               "with from_pretrained, or pass tokenizer=)")
        if isinstance(sentences, str) or not all(isinstance(s, str) for s in sentences):
            raise TypeError("SentenceEncoder.tokenize: sentences must be a list of strings")
        texts = [s.strip() for s in sentences]          # as sentence-transformers
        if self.do_lower_case:
            texts = [s.lower() for s in texts]
        encodings = self.tokenizer.encode_batch(texts)
        return {
            "input_ids": xp.array([e.ids for e in encodings], dtype=xp.int64),
            "attention_mask": xp.array([e.attention_mask for e in encodings], dtype=xp.int64),
            "token_type_ids": xp.array([e.type_ids for e in encodings], dtype=xp.int64),
        }

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids)
        out = pool_hidden_states(hidden, attention_mask, self.pooling)
        return _l2_normalize(out) if self.normalize else out

    def encode(self, sentences, batch_size=32, normalize=None):
        """Embeddings of ``sentences`` (a string or a list of strings) as float32 NumPy arrays.

        Sentences are sorted by length and batched (``batch_size``) so padding stays short;
        the output keeps the input order.  Runs in eval mode without gradients.
        """
        single = isinstance(sentences, str)
        items = [sentences] if single else list(sentences)
        if not all(isinstance(s, str) for s in items):
            raise TypeError("SentenceEncoder.encode: sentences must be a string or a list of "
                            "strings")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        normalize = self.normalize if normalize is None else bool(normalize)
        out = xp.zeros((len(items), self.dim), dtype=xp.float32)
        if not items:
            return out
        # Tokenize once (padded to the longest); each batch is then cut to its own longest
        # sequence (padding is on the right), sorted by length so that little padding is computed.
        tokens = self.tokenize(items)
        lengths = tokens["attention_mask"].sum(axis=1)
        order = sorted(range(len(items)), key=lambda i: -int(lengths[i]))
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            with no_grad():
                for batch in _length_batches(order, lengths, batch_size):
                    idx = xp.array(batch)
                    width = max(int(lengths[idx].max()), 1)
                    ids, mask, types = (tokens[k][idx, :width] for k in
                                        ("input_ids", "attention_mask", "token_type_ids"))
                    hidden = self.bert(ids, mask, types)
                    emb = pool_hidden_states(hidden, mask, self.pooling)
                    if normalize:
                        emb = _l2_normalize(emb)
                    out[idx] = emb.data
        finally:
            for m, mode in modes:           # each module back to its own mode
                m.training = mode
        return out[0] if single else out
