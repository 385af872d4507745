"""The op parity suite on the GPU: every row of the foundation tables (tests/ops/test_ops_core.py,
test_ops_nn.py, test_ops_loss.py) run with ember tensors on ``cuda`` against PyTorch CUDA, forward
and input gradients, float32 tolerances (the rows' own; TF32 is off on both sides).  Also: outputs
and gradients stay on the GPU, and inputs are not mutated."""
import numpy as np
import pytest

from _gpu import requires_torch_cuda, torch_float32_exact

pytestmark = requires_torch_cuda

import ember  # noqa: E402
import test_ops_core  # noqa: E402
import test_ops_loss  # noqa: E402
import test_ops_nn  # noqa: E402
from op_harness import make_inputs  # noqa: E402

ROWS = [r for r in test_ops_core.ROWS + test_ops_nn.ROWS + test_ops_loss.ROWS if r.torch_fn is not None]


def _outs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check_parity_on_gpu(row):
    import torch
    torch_float32_exact()
    arrays = make_inputs(row, np.float32)
    originals = [a.copy() for a in arrays]
    grads = [s.grad and a.dtype.kind == "f" for a, s in zip(arrays, row.args)]
    e_in = [ember.tensor(a, dtype=a.dtype, device="cuda", requires_grad=g) for a, g in zip(arrays, grads)]
    t_in = [torch.from_numpy(a.copy()).cuda().requires_grad_(g) for a, g in zip(arrays, grads)]
    e_out = _outs(row.ember_fn(*e_in))
    t_out = _outs(row.torch_fn(*t_in))
    assert len(e_out) == len(t_out)
    for k, (eo, to) in enumerate(zip(e_out, t_out)):
        assert eo.device.type == "cuda", f"{row.name}: output {k} on {eo.device}"
        to_np = to.detach().cpu().numpy()
        assert eo.shape == tuple(to_np.shape), f"{row.name}: output {k} shape"
        np.testing.assert_allclose(eo.cpu().numpy(), to_np, atol=row.fwd_atol, rtol=row.fwd_rtol,
                                   err_msg=f"{row.name}: forward output {k}")
    if row.differentiable:
        rng = np.random.default_rng(row.seed + 1)
        pairs = [(eo, to) for eo, to in zip(e_out, t_out) if to.requires_grad]
        cot = [rng.standard_normal(to.shape).astype(np.float32) for _, to in pairs]
        if pairs:
            sum((to * torch.from_numpy(g).cuda()).sum() for (_, to), g in zip(pairs, cot)).backward()
            total = None
            for (eo, _), g in zip(pairs, cot):
                term = (eo * ember.tensor(g, device="cuda")).sum()
                total = term if total is None else total + term
            total.backward()
            for i, (ei, ti) in enumerate(zip(e_in, t_in)):
                if not ti.requires_grad or ti.grad is None:
                    continue
                assert ei.grad is not None, f"{row.name}: input {i} got no gradient"
                assert ei.grad.device.type == "cuda", f"{row.name}: gradient {i} on {ei.grad.device}"
                np.testing.assert_allclose(ei.grad.cpu().numpy(), ti.grad.cpu().numpy(),
                                           atol=row.grad_atol, rtol=row.grad_rtol,
                                           err_msg=f"{row.name}: gradient of input {i}")
    for i, (a, o) in enumerate(zip(arrays, originals)):
        np.testing.assert_array_equal(a, o, err_msg=f"{row.name}: input {i} was mutated")


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_parity_on_gpu(row):
    check_parity_on_gpu(row)
