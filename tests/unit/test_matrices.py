"""Compact matrices (int8 rows, optional projection) and the token vectors stored with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import late
from assistant.late import TokenVectors, TokenWriter, write_tokens
from assistant.matrices import CompactMatrix, MatrixWriter, fit_basis

TOKEN_DIMS = 192  # assistant.late.TOKEN_DIMS: token vectors are projected to 192 directions and re-normalised


def _unit_rows(n: int, dims: int, rank: int, seed: int = 0) -> np.ndarray:
    """Unit rows lying mostly in one `rank`-dimensional subspace (the same for every seed), as model outputs do."""
    rng = np.random.default_rng(seed)
    space = np.random.default_rng(1234).normal(size=(rank, dims))
    rows = rng.normal(size=(n, rank)) @ space + 0.05 * rng.normal(size=(n, dims))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_rows_written_in_batches_load_memory_mapped_with_small_error(tmp_path: Path) -> None:
    rows = _unit_rows(500, 384, 384)
    with MatrixWriter(tmp_path, "m", 384) as writer:
        assert writer.append(rows[:200]) == (0, 200)
        assert writer.append(rows[200:]) == (200, 500)
    matrix = CompactMatrix.load(tmp_path, "m")
    assert matrix is not None and len(matrix) == 500 and isinstance(matrix.codes, np.memmap)
    assert np.abs(matrix.rows(0, 500) - rows).max() < 0.01  # int8 with a scale per row
    query = rows[:3]
    assert np.allclose(matrix.dot(matrix.project(query), 0, 500), query @ rows.T, atol=0.02)
    assert (tmp_path / "m.codes").stat().st_size == 500 * 384  # one byte a value


def test_projection_keeps_the_dot_products_of_rows_in_few_directions(tmp_path: Path) -> None:
    rows = _unit_rows(2000, 384, 40)
    basis = fit_basis(rows, 64)
    assert basis is not None and basis.shape == (384, 64)
    with MatrixWriter(tmp_path, "p", 384, basis) as writer:
        writer.append(rows)
    matrix = CompactMatrix.load(tmp_path, "p")
    assert matrix is not None and matrix.dims == 64
    exact = rows[:20] @ rows.T
    approx = matrix.dot(matrix.project(rows[:20]), 0, len(rows))
    assert np.abs(approx - exact).max() < 0.05  # the scale is kept, not only the order
    assert (approx.argmax(axis=1) == exact.argmax(axis=1)).all()


def test_no_basis_when_there_is_nothing_to_gain_or_too_little_to_fit() -> None:
    assert fit_basis(_unit_rows(500, 128, 128), 128) is None  # already that small
    assert fit_basis(_unit_rows(50, 384, 384), 128) is None  # fewer rows than directions


def test_an_unfinished_or_damaged_matrix_does_not_load(tmp_path: Path) -> None:
    writer = MatrixWriter(tmp_path, "half", 8)
    writer.append(_unit_rows(10, 8, 8))
    writer.abandon()  # a killed ingest: no header
    assert CompactMatrix.load(tmp_path, "half") is None
    with MatrixWriter(tmp_path, "cut", 8) as writer:
        writer.append(_unit_rows(10, 8, 8))
    with open(tmp_path / "cut.codes", "r+b") as handle:
        handle.truncate(40)
    assert CompactMatrix.load(tmp_path, "cut") is None


def test_token_vectors_are_projected_and_renormalised_by_default(tmp_path: Path) -> None:
    assert late.TOKEN_DIMS == TOKEN_DIMS and late.TOKEN_RENORMALISE
    rows = {f"c{i}": _unit_rows(30, 384, 60, seed=i) for i in range(20)}
    vectors = write_tokens(tmp_path / "t", "model/1", rows)
    assert vectors.basis is not None and vectors.basis.shape == (384, TOKEN_DIMS) and vectors.normalised
    stored = vectors.get("c7")
    assert stored.shape == (30, TOKEN_DIMS)
    assert np.allclose(np.linalg.norm(stored, axis=1), 1.0, atol=0.01)  # unit rows again after projection
    # Round trip: what is stored is the projected, re-normalised row, within int8's error.
    projected = rows["c7"] @ vectors.basis
    projected /= np.linalg.norm(projected, axis=1, keepdims=True)
    assert np.abs(stored - projected).max() < 0.01
    assert (tmp_path / "t" / "rows.codes").stat().st_size == 20 * 30 * TOKEN_DIMS  # half of 384 bytes a row


def test_a_query_is_projected_with_the_stored_basis_once_loaded(tmp_path: Path) -> None:
    rows = {f"c{i}": _unit_rows(30, 384, 60, seed=i) for i in range(20)}
    written = write_tokens(tmp_path / "t", "model/1", rows)
    loaded = TokenVectors.load(tmp_path / "t")  # a new process: basis and normalisation come from disk
    assert loaded is not None and np.array_equal(loaded.basis, written.basis) and loaded.normalised
    query = _unit_rows(6, 384, 60, seed=99)
    expected = query @ written.basis
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(loaded.project(query), expected, atol=1e-5)
    # MaxSim on projected rows stays close to the full cosine and picks the same best token.
    exact = query @ rows["c7"].T
    approx = loaded._matrix.dot(loaded.project(query), *loaded.span("c7"))
    assert np.abs(approx.max(axis=1) - exact.max(axis=1)).max() < 0.05
    assert (approx.argmax(axis=1) == exact.argmax(axis=1)).all()


def test_token_vectors_can_be_kept_at_full_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(late, "TOKEN_DIMS", None)
    rows = {f"c{i}": _unit_rows(30, 384, 60, seed=i) for i in range(20)}
    vectors = write_tokens(tmp_path / "t", "model/1", rows)
    assert vectors.basis is None and not vectors.normalised
    query = rows["c7"][:5]
    exact = (query @ rows["c7"].T).max(axis=1)
    assert np.abs(vectors.best(vectors.project(query), "c7") - exact).max() < 0.005


def test_rows_are_not_carried_onto_another_normalisation(tmp_path: Path) -> None:
    rows = {f"c{i}": _unit_rows(30, 384, 60, seed=i) for i in range(20)}
    first = write_tokens(tmp_path / "one", "model/1", rows)
    writer = TokenWriter(tmp_path / "two", "model/1", 384, first.basis, normalise=False)
    with pytest.raises(ValueError):
        first.copy_to(writer, ["c3"])
    writer.abandon()


def test_token_vectors_are_carried_with_their_basis_and_score_as_before(tmp_path: Path) -> None:
    rows = {f"c{i}": _unit_rows(30, 384, 60, seed=i) for i in range(20)}
    first = write_tokens(tmp_path / "one", "model/1", rows)
    assert first.basis is not None and first.basis.shape == (384, TOKEN_DIMS)
    writer = TokenWriter(tmp_path / "two", "model/1", 384, first.basis)
    first.copy_to(writer, ["c3", "c7"], batch=1)
    writer.add("new", rows["c0"])
    second = writer.close()
    assert set(second._ranges) == {"c3", "c7", "new"}
    assert np.array_equal(second.get("c7"), first.get("c7"))  # copied as stored, not re-quantised
    query = first.project(rows["c7"][:5])
    assert np.allclose(second.best(query, "c7"), first.best(query, "c7"))
    assert first.best(query, "c7").mean() > 0.95 > first.best(query, "c3").mean()  # a chunk matches itself
    assert second.best(query, "unknown") is None
    assert TokenVectors.load(tmp_path / "two") is not None


def test_unprojected_rows_are_projected_when_carried_into_a_projected_matrix(tmp_path: Path) -> None:
    small = write_tokens(tmp_path / "small", "m", {"a": _unit_rows(30, 384, 60)})  # too few rows for a basis
    assert small.basis is None
    basis = fit_basis(_unit_rows(3000, 384, 60), TOKEN_DIMS)
    writer = TokenWriter(tmp_path / "big", "m", 384, basis)
    small.copy_to(writer, ["a"])
    big = writer.close()
    query = _unit_rows(30, 384, 60)[:4]
    assert big.best(big.project(query), "a") == pytest.approx(small.best(small.project(query), "a"), abs=0.05)
