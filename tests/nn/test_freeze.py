"""Freezing (ember.nn.freeze, Module.requires_grad_ / Module.trainable): frozen parameters get no
gradient, no optimizer update and no optimizer state; heads can be replaced."""
import re

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from ember.models.bert import BertForSequenceClassification, BertModel
from ember.nn.freeze import (freeze, frozen_parameter_names, name_matches, trainable_parameters,
                             unfreeze)

TINY = dict(vocab_size=60, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=32, max_position_embeddings=16)


def mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))


def data(seed=0, n=16):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.normal(size=(n, 4)).astype(np.float32)), rng.integers(0, 3, n)


def test_name_patterns():
    name = "encoder.layer.10.attention.self.query.weight"
    assert name_matches(name, "query")
    assert name_matches(name, "attention.self")
    assert name_matches(name, "encoder.layer.10")
    assert not name_matches(name, "layer.1")                 # whole name parts only
    assert not name_matches(name, "quer")
    assert name_matches(name, "encoder.layer.*.query.weight")  # glob on the full name
    assert not name_matches(name, "*.key.*")
    assert name_matches(name, re.compile(r"layer\.1\d"))     # regex: search


def test_freeze_by_pattern_and_unfreeze():
    model = BertModel(**TINY)
    frozen = freeze(model, ["embeddings", "encoder.layer.0"])
    assert frozen and all(n.startswith(("embeddings.", "encoder.layer.0.")) for n in frozen)
    assert set(frozen_parameter_names(model)) == set(frozen)
    trainable = {id(p) for p in trainable_parameters(model)}
    for n, p in model.named_parameters():
        assert p.requires_grad == (n not in frozen) == (id(p) in trainable)
    assert unfreeze(model, "embeddings.LayerNorm") == ["embeddings.LayerNorm.weight",
                                                      "embeddings.LayerNorm.bias"]
    freeze(model)
    assert model.num_parameters(trainable_only=True) == 0
    unfreeze(model)
    assert model.num_parameters(trainable_only=True) == model.num_parameters()
    with pytest.raises(ValueError, match="matches no parameter") as e:
        freeze(model, "embedings")
    assert "embeddings.word_embeddings.weight" in str(e.value)        # shows what names look like
    with pytest.raises(TypeError, match="patterns"):
        freeze(model, [3])


def test_module_requires_grad_and_trainable_property():
    model = mlp()
    assert model.trainable and model[0].trainable
    model[0].trainable = False                                # Keras style
    assert not model[0].trainable and not model[0].weight.requires_grad
    assert model.trainable                                    # the rest still trains
    model[2].requires_grad_(False)                            # PyTorch style
    assert not model[2].bias.requires_grad
    model[0].trainable = True
    assert model[0].weight.requires_grad
    assert nn.ReLU().trainable                                # no parameters: nothing frozen
    assert nn.Linear(None, 3).trainable                       # readable before a lazy build
    assert model.num_parameters(trainable_only=True) == 4 * 8 + 8 + 8 * 3 + 3


@pytest.mark.parametrize("make_opt", [
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda ps: ember.optim.Adam(ps, lr=0.01, weight_decay=0.01),
    lambda ps: ember.optim.AdamW(ps, lr=0.01),
    lambda ps: ember.optim.RMSprop(ps, lr=0.01),
])
def test_frozen_parameters_get_no_gradient_no_update_no_state(make_opt):
    ember.manual_seed(0)
    model = mlp()
    freeze(model, "0")                     # the first Linear (name "0.weight", "0.bias")
    frozen = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.requires_grad}
    assert set(frozen) == {"0.weight", "0.bias"}
    opt = make_opt(model.parameters())     # all parameters given, frozen ones included
    x, y = data()
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        assert model[0].weight.grad is None and model[0].bias.grad is None
        assert model[4].weight.grad is not None
        opt.step()
    for n, p in model.named_parameters():
        if n in frozen:
            np.testing.assert_array_equal(p.numpy(), frozen[n])
            assert opt.state[p] == {} and p not in opt.state
        else:
            assert opt.state[p] != {}                         # trained ones do have state
    state = opt.state_dict()["state"]
    assert 0 not in state and 1 not in state                  # indices of the frozen pair


def test_unfreezing_later_trains_with_the_same_optimizer():
    ember.manual_seed(1)
    model = mlp()
    model[0].requires_grad_(False)
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    x, y = data()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    w = model[0].weight.numpy().copy()
    model[0].requires_grad_(True)
    opt.zero_grad()
    F.cross_entropy(model(x), y).backward()
    opt.step()
    assert not np.array_equal(model[0].weight.numpy(), w)
    assert opt.state[model[0].weight]["step"] == 1.0          # its first step


def test_replace_head_and_train_only_it():
    ember.manual_seed(2)
    model = BertForSequenceClassification(TINY, num_labels=2)
    model.classifier = nn.Linear(16, 5)                        # a new head for a new task
    freeze(model)
    unfreeze(model, "classifier")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["classifier.weight",
                                                                          "classifier.bias"]
    ids = np.random.default_rng(0).integers(1, 60, (4, 6))
    labels = np.array([0, 1, 2, 4])
    opt = ember.optim.Adam(trainable_parameters(model), lr=0.05)
    model.eval()
    encoder = {n: p.numpy().copy() for n, p in model.bert.named_parameters()}
    before = F.cross_entropy(model(ids), labels).item()
    for _ in range(5):
        opt.zero_grad()
        F.cross_entropy(model(ids), labels).backward()
        opt.step()
    assert model(ids).shape == (4, 5)
    assert F.cross_entropy(model(ids), labels).item() < before
    for n, p in model.bert.named_parameters():
        np.testing.assert_array_equal(p.numpy(), encoder[n])
