"""GPT training (ember.models.gpt_trainer and `ember train-gpt`): schedule, batches, exact resume,
outputs, errors."""
import math
import pathlib

import numpy as np
import pytest

import ember
from ember.models import gpt_trainer as gt
from ember.models.gpt_trainer import PRESETS, TrainConfig, learning_rate_at, train_gpt

SHAKESPEARE = pathlib.Path("/work/shared/data/tinyshakespeare/input.txt")
FALLBACK = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "
            "speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 60

QUIET = dict(progress=False, verbose=False, handle_interrupt=False)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    text = SHAKESPEARE.read_text(encoding="utf-8")[:12000] if SHAKESPEARE.exists() else FALLBACK
    path = tmp_path_factory.mktemp("corpus") / "small.txt"
    path.write_text(text, encoding="utf-8")
    return path


def tiny(**changes):
    base = dict(max_iters=8, lr_decay_iters=16, warmup_iters=3, eval_interval=4, eval_iters=2,
                sample_tokens=0)
    base.update(changes)
    return PRESETS["tiny"].replace(**base)


def params_of(model):
    return {k: v.data.copy() for k, v in model.state_dict().items()}


# -- schedule and batches -----------------------------------------------------------------------
def nanogpt_get_lr(it, learning_rate, min_lr, warmup_iters, lr_decay_iters):
    # nanoGPT train.py, verbatim in substance.
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


@pytest.mark.parametrize("preset", ["baby", "tiny"])
def test_learning_rate_matches_nanogpt_get_lr(preset):
    c = PRESETS[preset]
    for it in range(c.max_iters + 200):
        want = nanogpt_get_lr(it, c.learning_rate, c.min_lr, c.warmup_iters, c.lr_decay_iters)
        assert learning_rate_at(it, c) == want, it
    assert learning_rate_at(0, c) > 0
    assert learning_rate_at(10_000, c) == c.min_lr
    flat = c.replace(decay_lr=False)
    assert {learning_rate_at(it, flat) for it in range(50)} == {c.learning_rate}
    degenerate = c.replace(warmup_iters=5, lr_decay_iters=5)
    assert learning_rate_at(5, degenerate) == c.min_lr


def test_baby_preset_is_nanogpts_baby_gpt():
    c = PRESETS["baby"]
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.batch_size, c.dropout) == (4, 4, 128, 64, 12, 0.0)
    assert (c.learning_rate, c.min_lr, c.lr_decay_iters, c.max_iters, c.warmup_iters) == (1e-3, 1e-4, 2000, 2000, 100)
    assert (c.beta2, c.weight_decay, c.grad_clip, c.eval_interval, c.eval_iters) == (0.99, 0.1, 1.0, 250, 200)
    assert c.tokenizer == "char" and c.val_fraction == 0.1
    assert c == TrainConfig()


@pytest.mark.parametrize("preset", ["baby", "tiny"])
def test_model_shape_comes_from_gpt_presets(preset):
    """One source of truth: the trainer's presets build exactly GPT_PRESETS' models."""
    from ember.models.gpt import GPT_PRESETS, GPTConfig
    c = PRESETS[preset]
    assert {k: getattr(c, k) for k in gt.MODEL_FIELDS} == GPT_PRESETS[preset]
    assert gt._gpt_config(c, 65) == GPTConfig.from_preset(preset, vocab_size=65)


def test_get_batch_windows_and_offsets():
    tokens = np.arange(100, dtype=np.uint16)
    x, y = gt.get_batch(tokens, np.random.default_rng(0), 7, 10)
    assert x.shape == y.shape == (7, 10) and x.dtype == y.dtype == np.int64
    assert x.flags.c_contiguous and y.flags.c_contiguous     # torch.from_numpy(...).view works
    np.testing.assert_array_equal(y, x + 1)                  # targets are shifted by one
    np.testing.assert_array_equal(x, x[:, :1] + np.arange(10))
    offsets = np.random.default_rng(0).integers(0, 90, size=7)
    np.testing.assert_array_equal(x[:, 0], offsets)          # nanoGPT: randint(len - block_size)
    # Every offset in [0, len - block_size) is reachable and none beyond it.
    many, _ = gt.get_batch(tokens, np.random.default_rng(1), 5000, 10)
    assert many[:, 0].min() == 0 and many[:, 0].max() == 89


def test_batch_stream_is_independent_of_the_initialisation_stream():
    """ember.manual_seed(seed) draws the initial weights; the batches must not reuse its bits."""
    seed = 1337
    ember.manual_seed(seed)
    init_bits = ember.random.default_generator().integers(0, 1 << 62, size=8)
    batch_bits = gt.batch_generator(seed).integers(0, 1 << 62, size=8)
    assert not np.array_equal(init_bits, batch_bits)
    assert np.array_equal(batch_bits, gt.batch_generator(seed).integers(0, 1 << 62, size=8))
    evals = {tuple(gt._eval_generator(seed, s).integers(0, 1 << 62, size=4)) for s in ("train", "val")}
    assert len(evals | {tuple(batch_bits[:4])}) == 3


def test_split_is_first_90_percent_of_characters():
    train, val = gt._split_text("abcdefghij" * 10, 0.1)
    assert train == ("abcdefghij" * 10)[:90] and len(val) == 10


def test_gradient_accumulation_equals_one_big_batch():
    from ember.models.gpt import GPT, GPTConfig
    cfg = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16, bias=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 11, size=(6, 8))
    y = rng.integers(0, 11, size=(6, 8))
    results = []
    for batches in ([(x, y)], [(x[:3], y[:3]), (x[3:], y[3:])]):
        ember.manual_seed(3)
        model = GPT(cfg)
        opt = model.configure_optimizers(0.1, 1e-2, betas=(0.9, 0.99))
        loss = gt.train_step(model, opt, batches, 1e-2, grad_clip=0.5)
        results.append((loss, params_of(model)))
    (loss_one, p_one), (loss_acc, p_acc) = results
    assert loss_acc == pytest.approx(loss_one, rel=1e-6)
    for k in p_one:
        np.testing.assert_allclose(p_acc[k], p_one[k], rtol=1e-5, atol=1e-6, err_msg=k)


# -- exact resume ---------------------------------------------------------------------------------
def _assert_same_run(a, b):
    assert a.iteration == b.iteration
    assert a.train_losses == b.train_losses                 # exact floats
    assert a.learning_rates == b.learning_rates
    assert a.evals == b.evals
    pa, pb = params_of(a.model), params_of(b.model)
    assert pa.keys() == pb.keys()
    for k in pa:
        assert np.array_equal(pa[k], pb[k]), f"parameter {k} differs"


def test_gradient_checkpointing_run_equals_plain_run(tmp_path, text_file):
    cfg = tiny(dropout=0.1, max_iters=4)
    plain = train_gpt(cfg, text_file, tmp_path / "plain", **QUIET)
    recomputed = train_gpt(cfg.replace(gradient_checkpointing=True), text_file, tmp_path / "ckpt",
                           **QUIET)
    assert recomputed.model.is_gradient_checkpointing and not plain.model.is_gradient_checkpointing
    _assert_same_run(plain, recomputed)


@pytest.mark.parametrize("accumulation", [1, 2])
def test_resume_is_bit_exact(tmp_path, text_file, accumulation):
    # Dropout on, so ember's global RNG matters; gradient accumulation exercises micro-batches.
    n = 8
    cfg = tiny(dropout=0.1, gradient_accumulation_steps=accumulation, lr_decay_iters=2 * n)
    straight = train_gpt(cfg.replace(max_iters=2 * n), text_file, tmp_path / "straight", **QUIET)
    first = train_gpt(cfg.replace(max_iters=n), text_file, tmp_path / "split", **QUIET)
    assert first.iteration == n
    ember.manual_seed(12345)          # whatever happens in between must not matter
    np.random.default_rng(7).random(10)
    resumed = train_gpt(cfg.replace(max_iters=2 * n), text_file, tmp_path / "split", resume=True,
                        **QUIET)
    _assert_same_run(straight, resumed)
    assert len(straight.train_losses) == 2 * n
    # The checkpoints on disk agree too: optimizer moments, RNG states, history.
    a = ember.load(tmp_path / "straight" / gt.LAST_CHECKPOINT, as_numpy=True)
    b = ember.load(tmp_path / "split" / gt.LAST_CHECKPOINT, as_numpy=True)
    for idx, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            assert np.array_equal(value, b["optimizer"]["state"][idx][name]), (idx, name)
    assert a["rng"] == b["rng"]
    assert a["iteration"] == b["iteration"] == 2 * n


def test_interrupt_saves_and_resume_is_exact(tmp_path, text_file, monkeypatch):
    cfg = tiny(max_iters=12, lr_decay_iters=12, dropout=0.1)
    straight = train_gpt(cfg, text_file, tmp_path / "straight", **QUIET)

    class StopAfter:
        """Stands in for the Ctrl-C flag: 'pressed' once 5 steps have run."""

        def __init__(self, enabled):
            self.reads = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        @property
        def requested(self):
            self.reads += 1
            return self.reads > 5

    monkeypatch.setattr(gt, "_InterruptFlag", StopAfter)
    stopped = train_gpt(cfg, text_file, tmp_path / "split", **QUIET)
    assert stopped.interrupted and stopped.iteration == 5      # not an evaluation boundary
    assert gt.checkpoint_config(tmp_path / "split") == cfg
    monkeypatch.undo()
    resumed = train_gpt(None, None, tmp_path / "split", resume=True, **QUIET)
    _assert_same_run(straight, resumed)


def test_resume_refuses_changed_model_or_text(tmp_path, text_file):
    cfg = tiny(max_iters=2)
    train_gpt(cfg, text_file, tmp_path / "run", **QUIET)
    with pytest.raises(ValueError, match=r"n_embd: checkpoint 32, given 64"):
        train_gpt(cfg.replace(n_embd=64), text_file, tmp_path / "run", resume=True, **QUIET)
    other = tmp_path / "other.txt"
    other.write_text(text_file.read_text(encoding="utf-8") + "x", encoding="utf-8")
    with pytest.raises(ValueError, match="SHA-256 differs"):
        train_gpt(cfg, other, tmp_path / "run", resume=True, **QUIET)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train_gpt(cfg, text_file, tmp_path / "empty", resume=True, **QUIET)
    # A fresh run never silently replaces a checkpoint (a forgotten resume=True).
    with pytest.raises(FileExistsError, match="already holds a checkpoint"):
        train_gpt(cfg, text_file, tmp_path / "run", **QUIET)
    again = train_gpt(cfg.replace(max_iters=0), text_file, tmp_path / "run", overwrite=True, **QUIET)
    assert again.iteration == 0 and gt.checkpoint_config(tmp_path / "run").max_iters == 0
    assert again.best_checkpoint is None and not (tmp_path / "run" / gt.BEST_CHECKPOINT).exists()


# -- outputs ----------------------------------------------------------------------------------------
def test_outputs_and_learning(tmp_path, text_file):
    cfg = tiny(max_iters=30, lr_decay_iters=30, eval_interval=10, eval_iters=4,
               learning_rate=3e-3, sample_tokens=40)
    r = train_gpt(cfg, text_file, tmp_path, **QUIET)
    assert [e["iteration"] for e in r.evals] == [0, 10, 20, 30]
    assert r.evals[-1]["val"] < r.evals[0]["val"] - 0.3        # it learns
    assert r.best_val_loss == min(e["val"] for e in r.evals)
    for path in (r.last_checkpoint, r.best_checkpoint, r.tokenizer_path, r.plot_path, r.samples_path):
        assert path and pathlib.Path(path).is_file(), path
    assert pathlib.Path(r.plot_path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    sample = pathlib.Path(r.samples_path).read_text(encoding="utf-8")
    assert sample == r.sample_text and len(sample) == 1 + 40      # prompt "\n" + 40 characters
    assert r.seconds_per_step > 0 and r.tokens_per_second > 0
    # The checkpoint reloads into a model that computes the same logits.
    model, tok, config = gt.load_trained_gpt(r.last_checkpoint)
    assert config == cfg and tok == r.tokenizer
    ids = tok.encode_to_numpy("First")[None, :]
    r.model.eval()
    np.testing.assert_array_equal(model(ids)[0].data, r.model(ids)[0].data)
    loaded = ember.text.load_tokenizer(r.tokenizer_path)
    assert loaded == r.tokenizer


def test_bpe_tokenizer_run_and_resume(tmp_path, text_file):
    cfg = tiny(tokenizer="bpe", bpe_vocab_size=300, max_iters=3, sample_tokens=5)
    r = train_gpt(cfg, text_file, tmp_path, **QUIET)
    assert r.tokenizer.vocab_size == 300 and r.model.config.vocab_size == 300
    again = train_gpt(cfg.replace(max_iters=4), text_file, tmp_path, resume=True, **QUIET)
    assert again.iteration == 4
    assert again.tokenizer.encode(r.sample_text) == r.tokenizer.encode(r.sample_text)


# -- errors -------------------------------------------------------------------------------------------
def test_bad_corpus_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="is empty"):
        train_gpt(tiny(), empty, tmp_path / "out", **QUIET)
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij" * 10, encoding="utf-8")       # 90 train / 10 val characters
    with pytest.raises(ValueError, match=r"shorter than one block: its validation split has 10 "
                                         r"tokens but block_size=16 needs at least 17"):
        train_gpt(tiny(), short, tmp_path / "out", **QUIET)
    with pytest.raises(ValueError, match="training split has"):
        train_gpt(tiny(block_size=100), short, tmp_path / "out", **QUIET)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        train_gpt(tiny(), tmp_path / "missing.txt", tmp_path / "out", **QUIET)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café ".encode("latin-1") * 100)
    with pytest.raises(ValueError, match="not UTF-8"):
        train_gpt(tiny(), latin1, tmp_path / "out", **QUIET)
    assert not (tmp_path / "out").exists()                      # nothing started


@pytest.mark.parametrize("change, message", [
    (dict(device="cuda"), "device='cuda' is invalid"),
    (dict(tokenizer="word"), "tokenizer='word'"),
    (dict(n_embd=33), "multiple of n_head"),
    (dict(val_fraction=0.0), "val_fraction"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(lr_decay_iters=1, warmup_iters=3), "lr_decay_iters=1"),
    (dict(tokenizer="bpe", bpe_vocab_size=100), "bpe_vocab_size=100"),
])
def test_config_validation(tmp_path, text_file, change, message):
    with pytest.raises(ValueError, match=message):
        train_gpt(tiny(**change), text_file, tmp_path, **QUIET)


def test_config_dict_round_trip():
    c = PRESETS["tiny"]
    assert TrainConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({"n_layers": 3})
    with pytest.raises(ValueError, match="unknown field"):
        c.replace(lr=3)


# -- command line ---------------------------------------------------------------------------------------
def test_cli_train_and_resume(tmp_path, text_file, capsys):
    from ember.cli import main
    out = tmp_path / "cli"
    args = ["train-gpt", "--text", str(text_file), "--preset", "tiny", "--out-dir", str(out),
            "--max-iters", "4", "--eval-interval", "2", "--eval-iters", "1", "--sample-tokens", "8",
            "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    for name in (gt.LAST_CHECKPOINT, gt.TOKENIZER_FILE, gt.PLOT_FILE, gt.SAMPLES_FILE):
        assert str(out / name) in printed
    cfg = gt.checkpoint_config(out)
    assert (cfg.max_iters, cfg.eval_interval, cfg.n_embd) == (4, 2, 32)
    assert cfg.lr_decay_iters == 4            # a fresh run's schedule follows --max-iters
    # Resume takes the checkpoint's config and text; only what is given on the command line changes.
    assert main(["train-gpt", "--out-dir", str(out), "--resume", "--max-iters", "6",
                 "--no-progress"]) == 0
    cfg = gt.checkpoint_config(out)
    assert (cfg.max_iters, cfg.eval_interval, cfg.lr_decay_iters) == (6, 2, 4)
    assert "resuming at iteration 4" in capsys.readouterr().out


def test_cli_errors_are_clean(tmp_path, text_file, capsys):
    from ember.cli import main
    assert main(["train-gpt", "--text", str(tmp_path / "nope.txt"), "--preset", "tiny",
                 "--out-dir", str(tmp_path), "--no-progress"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train-gpt", "--preset", "tiny", "--out-dir", str(tmp_path)])   # no --text


# -- divergence: a non-finite state never replaces a good checkpoint -------------------------------
def _poison_after(monkeypatch, calls, poison):
    """Make ``train_step`` call ``poison(model, optimizer)`` right after its ``calls``-th step."""
    real = gt.train_step
    count = {"n": 0}

    def step(model, optimizer, batches, lr, grad_clip):
        loss = real(model, optimizer, batches, lr, grad_clip)
        count["n"] += 1
        if count["n"] == calls:
            poison(model, optimizer)
        return loss

    monkeypatch.setattr(gt, "train_step", step)


def _nan_parameter(model, optimizer):
    model.state_dict()["transformer.wte.weight"].data[0] = np.nan     # in place


def _nan_moment(model, optimizer):
    sd = optimizer.state_dict()
    sd["state"][0]["exp_avg"][...] = np.nan
    optimizer.load_state_dict(sd)


@pytest.mark.parametrize("calls, poison, found, at", [
    (6, _nan_parameter, "the training loss became nan", 7),       # mid-interval: the next loss
    (8, _nan_parameter, "parameter 'transformer.wte.weight' holds NaN", 8),   # at a save
    (8, _nan_moment, "the optimizer's 'exp_avg' of parameter 'transformer.wte.weight'", 8),
])
def test_divergence_keeps_the_last_good_checkpoint(tmp_path, text_file, monkeypatch, calls, poison,
                                                   found, at):
    out = tmp_path / "run"
    cfg = tiny(max_iters=12, eval_interval=4)
    _poison_after(monkeypatch, calls, poison)
    with pytest.raises(gt.TrainingDiverged) as info:
        train_gpt(cfg, text_file, out, **QUIET)
    last = out / gt.LAST_CHECKPOINT
    msg = str(info.value)
    assert f"diverged at iteration {at}: {found}" in msg, msg
    assert f"last good checkpoint, {last} (iteration 4), is unchanged" in msg, msg
    assert "--resume --learning-rate" in msg
    assert (info.value.iteration, info.value.last_good_iteration) == (at, 4)
    ckpt = ember.load(last, as_numpy=True)
    assert ckpt["iteration"] == 4
    assert all(np.isfinite(v).all() for v in ckpt["model"].values())
    assert all(np.isfinite(v).all() for st in ckpt["optimizer"]["state"].values()
               for v in st.values() if isinstance(v, np.ndarray))
    best = ember.load(out / gt.BEST_CHECKPOINT, as_numpy=True)
    assert best["iteration"] == 4
    # The run resumes from the good state (and, unpoisoned, finishes).
    monkeypatch.undo()
    result = train_gpt(None, None, out, resume=True, **QUIET)
    assert result.iteration == 12 and ember.load(last)["iteration"] == 12


def test_divergence_before_the_first_checkpoint(tmp_path, text_file, monkeypatch):
    _poison_after(monkeypatch, 2, _nan_parameter)
    with pytest.raises(gt.TrainingDiverged, match="no checkpoint was written yet") as info:
        train_gpt(tiny(max_iters=12, eval_interval=4), text_file, tmp_path / "run", **QUIET)
    assert info.value.last_checkpoint is None
    assert not (tmp_path / "run" / gt.LAST_CHECKPOINT).exists()


def test_cli_divergence_is_a_clean_error_and_resume_still_works(tmp_path, text_file, capsys):
    from ember.cli import main
    out = tmp_path / "cli"
    assert main(["train-gpt", "--text", str(text_file), "--preset", "tiny", "--out-dir", str(out),
                 "--max-iters", "4", "--eval-interval", "4", "--eval-iters", "1",
                 "--sample-tokens", "0", "--no-progress", "--quiet"]) == 0
    last = out / gt.LAST_CHECKPOINT
    good = last.read_bytes()
    # A learning rate that makes the weights overflow float32 within a few steps.
    with np.errstate(all="ignore"):
        rc = main(["train-gpt", "--out-dir", str(out), "--resume", "--max-iters", "12",
                   "--learning-rate", "1e38", "--grad-clip", "0", "--no-decay-lr",
                   "--no-progress", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 3
    assert "Traceback" not in err
    assert "ember train-gpt: error: train_gpt: training diverged at iteration" in err
    assert f"last good checkpoint, {last} (iteration 4), is unchanged" in err
    assert last.read_bytes() == good
    assert main(["train-gpt", "--out-dir", str(out), "--resume", "--max-iters", "6",
                 "--no-progress", "--quiet"]) == 0
    assert ember.load(last)["iteration"] == 6


# -- schedule defaults follow --max-iters; resuming a finished run ---------------------------------
SMALL = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
         "--batch-size", "2", "--eval-iters", "1", "--eval-interval", "20", "--sample-tokens", "0",
         "--no-progress", "--quiet"]


def test_cli_short_run_scales_the_schedule(tmp_path, text_file, capsys):
    """``--max-iters 40`` on the baby preset (warmup 100) used to fail on warmup_iters, an option
    the user had not set."""
    from ember.cli import main
    out = tmp_path / "short"
    assert main(["train-gpt", "--text", str(text_file), "--out-dir", str(out),
                 "--max-iters", "40", *SMALL]) == 0, capsys.readouterr().err
    cfg = gt.checkpoint_config(out)
    assert (cfg.max_iters, cfg.lr_decay_iters, cfg.warmup_iters) == (40, 40, 4)
    # A contradiction the user made is named with the options that fix it.
    assert main(["train-gpt", "--text", str(text_file), "--out-dir", str(tmp_path / "d"),
                 "--max-iters", "40", "--lr-decay-iters", "20", "--warmup-iters", "30",
                 *SMALL]) == 2
    err = capsys.readouterr().err
    assert "lr_decay_iters=20 is invalid" in err and "--warmup-iters" in err
    assert "--lr-decay-iters" in err


@pytest.mark.parametrize("args, expected", [
    ([], (2000, 2000, 100)),                                         # the preset as it is
    (["--max-iters", "40"], (40, 40, 4)),
    (["--max-iters", "500"], (500, 500, 50)),
    (["--max-iters", "5000"], (5000, 5000, 100)),                    # long runs keep 100
    (["--lr-decay-iters", "50"], (2000, 50, 50)),                    # warmup fits the decay
    (["--max-iters", "40", "--warmup-iters", "7"], (40, 40, 7)),     # given: kept
    (["--max-iters", "40", "--lr-decay-iters", "400"], (40, 400, 4)),
    (["--preset", "tiny", "--max-iters", "3"], (3, 3, 0)),           # tiny's warmup is 4
])
def test_cli_schedule_defaults(tmp_path, text_file, monkeypatch, args, expected):
    from types import SimpleNamespace

    from ember.cli import main
    seen = {}

    def fake_train_gpt(config, text, out_dir, **kwargs):
        config.validate()
        seen["config"] = config
        return SimpleNamespace(interrupted=False, already_finished=False)

    monkeypatch.setattr(gt, "train_gpt", fake_train_gpt)
    assert main(["train-gpt", "--text", str(text_file), "--out-dir", str(tmp_path), *args]) == 0
    c = seen["config"]
    assert (c.max_iters, c.lr_decay_iters, c.warmup_iters) == expected


@pytest.mark.parametrize("quiet", [False, True])
def test_cli_resume_of_a_finished_run_says_how_to_continue(tmp_path, text_file, capsys, quiet):
    from ember.cli import main
    out = tmp_path / "done"
    flags = ["--no-progress"] + (["--quiet"] if quiet else [])
    assert main(["train-gpt", "--text", str(text_file), "--preset", "tiny", "--out-dir", str(out),
                 "--max-iters", "4", "--eval-iters", "1", "--sample-tokens", "0", *flags]) == 0
    last = out / gt.LAST_CHECKPOINT
    before = last.read_bytes()
    capsys.readouterr()
    assert main(["train-gpt", "--out-dir", str(out), "--resume", *flags]) == 0
    err = capsys.readouterr().err
    assert f"nothing to train: {last} is already at iteration 4 and max_iters is 4" in err
    assert "--resume --max-iters 8" in err
    assert last.read_bytes() == before
    result = train_gpt(None, None, out, resume=True, **QUIET)
    assert result.already_finished and result.iteration == 4
    assert main(["train-gpt", "--out-dir", str(out), "--resume", "--max-iters", "6", *flags]) == 0
    assert ember.load(last)["iteration"] == 6


# -- what a run shows: ember.train's progress bar, or lines without tqdm ---------------------------
def test_progress_bar_is_ember_trains_on_stderr(tmp_path, text_file, capsys):
    pytest.importorskip("tqdm")
    train_gpt(tiny(max_iters=4), text_file, tmp_path, progress=True, verbose=True,
              handle_interrupt=False)
    out, err = capsys.readouterr()
    assert "step 0: train loss" in out and "step 4: train loss" in out    # evaluations: stdout
    assert "train-gpt: done at iteration 4" in out
    assert "Epoch 1/1" in err and "4/4" in err                            # ProgbarLogger's bar
    assert "loss: " in err and "lr: " in err and "tok/s: " in err         # the last step's logs
    assert "Epoch" not in out and "iter " not in out


def test_progress_lines_without_tqdm(tmp_path, text_file, capsys, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "tqdm", None)            # `import tqdm` raises ImportError
    train_gpt(tiny(max_iters=4, log_interval=2), text_file, tmp_path, progress=True, verbose=True,
              handle_interrupt=False)
    out, err = capsys.readouterr()
    lines = [line for line in out.splitlines() if line.startswith("iter ")]
    assert [line.split(":")[0] for line in lines] == ["iter 2", "iter 4"], out
    assert "tok/s" in lines[0] and "Epoch" not in out + err
