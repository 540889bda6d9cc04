"""Compact matrices (int8 rows, optional projection; residual-coded rows) and the token vectors stored with them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant import late
from assistant.late import TokenVectors, TokenWriter, fit_tokens_codebook, write_tokens
from assistant.matrices import CompactMatrix, MatrixWriter, fit_basis
from assistant.residual import ResidualMatrix, ResidualWriter, fit_codebook

TOKEN_DIMS = 192  # assistant.late.TOKEN_DIMS: token vectors are projected to 192 directions and re-normalised
TOKEN_BITS = 2  # assistant.late.TOKEN_BITS: then a centroid id and 2 bits a dimension (48 + 2 bytes a token)


def _unit_rows(n: int, dims: int, rank: int, seed: int = 0) -> np.ndarray:
    """Unit rows lying mostly in one `rank`-dimensional subspace (the same for every seed), as model outputs do."""
    rng = np.random.default_rng(seed)
    space = np.random.default_rng(1234).normal(size=(rank, dims))
    rows = rng.normal(size=(n, rank)) @ space + 0.05 * rng.normal(size=(n, dims))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _clustered_rows(n: int, dims: int, clusters: int, seed: int = 0, spread: float = 0.35) -> np.ndarray:
    """Unit rows around a few shared directions (the same for every seed), as a model's token vectors cluster."""
    rng = np.random.default_rng(seed)
    centres = _unit_rows(clusters, dims, 60, seed=4321)
    rows = centres[rng.integers(clusters, size=n)] + spread * _unit_rows(n, dims, 60, seed=seed + 1)
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


def test_residual_rows_decode_close_to_the_projected_rows(tmp_path: Path) -> None:
    sample = _clustered_rows(6000, 384, 200)
    basis = fit_basis(sample, TOKEN_DIMS)
    rows = _clustered_rows(1000, 384, 200, seed=7)
    projected = rows @ basis
    projected /= np.linalg.norm(projected, axis=1, keepdims=True)
    errors = {}
    for bits in (1, 2, 4):
        book = fit_codebook(sample, basis, 256, bits)
        assert book is not None and book.code_bytes == TOKEN_DIMS * bits // 8
        ids, codes = book.encode(rows)
        assert ids.dtype == np.uint16 and codes.dtype == np.uint8 and codes.shape == (1000, book.code_bytes)
        decoded = book.decode(ids, codes)
        centroid_only = np.linalg.norm(book.centroids[ids].astype(np.float32) - projected, axis=1).mean()
        errors[bits] = np.linalg.norm(decoded - projected, axis=1).mean()
        assert errors[bits] < 0.75 * centroid_only  # the residual's bits carry real information
    assert errors[4] < errors[2] < errors[1]
    assert errors[2] < 0.2  # about a fifth of a unit row's length at 2 bits, on rows unseen by the fit
    with ResidualWriter(tmp_path, "r", 384, fit_codebook(sample, basis, 256, TOKEN_BITS)) as writer:
        assert writer.append(rows[:300]) == (0, 300)
        assert writer.append(rows[300:]) == (300, 1000)
    matrix = ResidualMatrix.load(tmp_path, "r")
    assert matrix is not None and len(matrix) == 1000 and isinstance(matrix.codes, np.memmap)
    assert (tmp_path / "r.codes").stat().st_size == 1000 * TOKEN_DIMS * TOKEN_BITS // 8
    assert (tmp_path / "r.ids").stat().st_size == 1000 * 2
    exact = matrix.project(rows[:5]) @ projected.T
    assert np.abs(matrix.dot(matrix.project(rows[:5]), 0, 1000) - exact).max() < 0.25


def test_the_bit_packing_round_trips_every_level() -> None:
    for bits in (1, 2, 4):
        book = fit_codebook(_clustered_rows(500, 24, 5), None, 1, bits)  # one centroid: rows differ by residual only
        assert book is not None
        levels = np.random.default_rng(bits).integers(0, 2**bits, size=(50, 24))
        projected = book.centroids[np.zeros(50, dtype=int)].astype(np.float32) + book.buckets[1][np.arange(24), levels]
        ids, codes = book.encode_projected(projected)
        decoded = book.decode(ids, codes)
        assert np.allclose(decoded, projected, atol=1e-5)  # bucket values are encoded as themselves


def test_maxsim_ranking_survives_residual_coding(tmp_path: Path) -> None:
    rows = {f"c{i:02d}": _clustered_rows(40, 384, 120, seed=i) for i in range(40)}
    vectors = write_tokens(tmp_path / "t", "model/1", rows)
    assert vectors.codebook is not None and vectors.codebook.bits == TOKEN_BITS
    basis = vectors.basis
    agree = 0
    for i in range(40):
        # A question: a few of one chunk's tokens, perturbed. Exact MaxSim on projected rows picks that chunk.
        noise = _unit_rows(8, 384, 384, seed=500 + i)
        query = rows[f"c{i:02d}"][:8] + 0.3 * noise
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        projected = vectors.project(query)
        exact = {}
        for cid, r in rows.items():
            p = r @ basis
            p /= np.linalg.norm(p, axis=1, keepdims=True)
            exact[cid] = float((projected @ p.T).max(axis=1).mean())
        approx = {cid: float(vectors.best(projected, cid).mean()) for cid in rows}
        assert max(exact, key=exact.get) == f"c{i:02d}"
        agree += max(approx, key=approx.get) == f"c{i:02d}"
        assert abs(approx[f"c{i:02d}"] - exact[f"c{i:02d}"]) < 0.1
    assert agree == 40


def test_the_same_rows_give_the_same_bytes(tmp_path: Path) -> None:
    rows = {f"c{i}": _clustered_rows(60, 384, 80, seed=i) for i in range(30)}
    write_tokens(tmp_path / "a", "model/1", rows)
    write_tokens(tmp_path / "b", "model/1", rows)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert {"rows.ids", "rows.codes", "rows.basis.npy", "rows.centroids.npy", "rows.buckets.npy"} <= set(names)
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_token_vectors_are_projected_renormalised_and_residual_coded_by_default(tmp_path: Path) -> None:
    assert late.TOKEN_DIMS == TOKEN_DIMS and late.TOKEN_RENORMALISE and late.TOKEN_BITS == TOKEN_BITS
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(40)}
    vectors = write_tokens(tmp_path / "t", "model/1", rows)
    assert vectors.basis is not None and vectors.basis.shape == (384, TOKEN_DIMS) and vectors.normalised
    stored = vectors.get("c7")
    assert stored.shape == (30, TOKEN_DIMS)
    projected = rows["c7"] @ vectors.basis
    projected /= np.linalg.norm(projected, axis=1, keepdims=True)
    assert np.linalg.norm(stored - projected, axis=1).mean() < 0.2
    per_token = TOKEN_DIMS * TOKEN_BITS // 8 + 2  # 50 bytes: packed residual codes and a uint16 centroid id
    stored_bytes = sum((tmp_path / "t" / n).stat().st_size for n in ("rows.codes", "rows.ids"))
    assert stored_bytes == 40 * 30 * per_token
    assert len(vectors.codebook.centroids) <= late.TOKEN_CENTROIDS


def test_a_query_is_projected_with_the_stored_codebook_once_loaded(tmp_path: Path) -> None:
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(20)}
    written = write_tokens(tmp_path / "t", "model/1", rows)
    loaded = TokenVectors.load(tmp_path / "t")  # a new process: the codebook comes from disk
    assert loaded is not None and loaded.codebook.same(written.codebook) and loaded.normalised
    query = _clustered_rows(6, 384, 60, seed=99)
    expected = query @ written.basis
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(loaded.project(query), expected, atol=1e-5)
    assert np.array_equal(loaded.get("c7"), written.get("c7"))


def test_token_vectors_can_be_kept_at_full_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(late, "TOKEN_DIMS", None)
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(20)}
    vectors = write_tokens(tmp_path / "t", "model/1", rows)
    assert vectors.basis is None and not vectors.normalised and vectors.codebook.dims == 384
    query = rows["c7"][:5]
    exact = (query @ rows["c7"].T).max(axis=1)
    assert np.abs(vectors.best(vectors.project(query), "c7") - exact).max() < 0.15


def test_rows_are_not_carried_onto_another_codebook(tmp_path: Path) -> None:
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(20)}
    first = write_tokens(tmp_path / "one", "model/1", rows)
    other = fit_codebook(np.concatenate(list(rows.values())), first.basis, 64, TOKEN_BITS)
    writer = TokenWriter(tmp_path / "two", "model/1", 384, other)
    with pytest.raises(ValueError):
        first.copy_to(writer, ["c3"])
    writer.abandon()


def test_token_vectors_are_carried_with_their_codebook_and_score_as_before(tmp_path: Path) -> None:
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(20)}
    first = write_tokens(tmp_path / "one", "model/1", rows)
    assert first.basis is not None and first.basis.shape == (384, TOKEN_DIMS)
    assert fit_tokens_codebook([_clustered_rows(500, 384, 9, seed=3)], first.codebook) is first.codebook
    new = _clustered_rows(30, 384, 60, seed=77)
    second = write_tokens(tmp_path / "two", "model/1", {"new": new}, carried=first, keep=["c3", "c7"])
    assert set(second._ranges) == {"c3", "c7", "new"}
    assert second.codebook.same(first.codebook)  # the next generation encodes with the carried codebook
    assert np.array_equal(second.get("c7"), first.get("c7"))  # copied as stored, not coded again
    a, b = first.span("c7")
    c, d = second.span("c7")
    assert np.array_equal(np.asarray(second._matrix.codes[c:d]), np.asarray(first._matrix.codes[a:b]))
    assert np.array_equal(second.get("new"), first.codebook.decode(*first.codebook.encode(new)))
    query = first.project(rows["c7"][:5])
    assert np.allclose(second.best(query, "c7"), first.best(query, "c7"))
    assert first.best(query, "c7").mean() > 0.95 > first.best(query, "c3").mean() + 0.1  # a chunk matches itself
    assert second.best(query, "unknown") is None
    assert TokenVectors.load(tmp_path / "two") is not None


def test_unprojected_rows_are_coded_again_when_carried_into_a_projected_matrix(tmp_path: Path) -> None:
    small = write_tokens(tmp_path / "small", "m", {"a": _clustered_rows(30, 384, 60)})  # too few rows for a basis
    assert small.basis is None and small.codebook is not None
    book = fit_tokens_codebook([_clustered_rows(3000, 384, 60)], small.codebook)
    assert book is not small.codebook and book.basis is not None  # grown large enough: fitted afresh
    writer = TokenWriter(tmp_path / "big", "m", 384, book)
    small.copy_to(writer, ["a"])
    big = writer.close()
    query = _clustered_rows(30, 384, 60)[:4]
    assert big.best(big.project(query), "a") == pytest.approx(small.best(small.project(query), "a"), abs=0.1)


@pytest.mark.parametrize("name", ["rows.ids", "rows.codes", "rows.centroids.npy", "rows.buckets.npy", "rows.json"])
@pytest.mark.parametrize("how", ["truncated", "deleted"])
def test_damaged_or_missing_token_files_do_not_load(tmp_path: Path, name: str, how: str) -> None:
    rows = {f"c{i}": _clustered_rows(30, 384, 60, seed=i) for i in range(20)}
    write_tokens(tmp_path / "t", "model/1", rows)
    path = tmp_path / "t" / name
    if how == "deleted":
        path.unlink()
    else:
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size // 2)
    assert TokenVectors.load(tmp_path / "t") is None


def test_an_old_token_matrix_does_not_load(tmp_path: Path) -> None:
    """TOKENS_VERSION 3's int8 rows: not read as residual rows (the version bump makes them again)."""
    with MatrixWriter(tmp_path, "rows", 8) as writer:
        writer.append(_unit_rows(10, 8, 8))
    assert ResidualMatrix.load(tmp_path, "rows") is None
