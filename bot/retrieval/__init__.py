"""Passages to answers: segmentation, index build and contract, hybrid search, answer sentences, evaluation."""
