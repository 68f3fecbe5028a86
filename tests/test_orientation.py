"""The engine's two layouts of the per-layer states (framework.engine.orientation): the same
numbers, where the docstrings say, and the same products as a plain einsum over the sequences."""
from __future__ import annotations

import itertools

import pytest
import torch

from framework.engine.orientation import COLUMNS, ROWS, orientation_for, transposed_copy

K, L, n, c, a = 2, 3, 4, 5, 6


def sequence_values(seed: int, width: int = c) -> torch.Tensor:
    """A value per member, layer, sequence and channel, ``[K, L, n, width]``."""
    return torch.randn(K, L, n, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("shape", [(1, 64, 96), (3, 32, 32), (2, 20, 32), (2, 3, 64, 128), (1, 7, 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_blocked_transpose_moves_every_element_to_its_transposed_place(shape, dtype):
    M = torch.randn(*shape, dtype=dtype)
    T = transposed_copy(M)
    assert T.shape == (*shape[:-2], shape[-1], shape[-2]) and T.is_contiguous()
    flat_M, flat_T = M.reshape(-1, *shape[-2:]), T.reshape(-1, shape[-1], shape[-2])
    for b, i, j in itertools.product(range(flat_M.shape[0]), range(shape[-2]), range(shape[-1])):
        assert flat_T[b, j, i] == flat_M[b, i, j]


@pytest.mark.parametrize("orientation", [ROWS, COLUMNS], ids=["rows", "columns"])
def test_layer_buffers_hold_each_value_where_the_orientation_says(orientation):
    t = sequence_values(0)
    layers = orientation.layers_of(t)
    assert layers.is_contiguous()
    assert layers.shape == ((L, K, c, n) if orientation.columns else (L, K, n, c))
    for k, layer, i in itertools.product(range(K), range(L), range(n)):
        stored = layers[layer, k, :, i] if orientation.columns else layers[layer, k, i]
        assert torch.equal(stored, t[k, layer, i])
    assert torch.equal(orientation.layers(orientation.of_sequences(t), L), layers)
    assert torch.equal(orientation.members(layers), orientation.of_sequences(t))
    assert torch.equal(orientation.sequences(layers), t)
    rows = orientation.rows(layers)
    assert torch.equal(rows, t.transpose(0, 1)) and torch.equal(orientation.from_rows(rows), layers)


@pytest.mark.parametrize("orientation", [ROWS, COLUMNS], ids=["rows", "columns"])
def test_products_are_those_of_every_state_vector(orientation):
    t, u = sequence_values(1), sequence_values(2, width=a)
    M = torch.randn(K, a, c, dtype=torch.float64)
    expected = torch.einsum("kac,klic->klia", M, t)
    applied = orientation.layers(orientation.apply(M, orientation.of_sequences(t)), L)
    torch.testing.assert_close(orientation.sequences(applied), expected, rtol=1e-14, atol=1e-14)
    each = orientation.apply_each(M, orientation.layers_of(t))
    torch.testing.assert_close(orientation.sequences(each), expected, rtol=1e-14, atol=1e-14)

    layers = orientation.layers(orientation.of_sequences(u), L)
    before = layers.clone()
    state_layers = orientation.layers(orientation.of_sequences(t), L)
    orientation.accumulate(layers[1], M, state_layers[0])
    expected = before[1] + (torch.bmm(M, state_layers[0]) if orientation.columns else state_layers[0] @ M.mT)
    torch.testing.assert_close(layers[1], expected, rtol=1e-14, atol=1e-14)
    assert torch.equal(layers[0], before[0]) and torch.equal(layers[2], before[2])

    outer = orientation.outer(orientation.of_sequences(u), orientation.of_sequences(t))
    torch.testing.assert_close(outer, torch.einsum("klia,klic->kac", u, t), rtol=1e-14, atol=1e-14)
    assert torch.equal(orientation.transposed(M), M.mT)


def test_float32_on_a_cpu_runs_as_columns_and_float64_as_rows():
    assert orientation_for(torch.zeros(1, dtype=torch.float32)) is COLUMNS
    assert orientation_for(torch.zeros(1, dtype=torch.float64)) is ROWS
