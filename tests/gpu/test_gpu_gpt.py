"""GPT on the GPU: logits, loss and gradients against the PyTorch CUDA reference of
tests/models/test_gpt.py; 200 training steps on the GPU against the same 200 on the CPU; bf16 autocast
against float32 (same loss curve within noise); a float16 run with the loss scaler."""
import numpy as np
import pytest

from _gpu import requires_gpu, requires_torch_cuda, torch_float32_exact

import ember  # noqa: E402
from ember.models import GPT, GPTConfig  # noqa: E402

SMALL = dict(vocab_size=65, block_size=32, n_layer=2, n_head=4, n_embd=64, bias=True)


@requires_torch_cuda
@pytest.mark.parametrize("bias", [True, False])
def test_logits_loss_and_gradients_match_pytorch_cuda(bias):
    import test_gpt
    import torch
    torch_float32_exact()
    model, ref = test_gpt.pair(bias)
    model.to("cuda")
    ref.cuda()
    x, y = test_gpt.batch(model)
    y[0, 2] = -1
    logits, loss = model(ember.tensor(x, device="cuda"), ember.tensor(y, device="cuda"))
    t_logits, t_loss = ref(torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda())
    assert logits.device == "cuda:0"
    np.testing.assert_allclose(logits.cpu().numpy(), t_logits.detach().cpu().numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-5)
    loss.backward()
    t_loss.backward()
    t_grads = {n: p.grad.cpu().numpy() for n, p in ref.named_parameters()}
    for name, p in model.named_parameters():
        assert p.grad.device == "cuda:0"
        tg = t_grads[name]
        g = p.grad.cpu().numpy()
        if g.ndim == 2 and name.startswith("transformer.h."):
            g = g.T                                        # ember Linear weights are (in, out)
        np.testing.assert_allclose(g, tg, atol=2e-5, rtol=1e-4, err_msg=name)


def _train(device, steps, autocast=None, seed=0):
    ember.manual_seed(seed)
    model = GPT(GPTConfig(**SMALL)).to(device)
    opt = model.configure_optimizers(0.1, 3e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(seed)
    text = rng.integers(0, SMALL["vocab_size"], 20_000)
    losses = []
    params = list(model.parameters())
    for _ in range(steps):
        starts = rng.integers(0, len(text) - SMALL["block_size"] - 1, 8)
        x = np.stack([text[s:s + SMALL["block_size"]] for s in starts])
        y = np.stack([text[s + 1:s + 1 + SMALL["block_size"]] for s in starts])
        ex, ey = ember.tensor(x, device=device), ember.tensor(y, device=device)
        if autocast:
            with ember.autocast(autocast):
                _, loss = model(ex, ey)
        else:
            _, loss = model(ex, ey)
        loss.backward()
        ember.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return np.array(losses)


@requires_gpu
def test_200_steps_on_gpu_match_the_cpu_run():
    cpu = _train("cpu", 200)
    gpu = _train("cuda", 200)
    # the same float32 arithmetic in another order: round-off, growing slowly with the steps
    np.testing.assert_allclose(gpu[:20], cpu[:20], rtol=1e-5)
    np.testing.assert_allclose(gpu, cpu, rtol=1e-3)


@requires_gpu
def test_bf16_autocast_follows_the_float32_curve():
    f32 = _train("cuda", 200)
    bf16 = _train("cuda", 200, autocast="bfloat16")
    assert not np.array_equal(f32, bf16), "autocast changed nothing: are the matrix products autocast-aware?"
    # within noise: the smoothed curves agree to a few percent and bf16 learns as much
    smooth = np.convolve(np.ones(20) / 20, f32, mode="valid")
    smooth_bf16 = np.convolve(np.ones(20) / 20, bf16, mode="valid")
    np.testing.assert_allclose(smooth_bf16, smooth, rtol=0.03)
    assert bf16[-20:].mean() < bf16[:20].mean() - 0.1


@requires_gpu
def test_float16_with_loss_scaler_trains():
    ember.manual_seed(0)
    model = GPT(GPTConfig(**SMALL)).to("cuda")
    opt = model.configure_optimizers(0.1, 3e-3)
    scaler = ember.GradScaler()
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.integers(0, 65, (8, 32)), device="cuda")
    y = ember.tensor(rng.integers(0, 65, (8, 32)), device="cuda")
    losses = []
    for _ in range(50):
        with ember.autocast("float16"):
            _, loss = model(x, y)
        scaler.scale(loss).backward()
        scaler.unscale_(opt)
        ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
    assert all(p.dtype == np.float32 for p in model.parameters())     # float32 master weights
    assert losses[-1] < losses[0] - 1.0 and np.isfinite(losses).all()
