"""Smoke tests of the issue-5 demonstration scripts (benchmarks/bench_finetune_fortunes.py,
bench_lora_gpt.py, bench_transfer_digits.py, bench_checkpoint_memory.py) on tiny inputs: their
helpers are exact, and each pipeline runs end to end in a second or two.  The real runs (minutes)
are benchmarks; their numbers are in the results file, not here."""
import json
import os
import sys

import numpy as np
import pytest

import ember
from ember.models.bert import BertModel

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")
sys.path.insert(0, os.path.abspath(BENCH))

import bench_checkpoint_memory as memory  # noqa: E402
import bench_finetune_fortunes as fortunes_bench  # noqa: E402
import bench_lora_gpt as lora_bench  # noqa: E402
import bench_transfer_digits as digits  # noqa: E402

TINY_BERT = dict(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                 intermediate_size=32, max_position_embeddings=32)
WORDS = {"computers": ["disk", "byte", "unix", "code"], "food": ["bread", "cheese", "soup", "pie"],
         "law": ["judge", "court", "jury", "lawyer"]}


# ------------------------------------------------------------------------------------------------
# fixtures: a tiny fortunes folder and a tiny Hugging Face BERT folder
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def fortune_dir(tmp_path):
    """Three categories of 30 entries each, every entry made of its category's words."""
    rng = np.random.default_rng(0)
    for cat, words in WORDS.items():
        entries = [" ".join(rng.choice(words, 5)) + f" number {i}" for i in range(30)]
        (tmp_path / cat).write_text("\n%\n".join(entries) + "\n%\n")
    return tmp_path


@pytest.fixture
def bert_folder(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    from ember.serialization import save_file
    from ember.nn import Linear
    ember.manual_seed(0)
    model = BertModel(**TINY_BERT)
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(dict(model.config.to_dict(), model_type="bert")))
    linear = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, Linear)}
    save_file({k: (v.numpy().T.copy() if k in linear else v.numpy().copy())
               for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "number"] + sum(WORDS.values(), [])
    tokens += [str(i) for i in range(30)]
    vocab = {t: i for i, t in enumerate(tokens[:TINY_BERT["vocab_size"]])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(str(folder / "tokenizer.json"))
    return str(folder)


# ------------------------------------------------------------------------------------------------
# bench_finetune_fortunes
# ------------------------------------------------------------------------------------------------
def test_fortunes_helpers():
    ids, mask = fortunes_bench.pad([np.array([5, 6, 7]), np.array([8])])
    np.testing.assert_array_equal(ids, [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(mask, [[1, 1, 1], [1, 0, 0]])
    lengths = np.random.default_rng(0).integers(1, 100, 250)
    batches = fortunes_bench.length_bucketed_batches(lengths, 8, np.random.default_rng(1),
                                                     bucket_batches=5)
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(250))
    assert all(len(b) <= 8 for b in batches)
    # Bucketing keeps each batch's lengths close: far less spread than random batches.
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.5 * np.ptp(lengths)
    again = fortunes_bench.length_bucketed_batches(lengths, 8, np.random.default_rng(1),
                                                   bucket_batches=5)
    assert all(np.array_equal(a, b) for a, b in zip(batches, again))
    f = [fortunes_bench.linear_warmup_decay(s, 100, 10) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0) and max(f) == 1.0
    assert f[-1] == pytest.approx(1 / 90) and all(a >= b for a, b in zip(f[9:], f[10:]))
    s = fortunes_bench.scores(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2]), 3)
    assert s["accuracy"] == 0.75
    assert s["macro_f1"] == pytest.approx(np.mean([2 / 3, 2 / 3, 1.0]))


def test_fortunes_split_is_checked(fortune_dir):
    (xt, yt), (xs, ys), names = fortunes_bench.load_task(str(fortune_dir), list(WORDS))
    assert names == list(WORDS) and len(xt) + len(xs) == 90 and not set(xt) & set(xs)
    assert len(xs) > 0 and len(yt) == len(xt)


def test_classifier_training_learns_a_separable_task(bert_folder):
    ember.manual_seed(0)
    model, tokenizer = fortunes_bench.build_classifier("scratch", bert_folder, num_labels=2)
    rng = np.random.default_rng(0)
    # Class 0 texts use tokens 5..9, class 1 tokens 10..14 (ids straight, no tokenizer).
    labels = np.arange(64) % 2
    seqs = [np.concatenate([[2], rng.integers(5 + 5 * c, 10 + 5 * c, rng.integers(2, 8)), [3]])
            for c in labels]
    fit = fortunes_bench.train_classifier(model, seqs, labels, epochs=4, lr=3e-3, batch_size=16,
                                          log=lambda s: None)
    assert fit["steps"] == 16 and fit["losses"][-1] < fit["losses"][0]
    assert (fortunes_bench.predict(model, seqs) == labels).mean() > 0.9
    # The classifier's frozen/trainable state is all-trainable (end-to-end fine-tuning).
    assert all(p.requires_grad for p in model.parameters())


def test_fortunes_script_end_to_end(fortune_dir, bert_folder, tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    common = ["--fortunes-dir", str(fortune_dir), "--model-dir", bert_folder, "--epochs", "1",
              "--max-len", "16", "--batch-size", "16", "--results", str(results)]
    fortunes_bench.main(["--run", "pretrained", "--run", "scratch", "--categories", *WORDS]
                        + common)
    fortunes_bench.main(["--report", "--results", str(results)])
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["system"] for r in rows] == ["pretrained", "scratch"]
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and 0.0 <= r["macro_f1"] <= 1.0
        assert r["n_train"] + r["n_test"] == 90 and r["steps"] == -(-r["n_train"] // 16)
    out = capsys.readouterr().out
    assert "| pretrained |" in out and "| scratch |" in out


def test_tfidf_baseline_runs(fortune_dir):
    data = fortunes_bench.load_task(str(fortune_dir), list(WORDS))
    args = type("Args", (), {"train_limit": 0, "seed": 0})()
    r = fortunes_bench.run_tfidf(args, data, log=lambda s: None)
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0      # disjoint vocabularies


# ------------------------------------------------------------------------------------------------
# bench_lora_gpt
# ------------------------------------------------------------------------------------------------
def test_fortune_entries_keep_lines_and_fit_the_alphabet(tmp_path):
    path = tmp_path / "poems"
    path.write_text('Roses are red,\n\tviolets "blue"  \n%\nB_\bo_\bl_\bd 42\n%\n\n%\n'
                    'Roses are red,\n\tviolets "blue"\n%\n')
    entries = lora_bench.read_entries(str(path))
    assert entries == ['Roses are red,\n\tviolets "blue"', "Bold 42"]
    text, n = lora_bench.fit_to_alphabet(entries[0] + entries[1], "Roesarbdlvitu ,'\n$B")
    assert text == "Roses are red,\n violets 'blue'Bold $$" and n == 5
    with pytest.raises(ValueError, match="unknown marker"):
        lora_bench.fit_to_alphabet("x", "abc")


def tiny_gpt(seed=0, **kw):
    from ember.models.gpt import GPT, GPTConfig
    ember.manual_seed(seed)
    cfg = dict(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=16, bias=False)
    cfg.update(kw)
    return GPT(GPTConfig(**cfg))


def test_lora_adapters_change_the_gpt_loss_the_demo_trains():
    from ember.nn.lora import apply_lora, lora_layers
    model = tiny_gpt(bias=True)
    assert lora_bench.check_adapters_active(model) > 0
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, (2, 16)), rng.integers(0, 20, (2, 16))
    before = float(lora_bench.lm_loss(model, x, y).item())
    apply_lora(model, target_modules=lora_bench.LORA_TARGETS, r=2)
    assert float(lora_bench.lm_loss(model, x, y).item()) == pytest.approx(before, abs=1e-6)
    for _, layer in lora_layers(model):
        layer.lora_B.data[...] = 0.1
    assert abs(float(lora_bench.lm_loss(model, x, y).item()) - before) > 1e-4
    lora_bench.lm_loss(model, x, y).backward()          # gradients reach the adapters only
    assert all(layer.lora_A.grad is not None for _, layer in lora_layers(model))
    assert all(p.grad is None for n, p in model.named_parameters() if "lora_" not in n)


def test_lora_demo_end_to_end(tmp_path):
    from ember.models.gpt_trainer import PRESETS, train_gpt
    rng = np.random.default_rng(0)
    alphabet = list("abcdefgh ,.\n$")
    (tmp_path / "shake.txt").write_text("".join(rng.choice(alphabet, 3000)))
    poems = ["".join(rng.choice(list("abcdefg \n\"("), 60)) for _ in range(40)]
    (tmp_path / "poems").write_text("\n%\n".join(poems) + "\n%\n")
    cfg = PRESETS["tiny"].replace(max_iters=4, eval_iters=1, sample_tokens=0)
    train_gpt(cfg, str(tmp_path / "shake.txt"), out_dir=str(tmp_path / "run"), progress=False,
              verbose=False)
    out = tmp_path / "lora.json"
    lora_bench.main(["--checkpoint", str(tmp_path / "run"), "--shakespeare",
                     str(tmp_path / "shake.txt"), "--fortunes-dir", str(tmp_path), "--category",
                     "poems", "--steps", "6", "--rank", "2", "--json", str(out)])
    r = json.loads(out.read_text())
    assert r["lora"]["base_weights_untouched"] is True
    assert r["lora"]["new_val_merged"] == pytest.approx(r["lora"]["new_val"], abs=1e-5)
    assert r["lora"]["max_weight_change_after_merge_unmerge"] < 1e-6
    assert 0 < r["lora"]["trainable"] < r["full"]["trainable"] == r["parameters"]
    assert r["lora"]["adapter_bytes"] < r["lora"]["base_checkpoint_bytes"]
    assert r["data"]["replaced_share"] > 0                     # '"' and '(' were mapped


# ------------------------------------------------------------------------------------------------
# bench_transfer_digits
# ------------------------------------------------------------------------------------------------
def test_digit_resizing():
    r = digits.interpolation_matrix(8, 20)
    np.testing.assert_allclose(r.sum(axis=1), 1.0, atol=1e-6)
    flat = digits.digits_28x28(np.full((2, 8, 8), 16.0))
    assert flat.shape == (2, 28, 28, 1) and flat.dtype == np.float32
    np.testing.assert_allclose(flat[:, 4:24, 4:24], 1.0, atol=1e-6)
    assert flat[:, :4].max() == 0 and flat[:, 24:].max() == 0
    img = np.zeros((1, 8, 8))
    img[0, :, :4] = 16                                     # left half lit
    out = digits.digits_28x28(img)[0, 4:24, 4:24, 0]
    assert out[:, :9].min() > 1 - 1e-6 and out[:, 11:].max() == 0.0
    train, test = digits.few_labels(np.repeat(np.arange(10), 7), 3, seed=0)
    assert len(train) == 30 and len(test) == 40 and not set(train) & set(test)


@pytest.mark.parametrize("how", ["keras", "requires_grad"])
def test_transfer_model_freezes_the_base(how):
    ember.manual_seed(0)
    source = digits.seed_cnn()
    weights = source.get_weights()
    model = digits.transfer_model(weights, how)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    n_conv = 4                                                # 2 Conv2D: kernel + bias each
    assert len(frozen) == (n_conv if how == "keras" else n_conv + 2)
    for a, b in zip(model.get_weights()[:n_conv], weights[:n_conv]):
        np.testing.assert_array_equal(a, b)                   # the base is the pretrained one
    trainable, non_trainable = digits.summary_counts(digits.compile_model(model))
    assert non_trainable == sum(p.size for p in model.parameters() if not p.requires_grad)
    assert trainable == sum(p.size for p in model.parameters() if p.requires_grad)


def test_transfer_experiment_runs_on_a_few_digits():
    ember.manual_seed(0)
    weights = digits.seed_cnn().get_weights()
    x, y = digits.load_digits()
    x, y = x[:150], y[:150]
    r, n_train, n_test = digits.run_seed(weights, x, y, seed=0, per_class=2, epochs=1,
                                         batch_size=10)
    assert n_train == 20 and n_test == 130
    for system in ("transfer", "transfer_probe", "scratch"):
        assert 0.0 <= r[system] <= 1.0
    assert r["scratch_params"]["non_trainable"] in (0, None)
    assert r["transfer_probe_params"]["trainable"] == 128 * 10 + 10


# ------------------------------------------------------------------------------------------------
# bench_checkpoint_memory
# ------------------------------------------------------------------------------------------------
def test_checkpointed_forward_gives_identical_gradients():
    args = type("Args", (), dict(block=32, layers=2, heads=2, width=16, batch=2))()
    grads = {}
    for mode in memory.MODES:
        model, ids, targets = memory.build(args)
        memory.step_loss(model, ids, targets, mode).backward()
        grads[mode] = {n: p.grad.numpy().copy() for n, p in model.named_parameters()}
    for name in grads["plain"]:
        np.testing.assert_array_equal(grads["checkpoint"][name], grads["plain"][name])
        np.testing.assert_allclose(grads["checkpoint"][name], grads["gpt"][name], atol=1e-6)


def test_memory_script_runs_children(tmp_path):
    out = tmp_path / "m.json"
    memory.main(["--block", "32", "--layers", "2", "--width", "16", "--heads", "2", "--batch",
                 "2", "--json", str(out)])
    r = json.loads(out.read_text())
    assert r["grads_checkpoint_equal_plain_bitwise"] is True
    assert set(r["results"]) == set(memory.MODES)
    assert all(v["tracemalloc_peak_mb"] > 0 for v in r["results"].values())
