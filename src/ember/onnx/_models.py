"""Model-specific forwards used while tracing, where ember's own forward computes something
outside the ops (so it would be frozen into the graph as a constant of the example's shape).

* GPT: the exported graph returns the logits only (``forward`` returns ``(logits, loss)``).
* BertModel: its forward builds positions, token types and the attention mask with NumPy from
  the example's shape; during export it runs the same computation through ember ops instead
  (token types are all 0; ``attention_mask`` 1 = token, 0 = padding).
* BertForSequenceClassification with ``pooling="mean"``: the masked mean, through ember ops.
"""
from .. import ops as F


def _bert_forward(bert):
    def forward(input_ids, attention_mask=None, token_type_ids=None):
        if token_type_ids is not None:
            raise NotImplementedError("ember.onnx: BERT export takes input_ids and attention_mask "
                                      "(token types are all 0)")
        emb = bert.embeddings
        x = F.token_and_position_embedding(input_ids, emb.word_embeddings.weight,
                                           emb.position_embeddings.weight, 0)
        x = x + emb.token_type_embeddings.weight[0]
        hidden = emb.dropout(emb.LayerNorm(x))
        mask = None
        if attention_mask is not None:
            mask = F.not_equal(attention_mask, 0)[:, None, None, :]
        return bert.encoder(hidden, mask)
    return forward


def _masked_mean(hidden, attention_mask):
    """``pool_hidden_states(hidden, attention_mask, ("mean",))`` through ember ops."""
    if attention_mask is None:
        return F.mean(hidden, axis=1)
    m = F.cast(F.not_equal(attention_mask, 0), hidden.dtype)           # (B, T)
    total = F.sum(hidden * F.expand_dims(m, -1), axis=1)
    return total / F.maximum(F.sum(m, axis=1, keepdims=True), 1e-9)


def _classifier_forward(clf):
    def forward(input_ids, attention_mask=None, token_type_ids=None):
        hidden = clf.bert(input_ids, attention_mask, token_type_ids)
        return clf.classifier(clf.dropout(_masked_mean(hidden, attention_mask)))
    return forward


def prepare(model):
    """(callable to trace, [(module, forward) overrides]) for ``model``."""
    from ..models.bert import BertForSequenceClassification, BertModel
    from ..models.gpt import GPT
    overrides = []
    for _, m in model.named_modules() if hasattr(model, "named_modules") else ():
        if isinstance(m, BertModel):
            overrides.append((m, _bert_forward(m)))
        elif isinstance(m, BertForSequenceClassification) and m.pooling == "mean":
            overrides.append((m, _classifier_forward(m)))
    if isinstance(model, GPT):
        def fn(*args, **kwargs):
            return model(*args, **kwargs)[0]
        return fn, overrides
    return model, overrides
