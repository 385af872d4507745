"""Full training steps (forward, loss, backward, Adam) of ember and PyTorch, in one process.

Workloads (issue 3): the 784-128-64-10 MLP at batch 128; the seed CNN
Conv2d(1->32, 3x3, relu) -> MaxPool 2x2 -> Flatten -> Linear(5408->128, relu) -> Linear(128->10)
on 28x28x1 images at batch 128; a 1-layer LSTM (input 128, hidden 128, sequence 64, batch 32,
MSE loss).  Both sides start from the same weights (layouts converted: ember is channels-last and
stores Linear weights as (in, out)) and the first losses are checked to agree before timing.

    python benchmarks/bench_training.py
"""
import numpy as np
from harness import compare, header, table, torch

import ember
import ember.functional as F
from ember import nn


def _copy_weights(e_model, t_model, convert):
    """Load PyTorch's weights into ember, converting each with ``convert(name, array)``."""
    state = {k: convert(k, v.detach().numpy()) for k, v in t_model.state_dict().items()}
    e_model.load_state_dict(state)


def _linear_layout(name, a):
    return a.T if a.ndim == 2 else a


def _cnn_layout(name, a):
    if a.ndim == 4:                       # (out, in, kh, kw) -> (kh, kw, in, out)
        return a.transpose(2, 3, 1, 0)
    if name == "4.weight":                # Linear after Flatten: PyTorch flattens (C, H, W)
        return a.reshape(128, 32, 13, 13).transpose(2, 3, 1, 0).reshape(-1, 128)
    return a.T if a.ndim == 2 else a


def _steps(e_model, t_model, e_loss, t_loss, e_x, e_y, t_x, t_y):
    e_opt = ember.optim.Adam(e_model.parameters(), lr=1e-3)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)

    def e_step():
        e_opt.zero_grad()
        loss = e_loss(e_model(e_x), e_y)
        loss.backward()
        e_opt.step()
        return loss

    def t_step():
        t_opt.zero_grad()
        loss = t_loss(t_model(t_x), t_y)
        loss.backward()
        t_opt.step()
        return loss

    le, lt = float(e_step().item()), float(t_step().item())
    assert abs(le - lt) <= 1e-4 * max(1.0, abs(lt)), f"first losses differ: ember {le} torch {lt}"
    return e_step, t_step


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    results = []

    # MLP 784-128-64-10, cross-entropy, batch 128
    t_mlp = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 10))
    e_mlp = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
    _copy_weights(e_mlp, t_mlp, _linear_layout)
    x = rng.random((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    results.append(compare("MLP 784-128-64-10 step, batch 128", *_steps(
        e_mlp, t_mlp, F.cross_entropy, torch.nn.functional.cross_entropy,
        ember.tensor(x), ember.tensor(y), torch.from_numpy(x), torch.from_numpy(y))))

    # seed CNN, batch 128, 28x28x1
    t_cnn = torch.nn.Sequential(torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                torch.nn.Flatten(), torch.nn.Linear(5408, 128), torch.nn.ReLU(),
                                torch.nn.Linear(128, 10))
    e_cnn = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(5408, 128), nn.ReLU(), nn.Linear(128, 10))
    _copy_weights(e_cnn, t_cnn, _cnn_layout)
    imgs = rng.random((128, 28, 28, 1), dtype=np.float32)
    results.append(compare("CNN conv32-pool-128-10 step, batch 128, 28x28x1", *_steps(
        e_cnn, t_cnn, F.cross_entropy, torch.nn.functional.cross_entropy,
        ember.tensor(imgs), ember.tensor(y), torch.from_numpy(imgs.transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(y))))

    # LSTM, 1 layer, hidden 128, seq 64, batch 32, MSE against a fixed target
    t_lstm = torch.nn.LSTM(128, 128, batch_first=True)
    e_lstm = nn.LSTM(128, 128)
    _copy_weights(e_lstm, t_lstm, _linear_layout)
    seq = rng.standard_normal((32, 64, 128), dtype=np.float32)
    target = rng.standard_normal((32, 64, 128), dtype=np.float32)
    results.append(compare("LSTM h128 seq64 step, batch 32", *_steps(
        e_lstm, t_lstm, lambda out, t: F.mse_loss(out[0], t),
        lambda out, t: torch.nn.functional.mse_loss(out[0], t),
        ember.tensor(seq), ember.tensor(target), torch.from_numpy(seq), torch.from_numpy(target))))

    print(header())
    print()
    print(table(results, "Training steps (forward + backward + Adam)"))


if __name__ == "__main__":
    main()
